//! What stage 2's main loop does when one of PID 1's long-lived tasks ends, which none should: the
//! end of a task (a panic above all) is an event of the main loop, never a silent loss.
//!
//! - The boot task (phases, then `plinthctl config apply`) is started again in maintenance mode,
//!   with why it ended on the console, so an operator can apply a config; up to
//!   [`BOOT_RESTARTS`] times, so a task that dies in maintenance mode itself does not spin.
//! - The supervisor is not restarted: its state (which process is which service, their
//!   generations, their pending timers) died with it, and a new one cannot tell a service's
//!   process from an orphan or a reused pid. PID 1 reboots cleanly instead, after the bound
//!   `plinth.supervisor.failure_reboot_after` sets, so the console can be read first.

use std::time::Duration;

use tokio::task::JoinError;

/// How many times the boot task is started again; after that PID 1 stays up without it (the
/// console, the control API and the services go on).
pub const BOOT_RESTARTS: u32 = 5;

/// A long-lived task of stage 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// The boot phases and config apply.
    Boot,
    /// The service supervisor.
    Supervisor,
}

/// What the main loop does about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reaction {
    /// Start the boot task again in maintenance mode, saying why.
    Maintenance {
        /// Why, for the console and the timeline.
        why: String,
    },
    /// Leave it ended (it ended too often), saying why.
    GiveUp {
        /// Why, for the console.
        why: String,
    },
    /// Reboot cleanly once `after` has passed.
    Reboot {
        /// The bound the config sets.
        after: Duration,
        /// Why, for the console.
        why: String,
    },
}

/// How a task ended, in words: `panicked: MESSAGE`, `was cancelled` or `returned`.
pub fn how<T>(result: Result<T, JoinError>) -> String {
    match result {
        Ok(_) => "returned".into(),
        Err(e) if e.is_panic() => format!(
            "panicked: {}",
            crate::pid1::panic::message(e.into_panic().as_ref())
        ),
        Err(_) => "was cancelled".into(),
    }
}

/// The reaction to `task` having ended as `how` says, after `restarts` earlier restarts of it;
/// `reboot_after` is the config's bound.
pub fn react(task: Task, how: &str, restarts: u32, reboot_after: Duration) -> Reaction {
    match task {
        Task::Boot if restarts >= BOOT_RESTARTS => Reaction::GiveUp {
            why: format!(
                "the boot task {how} again, after {restarts} restarts: not starting it again (the control API and the services go on; `plinthctl reboot` to start over)"
            ),
        },
        Task::Boot => Reaction::Maintenance {
            why: format!("the boot task {how}"),
        },
        Task::Supervisor => Reaction::Reboot {
            after: reboot_after,
            why: format!("the supervisor {how}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_is_told_with_its_message() {
        let panicked = tokio::spawn(async {
            #[allow(clippy::panic, reason = "the test needs a panicking task")]
            {
                panic!("phase exploded")
            }
        })
        .await;
        assert_eq!(how::<()>(panicked), "panicked: phase exploded");
        let returned: Result<(), JoinError> = Ok(());
        assert_eq!(how(returned), "returned");
        let pending = tokio::spawn(std::future::pending::<()>());
        pending.abort();
        assert_eq!(how(pending.await), "was cancelled");
    }

    #[test]
    fn the_boot_task_goes_to_maintenance_and_the_supervisor_reboots() {
        let bound = Duration::from_secs(7);
        assert_eq!(
            react(Task::Boot, "panicked: x", 0, bound),
            Reaction::Maintenance {
                why: "the boot task panicked: x".into()
            }
        );
        assert!(matches!(
            react(Task::Boot, "panicked: x", BOOT_RESTARTS, bound),
            Reaction::GiveUp { .. }
        ));
        assert_eq!(
            react(Task::Supervisor, "panicked: y", 0, bound),
            Reaction::Reboot {
                after: bound,
                why: "the supervisor panicked: y".into()
            }
        );
    }
}
