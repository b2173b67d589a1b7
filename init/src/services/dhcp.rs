//! DHCP: one `dhcp` service, `dhcpcd` in the foreground (`-B`) in its manager mode, which runs a
//! client on each interface it is allowed.
//!
//! - No network config: `dhcpcd -B -A --nodelay` (no ARP probe and no random wait before the
//!   first DISCOVER, see `conf::DEFAULTS`) on every interface
//!   with the image's `/etc/dhcpcd.conf`, after `udev-settle` (dropped when udev is not installed).
//! - A network config with any device (ethernet, bond, VLAN, bridge) asking for `dhcp4`/`dhcp6`:
//!   the interfaces the network agent lists in its ready file (`/run/plinth/net.dhcp`, the
//!   versioned document of `plinth_config::net_ready`: its DHCP clients, by the interfaces' final
//!   names: after udev's renames, `set-name`, and with bonds, VLANs and bridges created), each
//!   with its own options. The service comes after the agent (`network`), which is
//!   ready once it has written that file. Its program is `plinth-init dhcpcd READY CONF DHCPCD`
//!   ([`SUBCOMMAND`]): each time the service starts it reads the ready file, writes
//!   `/run/plinth/dhcpcd.conf` ([`conf`]: the image's defaults, `allowinterfaces`, and per
//!   interface `ipv4only`/`ipv6only`, `metric N`, `nohook resolv.conf`) and execs
//!   `dhcpcd -B -f /run/plinth/dhcpcd.conf`, so the supervisor watches dhcpcd itself. Reading the
//!   agent's answer, rather than resolving `match:` clauses against the interfaces seen at plan
//!   time, matters because plan time can come before udev has renamed them (eth0 then, eno1
//!   later). An interface that appears later (hot-plug) is not added until the service restarts.
//!   When the file lists nothing (say a `match` found no NIC), dhcpcd runs on no interface,
//!   saying so.
//! - A network config asking for no DHCP: no service.
//!
//! Why a subcommand of plinth-init rather than shell: the config is a function of the ready file's
//! document, which is a pure Rust function here, unit-tested, refusing a document it does not
//! understand (a shell loop would have to parse JSON, quote names, validate metrics and check
//! duplicates by hand, tested only by running it); plinth-init is a static binary the image always has
//! (`/usr/bin/plinth-init`), and the step before the exec is a few file operations.
//!
//! The service's program is plinth-init, so the built-ins' missing-program rule (which looks at a
//! spec's first argument) does not see a missing dhcpcd: the service fails saying to install
//! dhcpcd-base instead of being skipped. Skipping would need a spec to list every program it
//! needs (a field of `ServiceSpec` and the rule in `services/mod.rs`); when the config asks for
//! DHCP, a loud failure is the better answer anyway.

pub mod conf;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use plinth_config::MachineConfig;
use plinth_config::net_ready::{DhcpClient, NetReady};
use plinth_config::network::Network;

use super::builtin::daemon;
use super::facts::Facts;
use super::net::READY_FILE;
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The DHCP client.
pub const DHCPCD: &str = "/usr/sbin/dhcpcd";
/// The service name (one of the config crate's `BUILTIN_SERVICES`, so users may come `after` it).
pub const NAME: &str = "dhcp";
/// plinth-init, which writes the config and execs dhcpcd.
pub const PLINTH_INIT: &str = "/usr/bin/plinth-init";
/// `plinth-init dhcpcd READY CONF DHCPCD`: the service's program with a network config.
pub const SUBCOMMAND: &str = "dhcpcd";
/// The dhcpcd config written from the ready file.
pub const CONF: &str = "/run/plinth/dhcpcd.conf";

/// The DHCP service the config asks for, if any.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    let Some(network) = &config.network else {
        // Every interface but those OVS owns (`-Z`, dhcpcd's denyinterfaces); the agent brings
        // those up with no address, so dhcpcd comes after it then.
        let owned = super::net::ovs_nics(config).join(",");
        let mut exec = vec![DHCPCD, "-B", "-A", "--nodelay"];
        let mut after = vec![SETTLED];
        if !owned.is_empty() {
            exec.extend(["-Z", owned.as_str()]);
            after.push(super::net::NAME);
        }
        return vec![daemon(NAME, &exec, Probe::Running, &after)];
    };
    if !wants_dhcp(network) {
        return Vec::new();
    }
    // After the network agent: its ready file lists the interfaces, and bonds, VLANs and bridges
    // exist before a client runs on them.
    vec![daemon(
        NAME,
        &[PLINTH_INIT, SUBCOMMAND, READY_FILE, CONF, DHCPCD],
        Probe::Running,
        &[SETTLED, super::net::NAME],
    )]
}

/// Whether any device of `network` asks for DHCPv4 or DHCPv6.
fn wants_dhcp(network: &Network) -> bool {
    let asks = |v4: Option<bool>, v6: Option<bool>| v4 == Some(true) || v6 == Some(true);
    network.ethernets.values().any(|d| asks(d.dhcp4, d.dhcp6))
        || network.bonds.values().any(|d| asks(d.dhcp4, d.dhcp6))
        || network.vlans.values().any(|d| asks(d.dhcp4, d.dhcp6))
        || network.bridges.values().any(|d| asks(d.dhcp4, d.dhcp6))
}

/// Runs [`SUBCOMMAND`] when the command line asks for it; `None` otherwise, and always as PID 1
/// (the kernel hands init its unknown boot parameters, and a stray `dhcpcd` must not replace it).
pub fn run_if_asked() -> Option<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let rest = subcommand_args(&args, std::process::id())?;
    Some(run(rest))
}

/// The subcommand's arguments, if `args` (with the program name first) ask for it and `pid` is not 1.
fn subcommand_args(args: &[OsString], pid: u32) -> Option<&[OsString]> {
    if pid != 1 && args.get(1).is_some_and(|a| a == SUBCOMMAND) {
        args.get(2..)
    } else {
        None
    }
}

/// `plinth-init dhcpcd READY CONF DHCPCD`: writes CONF from READY, then execs `DHCPCD -B -f CONF`.
/// Its lines go to the service's log; a closed output is no reason to stop (`println!` would panic).
fn run(args: &[OsString]) -> ExitCode {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let fail = |text: &str, code: u8| {
        let _ = writeln!(std::io::stderr(), "{text}");
        ExitCode::from(code)
    };
    let [ready, conf, dhcpcd] = args else {
        return fail(
            &format!(
                "usage: plinth-init {SUBCOMMAND} READY-FILE CONF DHCPCD (the dhcp service's program)"
            ),
            2,
        );
    };
    let (ready, conf, dhcpcd) = (Path::new(ready), Path::new(conf), Path::new(dhcpcd));
    match prepare(ready, conf, dhcpcd) {
        Ok(message) => {
            let _ = writeln!(std::io::stdout(), "{message}");
        }
        Err(e) => return fail(&e, 1),
    }
    let e = std::process::Command::new(dhcpcd)
        .args(["-B", "-f"])
        .arg(conf)
        .exec();
    fail(
        &format!(
            "cannot run {}: {e}; reinstall dhcpcd-base",
            dhcpcd.display()
        ),
        1,
    )
}

/// Checks dhcpcd is there, reads the ready file and writes the config (atomically); returns
/// the line that says what dhcpcd will do, or what to do next.
fn prepare(ready: &Path, conf: &Path, dhcpcd: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(dhcpcd).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err(format!(
            "{} is not installed: no DHCP client for the network config's dhcp4/dhcp6; install dhcpcd-base",
            dhcpcd.display()
        ));
    }
    let text = std::fs::read_to_string(ready).map_err(|e| {
        format!(
            "cannot read {}, the network agent's list of DHCP interfaces ({e}): check the network service (plinthctl status network)",
            ready.display()
        )
    })?;
    let clients = NetReady::parse(&text)
        .map_err(|e| {
            format!(
                "{}: {e}: not what plinth-agent net writes; check that plinth-agent and plinth-init come from the same image",
                ready.display()
            )
        })?
        .dhcp;
    let text = conf::render(&clients, &ready.display().to_string());
    crate::atomic_file::write(conf, text.as_bytes(), 0o644).map_err(|e| {
        format!(
            "cannot write {}: {e}: check that its directory is on a writable /run",
            conf.display()
        )
    })?;
    if clients.is_empty() {
        return Ok(format!(
            "the network agent wants no DHCP client ({} lists none): dhcpcd runs on no interface",
            ready.display()
        ));
    }
    let summaries: Vec<String> = clients.iter().map(DhcpClient::summary).collect();
    Ok(format!(
        "dhcpcd on {} (from {}, config {})",
        summaries.join(", "),
        ready.display(),
        conf.display()
    ))
}

#[cfg(test)]
mod tests {
    use plinth_config::net_ready::Families;

    use super::*;
    use crate::test_config::config;

    #[test]
    fn no_network_config_means_dhcp_everywhere() {
        let specs = plan(&MachineConfig::default(), &Facts::default());
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(specs[0].exec, [DHCPCD, "-B", "-A", "--nodelay"]);
        assert_eq!(specs[0].after, [SETTLED]);
    }

    /// Without a network config, DHCP runs everywhere except on the NICs OVS owns, after the agent
    /// has brought those up.
    #[test]
    fn no_dhcp_on_nics_ovs_owns() {
        let specs = plan(
            &config(
                "plinth:\n  genestack:\n    ovn:\n      bridges: br-ex\n      bonds: br-ex:bond0:eno1+eno3\n",
            ),
            &Facts::default(),
        );
        assert_eq!(
            specs[0].exec,
            [DHCPCD, "-B", "-A", "--nodelay", "-Z", "eno1,eno3"]
        );
        assert_eq!(specs[0].after, [SETTLED, crate::services::net::NAME]);
    }

    #[test]
    fn a_network_config_takes_the_interfaces_from_the_agents_ready_file() {
        let specs = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    lan:\n      match:\n        macaddress: 52:54:00:00:00:02\n      dhcp4: true\n",
            ),
            &Facts::default(),
        );
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].name, "dhcp");
        assert_eq!(
            specs[0].exec,
            [PLINTH_INIT, SUBCOMMAND, READY_FILE, CONF, DHCPCD]
        );
        assert_eq!(specs[0].after, [SETTLED, super::super::net::NAME]);
    }

    #[test]
    fn dhcp_on_a_bridge_or_bond_counts_and_static_only_plans_nothing() {
        let bridge = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno1: {}\n  bridges:\n    br0:\n      interfaces: [eno1]\n      dhcp6: true\n",
            ),
            &Facts::default(),
        );
        assert_eq!(bridge.len(), 1);
        let static_only = plan(
            &config(
                "network:\n  version: 2\n  ethernets:\n    eno2:\n      addresses: [10.0.0.2/24]\n      dhcp4: false\n",
            ),
            &Facts::default(),
        );
        assert!(static_only.is_empty());
    }

    #[test]
    fn only_the_subcommand_word_and_never_pid_1_run_the_subcommand() {
        let args = |words: &[&str]| -> Vec<OsString> { words.iter().map(OsString::from).collect() };
        let asked = args(&["plinth-init", "dhcpcd", "a", "b", "c"]);
        assert_eq!(subcommand_args(&asked, 42), Some(&asked[2..]));
        assert_eq!(subcommand_args(&asked, 1), None);
        assert_eq!(subcommand_args(&args(&["plinth-init"]), 42), None);
        assert_eq!(
            subcommand_args(&args(&["plinth-init", "--container"]), 42),
            None
        );
    }

    /// A scratch directory with a ready file (`None`: none) and, if `installed`, an executable
    /// standing in for dhcpcd; runs [`prepare`] and returns its answer and the config written.
    fn prepared(ready: Option<&str>, installed: bool) -> (Result<String, String>, Option<String>) {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "plinth-dhcp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("net.dhcp");
        if let Some(text) = ready {
            std::fs::write(&file, text).unwrap();
        }
        let fake = dir.join("dhcpcd");
        if installed {
            std::fs::write(&fake, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let conf = dir.join("run/dhcpcd.conf");
        let answer = prepare(&file, &conf, &fake);
        let written = std::fs::read_to_string(&conf).ok();
        assert!(!dir.join("run/dhcpcd.conf.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        let answer = answer.map(|m| m.replace(&dir.display().to_string(), "DIR"));
        let answer = answer.map_err(|e| e.replace(&dir.display().to_string(), "DIR"));
        (answer, written)
    }

    /// A ready document with these clients.
    fn document(clients: &[(&str, Families, Option<u32>, bool)]) -> String {
        let dhcp = clients
            .iter()
            .map(|&(interface, families, route_metric, use_dns)| DhcpClient {
                interface: interface.into(),
                families,
                route_metric,
                use_dns,
            })
            .collect();
        NetReady::new(dhcp).to_text()
    }

    #[test]
    fn the_config_is_written_from_the_ready_file_and_the_log_says_what_runs() {
        let ready = document(&[
            ("eno1", Families::V4, Some(100), true),
            ("lan0", Families::Both, None, false),
        ]);
        let (answer, written) = prepared(Some(&ready), true);
        assert_eq!(
            answer.unwrap(),
            "dhcpcd on eno1 (dhcp4, metric 100), lan0 (dhcp4+6, no DNS) \
             (from DIR/net.dhcp, config DIR/run/dhcpcd.conf)"
        );
        let written = written.unwrap();
        let expected = conf::render(&NetReady::parse(&ready).unwrap().dhcp, "DIR/net.dhcp");
        // The header names the real path; the rest is the rendering of the ready file.
        assert_eq!(
            written.split_once('\n').unwrap().1,
            expected.split_once('\n').unwrap().1
        );
    }

    #[test]
    fn nothing_to_run_and_errors_say_what_to_do() {
        let (answer, written) = prepared(Some(&document(&[])), true);
        assert_eq!(
            answer.unwrap(),
            "the network agent wants no DHCP client (DIR/net.dhcp lists none): dhcpcd runs on no interface"
        );
        assert!(written.unwrap().ends_with("\ndenyinterfaces *\n"));

        let (answer, written) = prepared(None, true);
        let e = answer.unwrap_err();
        assert!(e.starts_with("cannot read DIR/net.dhcp"), "{e}");
        assert!(e.ends_with("(plinthctl status network)"), "{e}");
        assert_eq!(written, None);

        let eno1 = document(&[("eno1", Families::V4, None, true)]);
        let (answer, written) = prepared(Some(&eno1), false);
        assert_eq!(
            answer.unwrap_err(),
            "DIR/dhcpcd is not installed: no DHCP client for the network config's dhcp4/dhcp6; install dhcpcd-base"
        );
        assert_eq!(written, None);

        let other = eno1.replace("\"version\":1", "\"version\":2");
        let (answer, written) = prepared(Some(&other), true);
        let e = answer.unwrap_err();
        assert!(
            e.starts_with("DIR/net.dhcp: version 2, this build reads version 1: not what"),
            "{e}"
        );
        assert!(e.ends_with("come from the same image"), "{e}");
        assert_eq!(written, None);

        // The old line format, from an agent of another image.
        let (answer, written) = prepared(Some("dhcp4 eno1\n"), true);
        let e = answer.unwrap_err();
        assert!(
            e.starts_with("DIR/net.dhcp: not the network agent's ready document"),
            "{e}"
        );
        assert_eq!(written, None);
    }
}
