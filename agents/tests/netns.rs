//! `plinth-agent net --once` for real, inside a network namespace with veth pairs standing in for
//! NICs: match by MAC and rename, MTU, static IPv4 and IPv6 addresses, routes with metrics and
//! default gateways, a Linux bridge with STP and a port, resolv.conf; a second run changes nothing.
//! Needs root; skipped with a message otherwise. Bonds and VLANs cannot be made on this host's
//! kernel: their planning is unit-tested and they are covered by the QEMU tests.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use plinth_config::net_ready::NetReady;
use serde_json::Value;
use support::netns::{Netns, unavailable};

const AGENT: &str = env!("CARGO_BIN_EXE_plinth-agent");

const STATIC: &str = r#"#cloud-config
network:
  version: 2
  ethernets:
    uplink:
      match:
        macaddress: "02:00:00:00:10:01"
      set-name: lan0
      mtu: 1400
      accept-ra: false
      addresses: [10.50.0.2/24, "2001:db8:50::2/64"]
      gateway6: "2001:db8:50::1"
      routes:
        - to: default
          via: 10.50.0.1
          metric: 100
        - to: 10.60.0.0/16
          via: 10.50.0.254
          metric: 50
        - to: default
          via: 10.50.0.1
          table: 100
        - to: 10.200.0.0/16
          type: blackhole
      routing-policy:
        - from: 10.50.0.0/24
          table: 100
          priority: 100
      nameservers:
        addresses: [10.50.0.53, "2001:db8:50::53"]
        search: [lab.example]
    port1:
      match:
        macaddress: "02:00:00:00:20:01"
  bridges:
    br0:
      interfaces: [port1]
      addresses: [192.168.77.1/24]
      parameters:
        stp: true
        forward-delay: 4
        priority: 4096
"#;

fn skip() -> bool {
    if let Some(why) = unavailable() {
        eprintln!("SKIP: namespace tests: {why}");
        return true;
    }
    false
}

fn agent(ns: &Netns, config: &str, extra: &[&str]) -> Output {
    let cfg = ns.dir.join("config.yaml");
    std::fs::write(&cfg, config).unwrap();
    let resolv = ns.dir.join("resolv.conf");
    let out = ns
        .exec(AGENT)
        .args(["net", "--config"])
        .arg(&cfg)
        .arg("--resolv-conf")
        .arg(&resolv)
        .args(extra)
        .output()
        .unwrap();
    eprintln!(
        "--- plinth-agent {extra:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "plinth-agent failed");
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one(ns: &Netns, args: &[&str]) -> Value {
    let mut all = ns.json(args);
    assert_eq!(all.len(), 1, "ip -j {args:?}: {all:?}");
    all.remove(0)
}

fn addresses(link: &Value) -> Vec<String> {
    link["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect()
}

#[test]
fn static_config_is_applied_and_a_second_run_changes_nothing() {
    if skip() {
        return;
    }
    let ns = Netns::new("static");
    ns.veth("v1a", "02:00:00:00:10:01", "v1b");
    ns.veth("v2a", "02:00:00:00:20:01", "v2b");

    let start = Instant::now();
    let first = stdout(&agent(&ns, STATIC, &["--once"]));
    eprintln!("MEASURED: first apply, wall time {:?}", start.elapsed());
    assert!(first.contains("net: rename v1a to lan0\n"), "{first}");
    assert!(first.contains(" operations applied in "), "{first}");

    // Matched by MAC and renamed; MTU; up.
    assert!(
        ns.json(&["link", "show"])
            .iter()
            .all(|l| l["ifname"] != "v1a")
    );
    let lan0 = one(&ns, &["link", "show", "lan0"]);
    assert_eq!(lan0["address"], "02:00:00:00:10:01");
    assert_eq!(lan0["mtu"], 1400);
    assert!(lan0["flags"].as_array().unwrap().contains(&"UP".into()));

    let accept_ra = ns
        .exec("cat")
        .arg("/proc/sys/net/ipv6/conf/lan0/accept_ra")
        .output();
    assert_eq!(String::from_utf8_lossy(&accept_ra.unwrap().stdout), "0\n");

    // Static IPv4 and IPv6 addresses.
    let addrs = addresses(&one(&ns, &["addr", "show", "dev", "lan0"]));
    assert!(addrs.contains(&"10.50.0.2/24".into()), "{addrs:?}");
    assert!(addrs.contains(&"2001:db8:50::2/64".into()), "{addrs:?}");

    // Routes with metrics; default gateways for both families.
    let v4 = ns.json(&["-4", "route", "show", "table", "main"]);
    let has = |routes: &[Value], dst: &str, gw: &str, metric: u64| {
        routes.iter().any(|r| {
            r["dst"] == dst && r["gateway"] == gw && r["dev"] == "lan0" && r["metric"] == metric
        })
    };
    assert!(has(&v4, "default", "10.50.0.1", 100), "{v4:?}");
    assert!(has(&v4, "10.60.0.0/16", "10.50.0.254", 50), "{v4:?}");
    assert!(
        v4.iter()
            .any(|r| r["type"] == "blackhole" && r["dst"] == "10.200.0.0/16"),
        "{v4:?}"
    );
    let v6 = ns.json(&["-6", "route", "show", "table", "main"]);
    assert!(has(&v6, "default", "2001:db8:50::1", 1024), "{v6:?}");

    // Source routing: a rule to table 100, and table 100's default route.
    let rules = ns.json(&["-4", "rule", "show"]);
    assert!(
        rules.iter().any(|r| r["priority"] == 100
            && r["src"] == "10.50.0.0"
            && r["srclen"] == 24
            && r["table"] == "100"),
        "{rules:?}"
    );
    let t100 = ns.json(&["-4", "route", "show", "table", "100"]);
    assert!(
        t100.iter()
            .any(|r| r["dst"] == "default" && r["gateway"] == "10.50.0.1"),
        "{t100:?}"
    );

    // A bridge with STP on, the second veth enslaved, its address.
    let br0 = one(&ns, &["-d", "link", "show", "br0"]);
    assert_eq!(br0["linkinfo"]["info_kind"], "bridge");
    assert_eq!(br0["linkinfo"]["info_data"]["stp_state"], 1);
    assert_eq!(br0["linkinfo"]["info_data"]["forward_delay"], 400);
    assert_eq!(br0["linkinfo"]["info_data"]["priority"], 4096);
    let port = one(&ns, &["link", "show", "v2a"]);
    assert_eq!(port["master"], "br0");
    let br_addrs = addresses(&one(&ns, &["addr", "show", "dev", "br0"]));
    assert!(br_addrs.contains(&"192.168.77.1/24".into()), "{br_addrs:?}");

    let resolv = std::fs::read_to_string(ns.dir.join("resolv.conf")).unwrap();
    assert_eq!(
        resolv,
        "# Written by plinth-agent net from the machine config.\n\
         nameserver 10.50.0.53\nnameserver 2001:db8:50::53\nsearch lab.example\n"
    );

    // Idempotent: nothing to do the second time, and the dry run agrees.
    let start = Instant::now();
    let second = stdout(&agent(&ns, STATIC, &["--once"]));
    eprintln!("MEASURED: second apply, wall time {:?}", start.elapsed());
    assert!(
        second.starts_with("net: 0 operations applied in "),
        "{second}"
    );
    assert!(second.contains("resolv.conf unchanged"), "{second}");
    let dry = stdout(&agent(&ns, STATIC, &["--dry-run"]));
    assert!(dry.starts_with("net: 0 operations planned in "), "{dry}");
}

#[test]
fn globs_select_links_and_dhcp_is_reported_not_run() {
    if skip() {
        return;
    }
    let ns = Netns::new("dhcp");
    ns.veth("vx0", "02:00:00:00:30:01", "peer0");
    ns.veth("vx1", "02:00:00:00:30:02", "peer1");
    let config = r#"#cloud-config
network:
  version: 2
  ethernets:
    all-vx:
      match:
        name: "vx*"
      dhcp4: true
      dhcp6: true
"#;
    let dry = stdout(&agent(&ns, config, &["--dry-run"]));
    assert!(dry.contains("net: would set up vx0\n"), "{dry}");
    // A dry run changes nothing.
    let vx0 = one(&ns, &["link", "show", "vx0"]);
    assert!(!vx0["flags"].as_array().unwrap().contains(&"UP".into()));

    let ready = ns.dir.join("ready");
    let ready_arg = ready.to_str().unwrap();
    let out = stdout(&agent(&ns, config, &["--once", "--ready-file", ready_arg]));
    assert!(
        out.contains("net: dhcp dhcp4+6 vx0\nnet: dhcp dhcp4+6 vx1\n"),
        "{out}"
    );
    // The ready file, read as PID 1's `dhcp` service reads it, into the dhcpcd.conf it writes.
    let answer = NetReady::parse(&std::fs::read_to_string(&ready).unwrap()).unwrap();
    let lines: Vec<String> = answer.dhcp.iter().map(|c| c.line()).collect();
    assert_eq!(lines, ["dhcp4+6 vx0", "dhcp4+6 vx1"]);
    assert!(answer.warnings.is_empty() && answer.unmatched.is_empty());
    let conf = plinth_agents::dhcpcd::conf::render(&answer.dhcp, "ready");
    assert!(conf.contains("\nallowinterfaces vx0,vx1\n"), "{conf}");
    assert!(
        out.contains("DHCP wanted on vx0, vx1; resolv.conf left to DHCP"),
        "{out}"
    );
    assert!(!ns.dir.join("resolv.conf").exists());
    for name in ["vx0", "vx1"] {
        let link = one(&ns, &["link", "show", name]);
        assert!(
            link["flags"].as_array().unwrap().contains(&"UP".into()),
            "{link}"
        );
    }
    // The peers (not matching the glob) are untouched, and no address was invented.
    let vx0 = addresses(&one(&ns, &["addr", "show", "dev", "vx0"]));
    assert!(vx0.iter().all(|a| a.starts_with("fe80:")), "{vx0:?}");
}

#[test]
fn an_existing_bridge_is_changed_in_place() {
    if skip() {
        return;
    }
    let ns = Netns::new("bridge");
    ns.veth("p0", "02:00:00:00:50:01", "p0peer");
    ns.ip(&["link", "add", "br9", "type", "bridge", "stp_state", "0"]);
    let config = r#"#cloud-config
network:
  version: 2
  ethernets:
    p0: {}
  bridges:
    br9:
      interfaces: [p0]
      parameters:
        stp: true
        hello-time: 1
"#;
    let out = stdout(&agent(&ns, config, &["--once"]));
    assert!(
        out.starts_with("net: set bridge br9 stp on hello_time 100cs\nnet: enslave p0 to br9\n"),
        "{out}"
    );
    let br9 = one(&ns, &["-d", "link", "show", "br9"]);
    assert_eq!(br9["linkinfo"]["info_data"]["stp_state"], 1);
    assert_eq!(br9["linkinfo"]["info_data"]["hello_time"], 100);
    assert_eq!(one(&ns, &["link", "show", "p0"])["master"], "br9");
    let again = stdout(&agent(&ns, config, &["--once"]));
    assert!(again.starts_with("net: 0 operations applied"), "{again}");
}

/// The agent's child process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn without_once_it_configures_links_that_appear_later() {
    if skip() {
        return;
    }
    let ns = Netns::new("watch");
    let config = r#"#cloud-config
network:
  version: 2
  ethernets:
    late:
      match:
        macaddress: "02:00:00:00:40:01"
      set-name: late0
      addresses: [10.70.0.2/24]
"#;
    let cfg = ns.dir.join("config.yaml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = ns
        .exec(AGENT)
        .args(["net", "--config"])
        .arg(&cfg)
        .arg("--resolv-conf")
        .arg(ns.dir.join("resolv.conf"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(line) if line.contains(want) => return,
                Ok(line) => eprintln!("agent: {line}"),
                Err(_) => break,
            }
        }
        panic!("the agent never printed `{want}`");
    };
    wait_for("net: watching for new links");
    let start = Instant::now();
    ns.veth("late", "02:00:00:00:40:01", "latepeer");
    wait_for("net: add address 10.70.0.2/24 on late0");
    wait_for(" operations applied in ");
    eprintln!("MEASURED: new link to configured, {:?}", start.elapsed());
    let addrs = addresses(&one(&ns, &["addr", "show", "dev", "late0"]));
    assert!(addrs.contains(&"10.70.0.2/24".into()), "{addrs:?}");
}
