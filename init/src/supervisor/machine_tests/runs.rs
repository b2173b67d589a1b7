//! One service's runs: start order, readiness, backoff, oneshots, stale reports.

use std::time::Duration;

use super::*;
use crate::supervisor::spec::{Probe, ServiceSpec};
use crate::supervisor::state::State;
use crate::supervisor::types::{Input, Timer};

#[test]
fn services_start_in_order_once_what_they_come_after_is_ready() {
    let mut rig = Rig::new(vec![
        daemon("web", &["db"], Probe::Running),
        daemon("db", &[], Probe::Tcp(5432)),
        daemon("log", &[], Probe::Running),
    ]);
    assert_eq!(
        rig.effects(),
        [
            "spawn db#1 pid 100",
            "probe db#1 tcp :5432 Some(60s)",
            "spawn log#1 pid 101",
        ]
    );
    assert_eq!(rig.state("web"), State::Waiting);
    rig.wait(Duration::from_millis(1500));
    rig.probed("db", Ok(()));
    assert_eq!(
        rig.said(),
        [
            "service db: ready after 1.50s",
            "service web: starting (pid 102)",
            "service web: ready",
        ]
    );
    assert_eq!(rig.state("web"), State::Ready);
}

#[test]
fn a_probe_that_fails_kills_the_service_and_restarts_it_after_the_backoff() {
    let mut rig = Rig::new(vec![daemon("db", &[], Probe::Tcp(5432))]);
    rig.effects();
    rig.probed("db", Err("tcp :5432 refused".into()));
    assert_eq!(rig.effects(), ["kill db Some(100)"]);
    assert_eq!(rig.state("db"), State::Starting);
    rig.exit("db", KILLED);
    assert_eq!(
        rig.fx.calls,
        [
            "say service db: backoff (never became ready); restarting in 100ms",
            "timer db#1 Backoff 100ms",
        ]
    );
    rig.effects();
    let status = rig.machine.status("db", rig.now).expect("db");
    assert_eq!(status.last_exit.as_deref(), Some("tcp :5432 refused"));
    rig.fire("db", Timer::Backoff);
    assert_eq!(
        rig.effects(),
        ["spawn db#2 pid 101", "probe db#2 tcp :5432 Some(60s)"]
    );
    assert_eq!(rig.machine.unit("db").expect("db").restarts, 1);
}

#[test]
fn backoff_doubles_up_to_its_cap_and_a_long_run_resets_it() {
    let mut rig = Rig::new(vec![daemon("web", &[], Probe::Running)]);
    let mut delays = Vec::new();
    for _ in 0..6 {
        rig.effects();
        rig.exit("web", BAD);
        delays.extend(rig.effects());
        rig.fire("web", Timer::Backoff);
    }
    let timers: Vec<&String> = delays.iter().filter(|c| c.contains("Backoff")).collect();
    assert_eq!(
        timers,
        [
            "timer web#1 Backoff 100ms",
            "timer web#2 Backoff 200ms",
            "timer web#3 Backoff 400ms",
            "timer web#4 Backoff 800ms",
            "timer web#5 Backoff 1s",
            "timer web#6 Backoff 1s",
        ]
    );
    rig.effects();
    rig.wait(Duration::from_secs(10));
    rig.exit("web", BAD);
    assert!(
        rig.effects()
            .contains(&"timer web#7 Backoff 100ms".to_string())
    );
}

#[test]
fn stale_reports_of_an_earlier_run_are_ignored() {
    let mut rig = Rig::new(vec![daemon("web", &[], Probe::Running)]);
    rig.exit("web", BAD);
    rig.fire("web", Timer::Backoff);
    rig.effects();
    for stale in [
        Input::Exited {
            name: "web".into(),
            generation: 1,
            outcome: BAD,
        },
        Input::TimerFired {
            name: "web".into(),
            generation: 1,
            timer: Timer::Backoff,
        },
        Input::Probed {
            name: "web".into(),
            generation: 1,
            result: Err("late".into()),
        },
    ] {
        let _ = rig.feed(stale);
    }
    assert_eq!(rig.fx.calls, Vec::<String>::new());
    assert_eq!(rig.state("web"), State::Ready);
}

#[test]
fn a_oneshot_satisfies_what_comes_after_it_once_it_exits_0() {
    let mut rig = Rig::new(vec![
        oneshot("migrate", &[], Some(Duration::from_secs(30))),
        daemon("web", &["migrate"], Probe::Running),
    ]);
    assert_eq!(
        rig.effects(),
        [
            "spawn migrate#1 pid 100",
            "timer migrate#1 ReadyTimeout 30s"
        ]
    );
    rig.exit("migrate", OK);
    assert_eq!(
        rig.effects(),
        ["remove-cgroup migrate", "spawn web#1 pid 101"]
    );
    assert_eq!(rig.state("migrate"), State::Exited);
    // A failing oneshot (on-failure) is retried.
    let _ = rig.feed(Input::Restart("migrate".into()));
    rig.effects();
    rig.exit("migrate", BAD);
    assert_eq!(rig.state("migrate"), State::Backoff);
}

#[test]
fn a_oneshot_is_killed_at_its_ready_limit_and_one_without_a_limit_is_not() {
    let mut rig = Rig::new(vec![
        oneshot("hung", &[], Some(Duration::from_secs(30))),
        ServiceSpec {
            background: true,
            ..oneshot("cluster-prep", &[], None)
        },
    ]);
    assert_eq!(
        rig.effects(),
        [
            "spawn hung#1 pid 100",
            "timer hung#1 ReadyTimeout 30s",
            "spawn cluster-prep#1 pid 101",
        ]
    );
    rig.wait(Duration::from_secs(30));
    rig.fire("hung", Timer::ReadyTimeout);
    assert_eq!(
        rig.fx.calls,
        [
            "say service hung: did not finish within 30s; killing it",
            "kill hung Some(100)"
        ]
    );
    rig.effects();
    rig.exit("hung", KILLED);
    assert_eq!(rig.state("hung"), State::Backoff);
    rig.effects();
    rig.wait(Duration::from_secs(3600));
    let _ = rig.feed(Input::Tick { boot_ready: true });
    assert_eq!(rig.state("cluster-prep"), State::Starting);
    let effects = rig.effects();
    assert_eq!(effects, ["metrics hung=backoff cluster-prep=starting"]);
}
