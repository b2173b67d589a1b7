//! The services of a cluster node with `plinth.cluster.role: init`: a one-node cluster on
//! Plinth-managed etcd, each component its own supervised process with a readiness probe, in
//! kubeadm's order:
//!
//! ```text
//! cluster-prep ─ etcd ─ kube-apiserver ┬ kube-controller-manager ─ cluster-bootstrap
//!                                      ├ kube-scheduler, kube-proxy, cluster-labels, cluster-cni
//! containerd-images ───────────────────┴ kubelet
//! ```
//!
//! The labeller and the CNI writer wait for what they need themselves (the Node, its podCIDR),
//! so neither waits for the bootstrap objects, which wait for the controller-manager's signer.
//!
//! `cluster-prep` (`plinth-agent cluster prep`) waits for the address to advertise, makes the PKI
//! and writes every component's argv; each component then runs as `plinth-agent cluster exec
//! NAME`, which execs that argv, so the supervised process is etcd or the kubelet itself. All of
//! them are background services: the node's `ready` waits for none of them, and a slow or failing
//! control plane never sends the node to maintenance mode (`plinthctl cluster` says how it is).
//!
//! Joining (`server`, `agent`) is not built yet: such a node runs containerd only, and the
//! config phase says so (`crate::boot::unapplied`).
//!
//! The services phase writes [`config_part`] to [`CONFIG`] before the supervisor starts
//! `cluster-prep`, so the agent reads exactly the config PID 1 validated, and nothing else of it.

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
        component("kube-apiserver", apiserver_ready(), &["etcd"]),
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
        component("cluster-labels", Probe::Running, &["kube-apiserver"]),
    ];
    if cluster.kubernetes.cni == Cni::Bridge {
        specs.push(background(oneshot(
            "cluster-cni",
            &exec("cluster-cni"),
            &["kube-apiserver"],
        )));
    }
    specs
}

/// The part of `config` the cluster agents read: `plinth.cluster` and `plinth.genestack` (the
/// labels and annotations), as a `#cloud-config` document for [`CONFIG`].
pub fn config_part(config: &MachineConfig) -> String {
    let mut part = MachineConfig::default();
    part.plinth.cluster = config.plinth.cluster.clone();
    part.plinth.genestack = config.plinth.genestack.clone();
    part.to_yaml()
}

/// The admin kubeconfig `cluster-prep` makes.
const ADMIN_KUBECONFIG: &str = "/var/lib/plinth/kubernetes/admin.conf";

/// The apiserver is ready when `/readyz` says so, not when its port opens (a minute earlier
/// under emulation): `plinth-agent cluster healthy` asks over TLS, which PID 1 does not speak.
fn apiserver_ready() -> Probe {
    Probe::Exec(
        [
            AGENT,
            "cluster",
            "healthy",
            "--kubeconfig",
            ADMIN_KUBECONFIG,
        ]
        .map(String::from)
        .to_vec(),
    )
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
        assert!(pos("kube-apiserver") < pos("cluster-labels"));
        assert!(pos("kube-apiserver") < pos("cluster-cni"));
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
        let apiserver = cluster.iter().find(|s| s.name == "kube-apiserver").unwrap();
        assert!(
            matches!(&apiserver.probe, Probe::Exec(argv) if argv[1..3] == ["cluster", "healthy"]),
            "{:?}",
            apiserver.probe
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
    fn the_agents_part_reads_back_as_the_same_cluster_and_nothing_else() {
        let config = crate::test_config::config(
            "hostname: n1\nssh_authorized_keys: [ssh-ed25519 AAAA k]\nplinth:\n  cluster:\n    role: init\n    token: abcdef.0123456789abcdef\n    kubernetes:\n      cni: bridge\n      schedule_on_control_plane: true\n  genestack:\n    hyperconverged: true\n",
        );
        let text = config_part(&config);
        let back = plinth_config::parse("cluster.yaml", &text).unwrap().config;
        assert_eq!(back.plinth.cluster, config.plinth.cluster);
        assert_eq!(back.plinth.genestack, config.plinth.genestack);
        assert!(back.plinth.cluster.is_set());
        assert_eq!(back.hostname, None);
        assert!(back.ssh_authorized_keys.is_empty());
        // A cluster left at its defaults (`cluster: {role: init}`) is still a cluster.
        let bare = init("");
        let back = plinth_config::parse("cluster.yaml", &config_part(&bare))
            .unwrap()
            .config;
        assert!(back.plinth.cluster.is_set());
        assert_eq!(back.plinth.cluster.role, Role::Init);
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
    }
}
