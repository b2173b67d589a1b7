//! PID 1 survives its own bugs, proven with faults injected by `PLINTH_FAULT` (see
//! `plinth_init::pid1::fault`) into plinth-init as a real PID 1 in a PID namespace: a panic in the
//! boot task leaves the node in maintenance mode, with the panic on the console, accepting
//! `plinthctl config apply`; a panic in the supervisor reboots the node cleanly after the bound
//! the config sets, killing the services; a panic in stage 1 (run as PID 1 of a PID namespace in a
//! chroot holding the initramfs marker) is said and PID 1 stays up until it reboots.

mod common;

use std::time::{Duration, Instant};

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Node, capture, children, cmdline, prepared};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn a_panicking_boot_task_leaves_the_node_in_maintenance_mode_open_to_config_apply() {
    let Some(dir) = prepared("fault-boot") else {
        return;
    };
    let node = Node::start_with_env(
        &dir,
        "#cloud-config\nplinth:\n  services:\n    - name: first\n      exec: [sleep, infinity]\n",
        &[],
        &[("PLINTH_FAULT", "boot-panic")],
    );
    node.wait_console("MAINTENANCE MODE", LONG);
    node.wait_console("plinthctl config apply FILE", LONG);
    let console = node.console();
    assert!(
        console.contains("the boot task panicked: injected fault boot-panic"),
        "the panic's message is on the console:\n{console}"
    );
    assert!(
        console.contains("MAINTENANCE MODE: phase `config` failed:"),
        "{console}"
    );
    let timeline: serde_json::Value =
        serde_json::from_str(&node.ctl_ok(&["timeline", "-o", "json"])).unwrap();
    assert_eq!(timeline["phases"][1]["status"], "failed", "{timeline}");

    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [sleep, infinity]\n",
    )
    .unwrap();
    let out = node.ctl_ok(&["config", "apply", good.to_str().unwrap()]);
    assert!(out.contains("accepted"), "{out}");
    node.wait_console("plinth: ready in", LONG);
    node.wait_state("web", "ready", LONG);
}

#[test]
fn a_panicking_supervisor_reboots_the_node_cleanly_after_the_configured_bound() {
    let Some(dir) = prepared("fault-supervisor") else {
        return;
    };
    let mut node = Node::start_with_env(
        &dir,
        r#"#cloud-config
plinth:
  supervisor:
    failure_reboot_after: 2s
  services:
    - name: web
      exec: [sh, -c, "exec sleep 1234567"]
"#,
        &[],
        &[("PLINTH_FAULT", "supervisor-panic")],
    );
    node.wait_console("plinth: ready in", LONG);
    node.wait_state("web", "ready", LONG);
    let web = || {
        children(node.host_pid)
            .into_iter()
            .any(|p| cmdline(p).contains("sleep 1234567"))
    };
    assert!(web(), "web runs before the fault");
    // The first `list` request makes the supervisor panic.
    let out = node.ctl(&["services"]);
    let panicked = Instant::now();
    assert!(
        !out.status.success(),
        "the supervisor answered after its panic"
    );
    node.wait_console(
        "the supervisor panicked: injected fault supervisor-panic; its services cannot be adopted by a new one: rebooting in 2s",
        LONG,
    );
    let status = node.wait_exit(LONG);
    let took = panicked.elapsed();
    assert!(status.success(), "container mode ends a reboot with exit 0");
    assert!(
        took >= Duration::from_millis(1900),
        "the reboot waited the configured bound, not {took:?}"
    );
    assert!(
        took < Duration::from_secs(20),
        "the reboot came {took:?} after the panic"
    );
    let console = node.console();
    assert!(console.contains("reboot requested"), "{console}");
    assert!(
        console.contains("reboot: container mode, exiting"),
        "{console}"
    );
}

/// A root for stage 1: the marker, plinth-init as `/init` and the shared libraries it needs.
fn stage1_root(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("root");
    for sub in ["proc", "sys", "dev", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::write(root.join("plinth-initrd"), "").unwrap();
    let init = env!("CARGO_BIN_EXE_plinth-init");
    std::fs::copy(init, root.join("init")).unwrap();
    let ldd = Command::new("ldd").arg(init).output().unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let to = root.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lib, &to).unwrap();
    }
    root
}

#[test]
fn a_panic_in_stage1_is_said_and_pid1_stays_up_to_reboot() {
    let Some(dir) = prepared("fault-stage1") else {
        return;
    };
    let root = stage1_root(&dir);
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount", "--root"])
        .arg(&root)
        .arg("/init")
        .env("PLINTH_FAULT", "stage1-panic")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let console = capture(&mut unshare);
    let started = Instant::now();
    while !console.lock().unwrap().contains("rebooting in ") {
        if started.elapsed() > Duration::from_secs(20) || unshare.try_wait().unwrap().is_some() {
            let _ = unshare.kill();
            panic!(
                "stage 1 did not say its panic and stay up:\n{}",
                console.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // It waits the kernel's panic= delay (this host's own command line), then reboots, which in
    // a PID namespace ends its PID 1 by SIGHUP: never the exit code 101 of an unwound panic.
    let said = Instant::now();
    let text = console.lock().unwrap().clone();
    let delay: u64 = text
        .split("rebooting in ")
        .nth(1)
        .and_then(|r| r.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let status = loop {
        if let Some(status) = unshare.try_wait().unwrap() {
            break status;
        }
        assert!(
            said.elapsed() < Duration::from_secs(delay + 10),
            "no reboot {delay}s after the panic"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = console.lock().unwrap().clone();
    assert!(
        said.elapsed()
            >= Duration::from_millis(delay * 1000).saturating_sub(Duration::from_millis(300)),
        "PID 1 ended {:?} after the panic, before its {delay}s delay:\n{text}",
        said.elapsed()
    );
    assert_ne!(
        status.code(),
        Some(101),
        "PID 1 exited by the panic:\n{text}"
    );
    assert!(
        text.contains("plinth stage 1: PANIC in stage 1: injected fault stage1-panic"),
        "{text}"
    );
    eprintln!("stage 1 ended by {status} after {:?}", said.elapsed());
}

#[test]
fn a_oneshot_that_never_ends_fails_its_start_and_the_boot_reaches_maintenance() {
    let Some(dir) = prepared("fault-hung-oneshot") else {
        return;
    };
    let node = Node::start(
        &dir,
        "#cloud-config\nplinth:\n  services:\n    - name: stuck\n      oneshot: true\n      restart: never\n      exec: [sleep, \"3600\"]\n",
        &["--ready-timeout", "2s"],
    );
    node.wait_console("MAINTENANCE MODE", Duration::from_secs(30));
    assert_eq!(node.state("stuck"), "failed");
    assert!(
        node.console()
            .contains("service stuck: did not finish within 2s; killing it"),
        "{}",
        node.console()
    );
}

#[test]
fn a_service_that_never_comes_to_rest_ends_the_boot_in_maintenance_after_the_settle_limit() {
    let Some(dir) = prepared("fault-never-settles") else {
        return;
    };
    let node = Node::start(
        &dir,
        "#cloud-config\nplinth:\n  services:\n    - name: flapping\n      restart: always\n      exec: [sh, -c, \"sleep 0.2; exit 1\"]\n      ready:\n        file: /nonexistent/never\n",
        &[
            "--ready-timeout",
            "1s",
            "--backoff-min",
            "10ms",
            "--backoff-max",
            "50ms",
            "--settle-timeout",
            "4s",
        ],
    );
    node.wait_console("MAINTENANCE MODE", Duration::from_secs(30));
    assert!(
        node.console()
            .contains("services not at rest after 4s: flapping ("),
        "{}",
        node.console()
    );
    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [sleep, infinity]\n",
    )
    .unwrap();
    node.ctl_ok(&["config", "apply", good.to_str().unwrap()]);
    node.wait_console("plinth: ready in", Duration::from_secs(30));
}
