//! Kube-OVN mode on a full boot of the real image, seen from inside (bootcmd and runcmd printing on
//! the console):
//! - Kube-OVN's default host paths exist and are writable on the immutable root, and a file
//!   written in each on the first boot is still there after a reboot (the state partition);
//! - the NIC `plinth.genestack.ovn` hands to OVS (`ports: br-ex:ens4`, Genestack's documented
//!   string) is up with no address and ignores router advertisements, while ens3 has DHCP;
//! - Kube-OVN's modules are loaded, and Debian's CNI plugins are in /opt/cni/bin (containerd's
//!   bin_dir, where Kube-OVN installs its own).
//!
//! The annotations rendered from Genestack's documented strings are a unit test
//! (`plinth_config::genestack`): nothing about them needs a VM.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::Regex;
use qemu_tests::cmdline::{Chipset, Nic};
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, Variant};
use qemu_tests::ports::free_port;
use qemu_tests::seed::{Seed, SeedFormat};

/// Kube-OVN's default host paths, from its chart's `hostPath` volumes. Written out again rather than
/// taken from init's `host_contract::paths::KUBE_OVN` on purpose: the test checks the contract,
/// so a path dropped from init's list fails it.
const PATHS: &[&str] = &[
    "/etc/origin/openvswitch",
    "/etc/origin/ovn",
    "/etc/origin/ovs_ipsec_keys",
    "/etc/cni/net.d",
    "/opt/cni/bin",
    "/usr/local/bin",
    "/var/lib/kubelet",
    "/var/log",
];

/// The last line runcmd prints.
const DONE: &str = "OVN-RUNCMD-DONE";

/// The node's user-data: ens3 on the user network with DHCP (the image default), ens4 handed to
/// OVS; bootcmd (every boot) says what each path holds, runcmd (first boot) writes there and
/// reports ens4 once the network agent has brought it up.
fn user_data() -> String {
    let paths = PATHS.join(" ");
    format!(
        r#"#cloud-config
hostname: ovn1
plinth:
  genestack:
    roles: [network]
    ovn:
      bridges: br-ex
      ports: br-ex:ens4
      mappings: physnet1:br-ex
bootcmd:
  - for p in {paths}; do echo "KEPT $p $(cat $p/plinth-ovn-test 2>/dev/null || echo none)"; done
runcmd:
  - |
    for p in {paths}; do
      if [ -d $p ] && echo boot1 > $p/plinth-ovn-test; then echo "WROTE $p"; else echo "CANNOT $p"; fi
    done
    sync
    for i in $(seq 60); do ip -br link show dev ens4 2>/dev/null | grep -q ' UP ' && break; sleep 0.5; done
    echo "LINK $(ip -br link show dev ens4)"
    echo "ADDR4 $(ip -4 -o addr show dev ens4 | wc -l)"
    echo "ADDR6 $(ip -6 -o addr show dev ens4 scope global | wc -l)"
    echo "RA $(cat /proc/sys/net/ipv6/conf/ens4/accept_ra)"
    echo "IPV6 $(cat /proc/sys/net/ipv6/conf/all/disable_ipv6)"
    for m in openvswitch geneve vxlan ip_tables iptable_nat; do
      if [ -d /sys/module/$m ]; then echo "MODULE $m"; fi
    done
    if [ -x /opt/cni/bin/bridge ] && [ -x /opt/cni/bin/host-local ]; then echo "CNI debian"; fi
    echo {DONE}
"#
    )
}

/// What bootcmd and runcmd printed after `prefix` (`[runcmd.1] PREFIX…`) on `node`'s console.
fn said(node: &Node, prefix: &str) -> Vec<String> {
    node.console().after(&format!("] {prefix}"))
}

#[test]
fn kube_ovn_paths_persist_and_the_ovs_nic_is_up_with_no_address() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("kube-ovn") else {
        return Ok(());
    };
    let seed = fx.seed(
        "seed",
        &Seed::new(&user_data(), "iid-ovn1", "ovn1"),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.chipset = Chipset::I440fx;
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(seed);
    opts.no_reboot = true;
    opts.nics = vec![
        Nic::user().at_slot(3),
        Nic::segment(free_port()?).at_slot(4),
    ];

    let mut first = fx.boot(&opts)?;
    first
        .wait_ready(READY_TIMEOUT)
        .with_context(|| format!("not ready; console:\n{}", first.console().tail(60)))?;
    first
        .console()
        .wait_for(&Regex::new(&format!("{DONE}$"))?, Duration::from_secs(60))
        .with_context(|| {
            format!(
                "runcmd did not finish; console:\n{}",
                first.console().tail(60)
            )
        })?;
    let console = || first.console().tail(80);
    let wrote = said(&first, "WROTE ");
    for p in PATHS {
        ensure!(
            wrote.iter().any(|w| w == p),
            "{p} is not writable on the first boot; console:\n{}",
            console()
        );
    }
    let link = said(&first, "LINK ").join("");
    ensure!(
        Regex::new(r"^ens4 +UP ")?.is_match(&link),
        "ens4 is not up: {link:?}; console:\n{}",
        console()
    );
    ensure!(
        said(&first, "ADDR4 ") == ["0"] && said(&first, "ADDR6 ") == ["0"],
        "ens4 has an address: IPv4 {:?}, global IPv6 {:?}",
        said(&first, "ADDR4 "),
        said(&first, "ADDR6 ")
    );
    ensure!(
        said(&first, "RA ") == ["0"],
        "ens4 accept_ra {:?}",
        said(&first, "RA ")
    );
    ensure!(
        said(&first, "IPV6 ") == ["0"],
        "IPv6 is off: {:?}",
        said(&first, "IPV6 ")
    );
    let modules = said(&first, "MODULE ");
    for m in ["openvswitch", "geneve", "vxlan", "ip_tables", "iptable_nat"] {
        ensure!(
            modules.iter().any(|x| x == m),
            "{m} not loaded: {modules:?}"
        );
    }
    ensure!(
        said(&first, "CNI ") == ["debian"],
        "Debian's CNI plugins are not in /opt/cni/bin, containerd's bin_dir; console:\n{}",
        console()
    );
    first.reboot_to_exit()?;
    drop(first);

    let second = fx.boot(&opts)?;
    second.wait_ready(READY_TIMEOUT).with_context(|| {
        format!(
            "second boot not ready; console:\n{}",
            second.console().tail(60)
        )
    })?;
    let kept = said(&second, "KEPT ");
    for p in PATHS {
        ensure!(
            kept.iter().any(|k| *k == format!("{p} boot1")),
            "{p}'s file is gone after the reboot: {kept:?}"
        );
    }
    Ok(())
}
