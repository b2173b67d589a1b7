//! The supervisor's effects: the [`Effects`] trait the shell carries the machine's [`Effect`]s out
//! through, and [`Real`], which does them (fork and exec, signals, cgroups, log rings and files,
//! the metrics file, tasks for probes, timers and exits). The machine's unit tests use a recording
//! fake instead; the PID-namespace tests (`init/tests/supervisor.rs`) exercise this one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::oneshot;
use tokio::task::{Id, JoinSet};

use super::cgroup::{Cgroups, ServiceCgroup};
use super::console_budget::{self, ConsoleBudget};
use super::log_file::RotatingFile;
use super::logs::{LogLine, LogRing, RingLimits, Stream};
use super::metrics::{self, Figures, ServiceFigures};
use super::output::{Sinks, spawn_reader};
use super::probe::wait_ready;
use super::spawn::{Io, Launch, SpawnError, launch};
use super::spec::{Probe, ServiceSpec};
use super::types::{Input, Timer};
use crate::boot::timeline::Timeline;
use crate::console;
use crate::pid1::reaper::Reaper;

/// What the shell needs done; one method per kind of effect.
pub trait Effects {
    /// Starts run `generation` of `spec`: its pid, or why not.
    fn spawn(&mut self, spec: &ServiceSpec, generation: u64) -> Result<i32, SpawnError>;
    /// Runs `probe` (up to `limit`, `None`: for as long as it takes) and reports the result.
    fn probe(&mut self, name: &str, generation: u64, probe: Probe, limit: Option<Duration>);
    /// Sends `signal` to process group `pgid`.
    fn signal(&mut self, pgid: i32, signal: i32);
    /// SIGKILLs process group `pgid` and everything in the service's cgroup.
    fn kill(&mut self, name: &str, pgid: Option<i32>);
    /// Reports `timer` after `after`.
    fn arm_timer(&mut self, name: &str, generation: u64, timer: Timer, after: Duration);
    /// Removes the service's cgroup when it is empty.
    fn remove_cgroup(&mut self, name: &str);
    /// Drops what is kept for a service that is no longer supervised.
    fn forget(&mut self, name: &str);
    /// Writes the metrics file.
    fn write_metrics(&mut self, services: Vec<ServiceFigures>);
    /// Says a line on the console.
    fn say(&mut self, line: &str);
    /// Answers everyone waiting for the services to settle.
    fn settled(&mut self, failed: Vec<String>);
    /// Answers everyone waiting for the shutdown.
    fn shut_down(&mut self);
    /// Answers everyone waiting for the unload.
    fn unloaded(&mut self);
}

/// How the supervisor runs services; fixed at PID 1 start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Restart delays.
    pub backoff: super::restart::Backoff,
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

/// What is kept for one service besides its state: output and resources.
#[derive(Debug)]
struct Kept {
    ring: Arc<Mutex<LogRing>>,
    log_file: Option<Arc<Mutex<RotatingFile>>>,
    cgroup: Option<ServiceCgroup>,
}

/// The real effects.
pub struct Real {
    pub(super) settings: Settings,
    reaper: Arc<Reaper>,
    kept: BTreeMap<String, Kept>,
    /// Probes, timers and exit watchers; each ends with its report.
    pub(super) tasks: JoinSet<Option<Input>>,
    /// Which service and run each task is for, and what it does (for a task that is lost).
    pub(super) owners: BTreeMap<Id, (String, u64, &'static str)>,
    /// Control requests waiting for the machine's answer.
    pub(super) settle_waiters: Vec<oneshot::Sender<Vec<String>>>,
    pub(super) shutdown_waiters: Vec<oneshot::Sender<()>>,
    pub(super) unload_waiters: Vec<oneshot::Sender<()>>,
}

impl Real {
    /// Effects with these settings, reaping through `reaper`.
    pub fn new(settings: Settings, reaper: Arc<Reaper>) -> Real {
        Real {
            settings,
            reaper,
            kept: BTreeMap::new(),
            tasks: JoinSet::new(),
            owners: BTreeMap::new(),
            settle_waiters: Vec::new(),
            shutdown_waiters: Vec::new(),
            unload_waiters: Vec::new(),
        }
    }

    /// Lines of `name`'s ring (none before its first line).
    pub fn logs(&self, name: &str, after: u64, tail: usize) -> Vec<LogLine> {
        self.kept.get(name).map_or_else(Vec::new, |k| {
            k.ring
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .since(after, tail)
        })
    }

    fn kept<'a>(
        kept: &'a mut BTreeMap<String, Kept>,
        name: &str,
        ring: RingLimits,
    ) -> &'a mut Kept {
        kept.entry(name.to_string()).or_insert_with(|| Kept {
            ring: Arc::new(Mutex::new(LogRing::new(ring))),
            log_file: None,
            cgroup: None,
        })
    }

    fn watch(
        &mut self,
        name: &str,
        generation: u64,
        what: &'static str,
        task: impl Future<Output = Option<Input>> + Send + 'static,
    ) {
        let id = self.tasks.spawn(task).id();
        self.owners.insert(id, (name.to_string(), generation, what));
    }
}

impl Effects for Real {
    fn spawn(&mut self, spec: &ServiceSpec, generation: u64) -> Result<i32, SpawnError> {
        let name = spec.name.as_str();
        let (cgroups, log_dir) = (self.settings.cgroups.clone(), self.settings.log_dir.clone());
        let max_bytes = self.settings.log_max_bytes;
        let kept = Real::kept(&mut self.kept, name, self.settings.ring);
        if let (None, Some(cgroups)) = (&kept.cgroup, cgroups) {
            match cgroups.service(name) {
                Ok(cgroup) => kept.cgroup = Some(cgroup),
                Err(e) => console::say(&format!(
                    "service {name}: no cgroup ({e}); running without one"
                )),
            }
        }
        if let (None, Some(dir)) = (&kept.log_file, log_dir) {
            kept.log_file =
                RotatingFile::open(&dir, name, max_bytes).map(|f| Arc::new(Mutex::new(f)));
        }
        let launched = launch(
            &self.reaper,
            &Launch {
                argv: &spec.exec,
                base_env: &self.settings.base_env,
                env: &spec.env,
                io: spec.tty.as_deref().map_or(Io::Capture, Io::Terminal),
                cgroup_procs: kept.cgroup.as_ref().map(|c| c.procs_file()),
            },
        );
        let started = match launched {
            Ok(started) => started,
            Err(e) => {
                kept.ring.lock().unwrap_or_else(|p| p.into_inner()).push(
                    u64::try_from(console::uptime().as_millis()).unwrap_or(u64::MAX),
                    Stream::Stderr,
                    format!("plinth: {e}"),
                );
                return Err(e);
            }
        };
        let sinks = Sinks {
            name: Arc::from(name),
            ring: kept.ring.clone(),
            file: kept.log_file.clone(),
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
        let exit = started.exit;
        let exit_name = name.to_string();
        self.watch(name, generation, "exit watcher", async move {
            let outcome = exit.await.ok()?;
            Some(Input::Exited {
                name: exit_name,
                generation,
                outcome,
            })
        });
        Ok(started.pid)
    }

    fn probe(&mut self, name: &str, generation: u64, probe: Probe, limit: Option<Duration>) {
        let reaper = self.reaper.clone();
        let env = self.settings.base_env.clone();
        let probe_name = name.to_string();
        self.watch(name, generation, "readiness probe", async move {
            let limit = limit.unwrap_or(Duration::MAX);
            let result = wait_ready(&probe, limit, &reaper, &env)
                .await
                .map_err(|e| e.to_string());
            Some(Input::Probed {
                name: probe_name,
                generation,
                result,
            })
        });
    }

    fn signal(&mut self, pgid: i32, signal: i32) {
        let signal = Signal::try_from(signal).unwrap_or(Signal::SIGTERM);
        let _ = kill(Pid::from_raw(-pgid), signal);
    }

    fn kill(&mut self, name: &str, pgid: Option<i32>) {
        if let Some(pgid) = pgid {
            let _ = kill(Pid::from_raw(-pgid), Signal::SIGKILL);
        }
        if let Some(cgroup) = self.kept.get(name).and_then(|k| k.cgroup.as_ref()) {
            cgroup.kill_all();
        }
    }

    fn arm_timer(&mut self, name: &str, generation: u64, timer: Timer, after: Duration) {
        let timer_name = name.to_string();
        self.watch(name, generation, "timer", async move {
            tokio::time::sleep(after).await;
            Some(Input::TimerFired {
                name: timer_name,
                generation,
                timer,
            })
        });
    }

    fn remove_cgroup(&mut self, name: &str) {
        if let Some(kept) = self.kept.get_mut(name)
            && kept.cgroup.as_ref().is_some_and(|c| c.pids().is_empty())
            && let Some(cgroup) = kept.cgroup.take()
        {
            cgroup.remove();
        }
    }

    fn forget(&mut self, name: &str) {
        self.kept.remove(name);
    }

    fn write_metrics(&mut self, services: Vec<ServiceFigures>) {
        let Some(path) = &self.settings.metrics_file else {
            return;
        };
        let timeline = &self.settings.timeline;
        let figures = Figures {
            services,
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

    fn say(&mut self, line: &str) {
        console::say(line);
    }

    fn settled(&mut self, failed: Vec<String>) {
        for waiter in self.settle_waiters.drain(..) {
            let _ = waiter.send(failed.clone());
        }
    }

    fn shut_down(&mut self) {
        for waiter in self.shutdown_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }

    fn unloaded(&mut self) {
        for waiter in self.unload_waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}
