//! The writable host paths Genestack's DaemonSets mount (GENESTACK.md): Kube-OVN's (its OVS and OVN
//! configuration and IPsec keys under /etc/origin, the CNI config and binaries, `kubectl-ko` in
//! /usr/local/bin, the kubelet's directory and logs), Open vSwitch and OVN state, libvirt and nova,
//! libvirt's logs, the node exporter's textfile collector, and the Longhorn mount point only when
//! the config has a Longhorn disk. All of them are writable and kept across reboots: /etc, /var,
//! /opt and /usr/local are overlays whose upper layer is on the state partition, and
//! /var/lib/kubelet is bound from it (`crate::stage1`).

use std::path::{Path, PathBuf};

use plinth_config::MachineConfig;

/// Kube-OVN's default host paths (its chart's `hostPath` volumes).
pub const KUBE_OVN: &[&str] = &[
    "/etc/origin/openvswitch",
    "/etc/origin/ovn",
    "/etc/origin/ovs_ipsec_keys",
    "/etc/cni/net.d",
    "/opt/cni/bin",
    "/usr/local/bin",
    "/var/lib/kubelet",
    "/var/log",
];

/// Every node's other host paths.
pub const ALWAYS: &[&str] = &[
    "/var/lib/openvswitch",
    "/var/lib/ovn",
    "/var/lib/libvirt",
    "/var/lib/nova",
    "/var/log/libvirt",
];

/// The absolute paths to create for `config`.
pub fn wanted(config: &MachineConfig) -> Vec<String> {
    let mut out: Vec<String> = KUBE_OVN
        .iter()
        .chain(ALWAYS)
        .map(|p| p.to_string())
        .collect();
    let exporter = &config.plinth.exporters.node_exporter;
    out.push(exporter.textfile_dir.clone());
    if let Some(longhorn) = &config.plinth.storage.longhorn {
        out.push(longhorn.path.clone());
    }
    out.dedup();
    out
}

/// Creates each of `paths` under `root`; returns the warnings, one per path that cannot be made.
pub fn create(root: &Path, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| {
            let at: PathBuf = root.join(p.trim_start_matches('/'));
            std::fs::create_dir_all(&at)
                .err()
                .map(|e| format!("cannot create {p}: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn longhorn_only_when_configured() {
        let plain = wanted(&MachineConfig::default());
        assert!(plain.contains(&"/var/lib/ovn".to_string()));
        for kube_ovn in KUBE_OVN {
            assert!(plain.contains(&kube_ovn.to_string()), "{kube_ovn} missing");
        }
        assert!(plain.contains(&"/opt/node_exporter/textfile_collector".to_string()));
        assert!(!plain.iter().any(|p| p.contains("longhorn")));
        let storage = wanted(&config(
            "plinth:\n  storage:\n    longhorn:\n      device: /dev/vdb\n",
        ));
        assert!(storage.contains(&"/var/lib/longhorn".to_string()));
    }

    #[test]
    fn creates_the_paths_under_a_root() {
        let root = std::env::temp_dir().join(format!("plinth-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let paths = wanted(&MachineConfig::default());
        assert!(create(&root, &paths).is_empty());
        assert!(root.join("var/lib/openvswitch").is_dir());
        assert!(root.join("opt/node_exporter/textfile_collector").is_dir());
        std::fs::write(root.join("blocker"), "").unwrap();
        let warnings = create(&root, &["/blocker/x".to_string()]);
        assert!(
            warnings[0].starts_with("cannot create /blocker/x"),
            "{warnings:?}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
