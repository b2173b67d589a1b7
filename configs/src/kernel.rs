//! The kernel modules and sysctls every Genestack node needs (GENESTACK.md), and the merge with the
//! config's `plinth.kernel`: extra modules and sysctls are added, and a key set to `false` (modules) or
//! `null`/`false` (sysctls) switches a default off. Pure: the boot code applies the result.

use std::collections::BTreeMap;

use crate::plinth::{Kernel, SysctlValue};

/// Modules loaded on every node, in load order. The CPU-specific KVM module is chosen by
/// [`kvm_vendor_module`].
pub const GENESTACK_MODULES: &[&str] = &[
    "8021q",
    "br_netfilter",
    "dm_multipath",
    "dm_snapshot",
    "dm_thin_pool",
    "ebtables",
    "ip_tables",
    "ip6_tables",
    "ip6table_filter",
    "iptable_filter",
    "iptable_mangle",
    "iptable_nat",
    "ipt_REJECT",
    "ip_vs",
    "iscsi_tcp",
    "nbd",
    "nf_conntrack",
    "nf_defrag_ipv4",
    "nf_nat",
    "vhost_net",
    "x_tables",
    "xt_MASQUERADE",
    "openvswitch",
    "geneve",
    "vxlan",
    "overlay",
    "kvm",
];

/// What Kube-OVN's docs ask the host for (its prerequisites, plus `vxlan` for its VXLAN tunnel
/// type on 4789/udp). With `DISABLE_MODULES_MANAGEMENT: true`, as on an immutable OS, Kube-OVN loads
/// none itself, so they are all in [`GENESTACK_MODULES`].
pub const KUBE_OVN_MODULES: &[&str] =
    &["openvswitch", "geneve", "vxlan", "ip_tables", "iptable_nat"];

/// The KVM module for a CPU vendor string from /proc/cpuinfo (`GenuineIntel`, `AuthenticAMD`).
pub fn kvm_vendor_module(vendor_id: &str) -> Option<&'static str> {
    match vendor_id.trim() {
        "GenuineIntel" => Some("kvm_intel"),
        "AuthenticAMD" | "HygonGenuine" => Some("kvm_amd"),
        _ => None,
    }
}

/// The parameters a module is loaded with, by module name: the KVM vendor module's `nested` when
/// `plinth.kernel.nested_virtualization` is set (`kvm_intel` and `kvm_amd` read it only at load).
pub fn module_parameters(kernel: &Kernel, cpu_vendor: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let (Some(nested), Some(module)) = (
        kernel.nested_virtualization,
        cpu_vendor.and_then(kvm_vendor_module),
    ) {
        out.insert(
            module.to_owned(),
            format!("nested={}", if nested { 1 } else { 0 }),
        );
    }
    out
}

/// The sysctls every node gets.
pub fn genestack_sysctls() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("net.bridge.bridge-nf-call-arptables", "1"),
        ("net.bridge.bridge-nf-call-iptables", "1"),
        ("net.bridge.bridge-nf-call-ip6tables", "1"),
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "0"),
        ("net.netfilter.nf_conntrack_max", "1048576"),
        ("fs.inotify.max_user_instances", "8192"),
        ("fs.inotify.max_user_watches", "1048576"),
        ("fs.aio-max-nr", "131072"),
        ("net.core.somaxconn", "8192"),
        ("net.core.rmem_max", "25165824"),
        ("net.core.wmem_max", "25165824"),
        ("vm.swappiness", "5"),
        ("vm.dirty_ratio", "10"),
        ("vm.dirty_background_ratio", "5"),
        ("vm.max_map_count", "262144"),
        ("net.ipv4.conf.all.accept_redirects", "0"),
        ("net.ipv4.conf.default.accept_redirects", "0"),
        ("net.ipv4.conf.all.send_redirects", "0"),
        ("net.ipv4.conf.default.send_redirects", "0"),
        ("net.ipv6.conf.all.accept_redirects", "0"),
        ("net.ipv6.conf.default.accept_redirects", "0"),
    ])
}

/// The modules to load: the defaults (plus the KVM module for `cpu_vendor`), then the config's extras,
/// minus the ones it switches off; each once, in order.
pub fn modules(kernel: &Kernel, cpu_vendor: Option<&str>) -> Vec<String> {
    let config = kernel.modules.entries();
    let off = |name: &str| config.iter().any(|(n, load)| !load && same_module(n, name));
    let mut out: Vec<String> = Vec::new();
    let defaults = GENESTACK_MODULES
        .iter()
        .copied()
        .chain(cpu_vendor.and_then(kvm_vendor_module));
    let extras = config
        .iter()
        .filter(|(_, load)| *load)
        .map(|(n, _)| n.as_str());
    for name in defaults.chain(extras) {
        if !off(name) && !out.iter().any(|m| same_module(m, name)) {
            out.push(name.to_owned());
        }
    }
    out
}

/// The sysctls to set: the defaults with the config's values on top; `null`/`false` removes a key.
pub fn sysctls(kernel: &Kernel) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = genestack_sysctls()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (key, value) in &kernel.sysctls {
        let key = key.replace('/', ".");
        match value {
            SysctlValue::Set(v) => {
                out.insert(key, v.clone());
            }
            SysctlValue::Off => {
                out.remove(&key);
            }
        }
    }
    out
}

/// Module names treat `-` and `_` alike (`dm-thin-pool` is `dm_thin_pool`).
fn same_module(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x == y || matches!((x, y), ('-', '_') | ('_', '-')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plinth::kernel::Modules;

    #[test]
    fn defaults_cover_genestack_md() {
        let all = modules(&Kernel::default(), Some("GenuineIntel"));
        for m in [
            "8021q",
            "br_netfilter",
            "openvswitch",
            "geneve",
            "vhost_net",
            "dm_thin_pool",
            "kvm",
            "kvm_intel",
        ] {
            assert!(all.iter().any(|x| x == m), "{m} missing");
        }
        assert_eq!(
            modules(&Kernel::default(), Some("AuthenticAMD"))
                .last()
                .map(String::as_str),
            Some("kvm_amd")
        );
        assert_eq!(
            modules(&Kernel::default(), None).len(),
            GENESTACK_MODULES.len()
        );
        let s = sysctls(&Kernel::default());
        assert_eq!(s["net.ipv4.ip_forward"], "1");
        assert_eq!(s["vm.max_map_count"], "262144");
        assert_eq!(s["net.core.rmem_max"], "25165824");
    }

    /// Kube-OVN's modules load by default, and no default switches IPv6 off (its Geneve tunnels
    /// need it).
    #[test]
    fn kube_ovn_gets_its_modules_and_ipv6() {
        let all = modules(&Kernel::default(), None);
        for m in KUBE_OVN_MODULES {
            assert!(all.iter().any(|x| x == m), "{m} missing");
        }
        assert!(
            !sysctls(&Kernel::default())
                .keys()
                .any(|k| k.contains("disable_ipv6")),
            "a default touches disable_ipv6"
        );
        assert_eq!(
            crate::validate::rendered(
                "#cloud-config\nplinth:\n  kernel:\n    sysctls:\n      net.ipv6.conf.all.disable_ipv6: 1\n"
            ),
            [
                "t:5:39: warning: IPv6 switched off: Kube-OVN's Geneve tunnels need it left enabled in the kernel (at plinth.kernel.sysctls[\"net.ipv6.conf.all.disable_ipv6\"])"
            ]
        );
    }

    #[test]
    fn config_adds_and_switches_off() {
        let kernel = Kernel {
            modules: Modules::Map(BTreeMap::from([
                ("vfio-pci".to_owned(), true),
                ("nbd".to_owned(), false),
                ("dm-thin-pool".to_owned(), false),
            ])),
            sysctls: BTreeMap::from([
                (
                    "vm.swappiness".to_owned(),
                    SysctlValue::Set("10".to_owned()),
                ),
                ("net/ipv4/ip_forward".to_owned(), SysctlValue::Off),
                (
                    "kernel.pid_max".to_owned(),
                    SysctlValue::Set("4194304".to_owned()),
                ),
            ]),
            ..Kernel::default()
        };
        let m = modules(&kernel, None);
        assert!(m.contains(&"vfio-pci".to_owned()));
        assert!(!m.iter().any(|x| x == "nbd" || x == "dm_thin_pool"));
        let s = sysctls(&kernel);
        assert_eq!(s["vm.swappiness"], "10");
        assert!(!s.contains_key("net.ipv4.ip_forward"));
        assert_eq!(s["kernel.pid_max"], "4194304");
        let listed = Kernel {
            modules: Modules::List(vec!["kvm".into(), "zram".into()]),
            ..Kernel::default()
        };
        let m = modules(&listed, None);
        assert_eq!(m.iter().filter(|x| *x == "kvm").count(), 1);
        assert_eq!(m.last().map(String::as_str), Some("zram"));
    }

    #[test]
    fn nested_virtualization_is_the_vendor_modules_load_parameter() {
        let mut kernel = Kernel::default();
        assert!(module_parameters(&kernel, Some("GenuineIntel")).is_empty());
        kernel.nested_virtualization = Some(true);
        assert_eq!(
            module_parameters(&kernel, Some("GenuineIntel")),
            BTreeMap::from([("kvm_intel".to_owned(), "nested=1".to_owned())])
        );
        kernel.nested_virtualization = Some(false);
        assert_eq!(
            module_parameters(&kernel, Some("AuthenticAMD")),
            BTreeMap::from([("kvm_amd".to_owned(), "nested=0".to_owned())])
        );
        assert!(module_parameters(&kernel, Some("CentaurHauls")).is_empty());
        assert!(module_parameters(&kernel, None).is_empty());
    }
}
