//! The zombie reaper: PID 1 waits for every child, its own services and orphans reparented to it.
//!
//! One loop calls `waitpid(-1, WNOHANG)` until nothing is left, on every SIGCHLD and once a second
//! as a safety net. Children PID 1 spawned are registered (under the same lock the reaper takes) with
//! a channel that receives their [`ExitOutcome`]; anything else is an orphan, reaped and counted.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use crate::supervisor::state::ExitOutcome;

/// The reaper shared by everything that spawns processes.
#[derive(Debug, Default)]
pub struct Reaper {
    waiters: Mutex<HashMap<i32, oneshot::Sender<ExitOutcome>>>,
    orphans: AtomicU64,
}

impl Reaper {
    /// Starts the reaping loop on the current tokio runtime.
    pub fn start() -> io::Result<Arc<Reaper>> {
        let reaper = Arc::new(Reaper::default());
        let mut sigchld = signal(SignalKind::child())?;
        let looping = reaper.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = sigchld.recv() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                looping.reap();
            }
        });
        Ok(reaper)
    }

    /// Runs `spawn` (which starts a child and returns it with its pid) and registers the child, both
    /// under the reaper's lock so its exit cannot be reaped before it is known.
    pub fn spawn_with<T>(
        &self,
        spawn: impl FnOnce() -> io::Result<(T, i32)>,
    ) -> io::Result<(T, i32, oneshot::Receiver<ExitOutcome>)> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        let (child, pid) = spawn()?;
        let (tx, rx) = oneshot::channel();
        waiters.insert(pid, tx);
        Ok((child, pid, rx))
    }

    /// Reaps every child that has exited.
    pub fn reap(&self) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(status) => {
                    let Some((pid, outcome)) = outcome_of(status) else {
                        continue;
                    };
                    match waiters.remove(&pid) {
                        Some(tx) => {
                            let _ = tx.send(outcome);
                        }
                        None => {
                            self.orphans.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }

    /// Orphans reaped so far.
    pub fn orphans_reaped(&self) -> u64 {
        self.orphans.load(Ordering::Relaxed)
    }
}

/// The pid and outcome of a wait status that means the process is gone (`None` for stops and
/// continues, which `waitpid` without `WUNTRACED` does not report anyway).
pub fn outcome_of(status: WaitStatus) -> Option<(i32, ExitOutcome)> {
    match status {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw(), ExitOutcome::Code(code))),
        WaitStatus::Signaled(pid, signal, _) => {
            Some((pid.as_raw(), ExitOutcome::Signal(signal as i32)))
        }
        _ => None,
    }
}

/// A reaper for unit tests that run real children without a SIGCHLD handler of their own: polled
/// every 20 ms until dropped.
#[cfg(test)]
pub(crate) struct Polled {
    /// The reaper to spawn through.
    pub reaper: Arc<Reaper>,
    task: tokio::task::JoinHandle<()>,
}

#[cfg(test)]
impl Polled {
    /// Starts polling on the current runtime.
    pub fn start() -> Polled {
        let reaper = Arc::new(Reaper::default());
        let reaping = reaper.clone();
        let task = tokio::spawn(async move {
            loop {
                reaping.reap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Polled { reaper, task }
    }
}

#[cfg(test)]
impl Drop for Polled {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use nix::sys::signal::Signal;

    use super::*;

    #[test]
    fn wait_statuses_map_to_outcomes() {
        let pid = Pid::from_raw(42);
        assert_eq!(
            outcome_of(WaitStatus::Exited(pid, 3)),
            Some((42, ExitOutcome::Code(3)))
        );
        assert_eq!(
            outcome_of(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some((42, ExitOutcome::Signal(9)))
        );
        assert_eq!(outcome_of(WaitStatus::Stopped(pid, Signal::SIGSTOP)), None);
        assert_eq!(outcome_of(WaitStatus::StillAlive), None);
    }
}
