//! `plinthctl config apply` against plinth-init as a real PID 1 in a PID namespace: an invalid
//! config leaves the node in maintenance mode with the error's line and column on the console; a
//! good config applied with plinthctl is kept (0600) and its services start and reach ready; an
//! invalid one is refused with exit 1 and its line:column, changing nothing; another good one
//! replaces the first one's services.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{Node, prepared};

const LONG: Duration = Duration::from_secs(60);

#[test]
fn config_apply_brings_a_node_out_of_maintenance_and_refuses_bad_configs() {
    let Some(dir) = prepared("apply") else {
        return;
    };
    let persisted = dir.join("state/config.yaml");
    let node = Node::start(
        &dir,
        "#cloud-config\nplinth:\n  services: 7\n",
        &["--persisted-config", persisted.to_str().unwrap()],
    );
    node.wait_console("MAINTENANCE MODE", LONG);
    node.wait_console("plinthctl config apply FILE", LONG);
    let console = node.console();
    assert!(
        console.contains(&format!("  {}:3:", dir.join("config.yaml").display())),
        "the error with its line is on the console:\n{console}"
    );

    let good = dir.join("good.yaml");
    std::fs::write(
        &good,
        format!(
            "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [sh, -c, \"touch {0}/web.up; exec sleep infinity\"]\n      ready:\n        file: {0}/web.up\n",
            dir.display()
        ),
    )
    .unwrap();
    let out = node.ctl_ok(&["config", "apply", good.to_str().unwrap()]);
    assert!(out.contains("accepted"), "{out}");
    node.wait_console("plinth: ready in", LONG);
    node.wait_state("web", "ready", LONG);
    let mode = std::fs::metadata(&persisted).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the kept copy may hold secrets");
    assert!(std::fs::read_to_string(&persisted).unwrap().contains("web"));
    let timeline: serde_json::Value =
        serde_json::from_str(&node.ctl_ok(&["timeline", "-o", "json"])).unwrap();
    assert_eq!(timeline["phases"][1]["status"], "ok", "{timeline}");
    assert!(!timeline["ready_ms"].is_null());

    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "#cloud-config\nplinth:\n  services:\n    - nme: x\n").unwrap();
    let out = node.ctl(&["config", "apply", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:4:", bad.display())),
        "every diagnostic with its line and column: {stderr}"
    );
    assert!(std::fs::read_to_string(&persisted).unwrap().contains("web"));
    assert_eq!(
        node.state("web"),
        "ready",
        "a refused config changes nothing"
    );

    let other = dir.join("other.yaml");
    std::fs::write(
        &other,
        "#cloud-config\nplinth:\n  services:\n    - name: api\n      exec: [sleep, infinity]\n",
    )
    .unwrap();
    node.ctl_ok(&["config", "apply", other.to_str().unwrap()]);
    node.wait_until("api to replace web", LONG, || {
        let names: Vec<String> = node
            .services()
            .iter()
            .map(|s| s["name"].as_str().unwrap_or_default().to_string())
            .collect();
        names == ["api"]
    });
    node.wait_state("api", "ready", LONG);
    assert!(
        !common::children(node.host_pid)
            .iter()
            .any(|p| common::cmdline(*p).contains("web.up")),
        "web's process is gone"
    );
}
