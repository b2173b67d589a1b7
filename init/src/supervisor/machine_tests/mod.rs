//! The supervisor's decisions, without root: the [`Machine`] driven through the shell's
//! `carry_out` with a recording fake of the [`Effects`], and a clock the test moves. The
//! PID-namespace tests (`init/tests/supervisor.rs`) run the same machine with the real effects.
//! `runs`: one service's life cycle; `stops`: stops, shutdown, settling and control requests.

mod runs;
mod stops;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::effects::Effects;
use super::handle::ControlError;
use super::machine::Machine;
use super::metrics::ServiceFigures;
use super::planner::{PlanDefaults, plan};
use super::restart::Backoff;
use super::runner::carry_out;
use super::spawn::SpawnError;
use super::spec::{Probe, ServiceSpec};
use super::state::{ExitOutcome, State};
use super::types::{Input, Timer};
use crate::services::builtin;

/// Every effect, as one line each, in order; spawns get pids from 100 up, and fail for the names
/// in `broken`.
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) calls: Vec<String>,
    next_pid: i32,
    pub(super) broken: BTreeSet<String>,
}

impl Effects for Recorder {
    fn spawn(&mut self, spec: &ServiceSpec, generation: u64) -> Result<i32, SpawnError> {
        if self.broken.contains(&spec.name) {
            self.calls
                .push(format!("spawn {}#{generation} failed", spec.name));
            return Err(SpawnError::Exec {
                program: spec.exec.join(" "),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        let pid = 100 + self.next_pid;
        self.next_pid += 1;
        self.calls
            .push(format!("spawn {}#{generation} pid {pid}", spec.name));
        Ok(pid)
    }
    fn probe(&mut self, name: &str, generation: u64, probe: Probe, limit: Option<Duration>) {
        self.calls
            .push(format!("probe {name}#{generation} {probe} {limit:?}"));
    }
    fn signal(&mut self, pgid: i32, signal: i32) {
        self.calls.push(format!("signal {pgid} {signal}"));
    }
    fn kill(&mut self, name: &str, pgid: Option<i32>) {
        self.calls.push(format!("kill {name} {pgid:?}"));
    }
    fn arm_timer(&mut self, name: &str, generation: u64, timer: Timer, after: Duration) {
        self.calls
            .push(format!("timer {name}#{generation} {timer:?} {after:?}"));
    }
    fn remove_cgroup(&mut self, name: &str) {
        self.calls.push(format!("remove-cgroup {name}"));
    }
    fn forget(&mut self, name: &str) {
        self.calls.push(format!("forget {name}"));
    }
    fn write_metrics(&mut self, services: Vec<ServiceFigures>) {
        let figures: Vec<String> = services
            .iter()
            .map(|s| format!("{}={}", s.name, s.state))
            .collect();
        self.calls.push(format!("metrics {}", figures.join(" ")));
    }
    fn say(&mut self, line: &str) {
        self.calls.push(format!("say {line}"));
    }
    fn settled(&mut self, failed: Vec<String>) {
        self.calls.push(format!("settled {failed:?}"));
    }
    fn shut_down(&mut self) {
        self.calls.push("shut down".into());
    }
    fn unloaded(&mut self) {
        self.calls.push("unloaded".into());
    }
}

/// The machine, the fake and the test's clock.
pub(super) struct Rig {
    pub(super) machine: Machine,
    pub(super) fx: Recorder,
    pub(super) now: Instant,
}

pub(super) const BACKOFF: Backoff = Backoff {
    min: Duration::from_millis(100),
    max: Duration::from_secs(1),
    reset_after: Duration::from_secs(10),
};

impl Rig {
    pub(super) fn new(specs: Vec<ServiceSpec>) -> Rig {
        let mut rig = Rig {
            machine: Machine::new(BACKOFF),
            fx: Recorder::default(),
            now: Instant::now(),
        };
        let planned = plan(specs, &[], PlanDefaults::default()).expect("a valid plan");
        rig.feed(Input::Load(planned)).expect("loaded");
        rig
    }

    pub(super) fn feed(&mut self, input: Input) -> Result<(), ControlError> {
        carry_out(&mut self.machine, input, &mut self.fx, self.now)
    }

    /// The calls since the last look, console lines left out.
    pub(super) fn effects(&mut self) -> Vec<String> {
        self.fx
            .calls
            .drain(..)
            .filter(|c| !c.starts_with("say "))
            .collect()
    }

    /// The console lines since the last look (the other calls are dropped).
    pub(super) fn said(&mut self) -> Vec<String> {
        self.fx
            .calls
            .drain(..)
            .filter_map(|c| c.strip_prefix("say ").map(String::from))
            .collect()
    }

    pub(super) fn state(&self, name: &str) -> State {
        self.machine.unit(name).expect("a known service").state
    }

    pub(super) fn generation(&self, name: &str) -> u64 {
        self.machine.unit(name).expect("a known service").generation
    }

    pub(super) fn wait(&mut self, time: Duration) {
        self.now += time;
    }

    pub(super) fn exit(&mut self, name: &str, outcome: ExitOutcome) {
        let generation = self.generation(name);
        let _ = self.feed(Input::Exited {
            name: name.into(),
            generation,
            outcome,
        });
    }

    pub(super) fn probed(&mut self, name: &str, result: Result<(), String>) {
        let generation = self.generation(name);
        let _ = self.feed(Input::Probed {
            name: name.into(),
            generation,
            result,
        });
    }

    pub(super) fn fire(&mut self, name: &str, timer: Timer) {
        let generation = self.generation(name);
        let _ = self.feed(Input::TimerFired {
            name: name.into(),
            generation,
            timer,
        });
    }
}

/// A built-in daemon `/bin/NAME` with a 60 s ready limit.
pub(super) fn daemon(name: &str, after: &[&str], probe: Probe) -> ServiceSpec {
    ServiceSpec {
        ready_timeout: Some(Duration::from_secs(60)),
        ..builtin::daemon(name, &[&format!("/bin/{name}")], probe, after)
    }
}

/// A built-in oneshot `/bin/NAME` (restarted on failure) with the ready limit `limit`.
pub(super) fn oneshot(name: &str, after: &[&str], limit: Option<Duration>) -> ServiceSpec {
    ServiceSpec {
        ready_timeout: limit,
        ..builtin::oneshot(name, &[&format!("/bin/{name}")], after)
    }
}

pub(super) const OK: ExitOutcome = ExitOutcome::Code(0);
pub(super) const BAD: ExitOutcome = ExitOutcome::Code(1);
pub(super) const KILLED: ExitOutcome = ExitOutcome::Signal(9);
pub(super) const TERM: i32 = libc::SIGTERM;
