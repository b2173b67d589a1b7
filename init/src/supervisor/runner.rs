//! The supervisor's shell: one task that feeds the pure [`Machine`] its inputs — requests from the
//! [`Handle`](super::handle::Handle), the reports of the tasks it started (exits, probe results,
//! timers), a one-second metrics tick — and carries the machine's effects out through
//! [`Effects`]. Its own tasks are watched: one that ends without its report (a panic) becomes an
//! [`Input::HelperLost`] rather than a service stuck for ever.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::{Id, JoinError};

use super::effects::{Effects, Real};
use super::handle::{ControlError, Handle};
use super::logs::LogLine;
use super::machine::Machine;
use super::planner::Plan;
use super::types::{Effect, Input};
use crate::pid1::reaper::Reaper;

pub use super::effects::Settings;
pub use super::types::ServiceStatus;

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

/// The supervisor task: the machine, the real effects and the request channel.
pub struct Supervisor {
    machine: Machine,
    effects: Real,
    requests: mpsc::UnboundedReceiver<Request>,
}

impl Supervisor {
    /// A supervisor with no services yet, and the handle that drives it.
    pub fn new(settings: Settings, reaper: Arc<Reaper>) -> (Supervisor, Handle) {
        let (tx, requests) = mpsc::unbounded_channel();
        let supervisor = Supervisor {
            machine: Machine::new(settings.backoff),
            effects: Real::new(settings, reaper),
            requests,
        };
        (supervisor, Handle::new(tx))
    }

    /// Runs until every handle is dropped.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let input = tokio::select! {
                request = self.requests.recv() => match request {
                    Some(request) => self.on_request(request),
                    None => return,
                },
                Some(joined) = self.effects.tasks.join_next_with_id() => self.on_task_end(joined),
                _ = tick.tick() => Some(Input::Tick {
                    boot_ready: self.effects.settings.timeline.ready().is_some(),
                }),
            };
            if let Some(input) = input {
                // Only control requests have an answer, and those are fed in `on_request`.
                let _ = self.feed(input);
            }
        }
    }

    /// Answers a request: a query from the machine's state, a change through the machine; those
    /// that wait for the machine to say so (settled, shut down, unloaded) come back as its input.
    fn on_request(&mut self, request: Request) -> Option<Input> {
        let now = Instant::now();
        match request {
            Request::Load { plan, reply } => {
                let _ = self.feed(Input::Load(plan));
                let _ = reply.send(());
            }
            Request::List { reply } => {
                crate::pid1::fault::inject(crate::pid1::fault::Fault::SupervisorPanic);
                let _ = reply.send(self.machine.list(now));
            }
            Request::Status { name, reply } => {
                let _ = reply.send(self.machine.status(&name, now));
            }
            Request::Logs {
                name,
                after,
                tail,
                reply,
            } => {
                let lines = self
                    .machine
                    .unit(&name)
                    .map(|_| self.effects.logs(&name, after, tail));
                let _ = reply.send(lines);
            }
            Request::Start { name, reply } => {
                let _ = reply.send(self.feed(Input::Start(name)));
            }
            Request::Stop { name, reply } => {
                let _ = reply.send(self.feed(Input::Stop(name)));
            }
            Request::Restart { name, reply } => {
                let _ = reply.send(self.feed(Input::Restart(name)));
            }
            Request::WaitSettled { reply } => {
                self.effects.settle_waiters.push(reply);
                return Some(Input::WaitSettled);
            }
            Request::Unload { reply } => {
                self.effects.unload_waiters.push(reply);
                return Some(Input::Unload);
            }
            Request::Shutdown { reply } => {
                self.effects.shutdown_waiters.push(reply);
                return Some(Input::Shutdown);
            }
        }
        None
    }

    /// The report of a task that ended, or, when it ended without one, that it was lost.
    fn on_task_end(&mut self, joined: Result<(Id, Option<Input>), JoinError>) -> Option<Input> {
        let id = match &joined {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        let owner = self.effects.owners.remove(&id);
        match joined {
            Ok((_, report)) => report,
            Err(e) => {
                let (name, generation, what) = owner?;
                let how = crate::stage2::task_end::how::<()>(Err(e));
                Some(Input::HelperLost {
                    name,
                    generation,
                    how: format!("its {what} {how}"),
                })
            }
        }
    }

    fn feed(&mut self, input: Input) -> Result<(), ControlError> {
        carry_out(&mut self.machine, input, &mut self.effects, Instant::now())
    }
}

/// Gives `input` to the machine and carries out the effects, in order; a spawn's result goes back
/// to the machine at once, and its effects come before those that were queued after the spawn.
pub(super) fn carry_out(
    machine: &mut Machine,
    input: Input,
    effects: &mut impl Effects,
    now: Instant,
) -> Result<(), ControlError> {
    let (answer, first) = machine.handle(input, now);
    let mut queue = VecDeque::from(first);
    while let Some(effect) = queue.pop_front() {
        match effect {
            Effect::Spawn { spec, generation } => {
                let name = spec.name.clone();
                let reported = match effects.spawn(&spec, generation) {
                    Ok(pid) => Input::Spawned {
                        name,
                        generation,
                        pid,
                    },
                    Err(error) => Input::SpawnFailed {
                        name,
                        generation,
                        error: error.to_string(),
                    },
                };
                let (_, next) = machine.handle(reported, now);
                for effect in next.into_iter().rev() {
                    queue.push_front(effect);
                }
            }
            Effect::Probe {
                name,
                generation,
                probe,
                limit,
            } => effects.probe(&name, generation, probe, limit),
            Effect::Signal { pgid, signal } => effects.signal(pgid, signal),
            Effect::Kill { name, pgid } => effects.kill(&name, pgid),
            Effect::ArmTimer {
                name,
                generation,
                timer,
                after,
            } => effects.arm_timer(&name, generation, timer, after),
            Effect::RemoveCgroup(name) => effects.remove_cgroup(&name),
            Effect::Forget(name) => effects.forget(&name),
            Effect::WriteMetrics(services) => effects.write_metrics(services),
            Effect::Say(line) => effects.say(&line),
            Effect::Settled(failed) => effects.settled(failed),
            Effect::ShutDown => effects.shut_down(),
            Effect::Unloaded => effects.unloaded(),
        }
    }
    answer
}
