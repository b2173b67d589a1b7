//! plinth-init as a real PID 1 in a PID and mount namespace, driven through plinthctl: ordering
//! and readiness gating, parallel starts, crash-loop backoff, orphan reaping, the control API,
//! bounded logs, cgroups, and shutdown in reverse order.

mod common;

use std::time::Duration;

use common::{Node, children, cmdline, plinthctl_as_nobody, prepared, process_state};
use nix::sys::signal::Signal;

const LONG: Duration = Duration::from_secs(60);

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn dependencies_start_in_order_and_wait_for_readiness() {
    let Some(dir) = prepared("order") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: d
      exec: [sleep, infinity]
      after: [c]
    - name: c
      oneshot: true
      exec: [sh, -c, "echo ran > $D/c.ran"]
      after: [b]
    - name: b
      exec: [sh, -c, "if [ -e $D/a.ready ]; then echo ok; else echo early; fi > $D/b.saw; exec sleep infinity"]
      after: [a]
    - name: a
      exec: [sh, -c, "sleep 1; touch $D/a.ready; exec sleep infinity"]
      ready:
        file: $D/a.ready
"#,
        &[],
    );
    node.wait_console("plinth: ready in ", LONG);
    assert_eq!(
        read(&dir.join("b.saw")).trim(),
        "ok",
        "b started before a was ready"
    );
    assert_eq!(read(&dir.join("c.ran")).trim(), "ran");
    let states: Vec<(String, String)> = node
        .services()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |n: &str, s: &str| (n.to_string(), s.to_string());
    assert_eq!(
        states,
        [
            expect("a", "ready"),
            expect("b", "ready"),
            expect("c", "exited"),
            expect("d", "ready")
        ]
    );
    let console = node.console();
    let at = |needle: &str| {
        console
            .find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in\n{console}"))
    };
    assert!(at("service a: ready") < at("service b: starting"));
    assert!(at("service c: exited") < at("service d: starting"));
    let json = node.services();
    assert!(
        json.iter()
            .all(|s| s.get("pid").is_some() && s.get("restarts").is_some())
    );
    assert!(json.iter().find(|s| s["name"] == "c").unwrap()["pid"].is_null());
}

#[test]
fn independent_services_start_in_parallel() {
    let Some(dir) = prepared("parallel") else {
        return;
    };
    let mut config = String::from("#cloud-config\nplinth:\n  services:\n");
    for name in ["p1", "p2", "p3", "p4"] {
        config.push_str(&format!(
            "    - name: {name}\n      exec: [sh, -c, \"date +%s.%N > $D/{name}.start; sleep 3; touch $D/{name}.ready; exec sleep infinity\"]\n      ready:\n        file: $D/{name}.ready\n"
        ));
    }
    config.push_str(
        "    - name: joined\n      exec: [sleep, infinity]\n      after: [p1, p2, p3, p4]\n",
    );
    let node = Node::start(&dir, &config, &[]);
    node.wait_console("plinth: ready in ", LONG);
    let starts: Vec<f64> = ["p1", "p2", "p3", "p4"]
        .iter()
        .map(|n| {
            read(&dir.join(format!("{n}.start")))
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let spread = starts.iter().cloned().fold(f64::MIN, f64::max)
        - starts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        spread < 2.5,
        "the four independent services started {spread:.2}s apart: not in parallel"
    );
    assert_eq!(node.state("joined"), "ready");
}

#[test]
fn a_crash_loop_backs_off_with_growing_delays_and_others_stay_up() {
    let Some(dir) = prepared("crashloop") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: stable
      exec: [sleep, infinity]
    - name: crasher
      exec: [sh, -c, "date +%s.%N >> $D/crashes; exit 1"]
"#,
        &["--backoff-min", "100ms", "--backoff-max", "30s"],
    );
    node.wait_state("stable", "ready", LONG);
    let stable_pid = node.service("stable")["pid"].clone();
    let crashes = || {
        read(&dir.join("crashes"))
            .lines()
            .filter_map(|l| l.trim().parse::<f64>().ok())
            .collect::<Vec<_>>()
    };
    node.wait_until("six crashes", LONG, || crashes().len() >= 6);
    let times = crashes();
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Each delay is at least 0.1 s · 2^n (a loaded machine can only make gaps longer), so the
    // gaps grow: the fifth is at least 1.6 s where the first was allowed 0.1 s.
    for (n, gap) in gaps.iter().take(5).enumerate() {
        let floor = 0.1 * f64::from(1u32 << n) * 0.95;
        assert!(
            *gap >= floor,
            "restart {n} came after {gap:.3}s, before its delay of {floor:.3}s: {gaps:?}"
        );
    }
    assert!(
        gaps[4] > gaps[0] * 2.0,
        "restart delays do not grow: {gaps:?}"
    );
    let crasher = node.service("crasher");
    assert!(crasher["restarts"].as_u64().unwrap() >= 5, "{crasher}");
    assert_eq!(crasher["last_exit"], "exit 1");
    let stable = node.service("stable");
    assert_eq!(stable["state"], "ready");
    assert_eq!(stable["restarts"], 0);
    assert_eq!(stable["pid"], stable_pid);
}

#[test]
fn orphaned_grandchildren_are_reaped() {
    let Some(dir) = prepared("orphans") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: parent
      oneshot: true
      exec: [sh, -c, "sleep 1.5 & sleep 1.6 & exit 0"]
"#,
        &[],
    );
    node.wait_state("parent", "exited", LONG);
    // The two sleeps have lost their parent: they are now children of PID 1.
    let mut orphans = Vec::new();
    node.wait_until("the orphans to be reparented to PID 1", LONG, || {
        orphans = children(node.host_pid)
            .into_iter()
            .filter(|p| cmdline(*p).starts_with("sleep 1."))
            .collect();
        orphans.len() == 2
    });
    node.wait_until("the orphans to exit and be reaped", LONG, || {
        orphans.iter().all(|p| process_state(*p).is_none())
    });
    let zombies: Vec<i32> = children(node.host_pid)
        .into_iter()
        .filter(|p| process_state(*p) == Some('Z'))
        .collect();
    assert!(zombies.is_empty(), "zombies left under PID 1: {zombies:?}");
}

#[test]
fn stop_restart_start_and_logs_through_the_api() {
    let Some(dir) = prepared("api") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  cluster:
    token: s3cr3t.v3rys3cr3tt0k3n5
  services:
    - name: web
      exec: [sh, -c, "echo hello from web; echo oops >&2; exec sleep infinity"]
      stop_timeout: 5s
"#,
        &[],
    );
    node.wait_console("plinth: ready in ", LONG);
    node.wait_until("web's first lines", LONG, || {
        node.ctl_ok(&["logs", "web"]).contains("oops")
    });
    let logs = node.ctl_ok(&["logs", "web"]);
    assert!(logs.contains("hello from web"), "{logs}");
    assert!(logs.contains("! oops"), "stderr is marked: {logs}");
    let first_pid = node.service("web")["pid"].as_u64().unwrap();

    node.ctl_ok(&["restart", "web"]);
    node.wait_until("web to run again with a new pid", LONG, || {
        let s = node.service("web");
        s["state"] == "ready" && s["pid"].as_u64().is_some_and(|p| p != first_pid)
    });
    assert_eq!(node.service("web")["restarts"], 1);
    node.wait_until("the second run's output", LONG, || {
        node.ctl_ok(&["logs", "web"])
            .matches("hello from web")
            .count()
            == 2
    });
    assert_eq!(
        node.ctl_ok(&["logs", "web", "--tail", "1"]).lines().count(),
        1
    );

    node.ctl_ok(&["stop", "web"]);
    node.wait_state("web", "stopped", LONG);
    assert!(node.service("web")["pid"].is_null());
    node.ctl_ok(&["start", "web"]);
    node.wait_state("web", "ready", LONG);

    let unknown = node.ctl(&["stop", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no service named `nosuch`"));

    let timeline: serde_json::Value =
        serde_json::from_str(&node.ctl_ok(&["timeline", "-o", "json"])).unwrap();
    let phases: Vec<&str> = timeline["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let sequence: Vec<&str> =
        plinth_init::boot::sequence::names(plinth_init::boot::SEQUENCE).collect();
    assert_eq!(phases, sequence);
    assert_eq!(phases.first(), Some(&"early"));
    assert_eq!(phases.last(), Some(&"ready"));
    assert!(
        timeline["phases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "ok" && p["duration_ms"].is_u64())
    );
    assert!(timeline["ready_ms"].is_u64());

    let config = node.ctl_ok(&["config"]);
    assert!(
        config.contains("\"web\"") && config.contains("<redacted>"),
        "{config}"
    );
    assert!(
        !config.contains("v3rys3cr3tt0k3n5"),
        "the token leaked: {config}"
    );
    assert!(node.ctl_ok(&["version"]).contains("plinth-init "));
}

#[test]
fn plinthctl_says_clearly_when_it_cannot_connect() {
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_plinthctl"))
        .args(["--socket", "/nonexistent/plinth.sock", "services"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("no control socket at /nonexistent/plinth.sock"),
        "{stderr}"
    );
    let from_env = std::process::Command::new(env!("CARGO_BIN_EXE_plinthctl"))
        .env("PLINTH_SOCKET", "/nonexistent/env.sock")
        .arg("services")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&from_env.stderr).contains("/nonexistent/env.sock"));
}

#[test]
fn a_chatty_service_keeps_its_ring_and_log_file_bounded() {
    let Some(dir) = prepared("chatty") else {
        return;
    };
    let logs = dir.join("logs");
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: chatty
      exec: [sh, -c, "i=0; while [ $i -lt 30000 ]; do echo chatty line $i; i=$((i+1)); done; exec sleep infinity"]
"#,
        &[
            "--log-ring-lines",
            "200",
            "--log-dir",
            logs.to_str().unwrap(),
            "--log-max-bytes",
            "65536",
            "--quiet-services",
        ],
    );
    node.wait_until("the last line", LONG, || {
        node.ctl_ok(&["logs", "chatty", "--tail", "1"])
            .contains("chatty line 29999")
    });
    let kept = node.ctl_ok(&["logs", "chatty"]);
    assert_eq!(kept.lines().count(), 200);
    assert!(
        kept.lines().next().unwrap().ends_with("chatty line 29800"),
        "{}",
        kept.lines().next().unwrap()
    );
    let current = std::fs::metadata(logs.join("chatty.log")).unwrap().len();
    let rotated = std::fs::metadata(logs.join("chatty.log.1")).unwrap().len();
    assert!(
        current <= 65536 && rotated <= 65536,
        "log files over their limit: {current} {rotated}"
    );
    assert!(
        read(&logs.join("chatty.log"))
            .trim_end()
            .ends_with("chatty line 29999")
    );
    let rss = node.rss_bytes();
    assert!(
        rss > 0 && rss < 32 * 1024 * 1024,
        "PID 1 grew to {rss} bytes"
    );
}

#[test]
fn services_run_in_their_own_cgroup_which_stop_kills() {
    let Some(dir) = prepared("cgroup") else {
        return;
    };
    let Some(parent) = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .find(|p| {
            nix::sys::statfs::statfs(*p)
                .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        })
    else {
        plinth_test_support::unavailable("cgroup", "no cgroup2 mount on this host");
        return;
    };
    let root = std::path::PathBuf::from(parent).join(format!("plinth-it-{}", std::process::id()));
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: forky
      exec: [sh, -c, "trap 'exit 0' TERM; setsid sleep 1000 & sleep 1001 & wait"]
      stop_timeout: 1s
"#,
        &["--cgroup-root", root.to_str().unwrap()],
    );
    let procs = root.join("forky/cgroup.procs");
    node.wait_until("three processes in the service's cgroup", LONG, || {
        read(&procs).lines().count() == 3
    });
    node.ctl_ok(&["stop", "forky"]);
    node.wait_state("forky", "stopped", LONG);
    // The main shell exits on SIGTERM, but `setsid sleep` left the process group: only the
    // cgroup can catch it. SIGKILL is sent by the time the service is `stopped`; the kernel empties
    // the cgroup as the processes exit.
    node.wait_until("the service's cgroup to be empty", LONG, || {
        !procs.exists() || read(&procs).trim().is_empty()
    });
    drop(node);
    let _ = std::fs::remove_dir(root.join("forky"));
    let _ = std::fs::remove_dir(&root);
}

#[test]
fn sigterm_stops_services_in_reverse_order_and_pid1_exits_0() {
    let Some(dir) = prepared("shutdown") else {
        return;
    };
    // Each service is ready only once its TERM trap is installed (the file probe), so SIGTERM can
    // never reach a shell that has not yet set its trap, however loaded the machine is.
    let trap = |name: &str| {
        format!(
            "[sh, -c, \"trap 'echo stop-{name} >> $D/order; exit 0' TERM; touch $D/up-{name}; while :; do sleep 0.1; done\"]\n      ready:\n        file: $D/up-{name}"
        )
    };
    let config = format!(
        r#"#cloud-config
plinth:
  services:
    - name: a
      exec: {}
    - name: b
      exec: {}
      after: [a]
    - name: c
      exec: {}
      after: [b]
    - name: gate
      oneshot: true
      exec: [true]
      after: [a]
    - name: d
      exec: [sh, -c, "trap 'sleep 1; echo stop-d >> $D/order; exit 0' TERM; touch $D/up-d; while :; do sleep 0.1; done"]
      ready:
        file: $D/up-d
      after: [gate]
    - name: stubborn
      exec: [sh, -c, "trap '' TERM; touch $D/up-stubborn; while :; do sleep 0.1; done"]
      ready:
        file: $D/up-stubborn
      stop_timeout: 1s
"#,
        trap("a"),
        trap("b"),
        trap("c")
    );
    let mut node = Node::start(&dir, &config, &[]);
    node.wait_console("plinth: ready in ", LONG);
    let asked = std::time::Instant::now();
    node.signal(Signal::SIGTERM);
    let status = node.wait_exit(LONG);
    let took = asked.elapsed();
    assert!(
        status.success(),
        "PID 1 exited with {status}; console:\n{}",
        node.console()
    );
    let order = read(&dir.join("order"));
    let at = |name: &str| {
        order
            .lines()
            .position(|l| l == name)
            .unwrap_or_else(|| panic!("{name} not stopped: {order}"))
    };
    assert!(
        at("stop-c") < at("stop-b") && at("stop-b") < at("stop-a"),
        "{order}"
    );
    // d comes after a through a finished oneshot and takes a second to stop: a still waits for it.
    assert!(at("stop-d") < at("stop-a"), "{order}");
    assert_eq!(order.lines().count(), 4, "{order}");
    let console = node.console();
    assert!(
        console.contains("service stubborn: still running"),
        "{console}"
    );
    assert!(
        console.contains("service stubborn: stopped (signal 9 (SIGKILL))"),
        "{console}"
    );
    assert!(took < Duration::from_secs(15), "shutdown took {took:?}");
}

#[test]
fn a_bad_config_leaves_pid1_up_in_maintenance_mode() {
    let Some(dir) = prepared("maintenance") else {
        return;
    };
    let node = Node::start(&dir, "#cloud-config\nplinth:\n  services: 7\n", &[]);
    node.wait_console("staying up in maintenance mode", LONG);
    assert!(
        node.console().contains("phase config: FAILED"),
        "{}",
        node.console()
    );
    let timeline: serde_json::Value =
        serde_json::from_str(&node.ctl_ok(&["timeline", "-o", "json"])).unwrap();
    let config = &timeline["phases"][1];
    assert_eq!(config["status"], "failed");
    assert!(
        config["message"].as_str().unwrap().contains("config.yaml"),
        "{config}"
    );
    assert!(timeline["ready_ms"].is_null());
    assert_eq!(node.ctl_ok(&["services", "-o", "json"]).trim(), "[]");
    assert!(!node.console().contains("plinth: ready in"));
}

#[test]
fn plinthctl_refuses_callers_who_may_not_use_the_socket() {
    let Some(dir) = prepared("permission") else {
        return;
    };
    let node = Node::start(&dir, "#cloud-config\n", &[]);
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mode = std::fs::metadata(&node.socket).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let out = plinthctl_as_nobody(&node.socket, &["services"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("permission denied") && stderr.contains("root only"),
        "{stderr}"
    );
}

#[test]
fn a_probe_timeout_fails_the_start_and_the_boot() {
    let Some(dir) = prepared("probe-timeout") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: deaf
      exec: [sleep, infinity]
      restart: never
      ready:
        tcp: 1
    - name: after-deaf
      exec: [sleep, infinity]
      after: [deaf]
"#,
        &["--ready-timeout", "1s"],
    );
    node.wait_state("deaf", "failed", LONG);
    let deaf = node.service("deaf");
    assert!(
        deaf["last_exit"]
            .as_str()
            .unwrap()
            .contains("not ready after"),
        "{deaf}"
    );
    assert!(deaf["pid"].is_null());
    assert_eq!(node.state("after-deaf"), "waiting");
    node.wait_console("phase ready: FAILED", LONG);
    assert!(
        node.console()
            .contains("services not ready: deaf, after-deaf"),
        "{}",
        node.console()
    );
}

#[test]
fn logs_follow_prints_new_lines_as_they_come() {
    let Some(dir) = prepared("follow") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: ticker
      exec: [sh, -c, "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
"#,
        &["--quiet-services"],
    );
    node.wait_state("ticker", "ready", LONG);
    let mut follow = std::process::Command::new("nsenter")
        .args(["--target", &node.host_pid.to_string(), "--pid", "--"])
        .arg(env!("CARGO_BIN_EXE_plinthctl"))
        .arg("--socket")
        .arg(&node.socket)
        .args(["logs", "ticker", "-f"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(LONG).expect("a first line");
    let first_tick: u64 = first.rsplit(' ').next().unwrap().parse().unwrap();
    let mut last = first_tick;
    while last < first_tick + 5 {
        let line = rx.recv_timeout(LONG).expect("more lines while following");
        last = line.rsplit(' ').next().unwrap().parse().unwrap();
    }
    let _ = follow.kill();
    let _ = follow.wait();
}

#[test]
fn a_flood_of_output_is_cut_short_on_the_console_but_kept_in_the_ring() {
    let Some(dir) = prepared("flood") else {
        return;
    };
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: flood
      exec: [sh, -c, "i=0; while [ $i -lt 5000 ]; do echo flood line $i; i=$((i+1)); done; exec sleep infinity"]
"#,
        &[],
    );
    node.wait_until("the last line in the ring", LONG, || {
        node.ctl_ok(&["logs", "flood", "--tail", "1"])
            .contains("flood line 4999")
    });
    let console = node.console();
    assert!(
        console.contains("[flood] ... too chatty for the console, pausing"),
        "{console}"
    );
    let mirrored = console
        .lines()
        .filter(|l| l.starts_with("[flood] flood line"))
        .count();
    assert!(
        (500..=700).contains(&mirrored),
        "{mirrored} lines reached the console"
    );
    assert_eq!(node.ctl_ok(&["logs", "flood"]).lines().count(), 1000);
}
