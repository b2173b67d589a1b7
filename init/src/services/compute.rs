//! The compute check: on a node with the Genestack `compute` role (or hyperconverged), `plinth-agent
//! compute watch` checks KVM, nested virtualization, hugepages, IOMMU groups, the configured kernel
//! arguments and — once Genestack's libvirt pod answers on `/run/libvirt` — libvirt, every few
//! minutes, writing `plinth_compute.prom` for the textfile collector and the report `plinthctl
//! compute` shows. A background daemon after udev has made `/dev/kvm`: the boot waits for none of
//! it, and a failing check only says so. What the config asks is passed as arguments, so the agent
//! reads no config and PID 1 writes none for it; libvirt itself is asked by the agent's helper
//! `plinth-virt-check`, never by PID 1.

use plinth_config::MachineConfig;
use plinth_config::plinth::GenestackRole;

use super::builtin::daemon;
use super::facts::Facts;
use super::net::AGENT;
use super::udevd::SETTLED;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The service name.
pub const NAME: &str = "compute-check";
/// The metrics file the agent writes in the node exporter's textfile directory.
pub const METRICS_FILE: &str = "plinth_compute.prom";

/// Whether this is a compute node.
pub fn planned(config: &MachineConfig) -> bool {
    config
        .plinth
        .genestack
        .effective_roles()
        .contains(&GenestackRole::Compute)
}

/// The agent's command line: the textfile, then what `plinth.kernel` asks of the machine.
pub fn argv(config: &MachineConfig) -> Vec<String> {
    let kernel = &config.plinth.kernel;
    let mut argv: Vec<String> = [AGENT, "compute", "watch", "--textfile"]
        .map(String::from)
        .to_vec();
    argv.push(format!(
        "{}/{METRICS_FILE}",
        config.plinth.exporters.node_exporter.textfile_dir
    ));
    if let Some(nested) = kernel.nested_virtualization {
        argv.push(format!("--nested={nested}"));
    }
    for h in &kernel.hugepages {
        argv.push(format!("--hugepages={}={}", h.size.as_str(), h.count));
    }
    for arg in kernel.boot_args() {
        argv.push(format!("--kernel-arg={arg}"));
    }
    argv
}

/// The check, on a compute node.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    if !planned(config) {
        return Vec::new();
    }
    let argv = argv(config);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    vec![ServiceSpec {
        background: true,
        ..daemon(NAME, &argv, Probe::Running, &[SETTLED])
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn only_compute_nodes_run_the_check() {
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
        let storage = config("plinth:\n  genestack:\n    roles: [storage]\n");
        assert!(plan(&storage, &Facts::default()).is_empty());
        let all = config("plinth:\n  genestack:\n    hyperconverged: true\n");
        assert_eq!(plan(&all, &Facts::default()).len(), 1);
    }

    #[test]
    fn a_compute_node_checks_in_the_background_what_its_kernel_config_asks() {
        let c = config(
            "plinth:\n  genestack:\n    roles: [compute]\n  kernel:\n    nested_virtualization: true\n    hugepages:\n      - {size: 1G, count: 4}\n    cmdline: [intel_iommu=on, iommu=pt]\n",
        );
        let specs = plan(&c, &Facts::default());
        let spec = &specs[0];
        assert_eq!(spec.name, NAME);
        assert!(spec.background && !spec.oneshot);
        assert_eq!(spec.after, [SETTLED]);
        assert_eq!(
            spec.exec,
            [
                AGENT,
                "compute",
                "watch",
                "--textfile",
                "/opt/node_exporter/textfile_collector/plinth_compute.prom",
                "--nested=true",
                "--hugepages=1G=4",
                "--kernel-arg=hugepagesz=1G",
                "--kernel-arg=hugepages=4",
                "--kernel-arg=intel_iommu=on",
                "--kernel-arg=iommu=pt"
            ]
        );
    }
}
