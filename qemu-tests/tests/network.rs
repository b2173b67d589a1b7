//! The netplan network config on full boots of the real image, seen from inside (runcmd printing
//! `ip` and `/proc/net/bonding` on the console), from the node exporter and from a peer on the
//! same lab segment:
//! - two NICs, both matched by MAC and renamed: the lab one with a static address and a route
//!   with a metric, the user network's with DHCP and a route metric; a second node on the segment
//!   pings the first and sees its lab MAC;
//! - a bond (active-backup, primary, MII monitor) over two NICs matched by MAC, with a VLAN on it
//!   (address, MTU), and DHCP on the user network's NIC (an onboard `eno1`, matched by a name
//!   glob); a second node with only a VLAN 100 interface pings the bond's VLAN address, so the tag
//!   is right on the wire both ways.
//!
//! The two machines of each test boot at once. runcmd does not wait for the network service, so
//! the commands wait (bounded) for the addresses they are about to print. Each node's network
//! agent must apply its config in one pass: a failed pass is restarted by the supervisor and
//! would otherwise go unnoticed.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::cmdline::Nic;
use qemu_tests::metrics::{self, Sample};
use qemu_tests::node::{Fixture, Node, Variant};
use qemu_tests::ports;
use qemu_tests::seed::Seed;
use regex::Regex;

/// The last line every runcmd here prints.
const DONE: &str = "NET-RUNCMD-DONE";

/// How long the node exporter may take to answer once the node is ready.
const METRICS_TIMEOUT: Duration = Duration::from_secs(90);

/// A UEFI boot of a fresh disk `name` with `user_data` as its seed, `nics` as its cards.
fn boot(
    fx: &mut Fixture,
    name: &str,
    user_data: &str,
    nics: Vec<Nic>,
    memory_mib: u32,
) -> Result<Node> {
    let mut opts = fx.seeded(
        Variant::Uefi,
        &format!("disk-{name}"),
        &format!("seed-{name}"),
        &Seed::new(user_data, &format!("iid-{name}"), name),
    )?;
    opts.memory_mib = memory_mib;
    opts.nics = nics;
    Ok(fx.boot(&opts)?)
}

/// Waits for `node` (called `name`) to be ready and for its runcmd to finish; returns the lines
/// runcmd entry `entry` printed, without their `[runcmd.N] ` prefix.
fn runcmd_output(node: &Node, name: &str, entry: usize) -> Result<Vec<String>> {
    node.ready_or_tail().with_context(|| name.to_string())?;
    let done = Regex::new(&format!(r"^\[runcmd\.{entry}\] {DONE}$"))?;
    node.console()
        .wait_for(&done, Duration::from_secs(30))
        .with_context(|| {
            format!(
                "{name}: runcmd did not finish; console:\n{}",
                node.console().tail(60)
            )
        })?;
    let prefix = format!("[runcmd.{entry}] ");
    Ok(node
        .console()
        .lines()
        .iter()
        .filter_map(|l| l.text.strip_prefix(&prefix).map(str::to_string))
        .collect())
}

/// The network agent applied the config in its first pass, without warnings: it started once
/// (a failed pass exits and the supervisor restarts it, which would hide the failure).
fn ensure_applied_in_one_pass(node: &Node, name: &str) -> Result<()> {
    let lines = node.console().lines();
    let starts = lines
        .iter()
        .filter(|l| l.text.contains("service network: starting"))
        .count();
    let applied = Regex::new(r"^\[network\] net: \d+ operations applied in .*; 0 warnings$")?;
    ensure!(
        starts == 1 && lines.iter().any(|l| applied.is_match(&l.text)),
        "{name}: the network agent started {starts} times or did not apply the config without \
         warnings; console:\n{}",
        node.console().tail(80)
    );
    Ok(())
}

/// The first of `lines` matching `pattern`, or an error showing them all.
fn find<'a>(lines: &'a [String], pattern: &str, what: &str) -> Result<&'a str> {
    let re = Regex::new(pattern)?;
    lines
        .iter()
        .find(|l| re.is_match(l))
        .map(String::as_str)
        .with_context(|| {
            format!(
                "{what}: no runcmd line matching {pattern:?}; runcmd printed:\n{}",
                lines.join("\n")
            )
        })
}

/// The block of `/proc/net/bonding/<bond>` about `slave`: from its `Slave Interface:` line to the
/// next blank or `Slave Interface:` line.
fn slave_block<'a>(lines: &'a [String], slave: &str) -> Vec<&'a str> {
    let header = format!("Slave Interface: {slave}");
    lines
        .iter()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("Slave Interface:"))
        .map(String::as_str)
        .collect()
}

/// Polls `node`'s exporter until `node_network_up` covers all `devices` and returns the samples.
fn exporter_samples(node: &Node, name: &str, devices: &[&str]) -> Result<Vec<Sample>> {
    node.metrics(METRICS_TIMEOUT, |s| {
        devices
            .iter()
            .all(|d| metrics::find(s, "node_network_up", &[("device", d)]).is_some())
            && !metrics::all(s, "node_uname_info").is_empty()
    })
    .with_context(|| {
        format!(
            "{name}: the node exporter never showed node_network_up for {devices:?}; console:\n{}",
            node.console().tail(40)
        )
    })
}

fn ensure_up(samples: &[Sample], name: &str, device: &str) -> Result<()> {
    let up = metrics::find(samples, "node_network_up", &[("device", device)]);
    ensure!(
        up == Some(1.0),
        "{name}: node_network_up{{device={device:?}}} is {up:?}, not 1; all: {:?}",
        metrics::all(samples, "node_network_up")
    );
    Ok(())
}

/// A shell runcmd entry that waits up to 60 s for `ip -br addr` to show all `addrs`, then runs
/// `then` and prints [`DONE`].
fn wait_addrs_then(addrs: &[&str], then: &str) -> String {
    let all = addrs
        .iter()
        .map(|a| format!("ip -br addr | grep -qF ' {a}/'"))
        .collect::<Vec<_>>()
        .join(" && ");
    format!("for i in $(seq 60); do {all} && break; sleep 1; done; {then}; echo {DONE}")
}

/// A shell runcmd entry that pings `target` from `source` (bounded retries) and says how it went.
fn ping_peer(source: &str, target: &str) -> String {
    wait_addrs_then(
        &[source],
        &format!(
            "ok=no; for i in $(seq 40); do busybox ping -c1 -W1 {target} >/dev/null 2>&1 && {{ ok=yes; break; }}; sleep 2; done; \
             echo peer-ping {target}: $ok after $i tries; ip neigh show {target}"
        ),
    )
}

const NODE_A: &str = "netnode-a";
const LAB_MAC_A: &str = "52:54:00:0c:00:21";
const MGMT_MAC_A: &str = "52:54:00:0c:01:21";
const LAB_MAC_B: &str = "52:54:00:0c:00:22";

fn user_data_a() -> String {
    let check = wait_addrs_then(
        &["192.0.2.21", "10.0.2.15"],
        "ip -br addr; ip route; echo file: $(cat /etc/plinth-test/net.txt)",
    );
    format!(
        r#"#cloud-config
hostname: {NODE_A}
fqdn: {NODE_A}.lab.example.com
ntp:
  enabled: false
network:
  version: 2
  ethernets:
    lab0:
      match:
        macaddress: "{LAB_MAC_A}"
      set-name: lab0
      addresses: [192.0.2.21/24]
      routes:
        - to: 198.51.100.0/24
          via: 192.0.2.1
          metric: 150
    mgmt0:
      match:
        macaddress: "{MGMT_MAC_A}"
      set-name: mgmt0
      dhcp4: true
      dhcp4-overrides:
        route-metric: 42
write_files:
  - path: /etc/plinth-test/net.txt
    content: "written before the network test ran"
runcmd:
  - echo NET-MARKER-A
  - [sh, -c, "{check}"]
"#
    )
}

fn user_data_b() -> String {
    let ping = ping_peer("192.0.2.22", "192.0.2.21");
    format!(
        r#"#cloud-config
hostname: netnode-b
ntp:
  enabled: false
network:
  version: 2
  ethernets:
    lab0:
      match:
        macaddress: "{LAB_MAC_B}"
      set-name: lab0
      addresses: [192.0.2.22/24]
runcmd:
  - [sh, -c, "{ping}"]
"#
    )
}

#[test]
fn two_nics_static_route_dhcp_and_a_peer_on_the_segment() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("network-two-nics") else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let port = ports::free_port()?;
    let a = boot(
        &mut fx,
        NODE_A,
        &user_data_a(),
        vec![
            Nic::segment(port).with_mac(LAB_MAC_A),
            Nic::user().with_mac(MGMT_MAC_A),
        ],
        1024,
    )?;
    let b = boot(
        &mut fx,
        "netnode-b",
        &user_data_b(),
        vec![Nic::segment(port).with_mac(LAB_MAC_B)],
        512,
    )?;

    let out = runcmd_output(&a, NODE_A, 2)?;
    ensure_applied_in_one_pass(&a, NODE_A)?;
    find(
        &out,
        r"^lab0\s+UP\s+192\.0\.2\.21/24(\s|$)",
        "the static address on the renamed lab NIC",
    )?;
    find(
        &out,
        r"^mgmt0\s+UP\s+10\.0\.2\.15/24(\s|$)",
        "the DHCP address on the renamed user NIC",
    )?;
    find(
        &out,
        r"^198\.51\.100\.0/24 via 192\.0\.2\.1 dev lab0 (proto \S+ )?metric 150(\s|$)",
        "the static route with its metric",
    )?;
    find(
        &out,
        r"^192\.0\.2\.0/24 dev lab0 proto kernel scope link src 192\.0\.2\.21",
        "the segment's on-link route",
    )?;
    // QEMU's DHCP offers no router with `restrict=on`: the lease brings only its subnet route,
    // with the config's `dhcp4-overrides: route-metric`.
    find(
        &out,
        r"^10\.0\.2\.0/24 dev mgmt0 proto dhcp scope link src 10\.0\.2\.15 metric 42( |$)",
        "the DHCP lease's subnet route with route-metric 42",
    )?;
    find(
        &out,
        r"^file: written before the network test ran$",
        "the write_files file",
    )?;
    ensure!(
        a.console()
            .lines()
            .iter()
            .any(|l| l.text == "[runcmd.1] NET-MARKER-A"),
        "no runcmd marker; console:\n{}",
        a.console().tail(60)
    );

    let samples = exporter_samples(&a, NODE_A, &["lab0", "mgmt0"])?;
    let uname = metrics::all(&samples, "node_uname_info");
    ensure!(
        metrics::nodename(&samples) == Some(NODE_A),
        "node_uname_info: {uname:?}"
    );
    ensure_up(&samples, NODE_A, "lab0")?;
    ensure_up(&samples, NODE_A, "mgmt0")?;

    let peer = runcmd_output(&b, "netnode-b", 1)?;
    ensure_applied_in_one_pass(&b, "netnode-b")?;
    find(
        &peer,
        r"^peer-ping 192\.0\.2\.21: yes after \d+ tries$",
        "netnode-b pinging netnode-a over the segment",
    )?;
    find(
        &peer,
        &format!(r"^192\.0\.2\.21 dev lab0 lladdr {LAB_MAC_A} "),
        "netnode-b's neighbour entry for netnode-a (its lab NIC's MAC)",
    )?;
    eprintln!("two NICs + peer: {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

const NODE_C: &str = "bondnode-c";
const BOND_MAC_0: &str = "52:54:00:0c:00:31";
const BOND_MAC_1: &str = "52:54:00:0c:00:32";
const LAB_MAC_D: &str = "52:54:00:0c:00:33";

fn user_data_c() -> String {
    let check = wait_addrs_then(
        &["203.0.113.31", "10.0.2.15"],
        "cat /proc/net/bonding/bond0; ip -d link show bond0; ip -o link show master bond0; \
         ip -d link show bond0.100; ip -br addr; echo bond0-mac: $(cat /sys/class/net/bond0/address)",
    );
    format!(
        r#"#cloud-config
hostname: {NODE_C}
ntp:
  enabled: false
network:
  version: 2
  ethernets:
    bm0:
      match:
        macaddress: "{BOND_MAC_0}"
      set-name: bm0
    bm1:
      match:
        macaddress: "{BOND_MAC_1}"
      set-name: bm1
    mgmt:
      match:
        name: "eno*"
      dhcp4: true
  bonds:
    bond0:
      interfaces: [bm0, bm1]
      parameters:
        mode: active-backup
        primary: bm0
        mii-monitor-interval: 100
  vlans:
    bond0.100:
      id: 100
      link: bond0
      addresses: [203.0.113.31/24]
      mtu: 1400
runcmd:
  - [sh, -c, "{check}"]
"#
    )
}

fn user_data_d() -> String {
    let ping = ping_peer("203.0.113.32", "203.0.113.31");
    format!(
        r#"#cloud-config
hostname: vlannode-d
ntp:
  enabled: false
network:
  version: 2
  ethernets:
    lab0:
      match:
        macaddress: "{LAB_MAC_D}"
      set-name: lab0
  vlans:
    lab0.100:
      id: 100
      link: lab0
      addresses: [203.0.113.32/24]
      mtu: 1400
runcmd:
  - [sh, -c, "{ping}"]
"#
    )
}

#[test]
fn bond_with_a_vlan_and_a_tagged_peer() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("network-bond-vlan") else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let port = ports::free_port()?;
    let c = boot(
        &mut fx,
        NODE_C,
        &user_data_c(),
        vec![
            Nic::segment(port).with_mac(BOND_MAC_0),
            Nic::segment(port).with_mac(BOND_MAC_1),
            Nic::user().onboard(1),
        ],
        1024,
    )?;
    let d = boot(
        &mut fx,
        "vlannode-d",
        &user_data_d(),
        vec![Nic::segment(port).with_mac(LAB_MAC_D)],
        512,
    )?;

    let out = runcmd_output(&c, NODE_C, 1)?;
    ensure_applied_in_one_pass(&c, NODE_C)?;
    find(
        &out,
        r"^Bonding Mode: fault-tolerance \(active-backup\)$",
        "the bond's mode",
    )?;
    find(
        &out,
        r"^Primary Slave: bm0( \(primary_reselect \w+\))?$",
        "the bond's primary",
    )?;
    find(&out, r"^Currently Active Slave: bm0$", "the active member")?;
    find(
        &out,
        r"^MII Polling Interval \(ms\): 100$",
        "the MII monitor",
    )?;
    for member in ["bm0", "bm1"] {
        let block = slave_block(&out, member);
        ensure!(
            block.iter().any(|l| l.trim() == "MII Status: up"),
            "{member} is not an up member of bond0 (its block: {block:?}); runcmd printed:\n{}",
            out.join("\n")
        );
        find(
            &out,
            &format!(
                r"^\d+: {member}: <[^>]*\bSLAVE\b[^>]*\bLOWER_UP\b[^>]*> .* master bond0 state UP "
            ),
            &format!("{member} enslaved to bond0 and up"),
        )?;
    }
    find(
        &out,
        r"^\s*bond mode active-backup active_slave bm0 miimon 100 .*\bprimary bm0\b",
        "bond0's details",
    )?;
    find(
        &out,
        r"^\d+: bond0\.100@bond0: <[^>]*\bLOWER_UP\b[^>]*> mtu 1400 ",
        "the VLAN on bond0 with its MTU",
    )?;
    find(&out, r"^\s*vlan protocol 802\.1Q id 100 ", "the VLAN's id")?;
    find(
        &out,
        r"^bond0\.100@bond0\s+UP\s+203\.0\.113\.31/24(\s|$)",
        "the VLAN's address",
    )?;
    find(
        &out,
        r"^eno1\s+UP\s+10\.0\.2\.15/24(\s|$)",
        "the DHCP address on the user NIC",
    )?;
    let bond_mac = find(&out, r"^bond0-mac: [0-9a-f:]{17}$", "bond0's MAC")?
        .trim_start_matches("bond0-mac: ")
        .to_string();
    // The bond's MAC is its first member's, or one udev gives it (MACAddressPolicy=persistent),
    // depending on which comes first; either way, in active-backup every member carries it, and
    // `ip` shows a member's own (permanent) address when it differs.
    for (member, permanent) in [("bm0", BOND_MAC_0), ("bm1", BOND_MAC_1)] {
        let carried = if bond_mac == permanent {
            format!(r"^\d+: {member}: .* link/ether {bond_mac} brd ")
        } else {
            format!(r"^\d+: {member}: .* link/ether {bond_mac} .* permaddr {permanent}\b")
        };
        find(&out, &carried, &format!("{member} carrying bond0's MAC"))?;
    }

    let samples = exporter_samples(&c, NODE_C, &["bond0", "bond0.100", "bm0", "bm1", "eno1"])?;
    for device in ["bond0", "bond0.100", "bm0", "bm1", "eno1"] {
        ensure_up(&samples, NODE_C, device)?;
    }

    // The peer has no untagged address: only frames tagged 100 both ways get an answer.
    let peer = runcmd_output(&d, "vlannode-d", 1)?;
    ensure_applied_in_one_pass(&d, "vlannode-d")?;
    find(
        &peer,
        r"^peer-ping 203\.0\.113\.31: yes after \d+ tries$",
        "vlannode-d pinging the bond's VLAN address over VLAN 100",
    )?;
    find(
        &peer,
        &format!(r"^203\.0\.113\.31 dev lab0\.100 lladdr {bond_mac} "),
        "vlannode-d's neighbour entry for the bond's VLAN address (bond0's MAC)",
    )?;
    eprintln!(
        "bond + VLAN + tagged peer: {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
