//! The machine's ordering rules: a service starts once everything it comes after is ready; in a
//! shutdown a service stops once everything after it is down; the boot has settled once no service
//! will change state on its own. Pure, like the rest of the [`Machine`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use super::machine::Machine;
use super::state::State;
use super::types::Effect;

impl Machine {
    /// Starts every waiting service whose dependencies are all ready (during a shutdown, stops
    /// what may stop instead).
    pub(super) fn schedule(&mut self, now: Instant) {
        if self.shutting_down {
            self.advance_shutdown(now);
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
                self.start(&name, now);
            }
        }
    }

    /// During shutdown: stops each service once everything that comes after it, even through a
    /// finished oneshot, is down.
    pub(super) fn advance_shutdown(&mut self, now: Instant) {
        for name in self.order.clone().iter().rev() {
            let Some(unit) = self.units.get(name) else {
                continue;
            };
            if self.unloading && unit.survives_reload() {
                continue;
            }
            let dependents_down = !self.dependent_running(name);
            let idle = matches!(unit.state, State::Waiting | State::Backoff);
            if idle || (dependents_down && matches!(unit.state, State::Starting | State::Ready)) {
                if let Some(unit) = self.units.get_mut(name) {
                    unit.restart_requested = false;
                }
                self.stop(name, now);
            }
        }
    }

    /// Whether anything that comes after `name`, directly or through services without a process
    /// (a finished oneshot), still has a process.
    fn dependent_running(&self, name: &str) -> bool {
        let mut stack: Vec<&str> = vec![name];
        let mut seen = BTreeSet::new();
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

    /// Answers the waiters whose wait is over: settling, shutdown, unload.
    pub(super) fn answer_waiters(&mut self) {
        if self.settle_waiters > 0
            && let Some(failed) = self.settled()
        {
            self.settle_waiters = 0;
            self.out.push(Effect::Settled(failed));
        }
        if self.shutting_down
            && self.shutdown_waiters > 0
            && self.units.values().all(|u| !u.state.has_process())
        {
            self.shutdown_waiters = 0;
            self.write_metrics();
            self.out.push(Effect::ShutDown);
        }
        let unloaded = self
            .units
            .values()
            .all(|u| !u.state.has_process() || (self.unloading && u.survives_reload()));
        if self.unload_waiters > 0 && unloaded {
            if self.unloading {
                self.forget_unloaded();
            }
            self.unload_waiters = 0;
            self.out.push(Effect::Unloaded);
        }
    }

    /// `Some(failed names)` once no service will change state on its own any more; background
    /// services (`ServiceSpec::background`) are not waited for.
    pub(super) fn settled(&self) -> Option<Vec<String>> {
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
}
