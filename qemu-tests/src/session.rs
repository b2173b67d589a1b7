//! A node and the root shell on its second serial port together, as a test drives them: every
//! command it runs that fails to finish, or never prints what the test waits for, is reported with
//! the tail of the node's console, which is usually where the reason is.

use std::time::{Duration, Instant};

use crate::node::Node;
use crate::shell::{Output, Shell, ShellError};

/// How long one command may take.
pub const COMMAND: Duration = Duration::from_secs(120);

/// A guest shell test, true when the RFC 3339 time in `$t` is after this boot began (the kernel's
/// `btime`): after a reboot a Node's or a pod's status is still in etcd from before, so only a
/// time the kubelet wrote since the boot says it is back.
pub const SINCE_BOOT: &str =
    r#"[ -n "$t" ] && [ "$(date -d "$t" +%s)" -ge "$(awk '/^btime/ {print $2}' /proc/stat)" ]"#;

/// How often [`Session::run_until`] asks again.
const AGAIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no shell on ttyS1: {source}; console:\n{tail}")]
    NoShell { source: ShellError, tail: String },
    #[error("`{command}` did not finish: {source}; console:\n{tail}")]
    Unfinished {
        command: String,
        source: ShellError,
        tail: String,
    },
    #[error(
        "`{command}` never printed `{want}` within {waited:?}; last: {last:?}; console:\n{tail}"
    )]
    Never {
        command: String,
        want: String,
        waited: Duration,
        last: Output,
        tail: String,
    },
}

/// A booted node and its shell.
pub struct Session<'a> {
    pub node: &'a Node,
    pub shell: Shell,
}

impl<'a> Session<'a> {
    /// Connects to the shell of `node` (booted with `serial2` and `plinth.autologin=ttyS1`).
    pub fn open(node: &'a Node, timeout: Duration) -> Result<Self, SessionError> {
        let shell = node
            .shell(timeout)
            .map_err(|source| SessionError::NoShell {
                source,
                tail: node.console().tail(40),
            })?;
        Ok(Self { node, shell })
    }

    /// Runs `command` once.
    pub fn run(&mut self, command: &str) -> Result<Output, SessionError> {
        self.shell
            .run(command, COMMAND)
            .map_err(|source| SessionError::Unfinished {
                command: command.into(),
                source,
                tail: self.node.console().tail(40),
            })
    }

    /// Runs `command` until it exits 0 with `want` in its output, for at most `timeout`.
    pub fn run_until(
        &mut self,
        command: &str,
        want: &str,
        timeout: Duration,
    ) -> Result<Output, SessionError> {
        self.run_every(command, want, timeout, AGAIN)
    }

    /// [`Session::run_until`], asking only every `every`: under emulation each run of a Go
    /// program (kubectl, the agents) costs the guest seconds of CPU that the node being waited
    /// for needs.
    pub fn run_every(
        &mut self,
        command: &str,
        want: &str,
        timeout: Duration,
        every: Duration,
    ) -> Result<Output, SessionError> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.run(command)?;
            if out.status == 0 && out.text.contains(want) {
                return Ok(out);
            }
            if Instant::now() >= deadline {
                return Err(SessionError::Never {
                    command: command.into(),
                    want: want.into(),
                    waited: timeout,
                    last: out,
                    tail: self.node.console().tail(40),
                });
            }
            std::thread::sleep(every);
        }
    }
}
