//! Host-mode Open vSwitch on two booted images: `ovsnode-e` (`plinth.ovs.mode: host`) builds, from
//! netplan's own `openvswitch` syntax, an OVS bridge `br-ex` with an OVS bond of its two NICs and
//! a VLAN 100 internal port carrying an address; `ovsnode-f`, a plain node standing in for the
//! switch, is wired to both bond members (one point-to-point cable each, so that no frame comes
//! back to the port that sent it, as on a real switch) and has a kernel bond over them that sends
//! on both and takes from either (`broadcast`), with a VLAN 100. Checked from inside: the bridge, bond and fake bridge are
//! in OVSDB (Debian's `ovs-vsctl`), ovs-vswitchd runs the bond, the VLAN port has its address
//! (an OVS internal port's operstate is UNKNOWN, not UP), pings pass both ways over VLAN 100, a second `plinth-agent ovs apply` changes nothing, and after
//! a reboot the boot's own apply finds nothing to change either.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::Regex;
use qemu_tests::cmdline::{Chipset, Nic};
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, Variant};
use qemu_tests::ports::free_port;
use qemu_tests::seed::Seed;

/// The last line each runcmd prints.
const DONE: &str = "OVS-RUNCMD-DONE";
const ADDR_E: &str = "192.168.100.11";
const ADDR_F: &str = "192.168.100.12";
const VSCTL: &str = "ovs-vsctl --db=unix:/run/openvswitch/db.sock";

/// A shell loop pinging `target` (bounded) and saying how it went.
fn ping(target: &str) -> String {
    format!(
        "ok=no; for i in $(seq 60); do busybox ping -c1 -W1 {target} >/dev/null 2>&1 && {{ ok=yes; break; }}; sleep 2; done; echo \"PING {target} $ok after $i\""
    )
}

fn user_data_e() -> String {
    let ping = ping(ADDR_F);
    format!(
        r#"#cloud-config
hostname: ovsnode-e
ntp:
  enabled: false
plinth:
  ovs:
    mode: host
network:
  version: 2
  ethernets:
    ens3:
      dhcp4: true
    ens4: {{}}
    ens5: {{}}
  bonds:
    bond0:
      interfaces: [ens4, ens5]
      parameters:
        mode: active-backup
  bridges:
    br-ex:
      interfaces: [bond0]
      openvswitch:
        fail-mode: standalone
        external-ids:
          purpose: qemu-test
  vlans:
    br-ex.100:
      id: 100
      link: br-ex
      addresses: [{ADDR_E}/24]
runcmd:
  - |
    for i in $(seq 90); do ip -br addr | grep -qF ' {ADDR_E}/' && break; sleep 1; done
    echo "BRIDGES $({VSCTL} list-br | tr '\n' ' ')"
    echo "PORTS $({VSCTL} list-ports br-ex | tr '\n' ' ')"
    echo "IFACES $({VSCTL} list-ifaces br-ex | tr '\n' ' ')"
    echo "BONDMODE $({VSCTL} get Port bond0 bond_mode)"
    echo "VLAN $({VSCTL} br-to-parent br-ex.100) $({VSCTL} br-to-vlan br-ex.100)"
    echo "PURPOSE $({VSCTL} get Bridge br-ex external_ids:purpose)"
    ovs-appctl -t /run/openvswitch/ovs-vswitchd.ctl bond/show bond0 | sed 's/^/BONDSHOW /'
    echo "ADDR $(ip -br addr show dev br-ex.100)"
    {ping}
    /usr/bin/plinth-agent ovs apply --config /run/plinth/network.yaml 2>&1 | sed 's/^/AGAIN /'
    echo {DONE}
"#
    )
}

fn user_data_f() -> String {
    let ping = ping(ADDR_E);
    format!(
        r#"#cloud-config
hostname: ovsnode-f
ntp:
  enabled: false
network:
  version: 2
  ethernets:
    ens4: {{}}
    ens5: {{}}
  bonds:
    bond0:
      interfaces: [ens4, ens5]
      parameters:
        mode: broadcast
  vlans:
    bond0.100:
      id: 100
      link: bond0
      addresses: [{ADDR_F}/24]
runcmd:
  - |
    for i in $(seq 60); do ip -br addr | grep -qF ' {ADDR_F}/' && break; sleep 1; done
    {ping}
    echo {DONE}
"#
    )
}

/// What runcmd printed after `prefix` on `node`'s console.
fn said(node: &Node, prefix: &str) -> Vec<String> {
    node.console().after(&format!("[runcmd.1] {prefix}"))
}

fn options(fx: &Fixture, name: &str, user_data: &str, nics: Vec<Nic>) -> Result<BootOptions> {
    let mut opts = fx.seeded(
        Variant::Uefi,
        &format!("disk-{name}"),
        &format!("seed-{name}"),
        &Seed::new(user_data, &format!("iid-{name}"), name),
    )?;
    opts.chipset = Chipset::I440fx;
    opts.memory_mib = 1024;
    opts.nics = nics;
    Ok(opts)
}

fn wait_done(node: &Node, name: &str) -> Result<()> {
    node.wait_ready(READY_TIMEOUT)
        .with_context(|| format!("{name} not ready; console:\n{}", node.console().tail(80)))?;
    node.console()
        .wait_for(
            &Regex::new(&format!(r"\[runcmd\.1\] {DONE}$"))?,
            Duration::from_secs(240),
        )
        .with_context(|| {
            format!(
                "{name}: runcmd did not finish; console:\n{}",
                node.console().tail(80)
            )
        })?;
    Ok(())
}

#[test]
fn an_ovs_bridge_with_a_bond_and_a_vlan_port_passes_traffic_and_stays_as_it_is() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("ovs-host") else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let (e4, f4) = Nic::wire(free_port()?, free_port()?);
    let (e5, f5) = Nic::wire(free_port()?, free_port()?);
    let mut opts_e = options(
        &fx,
        "ovsnode-e",
        &user_data_e(),
        vec![Nic::user().at_slot(3), e4.at_slot(4), e5.at_slot(5)],
    )?;
    opts_e.no_reboot = true;
    let opts_f = options(
        &fx,
        "ovsnode-f",
        &user_data_f(),
        vec![f4.at_slot(4), f5.at_slot(5)],
    )?;
    let mut e = fx.boot(&opts_e)?;
    let f = fx.boot(&opts_f)?;
    wait_done(&e, "ovsnode-e")?;
    wait_done(&f, "ovsnode-f")?;
    let tail = || e.console().tail(120);

    let one = |prefix: &str| said(&e, prefix).join("|");
    ensure!(
        one("BRIDGES ").split_whitespace().collect::<Vec<_>>() == ["br-ex", "br-ex.100"],
        "bridges: {:?}; console:\n{}",
        one("BRIDGES "),
        tail()
    );
    ensure!(
        one("PORTS ").split_whitespace().collect::<Vec<_>>() == ["bond0"],
        "ports: {:?}",
        one("PORTS ")
    );
    ensure!(
        one("IFACES ").split_whitespace().collect::<Vec<_>>() == ["ens4", "ens5"],
        "interfaces: {:?}",
        one("IFACES ")
    );
    ensure!(
        one("BONDMODE ") == "active-backup",
        "bond mode: {:?}",
        one("BONDMODE ")
    );
    ensure!(
        one("VLAN ") == "br-ex 100",
        "fake bridge: {:?}",
        one("VLAN ")
    );
    ensure!(
        one("PURPOSE ").trim_matches('"') == "qemu-test",
        "external-ids: {:?}",
        one("PURPOSE ")
    );
    let bond = said(&e, "BONDSHOW ");
    ensure!(
        bond.iter().any(|l| l.contains("bond_mode: active-backup"))
            && bond
                .iter()
                .any(|l| l.contains("member ens4") || l.contains("slave ens4"))
            && bond
                .iter()
                .any(|l| l.contains("member ens5") || l.contains("slave ens5")),
        "ovs-vswitchd's bond: {bond:?}; console:\n{}",
        tail()
    );
    ensure!(
        Regex::new(&format!(
            r"^br-ex\.100\s+(UP|UNKNOWN)\s+{}/24",
            regex::escape(ADDR_E)
        ))?
        .is_match(&one("ADDR ")),
        "the VLAN port's address: {:?}; console:\n{}",
        one("ADDR "),
        tail()
    );
    let from_e = one(&format!("PING {ADDR_F} "));
    let from_f = said(&f, &format!("PING {ADDR_E} ")).join("|");
    ensure!(
        from_e.starts_with("yes") && from_f.starts_with("yes"),
        "pings over VLAN 100: e→f {from_e:?}, f→e {from_f:?}; e's console:\n{}\nf's console:\n{}",
        tail(),
        f.console().tail(60)
    );
    let again = said(&e, "AGAIN ");
    ensure!(
        again.iter().any(|l| l.contains("nothing to change"))
            && !again.iter().any(|l| l.contains("committed")),
        "a second apply: {again:?}"
    );
    let first_apply = e.console().lines().iter().any(|l| {
        l.text.contains("[ovs-apply] ovs: ")
            && l.text.contains("operations committed in one transaction")
    });
    ensure!(
        first_apply,
        "the boot's ovs-apply did not commit; console:\n{}",
        tail()
    );
    eprintln!(
        "ovs-host: first boots checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );

    e.reboot_to_exit()?;
    drop(e);
    let again = fx.boot(&opts_e)?;
    again.wait_ready(READY_TIMEOUT).with_context(|| {
        format!(
            "second boot not ready; console:\n{}",
            again.console().tail(80)
        )
    })?;
    let nothing = Regex::new(
        r"\[ovs-apply\] ovs: the database holds the config's 1 bridges; nothing to change",
    )?;
    again
        .console()
        .wait_for(&nothing, Duration::from_secs(60))
        .with_context(|| {
            format!(
                "the second boot's ovs-apply changed something; console:\n{}",
                again.console().tail(80)
            )
        })?;
    eprintln!(
        "ovs-host: checked in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    drop(f);
    Ok(())
}
