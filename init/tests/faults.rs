//! PID 1 survives its own bugs, proven with faults injected by `PLINTH_FAULT` (see
//! `plinth_init::pid1::fault`) into plinth-init as a real PID 1 in a PID namespace: a panic in the
//! boot task leaves the node in maintenance mode, with the panic on the console, accepting
//! `plinthctl config apply`; a panic in the supervisor reboots the node cleanly after the bound
//! the config sets, killing the services.

mod common;

use std::time::{Duration, Instant};

use common::{Node, can_run, children, cmdline, scratch};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn a_panicking_boot_task_leaves_the_node_in_maintenance_mode_open_to_config_apply() {
    if !can_run() {
        return;
    }
    let dir = scratch("fault-boot");
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
    if !can_run() {
        return;
    }
    let dir = scratch("fault-supervisor");
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
