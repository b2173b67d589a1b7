//! One running QEMU process: started from a [`MachineSpec`], its serial console captured
//! ([`Console`]), its stderr kept, and always ended: [`Drop`] kills it (also while a test panics),
//! and the kernel kills it with SIGKILL if the process that started it dies first
//! (`PR_SET_PDEATHSIG`), so no QEMU outlives its test.
//!
//! Files per boot, beside each other: `<prefix>.console.log` (timestamped console),
//! `<prefix>.qemu.log` (QEMU's stderr) and `<prefix>.cmdline` (the command, to rerun by hand).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cmdline::{Console as ConsoleMode, MachineSpec, QEMU, qemu_args};
use crate::console::Console;
use crate::qmp::{Qmp, QmpError};

/// Why QEMU could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not start {QEMU}: {0} (install it: `cargo xtask prereqs`)")]
    Spawn(std::io::Error),
    #[error("the harness captures the console: use Console::Stdout, not {0:?}")]
    ConsoleMode(ConsoleMode),
    #[error("QEMU could not bind a forwarded host port: {0}")]
    PortTaken(String),
    #[error("QEMU exited at once ({status}): {stderr}")]
    Exited { status: ExitStatus, stderr: String },
}

/// Why waiting for QEMU to exit failed.
#[derive(Debug, thiserror::Error)]
pub enum ExitError {
    #[error("QEMU still runs after {timeout:?}; console tail:\n{tail}")]
    Timeout { timeout: Duration, tail: String },
    #[error("waiting for QEMU: {0}")]
    Wait(std::io::Error),
}

/// A running QEMU with its console captured.
pub struct Vm {
    child: Child,
    console: Console,
    reader: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
    qmp_path: Option<PathBuf>,
    exit: Option<ExitStatus>,
}

/// Makes the child receive SIGKILL when the thread that spawned it ends, so a test process that
/// dies without unwinding (killed by the test runner's timeout) takes its QEMU along.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only calls prctl(2), which is
    // async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(std::io::Error::from)
        });
    }
}

impl Vm {
    /// Starts QEMU for `spec` (whose console must be [`ConsoleMode::Stdout`]), logging under
    /// `prefix`; `echo` copies console lines to stderr as they arrive.
    pub fn start(spec: &MachineSpec, prefix: &Path, echo: bool) -> Result<Self, StartError> {
        if spec.console != ConsoleMode::Stdout {
            return Err(StartError::ConsoleMode(spec.console.clone()));
        }
        let with_suffix = |suffix: &str| {
            let mut p = prefix.as_os_str().to_owned();
            p.push(suffix);
            PathBuf::from(p)
        };
        let args = qemu_args(spec);
        let mut cmd = Command::new(QEMU);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        let shown = std::iter::once(QEMU.to_string())
            .chain(args.iter().map(|a| shell_quote(&a.to_string_lossy())))
            .collect::<Vec<_>>()
            .join(" ");
        let cmdline_file = with_suffix(".cmdline");
        std::fs::write(&cmdline_file, format!("{shown}\n")).map_err(|source| StartError::Io {
            path: cmdline_file,
            source,
        })?;
        if let Some(qmp) = &spec.qmp {
            let _ = std::fs::remove_file(qmp);
        }
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(StartError::Spawn)?;
        let stdout = child.stdout.take().expect("piped");
        let console_log = with_suffix(".console.log");
        let (console, reader) =
            Console::capture(stdout, started, &console_log, echo).map_err(|source| {
                StartError::Io {
                    path: console_log,
                    source,
                }
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let qemu_log = with_suffix(".qemu.log");
        {
            let mut source = child.stderr.take().expect("piped");
            let stderr = stderr.clone();
            let mut file = std::fs::File::create(&qemu_log).map_err(|source| StartError::Io {
                path: qemu_log,
                source,
            })?;
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = source.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let _ = std::io::Write::write_all(&mut file, &buf[..n]);
                    stderr
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut vm = Self {
            child,
            console,
            reader: Some(reader),
            stderr,
            qmp_path: spec.qmp.clone(),
            exit: None,
        };
        // QEMU rejects a bad option or a taken port within a moment of starting.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Some(status) = vm.try_exit() {
                std::thread::sleep(Duration::from_millis(100));
                let stderr = vm.stderr();
                if stderr.contains("host forwarding") {
                    return Err(StartError::PortTaken(stderr.trim().to_string()));
                }
                return Err(StartError::Exited {
                    status,
                    stderr: stderr.trim().to_string(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(vm)
    }

    /// The serial console.
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// What QEMU wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A QMP session (the spec must have named a socket).
    pub fn qmp(&self) -> Result<Qmp, QmpError> {
        let path = self.qmp_path.as_deref().ok_or_else(|| QmpError::Connect {
            path: "(none)".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "this machine was started without a QMP socket",
            ),
        })?;
        Qmp::connect(path, Duration::from_secs(10))
    }

    /// The exit status, if QEMU has exited.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Waits up to `timeout` for QEMU to exit by itself (the guest powered off, or rebooted with
    /// `-no-reboot`).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus, ExitError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(ExitError::Timeout {
                    timeout,
                    tail: self.console.tail(30),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills QEMU (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `arg` quoted for a POSIX shell when it needs it.
pub fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_only_where_needed() {
        assert_eq!(shell_quote("-m"), "-m");
        assert_eq!(
            shell_quote("file=/a/b.qcow2,format=qcow2"),
            "file=/a/b.qcow2,format=qcow2"
        );
        assert_eq!(shell_quote("console=ttyS0 quiet"), "'console=ttyS0 quiet'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
