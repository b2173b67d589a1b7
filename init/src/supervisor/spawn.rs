//! Starting processes: argv and environment, stdin from /dev/null, stdout and stderr captured (or
//! discarded), each in its own process group and, when given, moved into its cgroup before it execs.
//! A login session on a terminal instead gets the terminal as stdin, stdout and stderr, and starts a
//! new session (its own process group too) with the terminal as its controlling terminal — done
//! here rather than with `setsid --ctty`, so that the supervised process is the shell itself: its
//! exit is the service's exit and the stop signal reaches it.
//! Every child is registered with the [`Reaper`], which hands back its exit.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::oneshot;

use crate::pid1::reaper::Reaper;
use crate::supervisor::state::ExitOutcome;

/// Why a process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The argv is empty.
    #[error("nothing to run: empty command")]
    Empty,
    /// fork/exec failed (program missing, not executable, …).
    #[error("cannot run `{program}`: {source}")]
    Exec {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The pipes could not be handed to the runtime.
    #[error("cannot read the output of `{program}`: {source}")]
    Pipes {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// The session's terminal cannot be opened.
    #[error("cannot open the terminal {tty}: {source}; check that the device exists (ls -l {tty})")]
    Tty {
        /// The terminal's path.
        tty: String,
        /// The OS error.
        source: io::Error,
    },
}

/// What to start.
#[derive(Debug)]
pub struct Launch<'a> {
    /// argv; the first element is the program (looked up in PATH when it has no `/`).
    pub argv: &'a [String],
    /// PID 1's base environment (PATH, …).
    pub base_env: &'a [(String, String)],
    /// The service's own variables, set over the base.
    pub env: &'a BTreeMap<String, String>,
    /// Where stdin, stdout and stderr go.
    pub io: Io<'a>,
    /// The `cgroup.procs` file of the cgroup to run in.
    pub cgroup_procs: Option<&'a File>,
}

/// A process's stdin, stdout and stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io<'a> {
    /// stdin from /dev/null, stdout and stderr captured in pipes; its own process group.
    Capture,
    /// All three on /dev/null; its own process group.
    Discard,
    /// A login session on this terminal (`/dev/...`): see `on_terminal`.
    Terminal(&'a str),
}

/// A started process.
#[derive(Debug)]
pub struct Started {
    /// Its pid, also its process group id.
    pub pid: i32,
    /// Its stdout, when captured.
    pub stdout: Option<ChildStdout>,
    /// Its stderr, when captured.
    pub stderr: Option<ChildStderr>,
    /// Receives its exit from the reaper.
    pub exit: oneshot::Receiver<ExitOutcome>,
}

/// Makes `command` a login session on `tty`: the terminal as stdin, stdout and stderr, then, in the
/// child, a new session (which is also a new process group, so no `process_group`: a group leader
/// cannot call setsid) that takes the terminal as its controlling terminal.
fn on_terminal(command: &mut Command, tty: &str) -> Result<(), SpawnError> {
    let failed = |source| SpawnError::Tty {
        tty: tty.to_string(),
        source,
    };
    // O_NONBLOCK: a serial line without carrier would block the open; cleared right after.
    let terminal = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(tty)
        .map_err(failed)?;
    let flags = nix::fcntl::fcntl(&terminal, nix::fcntl::FcntlArg::F_GETFL)
        .map_err(|e| failed(e.into()))?;
    let mut flags = nix::fcntl::OFlag::from_bits_truncate(flags);
    flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(&terminal, nix::fcntl::FcntlArg::F_SETFL(flags))
        .map_err(|e| failed(e.into()))?;
    let out = terminal.try_clone().map_err(failed)?;
    let err = terminal.try_clone().map_err(failed)?;
    command.stdin(terminal).stdout(out).stderr(err);
    // SAFETY: runs in the forked child before exec; setsid(2) and ioctl(2) are async-signal-safe
    // and nothing is allocated. Stdio is already in place, so fd 0 is the terminal. nix has no
    // TIOCSCTTY wrapper: that ioctl is raw.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()?;
            // 0: do not steal it from another session that still has it.
            if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// Starts a command the boot runs itself (not a service): `argv` with PID 1's base environment,
/// stdout and stderr captured, in no cgroup of its own.
pub fn launch_captured(reaper: &Reaper, argv: &[String]) -> Result<Started, SpawnError> {
    let env = crate::pid1::env::base_env(std::env::vars());
    launch(
        reaper,
        &Launch {
            argv,
            base_env: &env,
            env: &BTreeMap::new(),
            io: Io::Capture,
            cgroup_procs: None,
        },
    )
}

/// Starts `launch` (must run inside the tokio runtime, for the pipes).
pub fn launch(reaper: &Reaper, launch: &Launch<'_>) -> Result<Started, SpawnError> {
    let (program, args) = launch.argv.split_first().ok_or(SpawnError::Empty)?;
    let mut command = Command::new(program);
    command.args(args).env_clear();
    command.envs(launch.base_env.iter().map(|(k, v)| (k, v)));
    command.envs(launch.env);
    match launch.io {
        Io::Terminal(tty) => on_terminal(&mut command, tty)?,
        Io::Capture => {
            command.stdin(Stdio::null()).process_group(0);
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
        Io::Discard => {
            command.stdin(Stdio::null()).process_group(0);
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    if let Some(procs) = launch.cgroup_procs {
        let procs = procs.try_clone().map_err(|source| SpawnError::Exec {
            program: program.clone(),
            source,
        })?;
        // SAFETY: the closure runs in the forked child before exec and only calls write(2) on an
        // already open file (no allocation, no locks), which is async-signal-safe.
        unsafe {
            command.pre_exec(move || (&procs).write_all(b"0").map(|_| ()));
        }
    }
    let (child, pid, exit) = reaper
        .spawn_with(|| {
            let child = command.spawn()?;
            let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
            Ok((child, pid))
        })
        .map_err(|source| SpawnError::Exec {
            program: program.clone(),
            source,
        })?;
    let mut child = child;
    let pipes = |source| SpawnError::Pipes {
        program: program.clone(),
        source,
    };
    let stdout = child
        .stdout
        .take()
        .map(ChildStdout::from_std)
        .transpose()
        .map_err(pipes)?;
    let stderr = child
        .stderr
        .take()
        .map(ChildStderr::from_std)
        .transpose()
        .map_err(pipes)?;
    // `child` is dropped without waiting: the reaper owns its exit.
    Ok(Started {
        pid,
        stdout,
        stderr,
        exit,
    })
}
