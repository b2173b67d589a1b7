//! The pause program for real: it stays up until SIGTERM or SIGINT and then exits 0, and, as a
//! sandbox's PID 1 does, reaps the orphans re-parented to it (run as PID 1 of a new PID
//! namespace with `unshare`, where orphans are re-parented to it).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

const PAUSE: &str = env!("CARGO_BIN_EXE_pause");

/// Waits for `child` to exit, for at most `timeout`.
fn wait(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Starts pause, gives it time to block its signals, and returns it.
fn pause() -> Child {
    let child = Command::new(PAUSE).spawn().expect("starting pause");
    std::thread::sleep(Duration::from_millis(300));
    child
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
}

#[test]
fn sigterm_and_sigint_end_it_with_status_0() {
    for name in ["TERM", "INT"] {
        let mut child = pause();
        assert!(
            wait(&mut child, Duration::from_millis(200)).is_none(),
            "pause exited by itself"
        );
        signal(&child, name);
        let status = wait(&mut child, Duration::from_secs(10)).expect("pause did not exit");
        assert_eq!(status.code(), Some(0), "after SIG{name}");
    }
}

#[test]
fn other_signals_and_child_exits_leave_it_running() {
    let mut child = pause();
    signal(&child, "CHLD");
    signal(&child, "WINCH");
    assert!(
        wait(&mut child, Duration::from_millis(300)).is_none(),
        "pause must ignore SIGCHLD and SIGWINCH"
    );
    signal(&child, "TERM");
    assert_eq!(
        wait(&mut child, Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0)
    );
}

#[test]
fn orphans_re_parented_to_it_are_reaped() {
    // `unshare --pid --fork` makes pause PID 1 of a new PID namespace, where a backgrounded
    // grandchild whose parent exits is re-parented to it.
    assert!(
        is_root(),
        "this test needs root for `unshare --pid`, as the supervisor's namespace tests do"
    );
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", PAUSE])
        .spawn()
        .expect("unshare");
    std::thread::sleep(Duration::from_millis(500));
    let pause_pid = children_of(child.id())
        .into_iter()
        .next()
        .expect("pause under unshare");
    // Inside pause's namespace: a process whose parent exits at once, leaving an orphan that
    // exits a moment later; pause must reap it so no zombie stays.
    let status = Command::new("nsenter")
        .args([
            "-t",
            &pause_pid.to_string(),
            "--pid",
            "--",
            "sh",
            "-c",
            "(sleep 0.3 &) ; exit 0",
        ])
        .status()
        .expect("nsenter");
    assert!(status.success());
    std::thread::sleep(Duration::from_secs(1));
    let zombies: Vec<u32> = children_of(pause_pid)
        .into_iter()
        .filter(|pid| state_of(*pid) == Some('Z'))
        .collect();
    assert!(zombies.is_empty(), "pause left zombies: {zombies:?}");
    signal_pid(pause_pid, "TERM");
    assert_eq!(
        wait(&mut child, Duration::from_secs(10)).and_then(|s| s.code()),
        Some(0)
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn signal_pid(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args(["-s", name, &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success());
}

/// The children of `pid`, from `/proc/<pid>/task/*/children`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

/// The one-letter state of `pid` (`R`, `S`, `Z`, …).
fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}
