//! The services of a cluster node with `plinth.cluster.role: init`: a one-node cluster on
//! Plinth-managed etcd, each component its own supervised process with a readiness probe, in
//! kubeadm's order:
//!
//! ```text
//! cluster-prep ─ etcd ─ kube-apiserver ┬ kube-controller-manager ─ cluster-bootstrap ┬ cluster-labels
//!                                      ├ kube-scheduler                             └ cluster-cni
//! containerd-images ───────────────────┴ kubelet, kube-proxy
//! ```
//!
//! `cluster-prep` (`plinth-agent cluster prep`) waits for the address to advertise, makes the PKI
//! and writes every component's argv; each component then runs as `plinth-agent cluster exec
//! NAME`, which execs that argv, so the supervised process is etcd or the kubelet itself. All of
//! them are background services: the node's `ready` waits for none of them, and a slow or failing
//! control plane never sends the node to maintenance mode (`plinthctl cluster` says how it is).
//!
//! Joining (`server`, `agent`) is not built yet: such a node says so and runs containerd only.
//!
//! Not yet in `BUILTINS`: it goes in together with the services phase writing [`CONFIG`] and
//! the QEMU test of an `init` node reaching Node Ready, since the image's default config is an
//! `init` node and every QEMU test booting it would then run a control plane.

use std::time::Duration;

use plinth_config::MachineConfig;
use plinth_config::plinth::Role;
use plinth_config::plinth::kubernetes::Cni;

use super::builtin::{daemon, oneshot};
use super::facts::Facts;
use super::net::AGENT;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// Where the services phase writes the cluster part of the machine config for `cluster-prep`
/// (0600: it may hold the token and the CA key).
pub const CONFIG: &str = "/run/plinth/cluster.yaml";

/// How long a component may take to become ready: the apiserver under emulation (TCG) takes
/// minutes.
const READY_TIMEOUT: Duration = Duration::from_secs(900);

/// The services of an `init` node; none elsewhere.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    let cluster = &config.plinth.cluster;
    if !cluster.is_set() || cluster.role != Role::Init {
        return Vec::new();
    }
    let etcd_health = format!("http://127.0.0.1:{}/health", cluster.etcd.metrics_port);
    let mut specs = vec![
        background(oneshot(
            "cluster-prep",
            &[AGENT, "cluster", "prep", "--config", CONFIG],
            &[],
        )),
        component("etcd", Probe::Http(etcd_health), &["cluster-prep"]),
        component("kube-apiserver", Probe::Tcp(6443), &["etcd"]),
        component(
            "kube-controller-manager",
            Probe::Tcp(10257),
            &["kube-apiserver"],
        ),
        component("kube-scheduler", Probe::Tcp(10259), &["kube-apiserver"]),
        background(oneshot(
            "cluster-bootstrap",
            &exec("cluster-bootstrap"),
            &["kube-controller-manager"],
        )),
        component(
            "kubelet",
            Probe::Http("http://127.0.0.1:10248/healthz".into()),
            &["kube-apiserver", super::containerd::IMAGES],
        ),
        component("kube-proxy", Probe::Tcp(10256), &["kube-apiserver"]),
        component("cluster-labels", Probe::Running, &["cluster-bootstrap"]),
    ];
    if cluster.kubernetes.cni == Cni::Bridge {
        specs.push(background(oneshot(
            "cluster-cni",
            &exec("cluster-cni"),
            &["cluster-bootstrap"],
        )));
    }
    specs
}

/// What a node whose role this file does not run says once.
pub fn unbuilt_role(config: &MachineConfig) -> Option<String> {
    let cluster = &config.plinth.cluster;
    (cluster.is_set() && cluster.role != Role::Init).then(|| {
        format!(
            "plinth.cluster.role: {}: joining an existing cluster is not built yet; this node runs containerd only",
            cluster.role.as_str()
        )
    })
}

/// `plinth-agent cluster exec NAME`.
fn exec(name: &str) -> [&str; 4] {
    [AGENT, "cluster", "exec", name]
}

/// A cluster daemon run through `exec`, in the background, with the emulation's patience.
fn component(name: &str, probe: Probe, after: &[&str]) -> ServiceSpec {
    background(ServiceSpec {
        ready_timeout: READY_TIMEOUT,
        ..daemon(name, &exec(name), probe, after)
    })
}

fn background(spec: ServiceSpec) -> ServiceSpec {
    ServiceSpec {
        background: true,
        ..spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::planner;

    fn init(extra: &str) -> MachineConfig {
        crate::test_config::config(&format!("plinth:\n  cluster:\n    role: init\n{extra}"))
    }

    #[test]
    fn an_init_node_runs_the_cluster_in_kubeadms_order_in_the_background() {
        let config = init("    kubernetes:\n      cni: bridge\n");
        let mut specs = super::super::containerd::plan(&config, &Facts::default());
        specs.extend(plan(&config, &Facts::default()));
        let plan = planner::plan(specs, &[], Default::default()).unwrap();
        let order = plan.graph.start_order();
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("cluster-prep") < pos("etcd"));
        assert!(pos("etcd") < pos("kube-apiserver"));
        assert!(pos("kube-apiserver") < pos("kube-controller-manager"));
        assert!(pos("kube-controller-manager") < pos("cluster-bootstrap"));
        assert!(pos("containerd-images") < pos("kubelet"));
        assert!(pos("cluster-bootstrap") < pos("cluster-labels"));
        assert!(pos("cluster-bootstrap") < pos("cluster-cni"));
        let cluster: Vec<_> = plan
            .specs
            .iter()
            .filter(|s| !s.name.starts_with("containerd"))
            .collect();
        assert_eq!(cluster.len(), 10);
        assert!(cluster.iter().all(|s| s.background));
        let kubelet = cluster.iter().find(|s| s.name == "kubelet").unwrap();
        assert_eq!(kubelet.exec, [AGENT, "cluster", "exec", "kubelet"]);
        assert_eq!(
            kubelet.probe,
            Probe::Http("http://127.0.0.1:10248/healthz".into())
        );
        let etcd = cluster.iter().find(|s| s.name == "etcd").unwrap();
        assert_eq!(
            etcd.probe,
            Probe::Http("http://127.0.0.1:2381/health".into())
        );
        assert!(
            cluster
                .iter()
                .find(|s| s.name == "cluster-prep")
                .unwrap()
                .oneshot
        );
    }

    #[test]
    fn no_cni_without_the_bridge_and_nothing_off_init() {
        let names: Vec<String> = plan(&init(""), &Facts::default())
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert!(!names.iter().any(|n| n == "cluster-cni"));
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
        let agent = crate::test_config::config(
            "plinth:\n  cluster:\n    role: agent\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n",
        );
        assert!(plan(&agent, &Facts::default()).is_empty());
        assert!(unbuilt_role(&agent).unwrap().contains("not built yet"));
        assert_eq!(unbuilt_role(&init("")), None);
    }
}
