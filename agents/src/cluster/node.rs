//! What an `init` node's cluster services run, decided from its machine config, its name and the
//! address it advertises: each service's argv (etcd, the control plane, the kubelet, kube-proxy,
//! and Plinth's own `bootstrap`, `labels` and `cni` steps) and the config files they read (the
//! kubelet's and kube-proxy's). `prep` writes what this decides; `exec` starts one of them. Pure.
//!
//! The argv go through files because PID 1 plans its services before the network is up, while
//! the address every component advertises is known only once it is (a DHCP lease): PID 1 runs
//! `plinth-agent cluster exec NAME`, which becomes the argv `prep` wrote for NAME.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use plinth_config::MachineConfig;
use plinth_config::genestack;
use plinth_config::plinth::cluster::Role;
use plinth_config::plinth::kubernetes::ProxyMode;

use super::flags::{self, ControlPlane, ExtraArgs, Paths};
use super::labels::{CONTROL_PLANE_TAINT, TaintMatch, Wanted};
use super::roles;

/// Where `prep` writes the argv files and configs (`<name>.argv`, `kubelet.json`, …).
pub const RUN_DIR: &str = "/run/plinth/cluster";
/// Where the cluster's own secrets are kept on the state partition (the token, the key).
pub const STATE_DIR: &str = "/var/lib/plinth/cluster";
/// The agent binary (the argv of Plinth's own steps).
pub const AGENT: &str = "/usr/bin/plinth-agent";
/// containerd's socket, the kubelet's runtime.
pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";
/// Where the CNI network of `cni: bridge` is written (containerd's `conf_dir`).
pub const CNI_DIR: &str = "/etc/cni/net.d";

/// The services, in start order, with the names PID 1 plans them under.
pub const ETCD: &str = "etcd";
pub const APISERVER: &str = "kube-apiserver";
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager";
pub const SCHEDULER: &str = "kube-scheduler";
pub const BOOTSTRAP: &str = "cluster-bootstrap";
pub const KUBELET: &str = "kubelet";
pub const PROXY: &str = "kube-proxy";
pub const LABELS: &str = "cluster-labels";
pub const CNI: &str = "cluster-cni";
/// A joining control plane's: promote its etcd learner to a voting member.
pub const ETCD_PROMOTE: &str = "etcd-promote";
/// A control plane's: grant every Node the node-role labels it declared.
pub const ROLES: &str = "cluster-roles";
/// An agent's: check the cluster granted its declared node-role labels.
pub const ROLES_CHECK: &str = "cluster-roles-check";

/// What the decision starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFacts {
    /// The Node's name (the hostname, lower case).
    pub name: String,
    /// The address it advertises (its InternalIP).
    pub address: IpAddr,
    /// Where the PKI and kubeconfigs live (`/var/lib/plinth`).
    pub root: PathBuf,
    /// The bootstrap token's file.
    pub token_file: PathBuf,
    /// The certificate key's file, when the config has one.
    pub certificate_key_file: Option<PathBuf>,
    /// How this node's etcd member starts (a control plane's).
    pub etcd: EtcdStart,
}

/// How a control plane's etcd member starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EtcdStart {
    /// A new one-member cluster (`init`).
    New,
    /// Joining the existing members (`server`): etcd's `--initial-cluster` as `etcd join` made it.
    Joining(String),
}

/// Everything `prep` writes: argv per service and config files, by file name under [`RUN_DIR`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePlan {
    /// Each service's argv (the program first).
    pub argv: BTreeMap<&'static str, Vec<String>>,
    /// Config files: name → contents.
    pub files: BTreeMap<&'static str, String>,
}

/// Why a config cannot be planned here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NodePlanError {
    #[error("plinth.cluster: this node has no cluster section")]
    NoCluster,
    #[error("plinth.cluster.kubernetes.node_taints: {0:?} is not KEY[=VALUE]:EFFECT")]
    Taint(String),
}

/// The kubelet's config file.
pub const KUBELET_CONFIG: &str = "kubelet.json";
/// kube-proxy's config file.
pub const PROXY_CONFIG: &str = "kube-proxy.json";
/// The kubeconfig an `agent`'s kubelet bootstraps its credentials with (server, CA, token),
/// under the kubeconfig directory.
pub const BOOTSTRAP_KUBECONFIG: &str = "bootstrap-kubelet.conf";
/// Where an `agent`'s kubelet keeps the client certificates it was issued and rotates.
pub const KUBELET_CERT_DIR: &str = "/var/lib/kubelet/pki";

/// The plan of a cluster node: a control plane's (`init`, `server`) or an `agent`'s.
pub fn plan(config: &MachineConfig, facts: &NodeFacts) -> Result<NodePlan, NodePlanError> {
    let cluster = &config.plinth.cluster;
    if !cluster.is_set() {
        return Err(NodePlanError::NoCluster);
    }
    let k = &cluster.kubernetes;
    let paths = Paths {
        pki: facts.root.join("pki"),
        kubeconfigs: facts.root.join("kubernetes"),
        etcd_data: cluster.etcd.data_dir.clone().into(),
    };
    let run = Path::new(RUN_DIR);
    let kubeconfig = |name: &str| path(&paths.kubeconfigs.join(name));
    let admin = kubeconfig("admin.conf");
    // The node's own identity: a control plane's from its PKI, an agent's issued to its kubelet.
    let node_kubeconfig = kubeconfig("kubelet.conf");
    let control_plane = cluster.is_control_plane();

    let mut argv = BTreeMap::new();
    if control_plane {
        control_plane_argv(config, facts, &paths, &mut argv);
    } else if cluster.etcd_member() {
        etcd_argv(
            config,
            facts,
            &control_plane_flags(config, facts, &paths),
            &mut argv,
        );
    }

    let mut kubelet_labels = kubelet_labels(config);
    kubelet_labels.extend(roles::declarations(&node_labels_and_annotations(config).0));
    let mut kubelet = vec![
        format!("--config={}", path(&run.join(KUBELET_CONFIG))),
        format!("--kubeconfig={node_kubeconfig}"),
        format!("--hostname-override={}", facts.name),
        format!("--node-ip={}", facts.address),
    ];
    if !control_plane {
        kubelet.push(format!(
            "--bootstrap-kubeconfig={}",
            kubeconfig(BOOTSTRAP_KUBECONFIG)
        ));
        kubelet.push(format!("--cert-dir={KUBELET_CERT_DIR}"));
    }
    if !kubelet_labels.is_empty() {
        let pairs: Vec<String> = kubelet_labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        kubelet.push(format!("--node-labels={}", pairs.join(",")));
    }
    argv.insert(
        KUBELET,
        program(
            "/usr/bin/kubelet",
            flags::merge(kubelet, &k.extra_args.kubelet),
        ),
    );
    argv.insert(
        PROXY,
        program(
            "/usr/bin/kube-proxy",
            flags::merge(
                vec![format!("--config={}", path(&run.join(PROXY_CONFIG)))],
                &k.extra_args.proxy,
            ),
        ),
    );

    // The labeller keeps what this node's identity may keep: everything with an admin's, the
    // kubelet-settable labels and the annotations with the node's own.
    let labeller_kubeconfig = if control_plane {
        &admin
    } else {
        &node_kubeconfig
    };
    let mut labels = vec![
        "cluster".to_owned(),
        "labels".to_owned(),
        format!("--kubeconfig={labeller_kubeconfig}"),
        format!("--node={}", facts.name),
        "--watch".to_owned(),
    ];
    let wanted = labeller_wants(config);
    labels.extend(
        wanted
            .labels
            .iter()
            .map(|(k, v)| format!("--label={k}={v}")),
    );
    labels.extend(
        wanted
            .annotations
            .iter()
            .map(|(k, v)| format!("--annotation={k}={v}")),
    );
    labels.extend(
        wanted
            .remove_taints
            .iter()
            .map(|t| format!("--remove-taint={t}")),
    );
    argv.insert(LABELS, program(AGENT, labels));

    if control_plane {
        argv.insert(
            ROLES,
            program(
                AGENT,
                vec![
                    "cluster".to_owned(),
                    "roles".to_owned(),
                    format!("--kubeconfig={admin}"),
                ],
            ),
        );
    } else {
        let mut check = vec![
            "cluster".to_owned(),
            "roles-check".to_owned(),
            format!("--kubeconfig={node_kubeconfig}"),
            format!("--node={}", facts.name),
        ];
        check.extend(
            node_role_labels(config)
                .iter()
                .map(|(k, v)| format!("--label={k}={v}")),
        );
        argv.insert(ROLES_CHECK, program(AGENT, check));
    }

    if k.cni == plinth_config::plinth::kubernetes::Cni::Bridge {
        let cni_kubeconfig = if control_plane {
            &admin
        } else {
            &node_kubeconfig
        };
        argv.insert(
            CNI,
            program(
                AGENT,
                vec![
                    "cluster".to_owned(),
                    "cni".to_owned(),
                    format!("--kubeconfig={cni_kubeconfig}"),
                    format!("--node={}", facts.name),
                    format!("--dir={CNI_DIR}"),
                ],
            ),
        );
    }

    let mut files = BTreeMap::new();
    files.insert(
        KUBELET_CONFIG,
        pretty(&kubelet_config(
            config,
            &paths,
            &cluster.register_with_taints(),
        )?),
    );
    files.insert(PROXY_CONFIG, pretty(&proxy_config(config, facts, &paths)));
    Ok(NodePlan { argv, files })
}

/// etcd, the control plane's components and Plinth's steps that need an admin identity: the
/// bootstrap objects on `init`, the promotion of the new etcd member on a `server`.
fn control_plane_argv(
    config: &MachineConfig,
    facts: &NodeFacts,
    paths: &Paths,
    argv: &mut BTreeMap<&'static str, Vec<String>>,
) {
    let cluster = &config.plinth.cluster;
    let plane = control_plane_flags(config, facts, paths);
    etcd_argv(config, facts, &plane, argv);
    argv.insert(
        APISERVER,
        program("/usr/bin/kube-apiserver", plane.apiserver()),
    );
    argv.insert(
        CONTROLLER_MANAGER,
        program(
            "/usr/bin/kube-controller-manager",
            plane.controller_manager(),
        ),
    );
    argv.insert(
        SCHEDULER,
        program("/usr/bin/kube-scheduler", plane.scheduler()),
    );
    if cluster.role == Role::Init {
        let mut bootstrap = vec![
            "cluster".to_owned(),
            "bootstrap".to_owned(),
            format!(
                "--kubeconfig={}",
                path(&paths.kubeconfigs.join("super-admin.conf"))
            ),
            format!("--token-file={}", path(&facts.token_file)),
            format!("--pki-dir={}", path(&paths.pki)),
        ];
        if let Some(key) = &facts.certificate_key_file {
            bootstrap.push(format!("--certificate-key-file={}", path(key)));
        }
        argv.insert(BOOTSTRAP, program(AGENT, bootstrap));
    }
}

/// The flags of the control plane's processes (etcd's too) for this node.
fn control_plane_flags(config: &MachineConfig, facts: &NodeFacts, paths: &Paths) -> ControlPlane {
    let cluster = &config.plinth.cluster;
    let k = &cluster.kubernetes;
    ControlPlane {
        node_name: facts.name.clone(),
        address: facts.address,
        cluster_name: cluster_name(config),
        etcd_client_port: cluster.etcd.client_port,
        etcd_peer_port: cluster.etcd.peer_port,
        etcd_metrics_port: cluster.etcd.metrics_port,
        apiserver_port: 6443,
        service_cidr: k.service_cidr.clone(),
        pod_cidr: k.pod_cidr.clone(),
        cluster_domain: k.cluster_domain.clone(),
        paths: paths.clone(),
        extra: ExtraArgs {
            apiserver: k.extra_args.apiserver.clone(),
            controller_manager: k.extra_args.controller_manager.clone(),
            scheduler: k.extra_args.scheduler.clone(),
            etcd: k.extra_args.etcd.clone(),
        },
    }
}

/// The etcd member: a new cluster's first (`init`), or one joining as the learner `prep` added
/// (a `server`, an agent with `etcd.member`), promoted by `etcd-promote`.
fn etcd_argv(
    config: &MachineConfig,
    facts: &NodeFacts,
    plane: &ControlPlane,
    argv: &mut BTreeMap<&'static str, Vec<String>>,
) {
    let cluster = &config.plinth.cluster;
    let paths = &plane.paths;
    let etcd = match &facts.etcd {
        EtcdStart::New => plane.etcd(),
        EtcdStart::Joining(initial_cluster) => {
            argv.insert(
                ETCD_PROMOTE,
                program(
                    AGENT,
                    vec![
                        "etcd".to_owned(),
                        "promote".to_owned(),
                        format!("--endpoint=https://127.0.0.1:{}", cluster.etcd.client_port),
                        // A learner serves no member list: a voting member's URL too.
                        format!(
                            "--endpoint=https://{}:{}",
                            super::joiner::endpoint_host(
                                cluster.endpoint.as_deref().unwrap_or_default()
                            ),
                            cluster.etcd.client_port
                        ),
                        format!("--pki-dir={}", path(&paths.pki)),
                        format!("--name={}", facts.name),
                        format!(
                            "--peer-url={}",
                            peer_url(facts.address, cluster.etcd.peer_port)
                        ),
                    ],
                ),
            );
            plane.etcd_joining(initial_cluster)
        }
    };
    argv.insert(ETCD, program("/usr/bin/etcd", etcd));
}

/// etcd's peer URL on `address`.
pub fn peer_url(address: IpAddr, port: u16) -> String {
    format!("https://{}:{port}", flags::url_host(address))
}

/// The node-role labels of the node's roles (`node-role.kubernetes.io/*`): what it declares and
/// an agent checks the cluster granted.
pub fn node_role_labels(config: &MachineConfig) -> BTreeMap<String, String> {
    node_labels_and_annotations(config)
        .0
        .into_iter()
        .filter(|(k, _)| k.starts_with(roles::NODE_ROLE))
        .collect()
}

/// The cluster's name: `plinth.cluster.name`, else kubeadm's default.
pub fn cluster_name(config: &MachineConfig) -> String {
    config
        .plinth
        .cluster
        .name
        .clone()
        .unwrap_or_else(|| "kubernetes".to_owned())
}

/// Whether the control-plane taint is kept off: the config's `schedule_on_control_plane`, or a
/// Genestack control-plane role (Genestack runs its workloads on its control planes).
pub fn takes_pods(config: &MachineConfig) -> bool {
    config.plinth.cluster.kubernetes.schedule_on_control_plane
        || genestack::untaint_control_plane(&config.plinth.genestack)
}

/// The labels and annotations the labeller keeps: the Genestack roles' and settings', the
/// config's `node_labels`, and kubeadm's control-plane label on a control plane.
pub fn node_labels_and_annotations(
    config: &MachineConfig,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let (mut labels, annotations) = genestack::labels_and_annotations(&config.plinth.genestack);
    if config.plinth.cluster.is_control_plane() {
        labels.insert(
            "node-role.kubernetes.io/control-plane".into(),
            String::new(),
        );
        labels.insert(
            "node.kubernetes.io/exclude-from-external-load-balancers".into(),
            String::new(),
        );
    }
    labels.extend(
        config
            .plinth
            .cluster
            .kubernetes
            .node_labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    (labels, annotations)
}

/// What this node's `cluster-labels` keeps on its Node: the labels and annotations of
/// [`node_labels_and_annotations`], and the control-plane taint removed when it [`takes_pods`];
/// on an `agent`, only the labels its kubelet may set, and no taint (NodeRestriction).
/// One function for the labeller's argv and for `cluster status`, which compares the Node with it.
pub fn labeller_wants(config: &MachineConfig) -> Wanted {
    let (mut labels, annotations) = node_labels_and_annotations(config);
    let control_plane = config.plinth.cluster.is_control_plane();
    if !control_plane {
        // An agent's labeller has only the node's identity: the rest are granted (`roles`).
        labels.retain(|k, _| kubelet_may_set(k));
    }
    let remove_taints = if control_plane && takes_pods(config) {
        vec![TaintMatch::parse(CONTROL_PLANE_TAINT).expect("kubeadm's taint parses")]
    } else {
        Vec::new()
    };
    Wanted {
        labels,
        annotations,
        remove_taints,
    }
}

/// The labels a kubelet may set on its own Node (NodeRestriction refuses the `kubernetes.io` and
/// `k8s.io` namespaces but for a few): the rest are the labeller's.
pub fn kubelet_labels(config: &MachineConfig) -> BTreeMap<String, String> {
    node_labels_and_annotations(config)
        .0
        .into_iter()
        .filter(|(k, _)| kubelet_may_set(k))
        .collect()
}

/// NodeRestriction's rule for a label key.
pub fn kubelet_may_set(key: &str) -> bool {
    let Some((prefix, _)) = key.split_once('/') else {
        return true;
    };
    let restricted = |ns: &str| prefix == ns || prefix.ends_with(&format!(".{ns}"));
    if !restricted("kubernetes.io") && !restricted("k8s.io") {
        return true;
    }
    const ALLOWED: &[&str] = &[
        "kubelet.kubernetes.io",
        "node.kubernetes.io",
        "beta.kubernetes.io",
        "failure-domain.beta.kubernetes.io",
        "topology.kubernetes.io",
    ];
    ALLOWED
        .iter()
        .any(|ns| prefix == *ns || prefix.ends_with(&format!(".{ns}")))
        && !prefix.ends_with("node-restriction.kubernetes.io")
}

/// The KubeletConfiguration: webhook authentication and authorization, the cluster CA, cgroupfs
/// (no systemd), containerd, the cluster DNS address, the registration taints, and eviction
/// thresholds that suit small lab disks.
fn kubelet_config(
    config: &MachineConfig,
    paths: &Paths,
    taints: &[String],
) -> Result<serde_json::Value, NodePlanError> {
    let k = &config.plinth.cluster.kubernetes;
    let taints = taints
        .iter()
        .map(|t| taint(t))
        .collect::<Result<Vec<_>, _>>()?;
    let dns: Vec<String> = k.cluster_dns_ip().iter().map(|ip| ip.to_string()).collect();
    Ok(serde_json::json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": false},
            "webhook": {"enabled": true},
            "x509": {"clientCAFile": path(&paths.pki.join("ca.crt"))},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": format!("unix://{CONTAINERD_SOCKET}"),
        "clusterDomain": k.cluster_domain,
        "clusterDNS": dns,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "registerWithTaints": taints,
        "failSwapOn": false,
        // An agent's kubelet renews the certificate it was issued; a control plane's comes from
        // its PKI, which `prep` renews.
        "rotateCertificates": !config.plinth.cluster.is_control_plane(),
        "resolvConf": "/etc/resolv.conf",
        "volumePluginDir": flags::VOLUME_PLUGIN_DIR,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "5%",
            "imagefs.available": "5%",
        },
    }))
}

/// A taint `KEY[=VALUE]:EFFECT` as the API writes it.
fn taint(text: &str) -> Result<serde_json::Value, NodePlanError> {
    let err = || NodePlanError::Taint(text.to_owned());
    let (rest, effect) = text.rsplit_once(':').ok_or_else(err)?;
    let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
    if key.is_empty() || effect.is_empty() {
        return Err(err());
    }
    let mut taint = serde_json::json!({"key": key, "effect": effect});
    if !value.is_empty() {
        taint["value"] = value.into();
    }
    Ok(taint)
}

/// The KubeProxyConfiguration: `proxy_mode` (IPVS with strict ARP, as Genestack's MetalLB
/// needs), the pod range, the node's name, health on :10256 and conntrack left as the kernel
/// contract set it.
fn proxy_config(config: &MachineConfig, facts: &NodeFacts, paths: &Paths) -> serde_json::Value {
    let k = &config.plinth.cluster.kubernetes;
    // A control plane's PKI has kube-proxy's own credentials (`system:kube-proxy`); an agent's
    // kube-proxy runs as the node, which the cluster binds to `system:node-proxier` too
    // (`objects::node_proxier_binding`).
    let proxy_kubeconfig = if config.plinth.cluster.is_control_plane() {
        "kube-proxy.conf"
    } else {
        "kubelet.conf"
    };
    let mode = match k.proxy_mode {
        ProxyMode::Ipvs => "ipvs",
        ProxyMode::Iptables => "iptables",
    };
    serde_json::json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": path(&paths.kubeconfigs.join(proxy_kubeconfig))},
        "mode": mode,
        "ipvs": {"strictARP": true},
        "clusterCIDR": k.pod_cidr,
        "hostnameOverride": facts.name,
        "bindAddress": "0.0.0.0",
        "healthzBindAddress": "0.0.0.0:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "conntrack": {"maxPerCore": 0},
    })
}

fn program(binary: &str, args: Vec<String>) -> Vec<String> {
    std::iter::once(binary.to_owned()).chain(args).collect()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> MachineConfig {
        plinth_config::parse("t.yaml", yaml).unwrap().config
    }

    fn facts() -> NodeFacts {
        NodeFacts {
            name: "node1".into(),
            address: "10.0.2.15".parse().unwrap(),
            root: "/var/lib/plinth".into(),
            token_file: "/var/lib/plinth/cluster/token".into(),
            certificate_key_file: None,
            etcd: EtcdStart::New,
        }
    }

    const SINGLE: &str = "#cloud-config\nplinth:\n  cluster:\n    name: lab\n    role: init\n    kubernetes:\n      cni: bridge\n      schedule_on_control_plane: true\n      node_labels:\n        example.com/rack: r1\n      extra_args:\n        kubelet: [\"--v=2\"]\n  genestack:\n    hyperconverged: true\n";

    fn has(args: &[String], want: &str) -> bool {
        args.iter().any(|a| a == want)
    }

    #[test]
    fn an_init_node_runs_every_component_and_plinths_steps() {
        let plan = plan(&config(SINGLE), &facts()).unwrap();
        let names: Vec<&str> = plan.argv.keys().copied().collect();
        assert_eq!(
            names,
            [
                BOOTSTRAP,
                CNI,
                LABELS,
                ROLES,
                ETCD,
                APISERVER,
                CONTROLLER_MANAGER,
                PROXY,
                SCHEDULER,
                KUBELET
            ]
        );
        assert_eq!(plan.argv[ETCD][0], "/usr/bin/etcd");
        assert!(has(&plan.argv[ETCD], "--initial-cluster-token=lab"));
        assert!(has(&plan.argv[APISERVER], "--advertise-address=10.0.2.15"));
        let kubelet = &plan.argv[KUBELET];
        assert_eq!(kubelet[0], "/usr/bin/kubelet");
        assert!(has(kubelet, "--node-ip=10.0.2.15"));
        assert!(has(kubelet, "--hostname-override=node1"));
        assert!(has(kubelet, "--config=/run/plinth/cluster/kubelet.json"));
        assert!(has(kubelet, "--v=2"));
        assert_eq!(plan.argv[BOOTSTRAP][..3], [AGENT, "cluster", "bootstrap"]);
        assert!(has(
            &plan.argv[BOOTSTRAP],
            "--token-file=/var/lib/plinth/cluster/token"
        ));
        assert!(has(&plan.argv[CNI], "--dir=/etc/cni/net.d"));
    }

    #[test]
    fn the_labeller_keeps_genestack_labels_and_removes_the_taint_of_a_node_taking_pods() {
        let plan = plan(&config(SINGLE), &facts()).unwrap();
        let labels = &plan.argv[LABELS];
        assert!(has(labels, "--watch"));
        assert!(has(labels, "--label=openstack-control-plane=enabled"));
        assert!(has(
            labels,
            "--label=node-role.kubernetes.io/control-plane="
        ));
        assert!(has(labels, "--label=example.com/rack=r1"));
        assert!(has(
            labels,
            &format!("--remove-taint={CONTROL_PLANE_TAINT}")
        ));
        // The kubelet registers only what NodeRestriction lets it.
        let node_labels = plan.argv[KUBELET]
            .iter()
            .find(|a| a.starts_with("--node-labels="))
            .unwrap();
        assert!(node_labels.contains("openstack-control-plane=enabled"));
        assert!(node_labels.contains("example.com/rack=r1"));
        assert!(!node_labels.contains("node-role.kubernetes.io"));
    }

    #[test]
    fn a_control_plane_that_takes_no_pods_registers_tainted_and_keeps_the_taint() {
        let plan = plan(
            &config("#cloud-config\nplinth:\n  cluster:\n    role: init\n"),
            &facts(),
        )
        .unwrap();
        let kubelet: serde_json::Value = serde_json::from_str(&plan.files[KUBELET_CONFIG]).unwrap();
        assert_eq!(
            kubelet["registerWithTaints"],
            serde_json::json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
        );
        assert!(
            !plan.argv[LABELS]
                .iter()
                .any(|a| a.starts_with("--remove-taint"))
        );
        assert!(!plan.argv.contains_key(CNI), "cni: none writes no network");
    }

    #[test]
    fn the_kubelet_and_proxy_configs() {
        let plan = plan(&config(SINGLE), &facts()).unwrap();
        let kubelet: serde_json::Value = serde_json::from_str(&plan.files[KUBELET_CONFIG]).unwrap();
        assert_eq!(kubelet["cgroupDriver"], "cgroupfs");
        assert_eq!(kubelet["volumePluginDir"], "/var/lib/kubelet/volumeplugins");
        assert_eq!(
            kubelet["containerRuntimeEndpoint"],
            "unix:///run/containerd/containerd.sock"
        );
        assert_eq!(kubelet["clusterDNS"], serde_json::json!(["10.233.0.10"]));
        assert_eq!(kubelet["registerWithTaints"], serde_json::json!([]));
        let proxy: serde_json::Value = serde_json::from_str(&plan.files[PROXY_CONFIG]).unwrap();
        assert_eq!(proxy["mode"], "ipvs");
        assert_eq!(proxy["ipvs"]["strictARP"], true);
        assert_eq!(proxy["clusterCIDR"], "10.236.0.0/14");
        assert_eq!(proxy["hostnameOverride"], "node1");
    }

    const SERVER: &str = "#cloud-config\nplinth:\n  cluster:\n    role: server\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    certificate_key: eeac7760342e7ee3d667a7f4d0c038d244387e3e9d3075b418184135bf28b777\n    kubernetes:\n      cni: bridge\n  genestack:\n    roles: [control-plane, etcd, worker]\n";
    const AGENT_NODE: &str = "#cloud-config\nplinth:\n  cluster:\n    role: agent\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n    kubernetes:\n      cni: bridge\n  genestack:\n    roles: [worker, compute]\n    ovn:\n      bridges: [br-ex:bond0]\n";

    #[test]
    fn a_server_joins_etcd_promotes_it_and_makes_no_bootstrap_objects() {
        let initial = "node0=https://10.0.0.1:2380,node1=https://10.0.2.15:2380";
        let facts = NodeFacts {
            etcd: EtcdStart::Joining(initial.into()),
            ..facts()
        };
        let plan = plan(&config(SERVER), &facts).unwrap();
        assert!(!plan.argv.contains_key(BOOTSTRAP), "init's job");
        assert!(!plan.argv.contains_key(ROLES_CHECK));
        let etcd = &plan.argv[ETCD];
        assert!(has(etcd, &format!("--initial-cluster={initial}")));
        assert!(has(etcd, "--initial-cluster-state=existing"));
        let promote = &plan.argv[ETCD_PROMOTE];
        assert_eq!(promote[..3], [AGENT, "etcd", "promote"]);
        assert!(has(promote, "--endpoint=https://127.0.0.1:2379"));
        assert!(has(promote, "--endpoint=https://10.0.0.1:2379"));
        assert!(has(promote, "--name=node1"));
        assert!(has(promote, "--peer-url=https://10.0.2.15:2380"));
        assert!(has(
            &plan.argv[ROLES],
            "--kubeconfig=/var/lib/plinth/kubernetes/admin.conf"
        ));
        // Its kubelet has a certificate from the node's own PKI, as init's.
        assert!(
            !plan.argv[KUBELET]
                .iter()
                .any(|a| a.starts_with("--bootstrap-kubeconfig"))
        );
        // The control-plane taint stays: the config does not take pods.
        let kubelet: serde_json::Value = serde_json::from_str(&plan.files[KUBELET_CONFIG]).unwrap();
        assert_eq!(
            kubelet["registerWithTaints"][0]["key"],
            "node-role.kubernetes.io/control-plane"
        );
    }

    #[test]
    fn an_agent_bootstraps_its_kubelet_and_declares_its_roles() {
        let plan = plan(&config(AGENT_NODE), &facts()).unwrap();
        let names: Vec<&str> = plan.argv.keys().copied().collect();
        assert_eq!(names, [CNI, LABELS, ROLES_CHECK, PROXY, KUBELET]);
        let kubelet = &plan.argv[KUBELET];
        assert!(has(
            kubelet,
            "--bootstrap-kubeconfig=/var/lib/plinth/kubernetes/bootstrap-kubelet.conf"
        ));
        assert!(has(
            kubelet,
            "--kubeconfig=/var/lib/plinth/kubernetes/kubelet.conf"
        ));
        assert!(has(kubelet, "--cert-dir=/var/lib/kubelet/pki"));
        let node_labels = kubelet
            .iter()
            .find(|a| a.starts_with("--node-labels="))
            .unwrap();
        assert!(
            node_labels.contains("node-role.plinth.dev/worker=worker"),
            "{node_labels}"
        );
        assert!(node_labels.contains("openstack-compute-node=enabled"));
        assert!(!node_labels.contains("node-role.kubernetes.io"));
        let config_json: serde_json::Value =
            serde_json::from_str(&plan.files[KUBELET_CONFIG]).unwrap();
        assert_eq!(config_json["rotateCertificates"], true);
        // The node's own identity for everything it does itself.
        for service in [LABELS, CNI, ROLES_CHECK] {
            assert!(
                has(
                    &plan.argv[service],
                    "--kubeconfig=/var/lib/plinth/kubernetes/kubelet.conf"
                ),
                "{service}: {:?}",
                plan.argv[service]
            );
        }
        let labels = &plan.argv[LABELS];
        assert!(!labels.iter().any(|a| a.contains("node-role.kubernetes.io")));
        assert!(!labels.iter().any(|a| a.starts_with("--remove-taint")));
        assert!(
            labels
                .iter()
                .any(|a| a.starts_with("--annotation=ovn.openstack.org/bridges="))
        );
        assert!(has(
            &plan.argv[ROLES_CHECK],
            "--label=node-role.kubernetes.io/worker=worker"
        ));
        let proxy: serde_json::Value = serde_json::from_str(&plan.files[PROXY_CONFIG]).unwrap();
        assert_eq!(
            proxy["clientConnection"]["kubeconfig"],
            "/var/lib/plinth/kubernetes/kubelet.conf"
        );
    }

    #[test]
    fn an_etcd_member_agent_runs_etcd_beside_its_kubelet_and_no_apiserver() {
        let yaml = AGENT_NODE.replace(
            "    kubernetes:\n",
            "    certificate_key: eeac7760342e7ee3d667a7f4d0c038d244387e3e9d3075b418184135bf28b777\n    etcd:\n      member: true\n    kubernetes:\n",
        );
        let initial = "node0=https://10.0.0.1:2380,node1=https://10.0.2.15:2380";
        let facts = NodeFacts {
            etcd: EtcdStart::Joining(initial.into()),
            ..facts()
        };
        let plan = plan(&config(&yaml), &facts).unwrap();
        let names: Vec<&str> = plan.argv.keys().copied().collect();
        assert_eq!(
            names,
            [CNI, LABELS, ROLES_CHECK, ETCD, ETCD_PROMOTE, PROXY, KUBELET]
        );
        let etcd = &plan.argv[ETCD];
        assert_eq!(etcd[0], "/usr/bin/etcd");
        assert!(has(etcd, &format!("--initial-cluster={initial}")));
        assert!(has(etcd, "--initial-cluster-state=existing"));
        assert!(has(etcd, "--cert-file=/var/lib/plinth/pki/etcd/server.crt"));
        assert!(has(
            &plan.argv[ETCD_PROMOTE],
            "--endpoint=https://10.0.0.1:2379"
        ));
        // Still an agent: its kubelet bootstraps with the token.
        assert!(
            plan.argv[KUBELET]
                .iter()
                .any(|a| a.starts_with("--bootstrap-kubeconfig"))
        );
    }

    #[test]
    fn node_restriction() {
        assert!(kubelet_may_set("openstack-compute-node"));
        assert!(kubelet_may_set("longhorn.io/storage-node"));
        assert!(kubelet_may_set("node.kubernetes.io/instance-type"));
        assert!(kubelet_may_set("topology.kubernetes.io/zone"));
        assert!(!kubelet_may_set("node-role.kubernetes.io/worker"));
        assert!(!kubelet_may_set("example.k8s.io/x"));
        assert!(!kubelet_may_set("node-restriction.kubernetes.io/x"));
    }

    #[test]
    fn taints_as_the_api_writes_them() {
        assert_eq!(
            taint("dedicated=gpu:NoSchedule").unwrap(),
            serde_json::json!({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
        );
        assert!(taint("nothing").is_err());
    }
}
