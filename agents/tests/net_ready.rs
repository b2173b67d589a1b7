//! The network agent's ready file from one binary to the other: the real `plinth-agent net
//! --dry-run --ready-file` (as the `network` phase runs it) writes it, and PID 1's readers take it
//! — the phase's console lines (`plinth_init::boot::phases::network::check_lines`) — and the `dhcp`
//! service's program, the real `plinth-agent dhcpcd` with a script standing in for dhcpcd, makes
//! dhcpcd.conf from it. A dry run changes nothing, so this runs in the host's own network
//! namespace, on its loopback, without root.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use plinth_agents::dhcpcd::conf;
use plinth_config::net_ready::{Families, NetReady};
use plinth_init::boot::phases::network::check_lines;

const AGENT: &str = env!("CARGO_BIN_EXE_plinth-agent");

/// An entry by a name no link has, one whose `match` finds no link, and DHCP on the loopback
/// (named literally, so the agent's match may select it).
const CONFIG: &str = r#"#cloud-config
network:
  version: 2
  ethernets:
    plinthnone0:
      dhcp4: true
    ghost:
      match:
        macaddress: "02:00:00:00:99:99"
      dhcp4: true
    loop:
      match:
        name: lo
      dhcp4: true
      dhcp6: true
      dhcp4-overrides:
        route-metric: 300
        use-dns: false
"#;

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-net-ready-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_agents_dry_run_answer_is_what_pid_1_reads() {
    let dir = scratch();
    let config = dir.join("network.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let ready = dir.join("net.check");
    let out = Command::new(AGENT)
        .args(["net", "--dry-run", "--config"])
        .arg(&config)
        .arg("--resolv-conf")
        .arg(dir.join("resolv.conf"))
        .arg("--ready-file")
        .arg(&ready)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("{}{stderr}", String::from_utf8_lossy(&out.stdout));
    assert!(out.status.success(), "plinth-agent net --dry-run failed");
    let text = std::fs::read_to_string(&ready).unwrap();

    let answer = NetReady::parse(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(answer.version, plinth_config::net_ready::VERSION);
    let [client] = answer.dhcp.as_slice() else {
        panic!("one DHCP client wanted: {answer:?}");
    };
    assert_eq!(
        (
            client.interface.as_str(),
            client.families,
            client.route_metric
        ),
        ("lo", Families::Both, Some(300))
    );
    assert!(!client.use_dns);

    // The phase's lines: every warning the agent printed, those of unmatched entries as a count.
    assert_eq!(answer.unmatched.len(), 1, "{answer:?}");
    assert!(answer.unmatched[0].starts_with("ethernets.ghost: "));
    let lines = check_lines(&answer);
    let said: Vec<String> = stderr
        .lines()
        .filter(|l| {
            !answer
                .unmatched
                .iter()
                .any(|u| *l == format!("net: warning: {u}"))
        })
        .map(|l| format!("network check: {l}"))
        .collect();
    assert_eq!(lines[..lines.len() - 1], said[..], "{stderr}");
    assert!(
        said.iter()
            .any(|l| l.contains("ethernets.plinthnone0: no link is named so")),
        "{said:?}"
    );
    assert!(
        lines[lines.len() - 1].starts_with("network check: 1 config entries match no link yet"),
        "{lines:?}"
    );

    // The dhcp service's program on the same file: it writes the config, then execs "dhcpcd"
    // (here a script that says how it was called).
    let fake = dir.join("dhcpcd");
    std::fs::write(&fake, "#!/bin/sh\necho \"dhcpcd $*\"\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let conf_path = dir.join("run/dhcpcd.conf");
    let out = Command::new(AGENT)
        .arg("dhcpcd")
        .args([&ready, &conf_path, &fake])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "plinth-agent dhcpcd failed");
    assert_eq!(
        stdout,
        format!(
            "dhcpcd on lo (dhcp4+6, metric 300, no DNS) (from {}, config {})\ndhcpcd -B -f {}\n",
            ready.display(),
            conf_path.display(),
            conf_path.display()
        )
    );
    let dhcpcd = std::fs::read_to_string(&conf_path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        dhcpcd,
        conf::render(&answer.dhcp, &ready.display().to_string())
    );
    assert!(
        dhcpcd.ends_with("allowinterfaces lo\n\ninterface lo\nmetric 300\nnohook resolv.conf\n"),
        "{dhcpcd}"
    );
}
