//! The types the control API sends, shared by PID 1 and plinthctl. D-Bus has no null, so "none" is
//! spelled `0` for a pid and `-1` for a missing time; plinthctl turns those back into JSON nulls.

use serde::{Deserialize, Serialize};
use zbus::Type;

use crate::boot::timeline::PhaseRecord;
use crate::supervisor::ServiceStatus;
use crate::supervisor::logs::LogLine;

/// One service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ServiceInfo {
    /// Name.
    pub name: String,
    /// State (`waiting`, `starting`, `ready`, `exited`, `backoff`, `failed`, `stopping`, `stopped`).
    pub state: String,
    /// Main pid, 0 when none.
    pub pid: u32,
    /// Restarts since boot.
    pub restarts: u64,
    /// Milliseconds in the current state.
    pub since_ms: u64,
    /// How the last run ended, empty when it has not.
    pub last_exit: String,
    /// What it comes after.
    pub after: Vec<String>,
    /// Readiness probe.
    pub probe: String,
    /// Restart policy.
    pub restart: String,
    /// `user` or `builtin`.
    pub origin: String,
}

impl From<ServiceStatus> for ServiceInfo {
    fn from(s: ServiceStatus) -> Self {
        ServiceInfo {
            name: s.name,
            state: s.state.as_str().to_string(),
            pid: s.pid.and_then(|p| u32::try_from(p).ok()).unwrap_or(0),
            restarts: s.restarts,
            since_ms: u64::try_from(s.since.as_millis()).unwrap_or(u64::MAX),
            last_exit: s.last_exit.unwrap_or_default(),
            after: s.after,
            probe: s.probe,
            restart: s.restart.to_string(),
            origin: s.origin.to_string(),
        }
    }
}

/// One log line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct LogEntry {
    /// Sequence number within the service's output.
    pub seq: u64,
    /// Milliseconds since PID 1 started.
    pub at_ms: u64,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// The line.
    pub text: String,
}

impl From<LogLine> for LogEntry {
    fn from(l: LogLine) -> Self {
        LogEntry {
            seq: l.seq,
            at_ms: l.at_ms,
            stream: l.stream.as_str().to_string(),
            text: l.text,
        }
    }
}

/// One boot phase.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct PhaseInfo {
    /// Name.
    pub name: String,
    /// Start, in milliseconds since PID 1 started; -1 when not started.
    pub start_ms: i64,
    /// Duration in milliseconds; -1 while running or pending.
    pub duration_ms: i64,
    /// `pending`, `running`, `ok` or `failed`.
    pub status: String,
    /// What it did, or why it failed.
    pub message: String,
}

impl From<PhaseRecord> for PhaseInfo {
    fn from(p: PhaseRecord) -> Self {
        let ms = |d: Option<std::time::Duration>| {
            d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        PhaseInfo {
            name: p.name,
            start_ms: ms(p.start),
            duration_ms: ms(p.duration),
            status: p.status.as_str().to_string(),
            message: p.status.message().to_string(),
        }
    }
}

/// The boot timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct TimelineInfo {
    /// The phases in order.
    pub phases: Vec<PhaseInfo>,
    /// When the boot reached ready, in milliseconds since PID 1 started; -1 when not (yet).
    pub ready_ms: i64,
}
