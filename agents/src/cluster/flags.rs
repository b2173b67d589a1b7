//! The command lines of the control plane's processes — etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler — from the node's cluster settings: kubeadm's flags
//! (NOTES-kubernetes §2), the PKI at kubeadm's file names under [`Paths`], and the operator's
//! `extra_args`, which replace a default flag of the same name or add one, as kubeadm's
//! `extraArgs` do. Pure: no file is read and nothing is started here.

use std::net::IpAddr;
use std::path::PathBuf;

/// Where flex-volume drivers go (the controller-manager's and the kubelet's), on the state
/// partition: the upstream default under /usr/libexec is read-only on an immutable root.
pub const VOLUME_PLUGIN_DIR: &str = "/var/lib/kubelet/volumeplugins";
/// Where the cluster's files live on a node (kubeadm's names, under Plinth's state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The PKI: `ca.crt`, `apiserver.crt`, `etcd/server.crt`, … (kubeadm's `/etc/kubernetes/pki`).
    pub pki: PathBuf,
    /// The kubeconfigs: `admin.conf`, `controller-manager.conf`, `scheduler.conf`, ….
    pub kubeconfigs: PathBuf,
    /// etcd's data directory.
    pub etcd_data: PathBuf,
}

impl Paths {
    /// The layout of a node: `/var/lib/plinth/{pki,kubernetes}` and etcd's data in `etcd_data`.
    pub fn node(etcd_data: &str) -> Self {
        Self {
            pki: "/var/lib/plinth/pki".into(),
            kubeconfigs: "/var/lib/plinth/kubernetes".into(),
            etcd_data: etcd_data.into(),
        }
    }

    fn pki(&self, file: &str) -> String {
        self.pki.join(file).to_string_lossy().into_owned()
    }

    fn kubeconfig(&self, file: &str) -> String {
        self.kubeconfigs.join(file).to_string_lossy().into_owned()
    }
}

/// Operator flags per component (`plinth.cluster.kubernetes.extra_args`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraArgs {
    pub apiserver: Vec<String>,
    pub controller_manager: Vec<String>,
    pub scheduler: Vec<String>,
    pub etcd: Vec<String>,
}

/// What the control plane of one node is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPlane {
    /// The node's name (its hostname): etcd's member name.
    pub node_name: String,
    /// The address etcd and the apiserver advertise (the node's InternalIP).
    pub address: IpAddr,
    /// The etcd cluster token (the cluster's name).
    pub cluster_name: String,
    pub etcd_client_port: u16,
    pub etcd_peer_port: u16,
    /// etcd's plain-HTTP `/metrics` and `/health` (Genestack scrapes `:2381`).
    pub etcd_metrics_port: u16,
    /// The apiserver's port.
    pub apiserver_port: u16,
    pub service_cidr: String,
    pub pod_cidr: String,
    pub cluster_domain: String,
    pub paths: Paths,
    pub extra: ExtraArgs,
}

/// An IP in a URL: IPv6 in brackets.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// `defaults` with each `--name=value` of `extra` replacing the default of the same name, or
/// appended when there is none; order otherwise kept. A bare `--name` counts as a name too.
pub fn merge(defaults: Vec<String>, extra: &[String]) -> Vec<String> {
    fn name(flag: &str) -> &str {
        flag.split_once('=').map_or(flag, |(n, _)| n)
    }
    let mut out = defaults;
    for flag in extra {
        match out.iter_mut().find(|d| name(d) == name(flag)) {
            Some(d) => *d = flag.clone(),
            None => out.push(flag.clone()),
        }
    }
    out
}

fn flag(name: &str, value: impl std::fmt::Display) -> String {
    format!("--{name}={value}")
}

impl ControlPlane {
    /// etcd: one member, TLS with client certificates for clients and peers, metrics and
    /// health on plain HTTP (as kubeadm's `--listen-metrics-urls`), then the operator's flags.
    pub fn etcd(&self) -> Vec<String> {
        let host = url_host(self.address);
        let p = &self.paths;
        let peer_url = format!("https://{host}:{}", self.etcd_peer_port);
        let defaults = vec![
            flag("name", &self.node_name),
            flag("data-dir", p.etcd_data.display()),
            flag(
                "listen-client-urls",
                format!(
                    "https://127.0.0.1:{port},https://{host}:{port}",
                    port = self.etcd_client_port
                ),
            ),
            flag(
                "advertise-client-urls",
                format!("https://{host}:{}", self.etcd_client_port),
            ),
            flag("listen-peer-urls", &peer_url),
            flag("initial-advertise-peer-urls", &peer_url),
            flag("initial-cluster", format!("{}={peer_url}", self.node_name)),
            flag("initial-cluster-state", "new"),
            flag("initial-cluster-token", &self.cluster_name),
            flag(
                "listen-metrics-urls",
                format!("http://0.0.0.0:{}", self.etcd_metrics_port),
            ),
            flag("client-cert-auth", "true"),
            flag("trusted-ca-file", p.pki("etcd/ca.crt")),
            flag("cert-file", p.pki("etcd/server.crt")),
            flag("key-file", p.pki("etcd/server.key")),
            flag("peer-client-cert-auth", "true"),
            flag("peer-trusted-ca-file", p.pki("etcd/ca.crt")),
            flag("peer-cert-file", p.pki("etcd/peer.crt")),
            flag("peer-key-file", p.pki("etcd/peer.key")),
            flag("snapshot-count", 10000),
            flag("experimental-initial-corrupt-check", "true"),
        ];
        merge(defaults, &self.extra.etcd)
    }

    /// etcd joining an existing cluster as the member `etcd join` added: the same flags, with
    /// the cluster's members (`initial_cluster`, `name=peerURL,…`, this node among them) and
    /// `--initial-cluster-state=existing`. etcd reads both only while its data directory is
    /// empty; a member that has data ignores them. Neither can be replaced by an operator's flag.
    pub fn etcd_joining(&self, initial_cluster: &str) -> Vec<String> {
        merge(
            self.etcd(),
            &[
                flag("initial-cluster", initial_cluster),
                flag("initial-cluster-state", "existing"),
            ],
        )
    }

    /// kube-apiserver with kubeadm's flags: Node and RBAC authorization, NodeRestriction,
    /// bootstrap-token authentication (for joiners), the front proxy, the service accounts.
    pub fn apiserver(&self) -> Vec<String> {
        let p = &self.paths;
        let defaults = vec![
            flag("advertise-address", self.address),
            flag("secure-port", self.apiserver_port),
            flag("allow-privileged", "true"),
            flag("authorization-mode", "Node,RBAC"),
            flag("enable-admission-plugins", "NodeRestriction"),
            flag("enable-bootstrap-token-auth", "true"),
            flag("client-ca-file", p.pki("ca.crt")),
            flag("tls-cert-file", p.pki("apiserver.crt")),
            flag("tls-private-key-file", p.pki("apiserver.key")),
            flag(
                "kubelet-client-certificate",
                p.pki("apiserver-kubelet-client.crt"),
            ),
            flag("kubelet-client-key", p.pki("apiserver-kubelet-client.key")),
            flag(
                "kubelet-preferred-address-types",
                "InternalIP,ExternalIP,Hostname",
            ),
            flag(
                "etcd-servers",
                format!("https://127.0.0.1:{}", self.etcd_client_port),
            ),
            flag("etcd-cafile", p.pki("etcd/ca.crt")),
            flag("etcd-certfile", p.pki("apiserver-etcd-client.crt")),
            flag("etcd-keyfile", p.pki("apiserver-etcd-client.key")),
            flag("service-cluster-ip-range", &self.service_cidr),
            flag("service-account-issuer", self.issuer()),
            flag("service-account-key-file", p.pki("sa.pub")),
            flag("service-account-signing-key-file", p.pki("sa.key")),
            flag("proxy-client-cert-file", p.pki("front-proxy-client.crt")),
            flag("proxy-client-key-file", p.pki("front-proxy-client.key")),
            flag("requestheader-client-ca-file", p.pki("front-proxy-ca.crt")),
            flag("requestheader-allowed-names", "front-proxy-client"),
            flag("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
            flag("requestheader-group-headers", "X-Remote-Group"),
            flag("requestheader-username-headers", "X-Remote-User"),
        ];
        merge(defaults, &self.extra.apiserver)
    }

    /// kube-controller-manager: the cluster CA signs the kubelets' certificates, the
    /// bootstrap-token controllers (off by default) are on, node CIDRs come from `pod_cidr`.
    pub fn controller_manager(&self) -> Vec<String> {
        let p = &self.paths;
        let kubeconfig = p.kubeconfig("controller-manager.conf");
        let defaults = vec![
            flag("kubeconfig", &kubeconfig),
            flag("authentication-kubeconfig", &kubeconfig),
            flag("authorization-kubeconfig", &kubeconfig),
            flag("bind-address", "127.0.0.1"),
            flag("leader-elect", "true"),
            flag("controllers", "*,bootstrapsigner,tokencleaner"),
            flag("use-service-account-credentials", "true"),
            flag("cluster-name", &self.cluster_name),
            flag("cluster-signing-cert-file", p.pki("ca.crt")),
            flag("cluster-signing-key-file", p.pki("ca.key")),
            flag("root-ca-file", p.pki("ca.crt")),
            flag("service-account-private-key-file", p.pki("sa.key")),
            flag("client-ca-file", p.pki("ca.crt")),
            flag("requestheader-client-ca-file", p.pki("front-proxy-ca.crt")),
            flag("allocate-node-cidrs", "true"),
            flag("cluster-cidr", &self.pod_cidr),
            flag("service-cluster-ip-range", &self.service_cidr),
            // The default, /usr/libexec/kubernetes, is on the read-only root.
            flag("flex-volume-plugin-dir", VOLUME_PLUGIN_DIR),
        ];
        merge(defaults, &self.extra.controller_manager)
    }

    /// kube-scheduler.
    pub fn scheduler(&self) -> Vec<String> {
        let kubeconfig = self.paths.kubeconfig("scheduler.conf");
        let defaults = vec![
            flag("kubeconfig", &kubeconfig),
            flag("authentication-kubeconfig", &kubeconfig),
            flag("authorization-kubeconfig", &kubeconfig),
            flag("bind-address", "127.0.0.1"),
            flag("leader-elect", "true"),
        ];
        merge(defaults, &self.extra.scheduler)
    }

    /// The service-account issuer kubeadm uses.
    fn issuer(&self) -> String {
        format!("https://kubernetes.default.svc.{}", self.cluster_domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane() -> ControlPlane {
        ControlPlane {
            node_name: "cp-1".into(),
            address: "10.0.0.10".parse().unwrap(),
            cluster_name: "lab".into(),
            etcd_client_port: 2379,
            etcd_peer_port: 2380,
            etcd_metrics_port: 2381,
            apiserver_port: 6443,
            service_cidr: "10.233.0.0/18".into(),
            pod_cidr: "10.236.0.0/14".into(),
            cluster_domain: "cluster.local".into(),
            paths: Paths::node("/var/lib/etcd"),
            extra: ExtraArgs::default(),
        }
    }

    fn has(args: &[String], want: &str) -> bool {
        args.iter().any(|a| a == want)
    }

    #[test]
    fn a_joining_etcd_names_the_cluster_and_starts_existing() {
        let args = plane().etcd_joining("cp-0=https://10.0.0.9:2380,cp-1=https://10.0.0.10:2380");
        assert!(has(
            &args,
            "--initial-cluster=cp-0=https://10.0.0.9:2380,cp-1=https://10.0.0.10:2380"
        ));
        assert!(has(&args, "--initial-cluster-state=existing"));
        assert!(!has(&args, "--initial-cluster-state=new"));
        assert_eq!(args.len(), plane().etcd().len(), "replaced, not added");
    }

    #[test]
    fn etcd_takes_the_operators_timing_but_a_joiner_keeps_its_cluster() {
        let mut p = plane();
        p.extra.etcd = vec![
            "--heartbeat-interval=500".into(),
            "--election-timeout=5000".into(),
            "--initial-cluster-state=new".into(),
        ];
        let args = p.etcd();
        assert!(has(&args, "--heartbeat-interval=500"));
        assert!(has(&args, "--election-timeout=5000"));
        let joining = p.etcd_joining("cp-1=https://10.0.0.10:2380");
        assert!(has(&joining, "--election-timeout=5000"));
        assert!(has(&joining, "--initial-cluster-state=existing"));
        assert!(!has(&joining, "--initial-cluster-state=new"));
    }

    #[test]
    fn etcd_is_one_tls_member_advertising_the_node_address() {
        let args = plane().etcd();
        for want in [
            "--name=cp-1",
            "--data-dir=/var/lib/etcd",
            "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379",
            "--advertise-client-urls=https://10.0.0.10:2379",
            "--initial-cluster=cp-1=https://10.0.0.10:2380",
            "--initial-cluster-state=new",
            "--listen-metrics-urls=http://0.0.0.0:2381",
            "--client-cert-auth=true",
            "--peer-client-cert-auth=true",
            "--cert-file=/var/lib/plinth/pki/etcd/server.crt",
            "--peer-key-file=/var/lib/plinth/pki/etcd/peer.key",
        ] {
            assert!(has(&args, want), "etcd lacks {want}: {args:?}");
        }
    }

    #[test]
    fn ipv6_addresses_are_bracketed_in_urls() {
        let mut p = plane();
        p.address = "fd00::10".parse().unwrap();
        assert!(has(
            &p.etcd(),
            "--advertise-client-urls=https://[fd00::10]:2379"
        ));
        assert!(has(&p.apiserver(), "--advertise-address=fd00::10"));
    }

    #[test]
    fn the_apiserver_has_kubeadms_security_flags() {
        let args = plane().apiserver();
        for want in [
            "--advertise-address=10.0.0.10",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--enable-bootstrap-token-auth=true",
            "--etcd-servers=https://127.0.0.1:2379",
            "--etcd-certfile=/var/lib/plinth/pki/apiserver-etcd-client.crt",
            "--service-cluster-ip-range=10.233.0.0/18",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--service-account-signing-key-file=/var/lib/plinth/pki/sa.key",
            "--requestheader-allowed-names=front-proxy-client",
            "--kubelet-client-certificate=/var/lib/plinth/pki/apiserver-kubelet-client.crt",
        ] {
            assert!(has(&args, want), "apiserver lacks {want}");
        }
    }

    #[test]
    fn the_controller_manager_signs_and_runs_the_bootstrap_controllers() {
        let args = plane().controller_manager();
        for want in [
            "--controllers=*,bootstrapsigner,tokencleaner",
            "--cluster-signing-cert-file=/var/lib/plinth/pki/ca.crt",
            "--cluster-signing-key-file=/var/lib/plinth/pki/ca.key",
            "--allocate-node-cidrs=true",
            "--cluster-cidr=10.236.0.0/14",
            "--kubeconfig=/var/lib/plinth/kubernetes/controller-manager.conf",
            "--flex-volume-plugin-dir=/var/lib/kubelet/volumeplugins",
        ] {
            assert!(has(&args, want), "controller-manager lacks {want}");
        }
        assert!(has(
            &plane().scheduler(),
            "--kubeconfig=/var/lib/plinth/kubernetes/scheduler.conf"
        ));
    }

    #[test]
    fn extra_args_replace_defaults_of_the_same_name_or_are_added() {
        let mut p = plane();
        p.extra.apiserver = vec![
            "--authorization-mode=Node,RBAC,Webhook".into(),
            "--audit-log-path=/var/log/audit.log".into(),
            "--profiling".into(),
        ];
        let args = p.apiserver();
        assert!(has(&args, "--authorization-mode=Node,RBAC,Webhook"));
        assert!(!has(&args, "--authorization-mode=Node,RBAC"));
        assert_eq!(
            args.iter()
                .filter(|a| a.starts_with("--authorization-mode="))
                .count(),
            1
        );
        assert_eq!(args[args.len() - 2], "--audit-log-path=/var/log/audit.log");
        assert_eq!(args.last().unwrap(), "--profiling");
        assert_eq!(
            merge(vec!["--a=1".into(), "--b".into()], &["--b=2".into()]),
            ["--a=1", "--b=2"]
        );
    }
}
