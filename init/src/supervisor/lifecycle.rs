//! One service's runs, as the [`Machine`] decides them: start, readiness (probe or ready limit),
//! exit and what follows it (restart after the backoff, exited, failed, stopped), stop with its
//! SIGKILL timer. Pure: each decision is an [`Effect`] pushed for the shell.

use std::time::Instant;

use super::machine::Machine;
use super::spec::Probe;
use super::state::{AfterExit, Ending, ExitOutcome, Kind, State, after_exit};
use super::types::{Effect, Timer, Unit};

impl Machine {
    /// Starts a new run of `name`: its state is `starting` at once (so nothing starts it twice),
    /// and it says so with its pid once the spawn is reported.
    pub(super) fn start(&mut self, name: &str, now: Instant) {
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        unit.generation += 1;
        if unit.spawned_once {
            unit.restarts += 1;
        }
        unit.spawned_once = true;
        unit.started_at = now;
        unit.probe_failed = false;
        let spawn = Effect::Spawn {
            spec: unit.spec.clone(),
            generation: unit.generation,
        };
        self.enter(name, State::Starting, now);
        self.out.push(spawn);
    }

    pub(super) fn on_spawned(&mut self, name: &str, generation: u64, pid: i32, now: Instant) {
        let Some(unit) = self.current_run(name, generation) else {
            return;
        };
        unit.pid = Some(pid);
        unit.pgid = Some(pid);
        let (probe, limit) = (unit.spec.probe.clone(), unit.spec.ready_timeout);
        self.set_state(name, State::Starting, &format!("(pid {pid})"), now);
        match (probe, limit) {
            (Probe::Running, _) => self.set_state(name, State::Ready, "", now),
            // A oneshot is ready when it exits 0, within its ready limit when it has one.
            (Probe::ExitZero, None) => {}
            (Probe::ExitZero, Some(after)) => self.out.push(Effect::ArmTimer {
                name: name.to_string(),
                generation,
                timer: Timer::ReadyTimeout,
                after,
            }),
            (probe, limit) => self.out.push(Effect::Probe {
                name: name.to_string(),
                generation,
                probe,
                limit,
            }),
        }
    }

    pub(super) fn on_probed(
        &mut self,
        name: &str,
        generation: u64,
        result: Result<(), String>,
        now: Instant,
    ) {
        let Some(unit) = self.current_run(name, generation) else {
            return;
        };
        if unit.state != State::Starting {
            return;
        }
        match result {
            Ok(()) => {
                let took = now.saturating_duration_since(unit.started_at);
                let detail = format!("after {:.2}s", took.as_secs_f64());
                self.set_state(name, State::Ready, &detail, now);
            }
            Err(reason) => {
                unit.probe_failed = true;
                unit.last_exit = Some(reason.clone());
                let kill = kill_of(unit);
                self.say(format!("service {name}: {reason}; killing it"));
                self.out.push(kill);
            }
        }
    }

    pub(super) fn on_timer(&mut self, name: &str, generation: u64, timer: Timer, now: Instant) {
        let Some(unit) = self.current_run(name, generation) else {
            return;
        };
        match timer {
            // Back to waiting without a console line: the next line is its start (or, when a
            // dependency went away meanwhile, nothing until that returns).
            Timer::Backoff if unit.state == State::Backoff => {
                self.enter(name, State::Waiting, now);
            }
            Timer::StopTimeout if unit.state == State::Stopping => {
                let (kill, timeout) = (kill_of(unit), unit.spec.stop_timeout);
                self.say(format!(
                    "service {name}: still running {timeout:?} after its stop signal; killing it"
                ));
                self.out.push(kill);
            }
            Timer::ReadyTimeout => {
                if let Some(limit) = unit.spec.ready_timeout {
                    let reason =
                        format!("did not finish within {}", plinth_config::Duration(limit));
                    self.on_probed(name, generation, Err(reason), now);
                }
            }
            Timer::Backoff | Timer::StopTimeout => {}
        }
    }

    pub(super) fn on_exit(&mut self, name: &str, outcome: ExitOutcome, now: Instant) {
        let (backoff, shutting_down, unloading) =
            (self.backoff, self.shutting_down, self.unloading);
        let Some(unit) = self.units.get_mut(name) else {
            return;
        };
        unit.pid = None;
        let uptime = now.saturating_duration_since(unit.started_at);
        let kept = unloading && unit.survives_reload();
        let stopping = unit.state == State::Stopping || !unit.wanted || (shutting_down && !kept);
        let probe_failed = std::mem::take(&mut unit.probe_failed);
        if !probe_failed {
            unit.last_exit = Some(outcome.to_string());
        }
        let ending = if stopping {
            Ending::Stopped
        } else if probe_failed {
            Ending::NeverReady
        } else {
            Ending::OnItsOwn
        };
        let decision = after_exit(
            unit.spec.restart,
            Kind::of(unit.spec.oneshot),
            outcome,
            ending,
        );
        let restart_requested = std::mem::take(&mut unit.restart_requested);
        // A stop takes the whole service down: what its main process left behind (daemonised
        // children, other sessions) dies with it, as its process group and cgroup.
        if decision == AfterExit::Stopped {
            self.out.push(kill_of(unit));
        }
        if decision != AfterExit::Restart {
            self.out.push(Effect::RemoveCgroup(name.to_string()));
        }
        match decision {
            AfterExit::Stopped if restart_requested && !shutting_down => {
                let detail = format!("stopped ({outcome}) for a restart");
                self.set_state(name, State::Waiting, &detail, now);
            }
            AfterExit::Stopped => {
                self.set_state(name, State::Stopped, &format!("({outcome})"), now)
            }
            AfterExit::Exited => self.set_state(name, State::Exited, &format!("({outcome})"), now),
            AfterExit::Failed => {
                let detail = format!("({outcome}); not restarting");
                self.set_state(name, State::Failed, &detail, now)
            }
            AfterExit::Restart => {
                unit.failures = backoff.next_failures(unit.failures, uptime);
                let after = backoff.delay(unit.failures);
                let generation = unit.generation;
                let why = if probe_failed {
                    "never became ready".to_string()
                } else {
                    outcome.to_string()
                };
                let detail = format!("({why}); restarting in {after:?}");
                self.set_state(name, State::Backoff, &detail, now);
                self.out.push(Effect::ArmTimer {
                    name: name.to_string(),
                    generation,
                    timer: Timer::Backoff,
                    after,
                });
            }
        }
    }

    /// Sends the stop signal (and arms the SIGKILL timer), or marks a service without a process
    /// stopped.
    pub(super) fn stop(&mut self, name: &str, now: Instant) {
        let Some(unit) = self.units.get(name) else {
            return;
        };
        match unit.state {
            State::Starting | State::Ready => {
                if let Some(pgid) = unit.pid {
                    self.out.push(Effect::Signal {
                        pgid,
                        signal: unit.spec.stop_signal,
                    });
                }
                let timer = Effect::ArmTimer {
                    name: name.to_string(),
                    generation: unit.generation,
                    timer: Timer::StopTimeout,
                    after: unit.spec.stop_timeout,
                };
                self.set_state(name, State::Stopping, "", now);
                self.out.push(timer);
            }
            State::Waiting | State::Backoff => {
                if unit.restart_requested {
                    return;
                }
                self.set_state(name, State::Stopped, "", now);
            }
            State::Stopping | State::Stopped | State::Exited | State::Failed => {}
        }
    }
}

/// SIGKILL for a service's process group (that of its last run, so also what its main process left
/// behind after it exited) and cgroup.
fn kill_of(unit: &Unit) -> Effect {
    Effect::Kill {
        name: unit.spec.name.clone(),
        pgid: unit.pgid,
    }
}
