//! Asking libvirt: nothing is asked until something listens on the socket (Genestack's libvirt pod
//! comes long after the boot, if ever: "no libvirt yet"); then `plinth-virt-check` (see the
//! `plinth_virt_check` crate for why libvirt is asked by a glibc binary of its own) answers with
//! one JSON line, within a time limit.

use std::io::Read as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plinth_virt_check::{LibvirtFacts, Outcome};
use serde::{Deserialize, Serialize};

/// Where the image has the helper.
pub const HELPER: &str = "/usr/bin/plinth-virt-check";

/// What libvirt said, or why it said nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Libvirt {
    /// Nothing answers on the socket: no libvirt yet.
    NotYet { socket: String, why: String },
    /// The daemon answered.
    Answered(LibvirtFacts),
    /// Something listens, but no answer came: the helper is missing, failed, or libvirt refused.
    Failed { why: String },
}

/// The helper's stdout as a [`Libvirt`] state.
pub fn from_output(stdout: &str) -> Libvirt {
    match serde_json::from_str::<Outcome>(stdout.trim()) {
        Ok(Outcome::Ok(facts)) => Libvirt::Answered(facts),
        Ok(Outcome::Unreachable { error }) => Libvirt::Failed {
            why: format!("libvirt did not answer: {error}"),
        },
        Err(e) => Libvirt::Failed {
            why: format!("plinth-virt-check said something else than its report ({e}): {stdout}"),
        },
    }
}

/// Asks the daemon on `socket` through `helper`, killing the helper after `timeout`.
pub fn ask(socket: &Path, helper: &Path, timeout: Duration) -> Libvirt {
    if let Err(e) = UnixStream::connect(socket) {
        return Libvirt::NotYet {
            socket: socket.display().to_string(),
            why: e.to_string(),
        };
    }
    let mut child = match Command::new(helper)
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Libvirt::Failed {
                why: format!("cannot run {}: {e}", helper.display()),
            };
        }
    };
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!(
                    "{} gave no answer within {}s",
                    helper.display(),
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => break Err(format!("waiting for {}: {e}", helper.display())),
        }
    };
    let status = match status {
        Ok(s) => s,
        Err(why) => return Libvirt::Failed { why },
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if !status.success() {
        return Libvirt::Failed {
            why: format!("{} exited with {status}", helper.display()),
        };
    }
    from_output(&stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_report_becomes_a_state() {
        let ok = r#"{"state":"ok","version":"9.0.0","hypervisor":"QEMU","hypervisor_version":"10.0.2","host_arch":"x86_64","guests":[{"arch":"x86_64","domain_types":["qemu","kvm"]}],"kvm":true}"#;
        match from_output(ok) {
            Libvirt::Answered(f) => {
                assert_eq!(f.version, "9.0.0");
                assert!(f.kvm);
            }
            other => panic!("{other:?}"),
        }
        let refused = r#"{"state":"unreachable","error":"authentication failed"}"#;
        assert_eq!(
            from_output(refused),
            Libvirt::Failed {
                why: "libvirt did not answer: authentication failed".into()
            }
        );
        assert!(matches!(from_output("garbage"), Libvirt::Failed { .. }));
    }

    #[test]
    fn no_socket_is_no_libvirt_yet_and_the_helper_is_not_run() {
        let socket = std::env::temp_dir().join(format!("plinth-no-libvirt-{}", std::process::id()));
        let state = ask(
            &socket,
            Path::new("/nonexistent/helper"),
            Duration::from_secs(1),
        );
        assert!(
            matches!(&state, Libvirt::NotYet { socket: s, .. } if *s == socket.display().to_string()),
            "{state:?}"
        );
    }
}
