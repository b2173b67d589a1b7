//! The supervisor's decisions as a pure state machine: [`Machine::handle`] takes one [`Input`] and
//! the time, updates every service's state and returns the [`Effect`]s to carry out, in order. It
//! never spawns, signals, sleeps or reads the clock, so every decision is unit-tested without root
//! (`machine_tests`); the shell (`runner`) carries the effects out (`effects`). One service's runs
//! (start, readiness, exit, stop) are decided in `lifecycle`, the ordering rules (start order,
//! shutdown order, settling) in `order`.

use std::collections::BTreeMap;
use std::time::Instant;

use super::handle::ControlError;
use super::planner::Plan;
use super::restart::Backoff;
use super::state::{ExitOutcome, State};
use super::types::{Effect, Input, ServiceStatus, Unit};

/// Every service's state and what the supervisor as a whole is doing.
#[derive(Debug)]
pub struct Machine {
    pub(super) backoff: Backoff,
    pub(super) units: BTreeMap<String, Unit>,
    pub(super) order: Vec<String>,
    pub(super) dependents: BTreeMap<String, Vec<String>>,
    pub(super) settle_waiters: usize,
    pub(super) shutdown_waiters: usize,
    pub(super) unload_waiters: usize,
    pub(super) shutting_down: bool,
    /// Stopping everything for an unload, not a shutdown: nothing is refused once it is done.
    pub(super) unloading: bool,
    metrics_dirty: bool,
    ready_written: bool,
    ticks: u32,
    pub(super) out: Vec<Effect>,
}

impl Machine {
    /// A machine with no services.
    pub fn new(backoff: Backoff) -> Machine {
        Machine {
            backoff,
            units: BTreeMap::new(),
            order: Vec::new(),
            dependents: BTreeMap::new(),
            settle_waiters: 0,
            shutdown_waiters: 0,
            unload_waiters: 0,
            shutting_down: false,
            unloading: false,
            metrics_dirty: true,
            ready_written: false,
            ticks: 0,
            out: Vec::new(),
        }
    }

    /// Reacts to `input` at `now`: the answer for a control request (`Ok` for everything else) and
    /// the effects to carry out, in order. Every input ends with starting what may start (or, in a
    /// shutdown, stopping what may stop) and answering the waiters whose wait is over.
    pub fn handle(
        &mut self,
        input: Input,
        now: Instant,
    ) -> (Result<(), ControlError>, Vec<Effect>) {
        let answer = self.react(input, now);
        self.schedule(now);
        self.answer_waiters();
        (answer, std::mem::take(&mut self.out))
    }

    /// Every service, in start order.
    pub fn list(&self, now: Instant) -> Vec<ServiceStatus> {
        self.order
            .iter()
            .filter_map(|n| self.units.get(n))
            .map(|u| u.status(now))
            .collect()
    }

    /// One service.
    pub fn status(&self, name: &str, now: Instant) -> Result<ServiceStatus, ControlError> {
        self.unit(name).map(|u| u.status(now))
    }

    /// One service's state as the machine keeps it.
    pub fn unit(&self, name: &str) -> Result<&Unit, ControlError> {
        self.units
            .get(name)
            .ok_or_else(|| ControlError::UnknownService(name.to_string()))
    }

    fn react(&mut self, input: Input, now: Instant) -> Result<(), ControlError> {
        match input {
            Input::Load(plan) => self.load(plan, now),
            Input::Start(name) => return self.request_start(&name, now),
            Input::Stop(name) => {
                self.unit(&name)?;
                if let Some(unit) = self.units.get_mut(&name) {
                    unit.wanted = false;
                    unit.restart_requested = false;
                }
                self.stop(&name, now);
            }
            Input::Restart(name) => {
                if self.shutting_down {
                    return Err(ControlError::ShuttingDown);
                }
                self.unit(&name)?;
                self.request_restart(&name, now);
            }
            Input::WaitSettled => self.settle_waiters += 1,
            Input::Unload => {
                if !self.shutting_down {
                    self.say("stopping every service to load a new plan".into());
                    self.shutting_down = true;
                    self.unloading = true;
                }
                self.unload_waiters += 1;
                self.advance_shutdown(now);
            }
            Input::Shutdown => {
                self.unloading = false;
                if !self.shutting_down {
                    self.say("stopping services".into());
                }
                self.shutting_down = true;
                self.shutdown_waiters += 1;
                self.advance_shutdown(now);
            }
            Input::Spawned {
                name,
                generation,
                pid,
            } => self.on_spawned(&name, generation, pid, now),
            Input::SpawnFailed {
                name,
                generation,
                error,
            } => {
                if self.current(&name, generation) {
                    self.say(format!("service {name}: {error}"));
                    self.on_exit(&name, ExitOutcome::Code(127), now);
                }
            }
            Input::Exited {
                name,
                generation,
                outcome,
            } => {
                if self.current(&name, generation) {
                    self.on_exit(&name, outcome, now);
                }
            }
            Input::Probed {
                name,
                generation,
                result,
            } => self.on_probed(&name, generation, result, now),
            Input::TimerFired {
                name,
                generation,
                timer,
            } => self.on_timer(&name, generation, timer, now),
            Input::HelperLost {
                name,
                generation,
                how,
            } => {
                let starting = self.unit(&name).is_ok_and(|u| u.state == State::Starting);
                if starting && self.current(&name, generation) {
                    // A lost probe would leave the service starting for ever: it failed.
                    self.on_probed(&name, generation, Err(how), now);
                } else {
                    self.say(format!("service {name}: {how}"));
                }
            }
            Input::Tick { boot_ready } => {
                self.ticks = self.ticks.wrapping_add(1);
                if self.metrics_dirty
                    || boot_ready != self.ready_written
                    || self.ticks.is_multiple_of(5)
                {
                    self.ready_written = boot_ready;
                    self.write_metrics();
                }
            }
        }
        Ok(())
    }

    fn load(&mut self, plan: Plan, now: Instant) {
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
            self.units.insert(spec.name.clone(), Unit::new(spec, now));
        }
        self.metrics_dirty = true;
    }

    fn request_start(&mut self, name: &str, now: Instant) -> Result<(), ControlError> {
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
                self.set_state(name, State::Waiting, "", now)
            }
            State::Stopping => unit.restart_requested = true,
            State::Waiting | State::Starting | State::Ready => {}
        }
        Ok(())
    }

    fn request_restart(&mut self, name: &str, now: Instant) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        unit.wanted = true;
        unit.failures = 0;
        if unit.state.has_process() {
            unit.restart_requested = true;
            self.stop(name, now);
        } else {
            self.set_state(name, State::Waiting, "", now);
        }
    }

    /// `name`'s unit when `generation` is its current run: reports about earlier runs are stale.
    pub(super) fn current_run(&mut self, name: &str, generation: u64) -> Option<&mut Unit> {
        self.units
            .get_mut(name)
            .filter(|u| u.generation == generation)
    }

    pub(super) fn current(&self, name: &str, generation: u64) -> bool {
        self.units
            .get(name)
            .is_some_and(|u| u.generation == generation)
    }

    /// Moves `name` to `state` and says so on the console, with `detail` when not empty.
    pub(super) fn set_state(&mut self, name: &str, state: State, detail: &str, now: Instant) {
        if !self.enter(name, state, now) {
            return;
        }
        if detail.is_empty() {
            self.say(format!("service {name}: {state}"));
        } else {
            self.say(format!("service {name}: {state} {detail}"));
        }
    }

    /// Moves `name` to `state` without a console line; false when there is no such unit.
    pub(super) fn enter(&mut self, name: &str, state: State, now: Instant) -> bool {
        let Some(unit) = self.units.get_mut(name) else {
            return false;
        };
        unit.state = state;
        unit.since = now;
        self.metrics_dirty = true;
        true
    }

    pub(super) fn say(&mut self, line: String) {
        self.out.push(Effect::Say(line));
    }

    pub(super) fn write_metrics(&mut self) {
        self.metrics_dirty = false;
        let figures = self
            .order
            .iter()
            .filter_map(|n| self.units.get(n))
            .map(|u| super::metrics::ServiceFigures {
                name: u.spec.name.clone(),
                state: u.state,
                restarts: u.restarts,
            })
            .collect();
        self.out.push(Effect::WriteMetrics(figures));
    }

    pub(super) fn forget_unloaded(&mut self) {
        let gone: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| !u.survives_reload())
            .map(|(n, _)| n.clone())
            .collect();
        for name in gone {
            self.units.remove(&name);
            self.out.push(Effect::Forget(name));
        }
        let units = &self.units;
        self.order.retain(|n| units.contains_key(n));
        self.dependents.clear();
        self.shutting_down = false;
        self.unloading = false;
        self.metrics_dirty = true;
    }
}
