//! The services of a cluster node. With `plinth.cluster.role: init`: a one-node cluster on
//! Plinth-managed etcd, each component its own supervised process with a readiness probe, in
//! kubeadm's order:
//!
//! ```text
//! cluster-prep ─ etcd ─ kube-apiserver ┬ kube-controller-manager ─ cluster-bootstrap
//!                                      ├ kube-scheduler, kube-proxy, cluster-labels, cluster-roles, cluster-cni
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
//! A `server` (another control plane) runs the same, with its etcd member joined as a learner
//! by `cluster-prep` and promoted by `etcd-promote` before its apiserver starts, and no
//! `cluster-bootstrap` (the init node made those objects). An `agent` runs `cluster-prep`
//! (discovery of the cluster with its token), then the kubelet (TLS bootstrap), and after it
//! kube-proxy, the labeller, `cluster-roles-check` and the CNI writer, all with the node's
//! own credentials:
//!
//! ```text
//! cluster-prep ─ etcd ─ etcd-promote ─ kube-apiserver ┬ …          (server)
//! cluster-prep ┬ kubelet ┬ kube-proxy, cluster-labels, cluster-roles-check, cluster-cni  (agent)
//! containerd-images ┘
//! cluster-prep ─ etcd ─ etcd-promote                    (an agent with `etcd.member`, besides)
//! ```
//!
//! An agent with `etcd.member: true` (Kubespray's dedicated etcd hosts) runs an etcd member,
//! joined and promoted as a server's, and no apiserver.
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

/// The services of a cluster node, by role; none off a cluster node.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    let cluster = &config.plinth.cluster;
    if !cluster.is_set() {
        return Vec::new();
    }
    let mut specs = vec![prep()];
    match cluster.role {
        Role::Init | Role::Server => {
            let apiserver_after = etcd(cluster, &mut specs);
            specs.extend([
                component("kube-apiserver", apiserver_ready(), &[apiserver_after]),
                component(
                    "kube-controller-manager",
                    Probe::Tcp(10257),
                    &["kube-apiserver"],
                ),
                component("kube-scheduler", Probe::Tcp(10259), &["kube-apiserver"]),
                component(
                    "kubelet",
                    Probe::Http(KUBELET_HEALTHZ.into()),
                    &["kube-apiserver", super::containerd::IMAGES],
                ),
                component("kube-proxy", Probe::Tcp(10256), &["kube-apiserver"]),
                component("cluster-labels", Probe::Running, &["kube-apiserver"]),
                component("cluster-roles", Probe::Running, &["kube-apiserver"]),
            ]);
            if cluster.role == Role::Init {
                specs.push(background_oneshot(
                    "cluster-bootstrap",
                    &exec("cluster-bootstrap"),
                    &["kube-controller-manager"],
                ));
            }
        }
        // An agent's kubelet gets its credentials from the cluster (TLS bootstrap), and
        // everything else of the node runs with them once it is healthy. One with
        // `etcd.member` runs an etcd member beside it, which nothing else of the node needs.
        Role::Agent => {
            if cluster.etcd_member() {
                etcd(cluster, &mut specs);
            }
            specs.extend([
                // Ready once the cluster issued its client certificate (TLS bootstrap): what every
                // later service authenticates with. Its healthz answers before that.
                component(
                    "kubelet",
                    Probe::File(KUBELET_CLIENT_CERT.into()),
                    &["cluster-prep", super::containerd::IMAGES],
                ),
                component("kube-proxy", Probe::Tcp(10256), &["kubelet"]),
                component("cluster-labels", Probe::Running, &["kubelet"]),
                background_oneshot(
                    "cluster-roles-check",
                    &exec("cluster-roles-check"),
                    &["kubelet"],
                ),
            ]);
        }
    }
    // Disks first: the Longhorn mount and the volume groups exist before any pod.
    if super::storage::planned(config) {
        for spec in specs.iter_mut().filter(|s| s.name == "kubelet") {
            spec.after.push(super::storage::NAME.into());
        }
    }
    if cluster.kubernetes.cni == Cni::Bridge {
        let after = if cluster.is_control_plane() {
            "kube-apiserver"
        } else {
            "kubelet"
        };
        specs.push(background_oneshot(
            "cluster-cni",
            &exec("cluster-cni"),
            &[after],
        ));
    }
    specs
}

/// The node's etcd member (after `cluster-prep`) and, on a joiner, `etcd-promote`; returns what
/// a client of this member (the apiserver) waits for.
fn etcd(cluster: &plinth_config::plinth::Cluster, specs: &mut Vec<ServiceSpec>) -> &'static str {
    // A joining member is a learner until promoted, and a learner refuses the linearizable
    // read `/health` makes: its health is asked of its own state.
    let serializable = if cluster.is_joiner() {
        "?serializable=true"
    } else {
        ""
    };
    let health = format!(
        "http://127.0.0.1:{}/health{serializable}",
        cluster.etcd.metrics_port
    );
    specs.push(component("etcd", Probe::Http(health), &["cluster-prep"]));
    if !cluster.is_joiner() {
        return "etcd";
    }
    // A learner serves no client: its clients wait for the promotion.
    specs.push(background_oneshot(
        "etcd-promote",
        &exec("etcd-promote"),
        &["etcd"],
    ));
    "etcd-promote"
}

/// The client certificate an agent's kubelet is issued, kept current by its rotation.
const KUBELET_CLIENT_CERT: &str = "/var/lib/kubelet/pki/kubelet-client-current.pem";

/// The kubelet's health endpoint.
const KUBELET_HEALTHZ: &str = "http://127.0.0.1:10248/healthz";

/// `cluster-prep`: on a joiner it waits for the cluster (discovery retries with backoff for as
/// long as it takes), so it has no time limit of its own.
fn prep() -> ServiceSpec {
    background_oneshot(
        "cluster-prep",
        &[AGENT, "cluster", "prep", "--config", CONFIG],
        &[],
    )
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
        ready_timeout: Some(READY_TIMEOUT),
        ..daemon(name, &exec(name), probe, after)
    })
}

/// A cluster oneshot run in the background, without a time limit: nothing waits for it, and it
/// retries on its own for as long as the cluster takes (cluster-prep waits for a cluster to join,
/// cluster-bootstrap for an apiserver that takes minutes under emulation); killing it at a limit
/// would only start it over.
fn background_oneshot(name: &str, exec: &[&str], after: &[&str]) -> ServiceSpec {
    background(ServiceSpec {
        ready_timeout: None,
        ..oneshot(name, exec, after)
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
        assert_eq!(cluster.len(), 11);
        assert!(cluster.iter().all(|s| s.background));
        // The oneshots retry on their own for as long as the cluster takes: no ready limit, so
        // the supervisor never kills them as hung; the daemons' probes keep the emulation's limit.
        for spec in &cluster {
            let limit = (!spec.oneshot).then_some(READY_TIMEOUT);
            assert_eq!(spec.ready_timeout, limit, "{}", spec.name);
        }
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
    fn no_cni_without_the_bridge_and_nothing_off_a_cluster_node() {
        let names: Vec<String> = plan(&init(""), &Facts::default())
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert!(!names.iter().any(|n| n == "cluster-cni"));
        assert!(plan(&MachineConfig::default(), &Facts::default()).is_empty());
    }

    fn order_of(config: &MachineConfig) -> (Vec<String>, Vec<ServiceSpec>) {
        let mut specs = super::super::containerd::plan(config, &Facts::default());
        specs.extend(plan(config, &Facts::default()));
        let plan = planner::plan(specs, &[], Default::default()).unwrap();
        (plan.graph.start_order().to_vec(), plan.specs)
    }

    #[test]
    fn a_server_promotes_its_etcd_member_before_its_apiserver_and_makes_no_objects() {
        let config = crate::test_config::config(
            "plinth:\n  cluster:\n    role: server\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    certificate_key: eeac7760342e7ee3d667a7f4d0c038d244387e3e9d3075b418184135bf28b777\n",
        );
        let (order, specs) = order_of(&config);
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("cluster-prep") < pos("etcd"));
        assert!(pos("etcd") < pos("etcd-promote"));
        assert!(pos("etcd-promote") < pos("kube-apiserver"));
        assert!(pos("kube-apiserver") < pos("cluster-roles"));
        assert!(!order.iter().any(|n| n == "cluster-bootstrap"));
        let etcd = specs.iter().find(|s| s.name == "etcd").unwrap();
        assert_eq!(
            etcd.probe,
            Probe::Http("http://127.0.0.1:2381/health?serializable=true".into())
        );
        let promote = specs.iter().find(|s| s.name == "etcd-promote").unwrap();
        assert!(promote.oneshot && promote.background);
    }

    #[test]
    fn an_etcd_member_agent_adds_its_member_and_its_promotion_and_no_apiserver() {
        let config = crate::test_config::config(
            "plinth:\n  cluster:\n    role: agent\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    certificate_key: eeac7760342e7ee3d667a7f4d0c038d244387e3e9d3075b418184135bf28b777\n    etcd:\n      member: true\n",
        );
        let (order, specs) = order_of(&config);
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("cluster-prep") < pos("etcd"));
        assert!(pos("etcd") < pos("etcd-promote"));
        assert!(pos("cluster-prep") < pos("kubelet"));
        assert!(!order.iter().any(|n| n == "kube-apiserver"));
        let etcd = specs.iter().find(|s| s.name == "etcd").unwrap();
        assert_eq!(
            etcd.probe,
            Probe::Http("http://127.0.0.1:2381/health?serializable=true".into())
        );
        assert!(etcd.background);
        let kubelet = specs.iter().find(|s| s.name == "kubelet").unwrap();
        assert!(!kubelet.after.iter().any(|a| a.starts_with("etcd")));
    }

    #[test]
    fn an_agent_runs_its_kubelet_then_what_needs_its_credentials() {
        let config = crate::test_config::config(
            "plinth:\n  cluster:\n    role: agent\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    kubernetes:\n      cni: bridge\n",
        );
        let (order, specs) = order_of(&config);
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        for absent in [
            "etcd",
            "kube-apiserver",
            "cluster-bootstrap",
            "cluster-roles",
        ] {
            assert!(!order.iter().any(|n| n == absent), "{absent}: {order:?}");
        }
        assert!(pos("cluster-prep") < pos("kubelet"));
        assert!(pos("containerd-images") < pos("kubelet"));
        for after in [
            "kube-proxy",
            "cluster-labels",
            "cluster-roles-check",
            "cluster-cni",
        ] {
            assert!(pos("kubelet") < pos(after), "{after}");
        }
        assert!(
            specs
                .iter()
                .filter(|s| !s.name.starts_with("containerd"))
                .all(|s| s.background)
        );
        let kubelet = specs.iter().find(|s| s.name == "kubelet").unwrap();
        assert_eq!(kubelet.probe, Probe::File(KUBELET_CLIENT_CERT.into()));
    }
}
