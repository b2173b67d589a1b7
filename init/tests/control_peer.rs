//! Who may use the control API: root, by the peer's uid (SO_PEERCRED), wherever its process is. A
//! caller in a PID namespace of its own (a privileged pod with the host's /run/plinth) works, as
//! does one outside PID 1's namespace; a non-root caller is refused by PID 1 itself even when the
//! socket's mode would let it connect.

mod common;

use std::process::Command;

use common::{Node, plinthctl_as_nobody, prepared};

fn plinthctl_in_new_pid_namespace(node: &Node, args: &[&str]) -> std::process::Output {
    Command::new("unshare")
        .args(["--pid", "--fork", "--"])
        .arg(env!("CARGO_BIN_EXE_plinthctl"))
        .arg("--socket")
        .arg(&node.socket)
        .args(args)
        .output()
        .expect("unshare runs")
}

#[test]
fn root_in_another_pid_namespace_may_use_the_control_api() {
    let Some(dir) = prepared("peer-pidns") else {
        return;
    };
    let node = Node::start(
        &dir,
        "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [sleep, infinity]\n",
        &[],
    );
    node.wait_state("web", "ready", std::time::Duration::from_secs(60));
    let out = plinthctl_in_new_pid_namespace(&node, &["status", "web", "-o", "json"]);
    assert!(
        out.status.success(),
        "plinthctl from a new PID namespace failed: {}\nconsole:\n{}",
        String::from_utf8_lossy(&out.stderr),
        node.console()
    );
    let web: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(web["state"], "ready");
    // The test's own namespace is not PID 1's either.
    let out = Command::new(env!("CARGO_BIN_EXE_plinthctl"))
        .arg("--socket")
        .arg(&node.socket)
        .arg("services")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_non_root_caller_is_refused_by_pid1_even_through_an_open_socket() {
    let Some(dir) = prepared("peer-uid") else {
        return;
    };
    let node = Node::start(&dir, "#cloud-config\n", &[]);
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        &node.socket,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let out = plinthctl_as_nobody(&node.socket, &["services"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not answer"), "{stderr}");
    assert!(
        node.console()
            .contains("control API: refused a caller with uid 65534"),
        "{}",
        node.console()
    );
}
