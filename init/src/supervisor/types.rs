//! The vocabulary between the supervisor's pure [`Machine`](super::machine::Machine) and the shell
//! that runs it: what comes in ([`Input`]: control requests, process exits, probe results, timer
//! fires, spawn results, the shell's own tasks ending), what goes out ([`Effect`]: spawn, signal,
//! kill, arm a timer, remove a cgroup, write the metrics, say a line, answer a waiter), and one
//! service as the machine keeps it ([`Unit`]).

use std::time::{Duration, Instant};

use super::metrics::ServiceFigures;
use super::planner::Plan;
use super::spec::{Origin, Probe, ServiceSpec};
use super::state::{ExitOutcome, State};

/// Something the machine reacts to. `generation` names one run of a service: reports about an
/// earlier run are stale and ignored.
#[derive(Debug)]
pub enum Input {
    /// Take over the planned services (kept terminal sessions get their new spec).
    Load(Plan),
    /// Start a stopped, failed or finished service.
    Start(String),
    /// Stop a service; it stays stopped.
    Stop(String),
    /// Stop a service and start it again.
    Restart(String),
    /// Someone waits for every service to come to rest ([`Effect::Settled`]).
    WaitSettled,
    /// Stop everything but terminal sessions and forget it ([`Effect::Unloaded`]).
    Unload,
    /// Stop everything ([`Effect::ShutDown`]).
    Shutdown,
    /// The spawn asked for by [`Effect::Spawn`] worked.
    Spawned {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// Main pid, also the process group.
        pid: i32,
    },
    /// The spawn asked for by [`Effect::Spawn`] failed.
    SpawnFailed {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// Why, in words.
        error: String,
    },
    /// A service's main process exited.
    Exited {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// How.
        outcome: ExitOutcome,
    },
    /// A readiness probe came to an end.
    Probed {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// Ready, or why not.
        result: Result<(), String>,
    },
    /// A timer armed by [`Effect::ArmTimer`] fired.
    TimerFired {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// Which.
        timer: Timer,
    },
    /// A task the shell started for a service (probe, timer, exit watcher) ended without its
    /// report: it panicked or was cancelled.
    HelperLost {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// What it was and how it ended, in words.
        how: String,
    },
    /// The metrics clock (once a second); `boot_ready` says whether the boot has reached `ready`.
    Tick {
        /// The boot timeline has its ready time.
        boot_ready: bool,
    },
}

/// The timers a service may have running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The restart delay is over.
    Backoff,
    /// The stop signal had its time; SIGKILL follows.
    StopTimeout,
    /// A oneshot ran for its whole ready limit.
    ReadyTimeout,
}

/// Something for the shell to do, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Start run `generation` of `spec`; the result comes back as [`Input::Spawned`] or
    /// [`Input::SpawnFailed`] before any other effect.
    Spawn {
        /// What to run.
        spec: ServiceSpec,
        /// Its run.
        generation: u64,
    },
    /// Run `probe` until it passes or `limit` has passed (`None`: no limit); report
    /// [`Input::Probed`].
    Probe {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// The check.
        probe: Probe,
        /// How long it may take.
        limit: Option<Duration>,
    },
    /// Send `signal` to process group `pgid`.
    Signal {
        /// Process group.
        pgid: i32,
        /// Signal number.
        signal: i32,
    },
    /// SIGKILL the service's last process group (when it had one) and everything in its cgroup.
    Kill {
        /// Service.
        name: String,
        /// Process group of its last run.
        pgid: Option<i32>,
    },
    /// Report [`Input::TimerFired`] after `after`.
    ArmTimer {
        /// Service.
        name: String,
        /// Its run.
        generation: u64,
        /// Which.
        timer: Timer,
        /// When.
        after: Duration,
    },
    /// Remove the service's cgroup if nothing is left in it.
    RemoveCgroup(String),
    /// The service is no longer supervised: drop its log ring, log file and cgroup handle.
    Forget(String),
    /// Write the metrics file with these services (in start order).
    WriteMetrics(Vec<ServiceFigures>),
    /// A line for the console.
    Say(String),
    /// Answer every settle waiter: these services failed or can never start.
    Settled(Vec<String>),
    /// Answer every shutdown waiter: nothing runs any more.
    ShutDown,
    /// Answer every unload waiter: the plan is forgotten.
    Unloaded,
}

/// One supervised service, as the machine keeps it.
#[derive(Clone, Debug)]
pub struct Unit {
    /// What it is.
    pub spec: ServiceSpec,
    /// Where it is in its life cycle.
    pub state: State,
    /// Since when.
    pub since: Instant,
    /// Main pid while it runs.
    pub pid: Option<i32>,
    /// The process group of the last run (its main pid), kept after the main process exits.
    pub pgid: Option<i32>,
    /// The current run; reports about others are stale.
    pub generation: u64,
    /// Started at least once (a later start counts as a restart).
    pub spawned_once: bool,
    /// When the current run was started.
    pub started_at: Instant,
    /// Restarts since boot.
    pub restarts: u64,
    /// Failures in a row, for the backoff.
    pub failures: u32,
    /// Whether it should be running (false after a stop request).
    pub wanted: bool,
    /// Start it again once its stop completes.
    pub restart_requested: bool,
    /// The current run was killed because it never became ready.
    pub probe_failed: bool,
    /// How the last run ended.
    pub last_exit: Option<String>,
}

impl Unit {
    /// A service just loaded: waiting for what it comes after.
    pub fn new(spec: ServiceSpec, now: Instant) -> Unit {
        Unit {
            spec,
            state: State::Waiting,
            since: now,
            pid: None,
            pgid: None,
            generation: 0,
            spawned_once: false,
            started_at: now,
            restarts: 0,
            failures: 0,
            wanted: true,
            restart_requested: false,
            probe_failed: false,
            last_exit: None,
        }
    }

    /// Whether it is kept running when the plan is unloaded for a new one: a terminal session (an
    /// operator may be typing `plinthctl config apply` in it).
    pub fn survives_reload(&self) -> bool {
        self.spec.tty.is_some()
    }

    /// The service as the API shows it at `now`.
    pub fn status(&self, now: Instant) -> ServiceStatus {
        ServiceStatus {
            name: self.spec.name.clone(),
            state: self.state,
            pid: self.pid,
            restarts: self.restarts,
            since: now.saturating_duration_since(self.since),
            last_exit: self.last_exit.clone(),
            after: self.spec.after.clone(),
            probe: self.spec.probe.to_string(),
            restart: self.spec.restart.as_str(),
            origin: match self.spec.origin {
                Origin::User => "user",
                Origin::Builtin => "builtin",
            },
        }
    }
}

/// A service as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStatus {
    /// Name.
    pub name: String,
    /// State.
    pub state: State,
    /// Main pid (in PID 1's namespace) while it runs.
    pub pid: Option<i32>,
    /// Restarts since boot (automatic and requested).
    pub restarts: u64,
    /// Time in the current state.
    pub since: Duration,
    /// How the last run ended.
    pub last_exit: Option<String>,
    /// What it comes after.
    pub after: Vec<String>,
    /// Its readiness probe.
    pub probe: String,
    /// Restart policy.
    pub restart: &'static str,
    /// `user` or `builtin`.
    pub origin: &'static str,
}
