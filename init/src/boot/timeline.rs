//! The boot timeline: when each phase started, how long it took, how it ended, and when the boot
//! reached ready. Shared by the boot sequence (writer), the control API and the metrics (readers).

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How a phase ended (or that it has not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhaseStatus {
    /// Not reached yet.
    Pending,
    /// Running now.
    Running,
    /// Finished well, with what it did.
    Done(String),
    /// Failed; the boot stays in maintenance mode.
    Failed(String),
}

impl PhaseStatus {
    /// `pending`, `running`, `ok` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            PhaseStatus::Pending => "pending",
            PhaseStatus::Running => "running",
            PhaseStatus::Done(_) => "ok",
            PhaseStatus::Failed(_) => "failed",
        }
    }

    /// The phase's message (empty while pending or running).
    pub fn message(&self) -> &str {
        match self {
            PhaseStatus::Done(m) | PhaseStatus::Failed(m) => m,
            PhaseStatus::Pending | PhaseStatus::Running => "",
        }
    }
}

/// One phase on the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhaseRecord {
    /// Phase name.
    pub name: String,
    /// Start, as time since PID 1 started.
    pub start: Option<Duration>,
    /// Duration, once finished.
    pub duration: Option<Duration>,
    /// How it is going.
    pub status: PhaseStatus,
}

#[derive(Debug, Default)]
struct Inner {
    phases: Vec<PhaseRecord>,
    ready: Option<Duration>,
}

/// The shared timeline.
#[derive(Clone, Debug, Default)]
pub struct Timeline(Arc<Mutex<Inner>>);

impl Timeline {
    /// A timeline listing `names` as pending.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Timeline {
        let phases = names
            .into_iter()
            .map(|n| PhaseRecord {
                name: n.to_string(),
                start: None,
                duration: None,
                status: PhaseStatus::Pending,
            })
            .collect();
        Timeline(Arc::new(Mutex::new(Inner {
            phases,
            ready: None,
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Marks `name` running from `at`.
    pub fn begin(&self, name: &str, at: Duration) {
        self.with(|t| {
            if let Some(p) = t.phases.iter_mut().find(|p| p.name == name) {
                p.start = Some(at);
                p.status = PhaseStatus::Running;
            }
        });
    }

    /// Marks `name` finished after `took`.
    pub fn end(&self, name: &str, took: Duration, status: PhaseStatus) {
        self.with(|t| {
            if let Some(p) = t.phases.iter_mut().find(|p| p.name == name) {
                p.duration = Some(took);
                p.status = status;
            }
        });
    }

    /// Marks the running phase failed with `why` (its task ended without finishing it, at `now`);
    /// returns its name, or `None` when no phase was running.
    pub fn fail_running(&self, why: &str, now: Duration) -> Option<String> {
        self.with(|t| {
            let p = t
                .phases
                .iter_mut()
                .find(|p| p.status == PhaseStatus::Running)?;
            p.duration = Some(now.saturating_sub(p.start.unwrap_or(now)));
            p.status = PhaseStatus::Failed(why.to_string());
            Some(p.name.clone())
        })
    }

    /// Records that the boot reached ready at `at`.
    pub fn set_ready(&self, at: Duration) {
        self.with(|t| t.ready = Some(at));
    }

    /// Every phase.
    pub fn phases(&self) -> Vec<PhaseRecord> {
        self.with(|t| t.phases.clone())
    }

    /// When the boot reached ready.
    pub fn ready(&self) -> Option<Duration> {
        self.with(|t| t.ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_phases_in_order() {
        let t = Timeline::new(["early", "config"]);
        t.begin("early", Duration::from_millis(1));
        t.end(
            "early",
            Duration::from_millis(4),
            PhaseStatus::Done("mounted".into()),
        );
        t.begin("config", Duration::from_millis(5));
        let phases = t.phases();
        assert_eq!(phases[0].status.as_str(), "ok");
        assert_eq!(phases[0].duration, Some(Duration::from_millis(4)));
        assert_eq!(phases[1].status, PhaseStatus::Running);
        assert_eq!(t.ready(), None);
        t.set_ready(Duration::from_secs(1));
        assert_eq!(t.ready(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_phase_whose_task_died_is_failed_with_why() {
        let t = Timeline::new(["early", "config"]);
        assert_eq!(t.fail_running("gone", Duration::from_secs(1)), None);
        t.begin("config", Duration::from_millis(500));
        assert_eq!(
            t.fail_running("panicked: x", Duration::from_secs(2))
                .as_deref(),
            Some("config")
        );
        let config = &t.phases()[1];
        assert_eq!(config.status, PhaseStatus::Failed("panicked: x".into()));
        assert_eq!(config.duration, Some(Duration::from_millis(1500)));
    }
}
