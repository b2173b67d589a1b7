//! `plinth-virt-check [--socket PATH]`: connects to the libvirt daemon on `PATH` (default
//! `/run/libvirt/libvirt-sock`, Genestack's libvirt pod), asks its version, the hypervisor's and
//! the capabilities, and prints one JSON [`Outcome`] line on stdout. Exits 0 whenever it printed
//! one, including "unreachable": whether libvirt is there is the answer, not an error. See the
//! library for why this is a binary of its own.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use plinth_virt_check::{
    DEFAULT_SOCKET, LibvirtFacts, Outcome, kvm_available, read_capabilities, uri, version_string,
};
use virt::connect::Connect;

fn ask(socket: &str) -> Result<LibvirtFacts, virt::error::Error> {
    let mut conn = Connect::open(Some(&uri(socket)))?;
    let facts = (|| {
        let (host_arch, guests) = read_capabilities(&conn.get_capabilities()?);
        Ok(LibvirtFacts {
            version: version_string(conn.get_lib_version()?),
            hypervisor: conn.get_type()?,
            hypervisor_version: version_string(conn.get_hyp_version()?),
            kvm: kvm_available(&host_arch, &guests),
            host_arch,
            guests,
        })
    })();
    let _ = conn.close();
    facts
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let socket = match args.as_slice() {
        [] => DEFAULT_SOCKET.to_owned(),
        [flag, path] if flag == "--socket" => path.clone(),
        _ => {
            eprintln!("usage: plinth-virt-check [--socket PATH]");
            return ExitCode::from(2);
        }
    };
    // libvirt prints every error on stderr by default; the outcome carries it instead.
    virt::error::clear_error_callback();
    let outcome = match ask(&socket) {
        Ok(facts) => Outcome::Ok(facts),
        Err(e) => Outcome::Unreachable {
            error: e.message().to_owned(),
        },
    };
    match serde_json::to_string(&outcome) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("plinth-virt-check: {e}");
            ExitCode::FAILURE
        }
    }
}
