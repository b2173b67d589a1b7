//! The parts of a valid machine config that this build reads and checks but does not act on yet:
//! the Genestack labels and annotations off a cluster node (a cluster node's labeller applies
//! them), installing to disk, and kernel arguments (a boot loader carries them, not
//! the running node). The `config` phase says each one on the
//! console, so a node never looks as if it had done what it has not. Pure.

use plinth_config::MachineConfig;
use plinth_config::plinth::Genestack;

/// One console line for each part of `config` that is set and not acted on by this build.
pub fn unapplied(config: &MachineConfig) -> Vec<String> {
    let p = &config.plinth;
    let mut out = Vec::new();
    if p.genestack != Genestack::default() && !p.cluster.is_set() {
        out.push(
            "plinth.genestack: the node labels and annotations are applied by a cluster node's labeller, and this node has no plinth.cluster (the Genestack kernel modules, sysctls and host paths are applied)"
                .into(),
        );
    }
    if !p.kernel.boot_args().is_empty() {
        out.push(
            "plinth.kernel.cmdline/hugepages: kernel arguments reach the kernel only from a PXE script or syslinux.cfg made with `cargo xtask config boot`; a UEFI boot's UKI has a fixed command line (a compute node's check names those missing)"
                .into(),
        );
    }
    if p.install.is_some() {
        out.push("plinth.install: installing to a disk is not in this build yet".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn an_empty_config_has_nothing_unapplied() {
        assert!(unapplied(&MachineConfig::default()).is_empty());
        assert!(
            unapplied(&config(
                "hostname: n1\nplinth:\n  kernel:\n    modules: [vfio_pci]\n"
            ))
            .is_empty()
        );
    }

    #[test]
    fn each_part_set_is_named_once() {
        let lines = unapplied(&config(
            "plinth:\n  genestack:\n    roles: [compute]\n  ovs:\n    mode: host\n  storage:\n    longhorn:\n      device: /dev/vdb\n",
        ));
        // Host-mode OVS is applied (services::ovs), so it is not among them.
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].starts_with("plinth.genestack:"), "{}", lines[0]);
    }

    #[test]
    fn kernel_arguments_say_where_they_are_applied() {
        let lines = unapplied(&config(
            "plinth:\n  kernel:\n    cmdline: [intel_iommu=on]\n",
        ));
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].starts_with("plinth.kernel.cmdline/hugepages:"));
        assert!(lines[0].contains("UKI"));
    }

    #[test]
    fn an_init_node_runs_its_cluster_and_its_labels() {
        let lines = unapplied(&config(
            "plinth:\n  cluster:\n    role: init\n  genestack:\n    hyperconverged: true\n",
        ));
        assert!(lines.is_empty(), "{lines:#?}");
    }

    #[test]
    fn a_joining_node_runs_its_cluster_and_its_labels() {
        let lines = unapplied(&config(
            "plinth:\n  cluster:\n    role: agent\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n  genestack:\n    roles: [compute]\n",
        ));
        assert!(lines.is_empty(), "{lines:#?}");
    }
}
