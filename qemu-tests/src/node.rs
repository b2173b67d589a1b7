//! One booted node: its console, forwarded ports, QMP and second serial port, waiting for ready,
//! and the ways a boot ends. A [`Node`] is one boot of [`Fixture::boot`] (`fixture.rs`); dropping
//! it kills its QEMU. A test that boots the same disk twice keeps the disk path from the first
//! boot and passes it to the second.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use crate::cmdline::Forward;
use crate::console::{Console, Line, WaitError};
use crate::http::{self, HttpError};
use crate::metrics::{self, Sample};
use crate::qmp::{Qmp, QmpError};
use crate::vm::{ExitError, Vm};

/// The console line stage 2 prints when the boot reached ready.
pub const READY_PATTERN: &str = r"plinth: ready in (\d+(?:\.\d+)?)s";

/// How long a boot may take to reach ready under TCG with another VM beside it on a busy host
/// (alone, a boot takes 10–20 s here).
pub const READY_TIMEOUT: Duration = Duration::from_secs(150);

/// Console lines after which a boot will not reach ready: waiting stops at once.
pub const HOPELESS_PATTERN: &str =
    r"Kernel panic - not syncing|plinth stage 1: FAILED|maintenance mode";

/// How long a clean power-off or reboot may take once asked for.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(120);

/// The node exporter's port in the guest.
pub const NODE_EXPORTER_PORT: u16 = 9100;
// The fixture's types lived here; the tests import them from this module.
pub use crate::fixture::{
    BootOptions, BootReadyError, Fixture, FixtureError, TAIL_LINES, Variant, concat_initrds,
};

/// Why [`Node::reboot_to_exit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RebootError {
    #[error(transparent)]
    Qmp(#[from] QmpError),
    #[error("no reboot after ctrl-alt-del ({source}); console:\n{tail}")]
    NoShutdown { source: QmpError, tail: String },
    #[error(transparent)]
    Exit(#[from] ExitError),
}

/// One booted node.
pub struct Node {
    pub(crate) vm: Vm,
    pub(crate) forwards: Vec<Forward>,
    pub(crate) serial2: Option<PathBuf>,
}

/// The ready line and the boot time it reports.
#[derive(Clone, Debug)]
pub struct Ready {
    pub line: Line,
    pub seconds: f64,
}

impl Node {
    pub fn console(&self) -> &Console {
        self.vm.console()
    }

    pub fn vm(&mut self) -> &mut Vm {
        &mut self.vm
    }

    /// The host address forwarded to `guest_port`.
    pub fn forwarded(&self, guest_port: u16) -> Option<SocketAddr> {
        self.forwards
            .iter()
            .find(|f| f.guest == guest_port)
            .map(|f| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, f.host)))
    }

    /// Waits for `plinth: ready in X.XXs` on the console (after console line `from`); stops early
    /// at a line that means the boot cannot get there ([`HOPELESS_PATTERN`]).
    pub fn wait_ready_after(&self, from: usize, timeout: Duration) -> Result<Ready, WaitError> {
        let re = Regex::new(READY_PATTERN).expect("valid pattern");
        let either = Regex::new(&format!("{READY_PATTERN}|{HOPELESS_PATTERN}")).expect("valid");
        let line = self.console().wait_for_after(from, &either, timeout)?;
        if !re.is_match(&line.text) {
            return Err(WaitError::Hopeless {
                line: line.text,
                tail: self.console().tail(40),
            });
        }
        let seconds = re
            .captures(&line.text)
            .and_then(|c| c[1].parse().ok())
            .unwrap_or(f64::NAN);
        Ok(Ready { line, seconds })
    }

    /// Waits up to [`READY_TIMEOUT`] for the first ready line of this boot; when it does not come,
    /// the error holds the console's last [`TAIL_LINES`] lines.
    pub fn ready_or_tail(&self) -> Result<Ready, BootReadyError> {
        self.wait_ready(READY_TIMEOUT)
            .map_err(|source| BootReadyError::NotReady {
                source,
                tail: self.console().tail(TAIL_LINES),
            })
    }

    /// Waits for the first ready line of this boot.
    pub fn wait_ready(&self, timeout: Duration) -> Result<Ready, WaitError> {
        self.wait_ready_after(0, timeout)
    }

    /// Polls the node exporter through its forwarded port until `accept` likes the samples.
    pub fn metrics(
        &self,
        timeout: Duration,
        accept: impl Fn(&[Sample]) -> bool,
    ) -> Result<Vec<Sample>, HttpError> {
        let addr = self
            .forwarded(NODE_EXPORTER_PORT)
            .expect("the node exporter is forwarded (BootOptions::new) through a user-network NIC");
        let resp = http::poll(addr, "/metrics", timeout, |r| {
            r.status == 200 && accept(&metrics::parse(&r.body))
        })?;
        Ok(metrics::parse(&resp.body))
    }

    /// Waits for the probe's `done` line and returns its report.
    pub fn probe_report(&self, timeout: Duration) -> Result<crate::probe::Report, WaitError> {
        let re = Regex::new(r"plinth-probe done").expect("valid pattern");
        self.console().wait_for(&re, timeout)?;
        Ok(crate::probe::Report::from_console(&self.console().lines()))
    }

    /// A session with the shell the guest runs on its second serial port (booted with
    /// [`BootOptions::serial2`] and a kernel command line that asks for a shell on ttyS1).
    pub fn shell(
        &self,
        timeout: Duration,
    ) -> Result<crate::shell::Shell, crate::shell::ShellError> {
        let path = self
            .serial2
            .as_deref()
            .ok_or(crate::shell::ShellError::NoPort)?;
        crate::shell::Shell::connect(path, timeout)
    }

    /// A QMP session with this node's QEMU.
    pub fn qmp(&self) -> Result<Qmp, QmpError> {
        self.vm.qmp()
    }

    /// Reboots the guest with ctrl-alt-del and waits for QEMU to exit: booted with
    /// [`BootOptions::no_reboot`], the reset ends QEMU, and the test boots the same disk again.
    /// Returns QEMU's `SHUTDOWN` event (its `reason` says whether the guest reset itself).
    pub fn reboot_to_exit(&mut self) -> Result<serde_json::Value, RebootError> {
        let mut qmp = self.qmp()?;
        qmp.ctrl_alt_delete()?;
        let shutdown = qmp
            .wait_event("SHUTDOWN", SHUTDOWN_TIMEOUT)
            .map_err(|source| RebootError::NoShutdown {
                source,
                tail: self.console().tail(25),
            })?;
        self.wait_exit(SHUTDOWN_TIMEOUT)?;
        Ok(shutdown)
    }

    /// Waits for QEMU to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, ExitError> {
        self.vm.wait_exit(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hopeless_lines_are_recognised() {
        let re = Regex::new(HOPELESS_PATTERN).unwrap();
        assert!(re.is_match("[    3.1] Kernel panic - not syncing: Attempted to kill init!"));
        assert!(re.is_match("[  32.0] plinth stage 1: FAILED: finding the root"));
        assert!(re.is_match("plinth: phase config failed; staying up in maintenance mode"));
        assert!(!re.is_match("plinth stage 1: loaded 36 modules in 2637 ms"));
        assert!(!re.is_match("[node-exporter] msg=failed to read textfile"));
    }

    #[test]
    fn ready_pattern_reads_the_boot_time() {
        let re = Regex::new(READY_PATTERN).unwrap();
        let caps = re.captures("[   31.2] plinth: ready in 12.34s").unwrap();
        assert_eq!(&caps[1], "12.34");
        assert!(re.is_match("plinth: ready in 9s"));
        assert!(!re.is_match("plinth: not ready in 9s yet"));
    }
}
