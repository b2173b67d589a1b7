//! Stops and their timeouts, shutdown order, restarts during a shutdown, a failed dependency,
//! failed spawns and lost probes, unloading, metrics, and every control request in every state.

use std::collections::BTreeSet;
use std::time::Instant;

use super::*;
use crate::supervisor::handle::ControlError;
use crate::supervisor::machine::Machine;
use crate::supervisor::planner::{PlanDefaults, plan};
use crate::supervisor::spec::{Probe, RestartPolicy, ServiceSpec};
use crate::supervisor::state::{ExitOutcome, State};
use crate::supervisor::types::{Input, Timer};

#[test]
fn a_stop_signals_the_group_then_kills_it_after_the_stop_timeout() {
    let mut rig = Rig::new(vec![daemon("web", &[], Probe::Running)]);
    rig.effects();
    assert_eq!(rig.feed(Input::Stop("web".into())), Ok(()));
    assert_eq!(
        rig.effects(),
        [
            format!("signal 100 {TERM}"),
            "timer web#1 StopTimeout 10s".into()
        ]
    );
    assert_eq!(rig.state("web"), State::Stopping);
    rig.fire("web", Timer::StopTimeout);
    assert_eq!(
        rig.fx.calls,
        [
            "say service web: still running 10s after its stop signal; killing it",
            "kill web Some(100)"
        ]
    );
    rig.effects();
    rig.exit("web", KILLED);
    assert_eq!(
        rig.fx.calls,
        [
            "kill web Some(100)",
            "remove-cgroup web",
            "say service web: stopped (signal 9 (SIGKILL))"
        ]
    );
    // Stopped stays stopped: no restart, no backoff.
    assert_eq!(rig.state("web"), State::Stopped);
}

#[test]
fn shutdown_stops_in_reverse_order_even_through_a_finished_oneshot() {
    let mut rig = Rig::new(vec![
        daemon("db", &[], Probe::Running),
        oneshot("migrate", &["db"], None),
        daemon("web", &["migrate"], Probe::Running),
        daemon("log", &[], Probe::Running),
    ]);
    rig.exit("migrate", OK);
    rig.effects();
    let _ = rig.feed(Input::Shutdown);
    // log (pid 102) and web (pid 103, started once migrate exited) have nothing after them; db
    // waits for web.
    let signals: Vec<String> = rig
        .effects()
        .into_iter()
        .filter(|c| c.starts_with("signal"))
        .collect();
    assert_eq!(
        signals,
        [format!("signal 102 {TERM}"), format!("signal 103 {TERM}")]
    );
    rig.exit("log", OK);
    assert!(!rig.effects().iter().any(|c| c.starts_with("signal")));
    rig.exit("web", OK);
    assert!(rig.effects().contains(&format!("signal 100 {TERM}")));
    rig.exit("db", ExitOutcome::Signal(TERM));
    assert_eq!(
        rig.effects(),
        [
            "kill db Some(100)",
            "remove-cgroup db",
            "metrics db=stopped migrate=exited web=stopped log=stopped",
            "shut down"
        ]
    );
}

#[test]
fn nothing_restarts_during_a_shutdown() {
    let mut rig = Rig::new(vec![
        daemon("db", &[], Probe::Running),
        daemon("web", &["db"], Probe::Running),
    ]);
    rig.exit("web", BAD);
    assert_eq!(rig.state("web"), State::Backoff);
    rig.effects();
    let _ = rig.feed(Input::Shutdown);
    assert_eq!(rig.state("web"), State::Stopped);
    assert_eq!(
        rig.effects(),
        [
            format!("signal 100 {TERM}"),
            "timer db#1 StopTimeout 10s".into()
        ]
    );
    // The backoff of the run before ends, and nothing comes of it.
    rig.fire("web", Timer::Backoff);
    assert_eq!(rig.state("web"), State::Stopped);
    assert_eq!(
        rig.feed(Input::Restart("db".into())),
        Err(ControlError::ShuttingDown)
    );
    assert_eq!(
        rig.feed(Input::Start("web".into())),
        Err(ControlError::ShuttingDown)
    );
    // A restart-always service that exits now is stopped, not restarted.
    rig.exit("db", BAD);
    assert_eq!(rig.state("db"), State::Stopped);
    assert!(rig.effects().ends_with(&["shut down".to_string()]));
}

#[test]
fn a_dependency_that_fails_fails_what_comes_after_it_and_the_boot_settles() {
    let mut rig = Rig::new(vec![
        ServiceSpec {
            restart: RestartPolicy::Never,
            ..daemon("db", &[], Probe::Tcp(5432))
        },
        daemon("web", &["db"], Probe::Running),
        daemon("api", &["web"], Probe::Running),
        ServiceSpec {
            background: true,
            ..daemon("cluster", &[], Probe::Tcp(6443))
        },
    ]);
    let _ = rig.feed(Input::WaitSettled);
    assert!(!rig.effects().iter().any(|c| c.starts_with("settled")));
    rig.probed("db", Err("refused".into()));
    rig.exit("db", KILLED);
    assert_eq!(rig.state("db"), State::Failed);
    assert_eq!(rig.state("web"), State::Waiting);
    // The background service is still starting, and nobody waits for it.
    assert!(
        rig.effects()
            .contains(&r#"settled ["db", "web", "api"]"#.to_string())
    );
    assert_eq!(rig.state("cluster"), State::Starting);
}

#[test]
fn a_spawn_that_fails_is_an_exit_127() {
    let mut rig = Rig {
        machine: Machine::new(BACKOFF),
        fx: Recorder {
            broken: BTreeSet::from(["web".to_string()]),
            ..Recorder::default()
        },
        now: Instant::now(),
    };
    let planned = plan(
        vec![daemon("web", &[], Probe::Running)],
        &[],
        PlanDefaults::default(),
    );
    let _ = rig.feed(Input::Load(planned.expect("plan")));
    assert_eq!(
        rig.fx.calls,
        [
            "spawn web#1 failed",
            "say service web: cannot run `/bin/web`: No such file or directory (os error 2)",
            "say service web: backoff (exit 127); restarting in 100ms",
            "timer web#1 Backoff 100ms",
        ]
    );
}

#[test]
fn a_lost_probe_counts_as_a_failed_one() {
    let mut rig = Rig::new(vec![daemon("db", &[], Probe::Tcp(5432))]);
    rig.effects();
    let _ = rig.feed(Input::HelperLost {
        name: "db".into(),
        generation: 1,
        how: "its readiness probe panicked: boom".into(),
    });
    assert_eq!(
        rig.fx.calls,
        [
            "say service db: its readiness probe panicked: boom; killing it",
            "kill db Some(100)"
        ]
    );
}

#[test]
fn an_unload_forgets_everything_but_terminal_sessions() {
    let mut rig = Rig::new(vec![
        daemon("web", &[], Probe::Running),
        ServiceSpec {
            tty: Some("/dev/tty1".into()),
            ..daemon("getty", &[], Probe::Running)
        },
    ]);
    rig.effects();
    let _ = rig.feed(Input::Unload);
    assert_eq!(
        rig.effects(),
        [
            format!("signal 100 {TERM}"),
            "timer web#1 StopTimeout 10s".into()
        ]
    );
    rig.exit("web", OK);
    assert_eq!(
        rig.effects(),
        [
            "kill web Some(100)",
            "remove-cgroup web",
            "forget web",
            "unloaded"
        ]
    );
    assert_eq!(rig.state("getty"), State::Ready);
    assert!(rig.machine.unit("web").is_err());
    // Nothing is refused once the unload is done.
    assert_eq!(rig.feed(Input::Restart("getty".into())), Ok(()));
}

#[test]
fn the_metrics_are_written_when_something_changed_and_every_fifth_tick() {
    let mut rig = Rig::new(vec![daemon("web", &[], Probe::Running)]);
    rig.effects();
    let mut written = Vec::new();
    for tick in 1..=10 {
        let _ = rig.feed(Input::Tick {
            boot_ready: tick >= 3,
        });
        if rig.effects().iter().any(|c| c.starts_with("metrics")) {
            written.push(tick);
        }
    }
    assert_eq!(written, [1, 3, 5, 10]);
}

/// Brings `web` (after `db`, probed by tcp) into `state`.
fn in_state(state: State) -> Rig {
    let mut rig = Rig::new(vec![
        daemon("db", &[], Probe::Tcp(5432)),
        ServiceSpec {
            restart: if state == State::Failed {
                RestartPolicy::Never
            } else {
                RestartPolicy::OnFailure
            },
            ..daemon("web", &["db"], Probe::Tcp(80))
        },
    ]);
    if state != State::Waiting {
        rig.probed("db", Ok(()));
    }
    match state {
        State::Waiting | State::Starting => {}
        State::Ready => rig.probed("web", Ok(())),
        State::Exited | State::Backoff | State::Failed => {
            rig.probed("web", Ok(()));
            let outcome = if state == State::Exited { OK } else { BAD };
            rig.exit("web", outcome);
        }
        State::Stopping | State::Stopped => {
            let _ = rig.feed(Input::Stop("web".into()));
            if state == State::Stopped {
                rig.exit("web", OK);
            }
        }
    }
    assert_eq!(rig.state("web"), state);
    rig.effects();
    rig
}

#[test]
fn control_requests_in_every_state() {
    use State::*;
    // (state, after start, after stop, after restart)
    let expected = [
        (Waiting, Waiting, Stopped, Waiting),
        (Starting, Starting, Stopping, Stopping),
        (Ready, Ready, Stopping, Stopping),
        (Exited, Starting, Exited, Starting),
        (Backoff, Starting, Stopped, Starting),
        (Failed, Starting, Failed, Starting),
        (Stopping, Stopping, Stopping, Stopping),
        (Stopped, Starting, Stopped, Starting),
    ];
    for (state, start, stop, restart) in expected {
        for (input, want) in [
            (Input::Start("web".into()), start),
            (Input::Stop("web".into()), stop),
            (Input::Restart("web".into()), restart),
        ] {
            let mut rig = in_state(state);
            let asked = format!("{input:?}");
            assert_eq!(rig.feed(input), Ok(()), "{asked} in {state}");
            assert_eq!(rig.state("web"), want, "{asked} in {state}");
        }
        let mut rig = in_state(state);
        assert_eq!(
            rig.feed(Input::Stop("nope".into())),
            Err(ControlError::UnknownService("nope".into()))
        );
    }
}

#[test]
fn a_requested_restart_stops_the_service_and_starts_it_again() {
    let mut rig = in_state(State::Ready);
    let _ = rig.feed(Input::Restart("web".into()));
    rig.exit("web", ExitOutcome::Signal(TERM));
    assert_eq!(
        rig.said(),
        [
            "service web: stopping",
            "service web: waiting stopped (signal 15 (SIGTERM)) for a restart",
            "service web: starting (pid 102)"
        ]
    );
    assert_eq!(rig.machine.unit("web").expect("web").restarts, 1);
    // A start while stopping also brings it back once it is down.
    let _ = rig.feed(Input::Stop("web".into()));
    let _ = rig.feed(Input::Start("web".into()));
    rig.exit("web", OK);
    assert_eq!(rig.state("web"), State::Starting);
}
