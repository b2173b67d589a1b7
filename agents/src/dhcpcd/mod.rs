//! `plinth-agent dhcpcd READY CONF DHCPCD`: the `dhcp` service's program when the machine config
//! has a network. Each time the service starts it reads the network agent's ready file (READY,
//! `plinth_config::net_ready`), writes dhcpcd's config to CONF ([`conf`]: the image's defaults,
//! `allowinterfaces`, and per interface `ipv4only`/`ipv6only`, `metric N`, `nohook resolv.conf`)
//! and execs `DHCPCD -B -f CONF`, so the supervisor watches dhcpcd itself. Its lines go to the
//! service's log.
//!
//! Why Rust rather than shell: the config is a function of the ready file's document, a pure
//! function here, unit-tested, refusing a document it does not understand (a shell loop would have
//! to parse JSON, quote names, validate metrics and check duplicates by hand, tested only by
//! running it); the step before the exec is a few file operations. Why here rather than in PID 1:
//! it is a one-job helper run as a service, which is what `plinth-agent` holds; nothing in it needs
//! PID 1's state, and plinth-init no longer has to tell a stray `dhcpcd` boot parameter from
//! this subcommand.

pub mod conf;

use std::path::{Path, PathBuf};

use plinth_config::net_ready::{DhcpClient, NetReady};

/// Why the dhcpcd wrapper cannot run dhcpcd.
#[derive(Debug, thiserror::Error)]
pub enum DhcpcdError {
    /// dhcpcd is not installed.
    #[error(
        "{} is not installed: no DHCP client for the network config's dhcp4/dhcp6; install dhcpcd-base",
        .0.display()
    )]
    NotInstalled(PathBuf),
    /// The ready file cannot be read.
    #[error(
        "cannot read {}, the network agent's list of DHCP interfaces ({source}): check the network service (plinthctl status network)",
        path.display()
    )]
    Read {
        /// The ready file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The ready file is not a document this build reads.
    #[error(
        "{}: {source}: not what plinth-agent net writes; check that both come from the same image",
        path.display()
    )]
    Document {
        /// The ready file.
        path: PathBuf,
        /// Why.
        #[source]
        source: plinth_config::net_ready::ReadyError,
    },
    /// The config cannot be written.
    #[error(
        "cannot write {}: {source}: check that its directory is on a writable /run",
        path.display()
    )]
    Write {
        /// The config.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// dhcpcd could not be executed.
    #[error("cannot run {}: {source}; reinstall dhcpcd-base", path.display())]
    Exec {
        /// dhcpcd.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Writes `conf` from `ready`, says what dhcpcd will do, then execs `dhcpcd -B -f conf`; returns
/// only when that fails.
pub fn run(ready: &Path, conf: &Path, dhcpcd: &Path) -> DhcpcdError {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    match prepare(ready, conf, dhcpcd) {
        // A closed output is no reason to stop (`println!` would panic).
        Ok(message) => drop(writeln!(std::io::stdout(), "{message}")),
        Err(e) => return e,
    }
    let source = std::process::Command::new(dhcpcd)
        .args(["-B", "-f"])
        .arg(conf)
        .exec();
    DhcpcdError::Exec {
        path: dhcpcd.to_owned(),
        source,
    }
}

/// Checks dhcpcd is there, reads the ready file and writes the config (atomically); returns
/// the line that says what dhcpcd will do.
pub fn prepare(ready: &Path, conf: &Path, dhcpcd: &Path) -> Result<String, DhcpcdError> {
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(dhcpcd).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Err(DhcpcdError::NotInstalled(dhcpcd.to_owned()));
    }
    let text = std::fs::read_to_string(ready).map_err(|source| DhcpcdError::Read {
        path: ready.to_owned(),
        source,
    })?;
    let clients = NetReady::parse(&text)
        .map_err(|source| DhcpcdError::Document {
            path: ready.to_owned(),
            source,
        })?
        .dhcp;
    let text = conf::render(&clients, &ready.display().to_string());
    conf.parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            crate::pki::store::replace(conf, text.as_bytes(), 0o644).map_err(|e| e.source)
        })
        .map_err(|source| DhcpcdError::Write {
            path: conf.to_owned(),
            source,
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
        let answer = prepare(&file, &conf, &fake).map_err(|e| e.to_string());
        let written = std::fs::read_to_string(&conf).ok();
        assert!(!dir.join("run/.dhcpcd.conf.plinth-tmp").exists());
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
