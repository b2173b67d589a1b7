//! A shell in the guest, reached through its second serial port: the test boots the node with
//! [`BootOptions::serial2`](crate::node::BootOptions) and `plinth.autologin=ttyS1` on the kernel
//! command line, and PID 1 runs a root shell there. [`Shell::run`] sends one command and returns
//! its output and exit status, framed by a marker line the command cannot print by accident.
//!
//! It is how a test does what an operator at the console would, including in maintenance mode,
//! where no seed's `runcmd` or service runs.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often [`Shell::connect`] asks a shell that has not answered yet.
const SYNC_EVERY: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("the node was booted without a second serial port (BootOptions::serial2)")]
    NoPort,
    #[error("cannot connect to the serial port socket {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("serial port: {0}")]
    Io(#[from] std::io::Error),
    #[error(
        "no answer from the guest's shell within {waited:?} (is plinth.autologin=ttyS1 on the kernel command line?); it last said:\n{tail}"
    )]
    Timeout { waited: Duration, tail: String },
}

/// What a command printed (stdout and stderr, as the terminal shows them) and its exit status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub text: String,
}

/// A session with the guest's shell.
pub struct Shell {
    stream: UnixStream,
    /// Everything read and not yet consumed by a command's output.
    pending: String,
    /// Numbers the markers so an old one is never taken for a new one.
    sent: u32,
}

impl Shell {
    /// Connects to the serial port socket and waits, up to `timeout`, until the guest's shell
    /// answers; turns terminal echo, the prompts and bash's bracketed-paste sequences off so
    /// outputs are only what commands print.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, ShellError> {
        let stream = UnixStream::connect(path).map_err(|source| ShellError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let mut shell = Self {
            stream,
            pending: String::new(),
            sent: 0,
        };
        let deadline = Instant::now() + timeout;
        loop {
            let marker = shell.send(
                "stty -echo 2>/dev/null; PS1= PS2=; bind 'set enable-bracketed-paste off' 2>/dev/null; true",
            )?;
            let wait = SYNC_EVERY.min(deadline.saturating_duration_since(Instant::now()));
            match shell.read_until(&marker, wait) {
                Ok(_) => return Ok(shell),
                Err(ShellError::Timeout { .. }) if Instant::now() < deadline => continue,
                Err(ShellError::Timeout { tail, .. }) => {
                    return Err(ShellError::Timeout {
                        waited: timeout,
                        tail,
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Runs `command` (one shell line; use `;` or `&&` for several) and waits up to `timeout` for it.
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<Output, ShellError> {
        let marker = self.send(command)?;
        let (text, status) = self.read_until(&marker, timeout)?;
        Ok(Output { status, text })
    }

    /// Writes `command` and the line printing its marker and status; returns the marker.
    fn send(&mut self, command: &str) -> Result<String, ShellError> {
        self.sent += 1;
        let marker = format!("plinth-shell-done-{}", self.sent);
        // The marker is printed from two arguments, so an echoed command line never contains it.
        let (head, tail) = marker.split_at(6);
        let line = format!("{command}\nprintf '\\n%s%s %s\\n' '{head}' '{tail}' \"$?\"\n");
        self.stream.write_all(line.as_bytes())?;
        Ok(marker)
    }

    /// Reads until `marker STATUS` and returns what came before it, and the status.
    fn read_until(&mut self, marker: &str, timeout: Duration) -> Result<(String, i32), ShellError> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(found) = take_output(&mut self.pending, marker) {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                let tail: String = last_lines(&self.pending, 20);
                return Err(ShellError::Timeout {
                    waited: timeout,
                    tail,
                });
            }
            match self.stream.read(&mut buf) {
                Ok(0) => std::thread::sleep(Duration::from_millis(100)),
                Ok(n) => self
                    .pending
                    .push_str(&String::from_utf8_lossy(&buf[..n]).replace('\r', "")),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// When `pending` holds a complete `\nMARKER STATUS\n` line: the text before it (without the
/// newline the marker line starts with, and without terminal escape sequences) and the status;
/// `pending` keeps what followed.
fn take_output(pending: &mut String, marker: &str) -> Option<(String, i32)> {
    let needle = format!("\n{marker} ");
    let start = pending.find(&needle)?;
    let rest = &pending[start + needle.len()..];
    let end = rest.find('\n')?;
    let status = rest[..end].trim().parse().unwrap_or(-1);
    let text = pending[..start]
        .split('\n')
        .map(|line| crate::console::clean(line.as_bytes()))
        .collect::<Vec<_>>()
        .join("\n");
    let after = start + needle.len() + end + 1;
    pending.drain(..after);
    Some((text, status))
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_what_came_before_the_marker_line_and_the_rest_is_kept() {
        let mut pending =
            String::from("hello\nworld\nplinth-shell-done-3 2\nnext\nplinth-shell-done-4");
        assert_eq!(
            take_output(&mut pending, "plinth-shell-done-3"),
            Some(("hello\nworld".to_string(), 2))
        );
        assert_eq!(pending, "next\nplinth-shell-done-4");
        assert_eq!(take_output(&mut pending, "plinth-shell-done-4"), None);
    }

    #[test]
    fn an_echoed_command_line_does_not_count_as_its_marker() {
        let mut pending = String::from("printf '\\n%s%s %s\\n' 'plinth' '-shell-done-1' \"$?\"\n");
        assert_eq!(take_output(&mut pending, "plinth-shell-done-1"), None);
        pending.push_str("\nplinth-shell-done-1 0\n");
        let (text, status) = take_output(&mut pending, "plinth-shell-done-1").unwrap();
        assert_eq!(status, 0);
        assert!(text.starts_with("printf"));
    }

    #[test]
    fn escape_sequences_are_not_output() {
        let mut pending = String::from("\x1b[?2004lroot ok\n\x1b[?2004h\nplinth-shell-done-2 0\n");
        assert_eq!(
            take_output(&mut pending, "plinth-shell-done-2"),
            Some(("root ok\n".to_string(), 0))
        );
    }

    #[test]
    fn a_status_line_still_arriving_is_not_taken() {
        let mut pending = String::from("out\nplinth-shell-done-1 12");
        assert_eq!(take_output(&mut pending, "plinth-shell-done-1"), None);
        pending.push('7');
        pending.push('\n');
        assert_eq!(
            take_output(&mut pending, "plinth-shell-done-1"),
            Some(("out".to_string(), 127))
        );
    }
}
