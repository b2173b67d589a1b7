//! The life cycle of one service: its states and the pure transitions between them.
//!
//! ```text
//! waiting ─deps ready→ starting ─probe ok→ ready ─exit→ backoff ─delay→ starting …
//!                         │                  └────────exit, no restart→ exited | failed
//!                         └probe timeout→ (killed) → backoff | failed
//! any running ─stop→ stopping ─exit→ stopped
//! ```

use std::fmt;

/// The state of one service, as the API and the metrics show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Not started yet: something it comes `after` is not ready.
    Waiting,
    /// Spawned; the readiness probe has not passed yet.
    Starting,
    /// Running and ready.
    Ready,
    /// A oneshot that finished successfully.
    Exited,
    /// Exited and waiting for its restart delay.
    Backoff,
    /// Exited and will not be restarted.
    Failed,
    /// Sent its stop signal; waiting for it to exit.
    Stopping,
    /// Stopped on request.
    Stopped,
}

impl State {
    /// Every state, in display order (for metrics).
    pub const ALL: [State; 8] = [
        State::Waiting,
        State::Starting,
        State::Ready,
        State::Exited,
        State::Backoff,
        State::Failed,
        State::Stopping,
        State::Stopped,
    ];

    /// The state's name as the API, console and metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Ready => "ready",
            State::Exited => "exited",
            State::Backoff => "backoff",
            State::Failed => "failed",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }

    /// Whether services that come `after` this one may start.
    pub fn satisfies_dependents(self) -> bool {
        matches!(self, State::Ready | State::Exited)
    }

    /// Whether a process of this service may be alive.
    pub fn has_process(self) -> bool {
        matches!(self, State::Starting | State::Ready | State::Stopping)
    }

    /// Whether the service has come to rest for the boot's `ready` phase: `Ok` when it is up (or
    /// finished), `Err` when it is down for good, `None` while it may still change on its own.
    pub fn settled(self) -> Option<Result<(), ()>> {
        match self {
            State::Ready | State::Exited | State::Stopped => Some(Ok(())),
            State::Failed => Some(Err(())),
            State::Waiting | State::Starting | State::Backoff | State::Stopping => None,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended, from its wait status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitOutcome {
    /// It called exit with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl ExitOutcome {
    /// Exit 0.
    pub fn success(self) -> bool {
        self == ExitOutcome::Code(0)
    }
}

impl fmt::Display for ExitOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitOutcome::Code(code) => write!(f, "exit {code}"),
            ExitOutcome::Signal(sig) => {
                let name = nix::sys::signal::Signal::try_from(*sig)
                    .map(|s| s.as_str())
                    .unwrap_or("?");
                write!(f, "signal {sig} ({name})")
            }
        }
    }
}

/// What becomes of a service whose process has exited (or failed its probe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterExit {
    /// Restart it after the backoff delay.
    Restart,
    /// A oneshot finished well.
    Exited,
    /// It is down for good.
    Failed,
    /// It was stopped on request.
    Stopped,
}

/// What kind of service exited: the restart policy reads differently for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Runs until stopped.
    Daemon,
    /// Runs to completion; exit 0 makes it `exited` whatever the policy.
    Oneshot,
}

impl Kind {
    /// The kind of a spec whose `oneshot` flag is `oneshot`.
    pub fn of(oneshot: bool) -> Kind {
        if oneshot { Kind::Oneshot } else { Kind::Daemon }
    }
}

/// Why a service's process ended, as far as the supervisor knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// A stop was asked for (a request, an unload, the shutdown): it stays down.
    Stopped,
    /// It was killed because it never became ready: a failure, whatever its exit status.
    NeverReady,
    /// It exited on its own.
    OnItsOwn,
}

/// The decision after a `kind` service with `policy` exited with `outcome`, for the reason `ending`.
pub fn after_exit(
    policy: super::spec::RestartPolicy,
    kind: Kind,
    outcome: ExitOutcome,
    ending: Ending,
) -> AfterExit {
    use super::spec::RestartPolicy;
    let success = match ending {
        Ending::Stopped => return AfterExit::Stopped,
        Ending::NeverReady => false,
        Ending::OnItsOwn => outcome.success(),
    };
    if kind == Kind::Oneshot && success {
        return AfterExit::Exited;
    }
    match policy {
        RestartPolicy::Always => AfterExit::Restart,
        RestartPolicy::OnFailure if !success => AfterExit::Restart,
        RestartPolicy::OnFailure | RestartPolicy::Never if success => AfterExit::Exited,
        RestartPolicy::OnFailure | RestartPolicy::Never => AfterExit::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::RestartPolicy::*;
    use super::*;

    const OK: ExitOutcome = ExitOutcome::Code(0);
    const BAD: ExitOutcome = ExitOutcome::Code(3);
    const KILLED: ExitOutcome = ExitOutcome::Signal(9);

    #[test]
    fn a_requested_stop_always_ends_stopped() {
        for policy in [Always, OnFailure, Never] {
            for outcome in [OK, BAD, KILLED] {
                assert_eq!(
                    after_exit(policy, Kind::Daemon, outcome, Ending::Stopped),
                    AfterExit::Stopped
                );
            }
        }
    }

    #[test]
    fn restart_policies() {
        assert_eq!(
            after_exit(Always, Kind::Daemon, OK, Ending::OnItsOwn),
            AfterExit::Restart
        );
        assert_eq!(
            after_exit(Always, Kind::Daemon, BAD, Ending::OnItsOwn),
            AfterExit::Restart
        );
        assert_eq!(
            after_exit(OnFailure, Kind::Daemon, OK, Ending::OnItsOwn),
            AfterExit::Exited
        );
        assert_eq!(
            after_exit(OnFailure, Kind::Daemon, KILLED, Ending::OnItsOwn),
            AfterExit::Restart
        );
        assert_eq!(
            after_exit(Never, Kind::Daemon, BAD, Ending::OnItsOwn),
            AfterExit::Failed
        );
        assert_eq!(
            after_exit(Never, Kind::Daemon, OK, Ending::OnItsOwn),
            AfterExit::Exited
        );
    }

    #[test]
    fn a_oneshot_that_succeeds_is_exited_whatever_the_policy() {
        for policy in [Always, OnFailure, Never] {
            assert_eq!(
                after_exit(policy, Kind::Oneshot, OK, Ending::OnItsOwn),
                AfterExit::Exited
            );
        }
        assert_eq!(
            after_exit(OnFailure, Kind::Oneshot, BAD, Ending::OnItsOwn),
            AfterExit::Restart
        );
        assert_eq!(
            after_exit(Never, Kind::Oneshot, BAD, Ending::OnItsOwn),
            AfterExit::Failed
        );
    }

    #[test]
    fn a_probe_timeout_is_a_failure_even_after_exit_0() {
        assert_eq!(
            after_exit(OnFailure, Kind::Daemon, OK, Ending::NeverReady),
            AfterExit::Restart
        );
        assert_eq!(
            after_exit(Never, Kind::Oneshot, OK, Ending::NeverReady),
            AfterExit::Failed
        );
    }

    #[test]
    fn only_ready_and_exited_satisfy_dependents() {
        let satisfying: Vec<State> = State::ALL
            .into_iter()
            .filter(|s| s.satisfies_dependents())
            .collect();
        assert_eq!(satisfying, vec![State::Ready, State::Exited]);
    }

    #[test]
    fn outcomes_print_like_a_shell_would_say_them() {
        assert_eq!(ExitOutcome::Code(1).to_string(), "exit 1");
        assert_eq!(ExitOutcome::Signal(9).to_string(), "signal 9 (SIGKILL)");
    }
}
