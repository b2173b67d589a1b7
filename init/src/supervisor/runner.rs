//! The supervisor itself: one task that owns every service's state and reacts to requests (from the
//! [`Handle`](super::handle::Handle)) and events (exits, probe results, timers). Processes, probes
//! and timers run in small tasks of their own and report back here; stale reports are recognised by
//! a per-spawn generation number and ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::{mpsc, oneshot};

use super::cgroup::{Cgroups, ServiceCgroup};
use super::console_budget::{self, ConsoleBudget};
use super::handle::{ControlError, Handle};
use super::log_file::RotatingFile;
use super::logs::{LogLine, LogRing, RingLimits, Stream};
use super::metrics::{self, Figures, ServiceFigures};
use super::output::{Sinks, spawn_reader};
use super::planner::Plan;
use super::probe::wait_ready;
use super::restart::Backoff;
use super::spawn::{Io, Launch, launch};
use super::spec::{Probe, ServiceSpec};
use super::state::{AfterExit, ExitOutcome, State, after_exit};
use crate::boot::timeline::Timeline;
use crate::console;
use crate::pid1::reaper::Reaper;

/// How the supervisor runs services; fixed at PID 1 start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Restart delays.
    pub backoff: Backoff,
    /// Size of each service's log ring.
    pub ring: RingLimits,
    /// Directory for `<name>.log` files, when file logging is on.
    pub log_dir: Option<PathBuf>,
    /// Rotation size of each log file.
    pub log_max_bytes: u64,
    /// Mirror service output to the console.
    pub console_output: bool,
    /// Per-service cgroups, when cgroup2 is usable.
    pub cgroups: Option<Cgroups>,
    /// Where to write the Prometheus textfile.
    pub metrics_file: Option<PathBuf>,
    /// Environment every service starts from.
    pub base_env: Vec<(String, String)>,
    /// The boot timeline (for the metrics).
    pub timeline: Timeline,
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

/// Requests from the handle.
#[derive(Debug)]
pub(super) enum Request {
    Load {
        plan: Plan,
        reply: oneshot::Sender<()>,
    },
    List {
        reply: oneshot::Sender<Vec<ServiceStatus>>,
    },
    Status {
        name: String,
        reply: oneshot::Sender<Result<ServiceStatus, ControlError>>,
    },
    Logs {
        name: String,
        after: u64,
        tail: usize,
        reply: oneshot::Sender<Result<Vec<LogLine>, ControlError>>,
    },
    Start {
        name: String,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    Stop {
        name: String,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    Restart {
        name: String,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    WaitSettled {
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Stop every service (as for a shutdown) and forget them, so a new plan can be loaded; terminal
    /// sessions go on.
    Unload {
        reply: oneshot::Sender<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// Reports from the tasks the supervisor spawned.
#[derive(Debug)]
enum Event {
    Exited {
        name: String,
        generation: u64,
        outcome: ExitOutcome,
    },
    Probed {
        name: String,
        generation: u64,
        result: Result<(), String>,
    },
    BackoffOver {
        name: String,
        generation: u64,
    },
    StopTimedOut {
        name: String,
        generation: u64,
    },
}

/// One supervised service.
#[derive(Debug)]
struct Unit {
    spec: ServiceSpec,
    state: State,
    since: Instant,
    pid: Option<i32>,
    /// The process group of the last run (its main pid), kept after the main process exits.
    pgid: Option<i32>,
    generation: u64,
    spawned_once: bool,
    started_at: Instant,
    restarts: u64,
    failures: u32,
    wanted: bool,
    restart_requested: bool,
    probe_failed: bool,
    last_exit: Option<String>,
    ring: Arc<Mutex<LogRing>>,
    log_file: Option<Arc<Mutex<RotatingFile>>>,
    cgroup: Option<ServiceCgroup>,
}

/// The supervisor task's state.
pub struct Supervisor {
    settings: Settings,
    reaper: Arc<Reaper>,
    units: BTreeMap<String, Unit>,
    order: Vec<String>,
    dependents: BTreeMap<String, Vec<String>>,
    requests: mpsc::UnboundedReceiver<Request>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    settle_waiters: Vec<oneshot::Sender<Vec<String>>>,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    unload_waiters: Vec<oneshot::Sender<()>>,
    shutting_down: bool,
    /// Stopping everything for an unload, not a shutdown: nothing is refused once it is done.
    unloading: bool,
    metrics_dirty: bool,
    ready_written: bool,
}

impl Supervisor {
    /// A supervisor with no services yet, and the handle that drives it.
    pub fn new(settings: Settings, reaper: Arc<Reaper>) -> (Supervisor, Handle) {
        let (tx, requests) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            settings,
            reaper,
            units: BTreeMap::new(),
            order: Vec::new(),
            dependents: BTreeMap::new(),
            requests,
            events_tx,
            events,
            settle_waiters: Vec::new(),
            shutdown_waiters: Vec::new(),
            unload_waiters: Vec::new(),
            shutting_down: false,
            unloading: false,
            metrics_dirty: true,
            ready_written: false,
        };
        (supervisor, Handle::new(tx))
    }

    /// Runs until every handle is dropped.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut ticks: u32 = 0;
        loop {
            tokio::select! {
                request = self.requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return,
                },
                Some(event) = self.events.recv() => self.on_event(event),
                _ = tick.tick() => {
                    ticks = ticks.wrapping_add(1);
                    let ready_news = self.settings.timeline.ready().is_some() != self.ready_written;
                    if self.metrics_dirty || ready_news || ticks.is_multiple_of(5) {
                        self.write_metrics();
                    }
                }
            }
            self.schedule();
            self.answer_waiters();
        }
    }

    fn on_request(&mut self, request: Request) {
        match request {
            Request::Load { plan, reply } => {
                self.load(plan);
                let _ = reply.send(());
            }
            Request::List { reply } => {
                crate::pid1::fault::inject(crate::pid1::fault::Fault::SupervisorPanic);
                let list = self
                    .order
                    .iter()
                    .filter_map(|n| self.units.get(n))
                    .map(status_of)
                    .collect();
                let _ = reply.send(list);
            }
            Request::Status { name, reply } => {
                let _ = reply.send(self.unit(&name).map(status_of));
            }
            Request::Logs {
                name,
                after,
                tail,
                reply,
            } => {
                let lines = self.unit(&name).map(|u| {
                    u.ring
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .since(after, tail)
                });
                let _ = reply.send(lines);
            }
            Request::Start { name, reply } => {
                let _ = reply.send(self.request_start(&name));
            }
            Request::Stop { name, reply } => {
                let result = self.unit(&name).map(|_| ()).map(|()| {
                    if let Some(unit) = self.units.get_mut(&name) {
                        unit.wanted = false;
                        unit.restart_requested = false;
                    }
                    self.stop(&name);
                });
                let _ = reply.send(result);
            }
            Request::Restart { name, reply } => {
                let result = if self.shutting_down {
                    Err(ControlError::ShuttingDown)
                } else {
                    self.unit(&name)
                        .map(|_| ())
                        .map(|()| self.request_restart(&name))
                };
                let _ = reply.send(result);
            }
            Request::WaitSettled { reply } => self.settle_waiters.push(reply),
            Request::Unload { reply } => {
                if !self.shutting_down {
                    console::say("stopping every service to load a new plan");
                    self.shutting_down = true;
                    self.unloading = true;
                }
                self.unload_waiters.push(reply);
                self.advance_shutdown();
            }
            Request::Shutdown { reply } => {
                self.unloading = false;
                if !self.shutting_down {
                    console::say("stopping services");
                }
                self.shutting_down = true;
                self.shutdown_waiters.push(reply);
                self.advance_shutdown();
            }
        }
    }

    fn unit(&self, name: &str) -> Result<&Unit, ControlError> {
        self.units
            .get(name)
            .ok_or_else(|| ControlError::UnknownService(name.to_string()))
    }

    fn load(&mut self, plan: Plan) {
        let kept = std::mem::take(&mut self.order);
        self.order = plan.graph.start_order().to_vec();
        for name in kept {
            if !self.order.contains(&name) {
                self.order.push(name);
            }
        }
        for spec in plan.specs {
            self.dependents.insert(
                spec.name.clone(),
                plan.graph.dependents(&spec.name).to_vec(),
            );
            // A terminal session kept across the reload goes on; the new spec is for its next start.
            if let Some(unit) = self.units.get_mut(&spec.name) {
                unit.spec = spec;
                continue;
            }
            let now = Instant::now();
            let unit = Unit {
                ring: Arc::new(Mutex::new(LogRing::new(self.settings.ring))),
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
                log_file: None,
                cgroup: None,
            };
            self.units.insert(unit.spec.name.clone(), unit);
        }
        self.metrics_dirty = true;
    }

    fn request_start(&mut self, name: &str) -> Result<(), ControlError> {
        if self.shutting_down {
            return Err(ControlError::ShuttingDown);
        }
        let unit = self
            .units
            .get_mut(name)
            .ok_or_else(|| ControlError::UnknownService(name.to_string()))?;
        unit.wanted = true;
        unit.failures = 0;
        match unit.state {
            State::Stopped | State::Failed | State::Exited | State::Backoff => {
                self.set_state(name, State::Waiting, "")
            }
            State::Stopping => {
                if let Some(unit) = self.units.get_mut(name) {
                    unit.restart_requested = true;
                }
            }
            State::Waiting | State::Starting | State::Ready => {}
        }
        Ok(())
    }

    fn request_restart(&mut self, name: &str) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        unit.wanted = true;
        unit.failures = 0;
        if unit.state.has_process() {
            unit.restart_requested = true;
            self.stop(name);
        } else {
            self.set_state(name, State::Waiting, "");
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Exited {
                name,
                generation,
                outcome,
            } => {
                if self.current(&name, generation) {
                    self.on_exit(&name, outcome);
                }
            }
            Event::Probed {
                name,
                generation,
                result,
            } => {
                if !self.current(&name, generation) {
                    return;
                }
                let Some(unit) = self.units.get_mut(&name) else {
                    return;
                };
                if unit.state != State::Starting {
                    return;
                }
                match result {
                    Ok(()) => {
                        let took = unit.started_at.elapsed();
                        self.set_state(
                            &name,
                            State::Ready,
                            &format!("after {:.2}s", took.as_secs_f64()),
                        );
                    }
                    Err(reason) => {
                        console::say(&format!("service {name}: {reason}; killing it"));
                        unit.probe_failed = true;
                        unit.last_exit = Some(reason);
                        kill_unit(unit);
                    }
                }
            }
            Event::BackoffOver { name, generation } => {
                if self.current(&name, generation)
                    && self
                        .units
                        .get(&name)
                        .is_some_and(|u| u.state == State::Backoff)
                {
                    // Back to waiting without a console line: the next line is its start (or,
                    // when a dependency went away meanwhile, nothing until that returns).
                    self.enter(&name, State::Waiting);
                }
            }
            Event::StopTimedOut { name, generation } => {
                if !self.current(&name, generation) {
                    return;
                }
                if let Some(unit) = self.units.get(&name).filter(|u| u.state == State::Stopping) {
                    console::say(&format!(
                        "service {name}: still running {:?} after its stop signal; killing it",
                        unit.spec.stop_timeout
                    ));
                    kill_unit(unit);
                }
            }
        }
    }

    fn current(&self, name: &str, generation: u64) -> bool {
        self.units
            .get(name)
            .is_some_and(|u| u.generation == generation)
    }

    fn on_exit(&mut self, name: &str, outcome: ExitOutcome) {
        let backoff = self.settings.backoff;
        let shutting_down = self.shutting_down;
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        unit.pid = None;
        let uptime = unit.started_at.elapsed();
        let kept = self.unloading && survives_reload(unit);
        let stopping = unit.state == State::Stopping || !unit.wanted || (shutting_down && !kept);
        let probe_failed = std::mem::take(&mut unit.probe_failed);
        if !probe_failed {
            unit.last_exit = Some(outcome.to_string());
        }
        let decision = after_exit(
            unit.spec.restart,
            unit.spec.oneshot,
            outcome,
            stopping,
            probe_failed,
        );
        let restart_requested = std::mem::take(&mut unit.restart_requested);
        // A stop takes the whole service down: what its main process left behind (daemonised
        // children, other sessions) dies with it, as its process group and cgroup.
        if decision == AfterExit::Stopped {
            kill_unit(unit);
        }
        if decision != AfterExit::Restart
            && unit.cgroup.as_ref().is_some_and(|c| c.pids().is_empty())
            && let Some(cgroup) = unit.cgroup.take()
        {
            cgroup.remove();
        }
        match decision {
            AfterExit::Stopped if restart_requested && !shutting_down => {
                self.set_state(
                    name,
                    State::Waiting,
                    &format!("stopped ({outcome}) for a restart"),
                );
            }
            AfterExit::Stopped => self.set_state(name, State::Stopped, &format!("({outcome})")),
            AfterExit::Exited => self.set_state(name, State::Exited, &format!("({outcome})")),
            AfterExit::Failed => {
                self.set_state(name, State::Failed, &format!("({outcome}); not restarting"))
            }
            AfterExit::Restart => {
                unit.failures = backoff.next_failures(unit.failures, uptime);
                let delay = backoff.delay(unit.failures);
                let generation = unit.generation;
                let why = if probe_failed {
                    "never became ready".to_string()
                } else {
                    outcome.to_string()
                };
                self.set_state(
                    name,
                    State::Backoff,
                    &format!("({why}); restarting in {delay:?}"),
                );
                let events = self.events_tx.clone();
                let name = name.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = events.send(Event::BackoffOver { name, generation });
                });
            }
        }
    }

    /// Starts every waiting service whose dependencies are all ready.
    fn schedule(&mut self) {
        if self.shutting_down {
            self.advance_shutdown();
            return;
        }
        for i in 0..self.order.len() {
            let Some(unit) = self.order.get(i).and_then(|name| self.units.get(name)) else {
                continue;
            };
            if unit.state != State::Waiting || !unit.wanted {
                continue;
            }
            let ready = unit.spec.after.iter().all(|d| {
                self.units
                    .get(d)
                    .is_some_and(|u| u.state.satisfies_dependents())
            });
            if ready {
                let name = unit.spec.name.clone();
                self.start(&name);
            }
        }
    }

    fn start(&mut self, name: &str) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        unit.generation += 1;
        if unit.spawned_once {
            unit.restarts += 1;
        }
        unit.spawned_once = true;
        unit.started_at = Instant::now();
        unit.probe_failed = false;
        if let (None, Some(cgroups)) = (&unit.cgroup, &self.settings.cgroups) {
            match cgroups.service(name) {
                Ok(cgroup) => unit.cgroup = Some(cgroup),
                Err(e) => console::say(&format!(
                    "service {name}: no cgroup ({e}); running without one"
                )),
            }
        }
        if let (None, Some(dir)) = (&unit.log_file, &self.settings.log_dir) {
            unit.log_file = RotatingFile::open(dir, name, self.settings.log_max_bytes)
                .map(|f| Arc::new(Mutex::new(f)));
        }
        let launched = launch(
            &self.reaper,
            &Launch {
                argv: &unit.spec.exec,
                base_env: &self.settings.base_env,
                env: &unit.spec.env,
                io: unit.spec.tty.as_deref().map_or(Io::Capture, Io::Terminal),
                cgroup_procs: unit.cgroup.as_ref().map(|c| c.procs_file()),
            },
        );
        let started = match launched {
            Ok(started) => started,
            Err(e) => {
                console::say(&format!("service {name}: {e}"));
                unit.ring.lock().unwrap_or_else(|p| p.into_inner()).push(
                    u64::try_from(console::uptime().as_millis()).unwrap_or(u64::MAX),
                    Stream::Stderr,
                    format!("plinth: {e}"),
                );
                self.on_exit(name, ExitOutcome::Code(127));
                return;
            }
        };
        unit.pid = Some(started.pid);
        unit.pgid = Some(started.pid);
        let sinks = Sinks {
            name: Arc::from(name),
            ring: unit.ring.clone(),
            file: unit.log_file.clone(),
            console: self.settings.console_output.then(|| {
                Arc::new(Mutex::new(ConsoleBudget::new(
                    console_budget::RATE,
                    console_budget::BURST,
                    Instant::now(),
                )))
            }),
        };
        if let Some(stdout) = started.stdout {
            spawn_reader(stdout, Stream::Stdout, sinks.clone());
        }
        if let Some(stderr) = started.stderr {
            spawn_reader(stderr, Stream::Stderr, sinks);
        }
        let generation = unit.generation;
        let events = self.events_tx.clone();
        let exit_name = name.to_string();
        let exit = started.exit;
        tokio::spawn(async move {
            if let Ok(outcome) = exit.await {
                let _ = events.send(Event::Exited {
                    name: exit_name,
                    generation,
                    outcome,
                });
            }
        });
        let probe = unit.spec.probe.clone();
        let unit_background = unit.spec.background;
        let pid = started.pid;
        self.set_state(name, State::Starting, &format!("(pid {pid})"));
        match probe {
            Probe::Running => self.set_state(name, State::Ready, ""),
            // A background oneshot (cluster-prep waiting for a cluster to join, say) keeps
            // trying on its own for as long as it takes, and neither the boot's readiness nor
            // a dependent's start is held up by it in a way a time limit would cure.
            Probe::ExitZero if unit_background => {}
            Probe::ExitZero => {
                // A oneshot is ready when it exits 0, within its ready timeout like any probe.
                let events = self.events_tx.clone();
                let limit = self
                    .units
                    .get(name)
                    .map_or(Duration::from_secs(60), |u| u.spec.ready_timeout);
                let probe_name = name.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(limit).await;
                    let _ = events.send(Event::Probed {
                        name: probe_name,
                        generation,
                        result: Err(format!(
                            "did not finish within {}",
                            plinth_config::Duration(limit)
                        )),
                    });
                });
            }
            probe => {
                let events = self.events_tx.clone();
                let reaper = self.reaper.clone();
                let env = self.settings.base_env.clone();
                let limit = self
                    .units
                    .get(name)
                    .map_or(Duration::from_secs(60), |u| u.spec.ready_timeout);
                let probe_name = name.to_string();
                tokio::spawn(async move {
                    let result = wait_ready(&probe, limit, &reaper, &env)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = events.send(Event::Probed {
                        name: probe_name,
                        generation,
                        result,
                    });
                });
            }
        }
    }

    /// Sends the stop signal (and arms the SIGKILL timer), or marks a service without a process
    /// stopped.
    fn stop(&mut self, name: &str) {
        let Some(unit) = self.units.get(name) else {
            return;
        };
        match unit.state {
            State::Starting | State::Ready => {
                if let Some(pid) = unit.pid {
                    let signal = Signal::try_from(unit.spec.stop_signal).unwrap_or(Signal::SIGTERM);
                    let _ = kill(Pid::from_raw(-pid), signal);
                }
                let (generation, timeout) = (unit.generation, unit.spec.stop_timeout);
                self.set_state(name, State::Stopping, "");
                let events = self.events_tx.clone();
                let name = name.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(timeout).await;
                    let _ = events.send(Event::StopTimedOut { name, generation });
                });
            }
            State::Waiting | State::Backoff => {
                if self.units.get(name).is_some_and(|u| u.restart_requested) {
                    return;
                }
                self.set_state(name, State::Stopped, "");
            }
            State::Stopping | State::Stopped | State::Exited | State::Failed => {}
        }
    }

    /// During shutdown: stops each service once everything that comes after it, even through a
    /// finished oneshot, is down.
    fn advance_shutdown(&mut self) {
        for name in self.order.clone().iter().rev() {
            let Some(unit) = self.units.get(name) else {
                continue;
            };
            if self.unloading && survives_reload(unit) {
                continue;
            }
            let dependents_down = !self.dependent_running(name);
            let idle = matches!(unit.state, State::Waiting | State::Backoff);
            if idle || (dependents_down && matches!(unit.state, State::Starting | State::Ready)) {
                if let Some(unit) = self.units.get_mut(name) {
                    unit.restart_requested = false;
                }
                self.stop(name);
            }
        }
    }

    /// Whether anything that comes after `name`, directly or through services without a process
    /// (a finished oneshot), still has a process.
    fn dependent_running(&self, name: &str) -> bool {
        let mut stack: Vec<&str> = vec![name];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(current) = stack.pop() {
            for dependent in self.dependents.get(current).into_iter().flatten() {
                if !seen.insert(dependent.as_str()) {
                    continue;
                }
                if self
                    .units
                    .get(dependent)
                    .is_some_and(|u| u.state.has_process())
                {
                    return true;
                }
                stack.push(dependent);
            }
        }
        false
    }

    fn answer_waiters(&mut self) {
        if let (false, Some(failed)) = (self.settle_waiters.is_empty(), self.settled()) {
            for waiter in self.settle_waiters.drain(..) {
                let _ = waiter.send(failed.clone());
            }
        }
        if self.shutting_down
            && !self.shutdown_waiters.is_empty()
            && self.units.values().all(|u| !u.state.has_process())
        {
            self.write_metrics();
            for waiter in self.shutdown_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        let unloaded = self
            .units
            .values()
            .all(|u| !u.state.has_process() || (self.unloading && survives_reload(u)));
        if !self.unload_waiters.is_empty() && unloaded {
            if self.unloading {
                self.units.retain(|_, u| survives_reload(u));
                let units = &self.units;
                self.order.retain(|n| units.contains_key(n));
                self.dependents.clear();
                self.shutting_down = false;
                self.unloading = false;
                self.metrics_dirty = true;
            }
            for waiter in self.unload_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
    }

    /// `Some(failed names)` once no service will change state on its own any more; background
    /// services (`ServiceSpec::background`) are not waited for.
    fn settled(&self) -> Option<Vec<String>> {
        let mut failed = Vec::new();
        let mut blocked: BTreeMap<&str, bool> = BTreeMap::new();
        for name in &self.order {
            let unit = self.units.get(name)?;
            let deps_blocked = unit.spec.after.iter().any(|d| {
                blocked.get(d.as_str()).copied().unwrap_or(false)
                    || self
                        .units
                        .get(d)
                        .is_some_and(|u| matches!(u.state, State::Failed | State::Stopped))
            });
            let is_blocked = unit.state == State::Waiting && deps_blocked;
            blocked.insert(name, is_blocked || unit.state == State::Failed);
            if unit.spec.background {
                continue;
            }
            match unit.state.settled() {
                Some(Ok(())) => {}
                Some(Err(())) => failed.push(name.clone()),
                None if is_blocked => failed.push(name.clone()),
                None => return None,
            }
        }
        Some(failed)
    }

    /// Moves `name` to `state` and says so on the console, with `detail` when not empty.
    fn set_state(&mut self, name: &str, state: State, detail: &str) {
        if !self.enter(name, state) {
            return;
        }
        if detail.is_empty() {
            console::say(&format!("service {name}: {state}"));
        } else {
            console::say(&format!("service {name}: {state} {detail}"));
        }
    }

    /// Moves `name` to `state` without a console line; false when there is no such unit.
    fn enter(&mut self, name: &str, state: State) -> bool {
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        unit.state = state;
        unit.since = Instant::now();
        self.metrics_dirty = true;
        true
    }

    fn write_metrics(&mut self) {
        self.metrics_dirty = false;
        let Some(path) = &self.settings.metrics_file else {
            return;
        };
        let timeline = &self.settings.timeline;
        self.ready_written = timeline.ready().is_some();
        let figures = Figures {
            services: self
                .order
                .iter()
                .filter_map(|n| self.units.get(n))
                .map(|u| ServiceFigures {
                    name: u.spec.name.clone(),
                    state: u.state,
                    restarts: u.restarts,
                })
                .collect(),
            phases: timeline
                .phases()
                .into_iter()
                .filter_map(|p| p.duration.map(|d| (p.name, d.as_secs_f64())))
                .collect(),
            ready_seconds: timeline.ready().map(|d| d.as_secs_f64()),
            rss_bytes: metrics::rss_bytes(),
        };
        if let Err(e) = metrics::write_atomically(path, &metrics::render(&figures)) {
            console::say(&format!("metrics: cannot write {}: {e}", path.display()));
            self.settings.metrics_file = None;
        }
    }
}

/// Whether `unit` is kept running when the plan is unloaded for a new one: a terminal session (an
/// operator may be typing `plinthctl config apply` in it).
fn survives_reload(unit: &Unit) -> bool {
    unit.spec.tty.is_some()
}

/// SIGKILLs a service's process group (that of its last run, so also what its main process left
/// behind after it exited) and cgroup.
fn kill_unit(unit: &Unit) {
    if let Some(pgid) = unit.pgid {
        let _ = kill(Pid::from_raw(-pgid), Signal::SIGKILL);
    }
    if let Some(cgroup) = &unit.cgroup {
        cgroup.kill_all();
    }
}

fn status_of(unit: &Unit) -> ServiceStatus {
    ServiceStatus {
        name: unit.spec.name.clone(),
        state: unit.state,
        pid: unit.pid,
        restarts: unit.restarts,
        since: unit.since.elapsed(),
        last_exit: unit.last_exit.clone(),
        after: unit.spec.after.clone(),
        probe: unit.spec.probe.to_string(),
        restart: unit.spec.restart.as_str(),
        origin: match unit.spec.origin {
            super::spec::Origin::User => "user",
            super::spec::Origin::Builtin => "builtin",
        },
    }
}
