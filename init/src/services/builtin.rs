//! Helpers the built-in service files share to describe a service.

use std::time::Duration;

use crate::supervisor::spec::{DEFAULT_STOP_TIMEOUT, Origin, Probe, RestartPolicy, ServiceSpec};

/// A built-in daemon: restarted always, SIGTERM to stop, readiness by `probe`.
pub fn daemon(name: &str, exec: &[&str], probe: Probe, after: &[&str]) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        exec: exec.iter().map(|s| s.to_string()).collect(),
        env: Default::default(),
        after: after.iter().map(|s| s.to_string()).collect(),
        probe,
        ready_timeout: Some(Duration::from_secs(120)),
        restart: RestartPolicy::Always,
        oneshot: false,
        stop_signal: libc::SIGTERM,
        stop_timeout: DEFAULT_STOP_TIMEOUT,
        origin: Origin::Builtin,
        tty: None,
        background: false,
    }
}

/// A built-in oneshot: ready when it exits 0, retried on failure.
pub fn oneshot(name: &str, exec: &[&str], after: &[&str]) -> ServiceSpec {
    ServiceSpec {
        oneshot: true,
        restart: RestartPolicy::OnFailure,
        ..daemon(name, exec, Probe::ExitZero, after)
    }
}
