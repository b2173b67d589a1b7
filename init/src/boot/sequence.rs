//! The boot sequence: the list of phases and the loop that runs them, timing each, printing a line
//! per phase, recording the timeline and, at the end, the single `plinth: ready in X.XXs` line.
//!
//! Adding a phase is one line in [`SEQUENCE`] and one file in `phases/`.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use super::context::BootContext;
use super::phases;
use super::timeline::{PhaseStatus, Timeline};
use crate::console;

/// Why a phase failed: shown on the console and in the timeline.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    /// A phase that needs the config ran before one was loaded.
    #[error("no config was loaded")]
    NoConfig,
    /// No usable config was found or read.
    #[error(transparent)]
    Config(#[from] super::config_source::ConfigError),
    /// A file, directory or system setting the phase makes could not be made.
    #[error("{what}: {error}")]
    Setup {
        /// What was being made, in words (`cannot write /etc/chrony.conf`).
        what: String,
        /// The OS's error.
        error: String,
    },
    /// A helper program could not be run.
    #[error("cannot run {program}: {error}")]
    CannotRun {
        /// The program.
        program: String,
        /// Why not.
        error: String,
    },
    /// The network agent's check of the config did not finish in time.
    #[error("plinth-agent net --dry-run did not finish in {seconds}s")]
    NetworkCheckTimedOut {
        /// Its time limit.
        seconds: u64,
    },
    /// The network agent refuses the config.
    #[error("the network agent refuses the config ({end}):\n{stderr}")]
    NetworkRefused {
        /// How the agent ended.
        end: String,
        /// What it said.
        stderr: String,
    },
    /// The network agent's check left no answer this build can read.
    #[error("cannot read the network agent's check {path}: {error}")]
    NetworkCheckUnreadable {
        /// Its answer's file.
        path: String,
        /// Why not.
        error: String,
    },
    /// The services cannot be planned.
    #[error(transparent)]
    Plan(#[from] crate::supervisor::planner::PlanError),
    /// The supervisor did not take a request.
    #[error(transparent)]
    Supervisor(#[from] crate::supervisor::ControlError),
    /// These services failed, or can never start because something they come after failed.
    #[error("services not ready: {}", .0.join(", "))]
    NotReady(Vec<String>),
    /// These services were still changing state when the settle limit ran out.
    #[error("services not at rest after {limit}: {}", .restless.join(", "))]
    Restless {
        /// The settle limit.
        limit: plinth_config::Duration,
        /// Each service and its state.
        restless: Vec<String>,
    },
}

impl PhaseError {
    /// `what` could not be made because of `error`.
    pub fn setup(what: impl Into<String>, error: impl std::fmt::Display) -> PhaseError {
        PhaseError::Setup {
            what: what.into(),
            error: error.to_string(),
        }
    }
}

/// What a phase body returns: a short line saying what it did.
pub type PhaseResult = Result<String, PhaseError>;

/// The future of a phase body.
pub type PhaseFuture<'a> = Pin<Box<dyn Future<Output = PhaseResult> + Send + 'a>>;

/// A named phase.
#[derive(Clone, Copy)]
pub struct Phase {
    /// Its name in logs, timeline and metrics.
    pub name: &'static str,
    /// Its body.
    pub run: for<'a> fn(&'a mut BootContext) -> PhaseFuture<'a>,
}

impl std::fmt::Debug for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The phases of stage 2, in order.
pub const SEQUENCE: &[Phase] = &[
    Phase {
        name: "early",
        run: |c| Box::pin(phases::early::run(c)),
    },
    Phase {
        name: "config",
        run: |c| Box::pin(phases::config::run(c)),
    },
    Phase {
        name: "identity",
        run: |c| Box::pin(phases::identity::run(c)),
    },
    Phase {
        name: "kernel",
        run: |c| Box::pin(phases::kernel::run(c)),
    },
    Phase {
        name: "network",
        run: |c| Box::pin(phases::network::run(c)),
    },
    Phase {
        name: "time",
        run: |c| Box::pin(phases::time::run(c)),
    },
    Phase {
        name: "storage",
        run: |c| Box::pin(phases::storage::run(c)),
    },
    Phase {
        name: "services",
        run: |c| Box::pin(phases::services::run(c)),
    },
    Phase {
        name: "time-sync",
        run: |c| Box::pin(phases::time_sync::run(c)),
    },
    Phase {
        name: "runcmd",
        run: |c| Box::pin(phases::runcmd::run(c)),
    },
    Phase {
        name: "ready",
        run: |c| Box::pin(phases::ready::run(c)),
    },
];

/// The names of `phases`, for the timeline.
pub fn names(phases: &[Phase]) -> impl Iterator<Item = &'static str> + '_ {
    phases.iter().map(|p| p.name)
}

/// Runs `phases` in order; on the first failure prints what failed and stops there (maintenance
/// mode). Returns the failed phase's name, if any.
pub async fn run(
    phases: &[Phase],
    ctx: &mut BootContext,
    timeline: &Timeline,
) -> Option<&'static str> {
    for phase in phases {
        let started = Instant::now();
        timeline.begin(phase.name, console::uptime());
        console::say(&format!("phase {}: starting", phase.name));
        let result = (phase.run)(ctx).await;
        let took = started.elapsed();
        match result {
            Ok(done) => {
                console::say(&format!(
                    "phase {}: done in {:.3}s: {done}",
                    phase.name,
                    took.as_secs_f64()
                ));
                timeline.end(phase.name, took, PhaseStatus::Done(done));
            }
            Err(error) => {
                let why = error.to_string();
                console::say(&format!(
                    "phase {}: FAILED after {:.3}s: {why}",
                    phase.name,
                    took.as_secs_f64()
                ));
                console::say(
                    "staying up in maintenance mode: the control API and console keep working",
                );
                timeline.end(phase.name, took, PhaseStatus::Failed(why));
                return Some(phase.name);
            }
        }
    }
    let ready = console::uptime();
    timeline.set_ready(ready);
    console::ready(ready);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_errors_read_as_the_console_and_timeline_show_them() {
        let said = [
            PhaseError::setup("cannot write /etc/chrony.conf", "read-only file system"),
            PhaseError::NetworkCheckTimedOut { seconds: 20 },
            PhaseError::NetworkRefused {
                end: "exit 2".into(),
                stderr: "bad bond".into(),
            },
            PhaseError::NetworkCheckUnreadable {
                path: "/run/plinth/net.check".into(),
                error: "version 2, this build reads version 1".into(),
            },
            PhaseError::NotReady(vec!["db".into(), "web".into()]),
            PhaseError::Restless {
                limit: plinth_config::Duration::from_secs(90),
                restless: vec!["web (starting)".into()],
            },
            PhaseError::Supervisor(crate::supervisor::ControlError::ShuttingDown),
        ]
        .map(|e| e.to_string());
        assert_eq!(
            said,
            [
                "cannot write /etc/chrony.conf: read-only file system",
                "plinth-agent net --dry-run did not finish in 20s",
                "the network agent refuses the config (exit 2):\nbad bond",
                "cannot read the network agent's check /run/plinth/net.check: version 2, this build reads version 1",
                "services not ready: db, web",
                "services not at rest after 90s: web (starting)",
                "the node is shutting down",
            ]
        );
    }

    #[test]
    fn the_sequence_is_the_documented_one() {
        let names: Vec<&str> = names(SEQUENCE).collect();
        assert_eq!(
            names,
            [
                "early",
                "config",
                "identity",
                "kernel",
                "network",
                "time",
                "storage",
                "services",
                "time-sync",
                "runcmd",
                "ready"
            ]
        );
    }
}
