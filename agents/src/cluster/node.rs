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
    #[error(
        "plinth.cluster.role: {0} (joining an existing cluster) is not built yet; only `init` runs a cluster"
    )]
    Joiner(&'static str),
    #[error("plinth.cluster: this node has no cluster section")]
    NoCluster,
    #[error("plinth.cluster.kubernetes.node_taints: {0:?} is not KEY[=VALUE]:EFFECT")]
    Taint(String),
}

/// The kubelet's config file.
pub const KUBELET_CONFIG: &str = "kubelet.json";
/// kube-proxy's config file.
pub const PROXY_CONFIG: &str = "kube-proxy.json";

/// The plan of an `init` node.
pub fn plan(config: &MachineConfig, facts: &NodeFacts) -> Result<NodePlan, NodePlanError> {
    let cluster = &config.plinth.cluster;
    if !cluster.is_set() {
        return Err(NodePlanError::NoCluster);
    }
    if cluster.role != Role::Init {
        return Err(NodePlanError::Joiner(cluster.role.as_str()));
    }
    let k = &cluster.kubernetes;
    let paths = Paths {
        pki: facts.root.join("pki"),
        kubeconfigs: facts.root.join("kubernetes"),
        etcd_data: cluster.etcd.data_dir.clone().into(),
    };
    let plane = ControlPlane {
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
        },
    };
    let run = Path::new(RUN_DIR);
    let kubeconfig = |name: &str| path(&paths.kubeconfigs.join(name));
    let admin = kubeconfig("admin.conf");

    let mut argv = BTreeMap::new();
    argv.insert(ETCD, program("/usr/bin/etcd", plane.etcd()));
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

    let mut bootstrap = vec![
        "cluster".to_owned(),
        "bootstrap".to_owned(),
        format!("--kubeconfig={}", kubeconfig("super-admin.conf")),
        format!("--token-file={}", path(&facts.token_file)),
        format!("--pki-dir={}", path(&paths.pki)),
    ];
    if let Some(key) = &facts.certificate_key_file {
        bootstrap.push(format!("--certificate-key-file={}", path(key)));
    }
    argv.insert(BOOTSTRAP, program(AGENT, bootstrap));

    let kubelet_labels = kubelet_labels(config);
    let mut kubelet = vec![
        format!("--config={}", path(&run.join(KUBELET_CONFIG))),
        format!("--kubeconfig={}", kubeconfig("kubelet.conf")),
        format!("--hostname-override={}", facts.name),
        format!("--node-ip={}", facts.address),
    ];
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

    let mut labels = vec![
        "cluster".to_owned(),
        "labels".to_owned(),
        format!("--kubeconfig={admin}"),
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

    if k.cni == plinth_config::plinth::kubernetes::Cni::Bridge {
        argv.insert(
            CNI,
            program(
                AGENT,
                vec![
                    "cluster".to_owned(),
                    "cni".to_owned(),
                    format!("--kubeconfig={admin}"),
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
/// [`node_labels_and_annotations`], and the control-plane taint removed when it [`takes_pods`].
/// One function for the labeller's argv and for `cluster status`, which compares the Node with it.
pub fn labeller_wants(config: &MachineConfig) -> Wanted {
    let (labels, annotations) = node_labels_and_annotations(config);
    let remove_taints = if takes_pods(config) {
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
        "rotateCertificates": false,
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
    let mode = match k.proxy_mode {
        ProxyMode::Ipvs => "ipvs",
        ProxyMode::Iptables => "iptables",
    };
    serde_json::json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": path(&paths.kubeconfigs.join("kube-proxy.conf"))},
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

    #[test]
    fn joiners_are_refused_until_joining_is_built() {
        let joiner = config(
            "#cloud-config\nplinth:\n  cluster:\n    role: agent\n    endpoint: https://10.0.0.1:6443\n    token: abcdef.0123456789abcdef\n",
        );
        assert_eq!(plan(&joiner, &facts()), Err(NodePlanError::Joiner("agent")));
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
