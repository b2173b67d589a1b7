//! The planner: a [`PkiRequest`] in, the whole kubeadm set a control-plane node needs out — the
//! CAs, the leaf certificates with their subjects, names and usages, the service-account key pair
//! and the kubeconfigs — with kubeadm's file names. Pure: no keys, no files, no clock.
//!
//! Every name, subject and usage here is kubeadm's (`cmd/kubeadm/app/phases/certs/certlist.go`,
//! `phases/kubeconfig`), so a kubeadm-made control plane and this one are interchangeable. Two files
//! kubeadm does not make: `kubernetes/kube-proxy.conf` (kubeadm gives kube-proxy a service-account
//! token; Plinth runs it as a host process, as `system:kube-proxy`, which the default RBAC binds to
//! `system:node-proxier`), and nothing else differs in name.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use crate::net::cidr::Cidr;

/// Where the set lives on a node; `pki/` and `kubernetes/` are below it.
pub const DEFAULT_ROOT: &str = "/var/lib/plinth";
/// The certificates and keys, relative to the root (kubeadm's `/etc/kubernetes/pki`).
pub const PKI_DIR: &str = "pki";
/// The kubeconfigs, relative to the root (kubeadm's `/etc/kubernetes`).
pub const KUBECONFIG_DIR: &str = "kubernetes";
/// Validity of leaf certificates and kubeconfig client certificates: one year, as kubeadm.
pub const LEAF_VALIDITY_DAYS: i64 = 365;
/// Validity of the CAs this agent makes: ten years, as kubeadm.
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// Certificates start this long before they are made, so a clock slightly behind still accepts
/// them (kubeadm backdates by the same amount).
pub const BACKDATE_SECONDS: i64 = 5 * 60;
/// A leaf that expires within this many days is issued again.
pub const RENEW_WITHIN_DAYS: i64 = 30;
/// The organization kubeadm's admin.conf carries; bound to `cluster-admin` by a
/// ClusterRoleBinding another component creates.
pub const CLUSTER_ADMINS: &str = "kubeadm:cluster-admins";
/// The organization every kube-apiserver trusts as cluster-admin without any binding.
pub const SYSTEM_MASTERS: &str = "system:masters";

/// What the set is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkiRequest {
    /// This node's name (its kubelet's `system:node:<name>`, a SAN of the apiserver and etcd).
    pub node_name: String,
    /// This node's addresses: SANs of the apiserver and etcd certificates.
    pub node_addresses: Vec<IpAddr>,
    /// The cluster's DNS domain (`cluster.local`).
    pub cluster_domain: String,
    /// The first address of the service range: the `kubernetes` service's cluster IP.
    pub service_ip: IpAddr,
    /// More names of the apiserver: DNS names or IP addresses (a load balancer's, a VIP).
    pub cert_sans: Vec<String>,
    /// The apiserver every kubeconfig points at (`https://10.0.0.10:6443`).
    pub apiserver_url: String,
    /// Whether this node runs the stacked etcd (its CA and certificates, the apiserver's client).
    pub etcd: bool,
    /// Whether this node is a control plane: the cluster and front-proxy CAs, the
    /// service-account keys, the apiserver's certificates and the kubeconfigs. Without it (an
    /// agent running only an etcd member) the set is etcd's alone, and its CA is never made here:
    /// it comes from the cluster.
    pub control_plane: bool,
}

/// Why a request cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The node name is not a DNS-1123 subdomain (what Kubernetes allows for node names).
    #[error(
        "node name `{0}` is not a valid Kubernetes node name (lowercase letters, digits, `-` and `.`)"
    )]
    NodeName(String),
    /// A `--san` is neither an IP address nor a DNS name.
    #[error("SAN `{0}` is neither an IP address nor a DNS name")]
    San(String),
    /// The cluster domain is not a DNS name.
    #[error("cluster domain `{0}` is not a DNS name")]
    ClusterDomain(String),
    /// The apiserver URL is not `https://HOST[:PORT]`.
    #[error("apiserver URL `{0}` must be https://HOST[:PORT]")]
    ApiserverUrl(String),
    /// The service range does not parse or has no first address.
    #[error("service CIDR `{0}`: {1}")]
    ServiceCidr(String, String),
}

/// A subject alternative name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum San {
    /// A DNS name.
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

impl San {
    /// An IP address when `text` is one, else a DNS name (rejecting what no DNS name can be).
    pub fn parse(text: &str) -> Result<Self, PlanError> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(San::Ip(ip));
        }
        if is_dns_name(text, true) {
            Ok(San::Dns(text.to_owned()))
        } else {
            Err(PlanError::San(text.to_owned()))
        }
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => write!(f, "DNS:{name}"),
            San::Ip(ip) => write!(f, "IP:{ip}"),
        }
    }
}

/// What a leaf certificate may be used for (its extended key usage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    /// TLS server only.
    Server,
    /// TLS client only.
    Client,
    /// Both (etcd's server and peer certificates).
    ServerAndClient,
}

impl Usage {
    /// Whether the certificate authenticates a TLS server.
    pub fn server(self) -> bool {
        matches!(self, Usage::Server | Usage::ServerAndClient)
    }

    /// Whether the certificate authenticates a TLS client.
    pub fn client(self) -> bool {
        matches!(self, Usage::Client | Usage::ServerAndClient)
    }
}

/// The three CAs of a kubeadm control plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaId {
    /// `ca`: the cluster CA (client certificates, the apiserver, kubelets).
    Cluster,
    /// `front-proxy-ca`: the aggregation layer's client CA.
    FrontProxy,
    /// `etcd/ca`: etcd's servers, peers and clients.
    Etcd,
}

/// A CA to keep (or make).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaSpec {
    /// Which one.
    pub id: CaId,
    /// The file stem under `pki/` (`ca`, `front-proxy-ca`, `etcd/ca`).
    pub stem: &'static str,
    /// Its subject's common name.
    pub common_name: &'static str,
}

/// A leaf certificate and its key, `pki/<stem>.crt` and `pki/<stem>.key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafSpec {
    /// The file stem under `pki/` (`apiserver`, `etcd/server`).
    pub stem: &'static str,
    /// The CA that signs it.
    pub ca: CaId,
    /// Its subject.
    pub subject: Subject,
    /// Its subject alternative names, without duplicates, in a stable order.
    pub sans: Vec<San>,
    /// Server, client or both.
    pub usage: Usage,
}

/// A certificate's subject: one common name, organizations in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// CN: the user name the apiserver sees for a client certificate.
    pub common_name: String,
    /// O: the groups the apiserver sees.
    pub organizations: Vec<String>,
}

impl Subject {
    fn new(common_name: impl Into<String>, organizations: &[&str]) -> Self {
        Self {
            common_name: common_name.into(),
            organizations: organizations.iter().map(|o| o.to_string()).collect(),
        }
    }
}

/// A kubeconfig `kubernetes/<file>` with its own client certificate (signed by the cluster CA)
/// and key embedded, as kubeadm writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeconfigSpec {
    /// The file name under `kubernetes/` (`admin.conf`).
    pub file: &'static str,
    /// The client certificate's subject; its CN is also the kubeconfig's user name.
    pub subject: Subject,
    /// The apiserver URL.
    pub server: String,
}

/// What kind of file a planned file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A PEM certificate.
    Certificate,
    /// A PEM private key.
    PrivateKey,
    /// A PEM public key (`sa.pub`).
    PublicKey,
    /// A kubeconfig (embeds a private key).
    Kubeconfig,
}

impl FileKind {
    /// Whether the file holds a secret: private keys and kubeconfigs.
    pub fn secret(self) -> bool {
        matches!(self, FileKind::PrivateKey | FileKind::Kubeconfig)
    }

    /// The file's mode: 0600 for secrets, 0644 else.
    pub fn mode(self) -> u32 {
        if self.secret() { 0o600 } else { 0o644 }
    }
}

/// One file of the set, relative to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedFile {
    /// `pki/ca.crt`, `kubernetes/admin.conf`.
    pub path: PathBuf,
    /// What it holds.
    pub kind: FileKind,
}

/// The whole set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The CAs, the cluster CA first.
    pub cas: Vec<CaSpec>,
    /// The leaf certificates.
    pub leaves: Vec<LeafSpec>,
    /// The kubeconfigs.
    pub kubeconfigs: Vec<KubeconfigSpec>,
    /// Whether the set is a control plane's: it may make its CAs (on a first run) and has the
    /// service-account keys. An etcd member's set only issues from the etcd CA it was given.
    pub control_plane: bool,
}

/// The service-account key pair's files under `pki/` (always part of the set).
pub const SA_KEY: &str = "sa.key";
/// The service-account public key under `pki/`.
pub const SA_PUB: &str = "sa.pub";

impl CaId {
    /// This CA's spec (file stem and common name, as kubeadm).
    pub fn spec(self) -> CaSpec {
        let (stem, common_name) = match self {
            CaId::Cluster => ("ca", "kubernetes"),
            CaId::FrontProxy => ("front-proxy-ca", "front-proxy-ca"),
            CaId::Etcd => ("etcd/ca", "etcd-ca"),
        };
        CaSpec {
            id: self,
            stem,
            common_name,
        }
    }
}

/// Plans the set for `request`.
pub fn plan(request: &PkiRequest) -> Result<Plan, PlanError> {
    let node = &request.node_name;
    if !is_dns_name(node, false) {
        return Err(PlanError::NodeName(node.clone()));
    }
    let domain = request.cluster_domain.trim_end_matches('.');
    if !is_dns_name(domain, false) {
        return Err(PlanError::ClusterDomain(request.cluster_domain.clone()));
    }
    check_apiserver_url(&request.apiserver_url)?;
    let extra: Vec<San> = request
        .cert_sans
        .iter()
        .map(|s| San::parse(s))
        .collect::<Result<_, _>>()?;

    let dns = |s: &str| San::Dns(s.to_owned());
    let addresses = request.node_addresses.iter().map(|ip| San::Ip(*ip));
    let mut apiserver_sans = vec![
        dns("kubernetes"),
        dns("kubernetes.default"),
        dns("kubernetes.default.svc"),
        San::Dns(format!("kubernetes.default.svc.{domain}")),
        dns(node),
        dns("localhost"),
        San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        San::Ip(request.service_ip),
    ];
    apiserver_sans.extend(addresses.clone());
    apiserver_sans.extend(extra);
    let mut etcd_sans = vec![
        dns(node),
        dns("localhost"),
        San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    etcd_sans.extend(addresses);

    let leaf = |stem, ca, subject, sans: &[San], usage| LeafSpec {
        stem,
        ca,
        subject,
        sans: dedup(sans),
        usage,
    };
    let mut cas = Vec::new();
    let mut leaves = Vec::new();
    if request.control_plane {
        cas.extend([CaId::Cluster.spec(), CaId::FrontProxy.spec()]);
        leaves.extend([
            leaf(
                "apiserver",
                CaId::Cluster,
                Subject::new("kube-apiserver", &[]),
                &apiserver_sans,
                Usage::Server,
            ),
            leaf(
                "apiserver-kubelet-client",
                CaId::Cluster,
                Subject::new("kube-apiserver-kubelet-client", &[CLUSTER_ADMINS]),
                &[],
                Usage::Client,
            ),
            leaf(
                "front-proxy-client",
                CaId::FrontProxy,
                Subject::new("front-proxy-client", &[]),
                &[],
                Usage::Client,
            ),
        ]);
    }
    if request.etcd {
        cas.push(CaId::Etcd.spec());
        leaves.extend([
            leaf(
                "etcd/server",
                CaId::Etcd,
                Subject::new(node.as_str(), &[]),
                &etcd_sans,
                Usage::ServerAndClient,
            ),
            leaf(
                "etcd/peer",
                CaId::Etcd,
                Subject::new(node.as_str(), &[]),
                &etcd_sans,
                Usage::ServerAndClient,
            ),
            leaf(
                "etcd/healthcheck-client",
                CaId::Etcd,
                Subject::new("kube-etcd-healthcheck-client", &[]),
                &[],
                Usage::Client,
            ),
            leaf(
                "apiserver-etcd-client",
                CaId::Etcd,
                Subject::new("kube-apiserver-etcd-client", &[]),
                &[],
                Usage::Client,
            ),
        ]);
    }

    let kubeconfig = |file, subject| KubeconfigSpec {
        file,
        subject,
        server: request.apiserver_url.clone(),
    };
    let kubeconfigs = if !request.control_plane {
        Vec::new()
    } else {
        vec![
            kubeconfig(
                "admin.conf",
                Subject::new("kubernetes-admin", &[CLUSTER_ADMINS]),
            ),
            kubeconfig(
                "super-admin.conf",
                Subject::new("kubernetes-super-admin", &[SYSTEM_MASTERS]),
            ),
            kubeconfig(
                "controller-manager.conf",
                Subject::new("system:kube-controller-manager", &[]),
            ),
            kubeconfig("scheduler.conf", Subject::new("system:kube-scheduler", &[])),
            kubeconfig(
                "kubelet.conf",
                Subject::new(format!("system:node:{node}"), &["system:nodes"]),
            ),
            kubeconfig("kube-proxy.conf", Subject::new("system:kube-proxy", &[])),
        ]
    };
    Ok(Plan {
        cas,
        leaves,
        kubeconfigs,
        control_plane: request.control_plane,
    })
}

impl Plan {
    /// The CA spec of `id` (always planned for the leaves that name it).
    pub fn ca(&self, id: CaId) -> &CaSpec {
        self.cas
            .iter()
            .find(|c| c.id == id)
            .expect("every CA a leaf names is planned")
    }

    /// Every file of the set, in the order they are made: CAs, the service-account pair, leaves,
    /// kubeconfigs. Keys come before their certificates.
    pub fn files(&self) -> Vec<PlannedFile> {
        let pki = |name: String, kind| PlannedFile {
            path: PathBuf::from(PKI_DIR).join(name),
            kind,
        };
        let mut files = Vec::new();
        for ca in &self.cas {
            files.push(pki(format!("{}.key", ca.stem), FileKind::PrivateKey));
            files.push(pki(format!("{}.crt", ca.stem), FileKind::Certificate));
        }
        if self.control_plane {
            files.push(pki(SA_KEY.into(), FileKind::PrivateKey));
            files.push(pki(SA_PUB.into(), FileKind::PublicKey));
        }
        for leaf in &self.leaves {
            files.push(pki(format!("{}.key", leaf.stem), FileKind::PrivateKey));
            files.push(pki(format!("{}.crt", leaf.stem), FileKind::Certificate));
        }
        for k in &self.kubeconfigs {
            files.push(PlannedFile {
                path: PathBuf::from(KUBECONFIG_DIR).join(k.file),
                kind: FileKind::Kubeconfig,
            });
        }
        files
    }
}

/// The first address of the primary (first) range of `--service-cluster-ip-range`, which the
/// `kubernetes` service gets: `10.96.0.0/12` → `10.96.0.1`; `10.96.0.0/12,fd00::/108` →
/// `10.96.0.1` (kubeadm names only the primary family's address too).
pub fn first_service_ip(cidrs: &str) -> Result<IpAddr, PlanError> {
    let bad = |why: String| PlanError::ServiceCidr(cidrs.to_owned(), why);
    let primary = cidrs.split(',').next().unwrap_or_default().trim();
    let cidr = Cidr::parse(primary).map_err(|e| bad(e.to_string()))?;
    let network = cidr.network().addr;
    let first = match network {
        IpAddr::V4(v4) => u32::from(v4)
            .checked_add(1)
            .filter(|_| cidr.prefix < 32)
            .map(|n| IpAddr::V4(n.into())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(1)
            .filter(|_| cidr.prefix < 128)
            .map(|n| IpAddr::V6(n.into())),
    };
    first.ok_or_else(|| bad("the range has no address after its network address".into()))
}

/// Drops repeated names, keeping the first of each.
fn dedup(sans: &[San]) -> Vec<San> {
    let mut out: Vec<San> = Vec::with_capacity(sans.len());
    for san in sans {
        if !out.contains(san) {
            out.push(san.clone());
        }
    }
    out
}

/// A DNS name: dot-separated labels of ASCII letters, digits and `-` (not at either end of a
/// label), at most 253 characters; `wildcard` also allows a leading `*.` label (a SAN may be one).
/// Node names must be lowercase (DNS-1123 subdomains).
fn is_dns_name(text: &str, wildcard: bool) -> bool {
    let body = match text.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        _ => text,
    };
    let lowercase_only = !wildcard;
    !body.is_empty()
        && text.len() <= 253
        && body.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| {
                    b.is_ascii_digit()
                        || b == b'-'
                        || b.is_ascii_lowercase()
                        || (!lowercase_only && b.is_ascii_uppercase())
                })
        })
}

/// `https://HOST[:PORT][/]`, HOST a DNS name, an IPv4 address or a bracketed IPv6 address.
fn check_apiserver_url(url: &str) -> Result<(), PlanError> {
    let bad = || PlanError::ApiserverUrl(url.to_owned());
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        host.parse::<Ipv6Addr>().map_err(|_| bad())?;
        (None, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        }
    };
    if let Some(host) = host
        && host.parse::<Ipv4Addr>().is_err()
        && !is_dns_name(host, false)
    {
        return Err(bad());
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(bad());
    }
    if authority.contains('/') || (authority.starts_with('[') && !authority.contains(']')) {
        return Err(bad());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> PkiRequest {
        PkiRequest {
            node_name: "cp-1".into(),
            node_addresses: vec!["10.0.0.10".parse().unwrap(), "fd00::10".parse().unwrap()],
            cluster_domain: "cluster.local".into(),
            service_ip: "10.96.0.1".parse().unwrap(),
            cert_sans: vec!["api.example.com".into(), "192.0.2.7".into()],
            apiserver_url: "https://10.0.0.10:6443".into(),
            etcd: true,
            control_plane: true,
        }
    }

    fn leaf<'a>(plan: &'a Plan, stem: &str) -> &'a LeafSpec {
        plan.leaves.iter().find(|l| l.stem == stem).unwrap()
    }

    fn kubeconfig<'a>(plan: &'a Plan, file: &str) -> &'a KubeconfigSpec {
        plan.kubeconfigs.iter().find(|k| k.file == file).unwrap()
    }

    fn names(sans: &[San]) -> Vec<String> {
        sans.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_full_set_has_kubeadms_file_names() {
        let plan = plan(&request()).unwrap();
        let files: Vec<String> = plan
            .files()
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "pki/ca.key",
                "pki/ca.crt",
                "pki/front-proxy-ca.key",
                "pki/front-proxy-ca.crt",
                "pki/etcd/ca.key",
                "pki/etcd/ca.crt",
                "pki/sa.key",
                "pki/sa.pub",
                "pki/apiserver.key",
                "pki/apiserver.crt",
                "pki/apiserver-kubelet-client.key",
                "pki/apiserver-kubelet-client.crt",
                "pki/front-proxy-client.key",
                "pki/front-proxy-client.crt",
                "pki/etcd/server.key",
                "pki/etcd/server.crt",
                "pki/etcd/peer.key",
                "pki/etcd/peer.crt",
                "pki/etcd/healthcheck-client.key",
                "pki/etcd/healthcheck-client.crt",
                "pki/apiserver-etcd-client.key",
                "pki/apiserver-etcd-client.crt",
                "kubernetes/admin.conf",
                "kubernetes/super-admin.conf",
                "kubernetes/controller-manager.conf",
                "kubernetes/scheduler.conf",
                "kubernetes/kubelet.conf",
                "kubernetes/kube-proxy.conf",
            ]
        );
    }

    #[test]
    fn keys_and_kubeconfigs_are_secret_certificates_and_the_public_key_are_not() {
        for file in plan(&request()).unwrap().files() {
            let name = file.path.display().to_string();
            let secret = name.ends_with(".key") || name.ends_with(".conf");
            assert_eq!(file.kind.secret(), secret, "{name}");
            assert_eq!(
                file.kind.mode(),
                if secret { 0o600 } else { 0o644 },
                "{name}"
            );
        }
    }

    #[test]
    fn without_etcd_there_is_no_etcd_ca_nor_etcd_certificate() {
        let plan = plan(&PkiRequest {
            etcd: false,
            ..request()
        })
        .unwrap();
        assert_eq!(
            plan.cas.iter().map(|c| c.stem).collect::<Vec<_>>(),
            ["ca", "front-proxy-ca"]
        );
        assert!(
            plan.files().iter().all(|f| {
                let p = f.path.display().to_string();
                !p.contains("etcd")
            }),
            "{:?}",
            plan.files()
        );
    }

    #[test]
    fn an_etcd_members_set_is_etcds_alone() {
        let plan = plan(&PkiRequest {
            control_plane: false,
            ..request()
        })
        .unwrap();
        let files: Vec<String> = plan
            .files()
            .iter()
            .map(|f| f.path.display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "pki/etcd/ca.key",
                "pki/etcd/ca.crt",
                "pki/etcd/server.key",
                "pki/etcd/server.crt",
                "pki/etcd/peer.key",
                "pki/etcd/peer.crt",
                "pki/etcd/healthcheck-client.key",
                "pki/etcd/healthcheck-client.crt",
                "pki/apiserver-etcd-client.key",
                "pki/apiserver-etcd-client.crt",
            ]
        );
        assert!(!plan.control_plane);
    }

    #[test]
    fn cas_have_kubeadms_common_names() {
        let plan = plan(&request()).unwrap();
        let cns: Vec<_> = plan.cas.iter().map(|c| (c.stem, c.common_name)).collect();
        assert_eq!(
            cns,
            [
                ("ca", "kubernetes"),
                ("front-proxy-ca", "front-proxy-ca"),
                ("etcd/ca", "etcd-ca")
            ]
        );
    }

    #[test]
    fn the_apiserver_is_named_every_way_a_client_reaches_it() {
        let plan = plan(&request()).unwrap();
        let apiserver = leaf(&plan, "apiserver");
        assert_eq!(apiserver.subject, Subject::new("kube-apiserver", &[]));
        assert_eq!(apiserver.usage, Usage::Server);
        assert_eq!(apiserver.ca, CaId::Cluster);
        assert_eq!(
            names(&apiserver.sans),
            [
                "DNS:kubernetes",
                "DNS:kubernetes.default",
                "DNS:kubernetes.default.svc",
                "DNS:kubernetes.default.svc.cluster.local",
                "DNS:cp-1",
                "DNS:localhost",
                "IP:127.0.0.1",
                "IP:10.96.0.1",
                "IP:10.0.0.10",
                "IP:fd00::10",
                "DNS:api.example.com",
                "IP:192.0.2.7",
            ]
        );
    }

    #[test]
    fn repeated_names_appear_once() {
        let plan = plan(&PkiRequest {
            cert_sans: vec!["10.0.0.10".into(), "cp-1".into(), "localhost".into()],
            node_addresses: vec!["10.0.0.10".parse().unwrap(), "127.0.0.1".parse().unwrap()],
            ..request()
        })
        .unwrap();
        let sans = &leaf(&plan, "apiserver").sans;
        for san in sans {
            assert_eq!(sans.iter().filter(|s| *s == san).count(), 1, "{san}");
        }
        assert_eq!(sans.len(), 9, "{sans:?}");
    }

    #[test]
    fn etcd_server_and_peer_serve_and_are_clients_on_loopback_and_node_addresses() {
        let plan = plan(&request()).unwrap();
        for stem in ["etcd/server", "etcd/peer"] {
            let cert = leaf(&plan, stem);
            assert_eq!(cert.ca, CaId::Etcd, "{stem}");
            assert_eq!(cert.usage, Usage::ServerAndClient, "{stem}");
            assert_eq!(cert.subject, Subject::new("cp-1", &[]), "{stem}");
            assert_eq!(
                names(&cert.sans),
                [
                    "DNS:cp-1",
                    "DNS:localhost",
                    "IP:127.0.0.1",
                    "IP:::1",
                    "IP:10.0.0.10",
                    "IP:fd00::10"
                ],
                "{stem}"
            );
        }
    }

    #[test]
    fn clients_have_kubeadms_subjects_and_cas() {
        let plan = plan(&request()).unwrap();
        let expect = [
            (
                "apiserver-kubelet-client",
                CaId::Cluster,
                "kube-apiserver-kubelet-client",
                vec![CLUSTER_ADMINS],
            ),
            (
                "front-proxy-client",
                CaId::FrontProxy,
                "front-proxy-client",
                vec![],
            ),
            (
                "etcd/healthcheck-client",
                CaId::Etcd,
                "kube-etcd-healthcheck-client",
                vec![],
            ),
            (
                "apiserver-etcd-client",
                CaId::Etcd,
                "kube-apiserver-etcd-client",
                vec![],
            ),
        ];
        for (stem, ca, cn, orgs) in expect {
            let cert = leaf(&plan, stem);
            assert_eq!(cert.ca, ca, "{stem}");
            assert_eq!(cert.subject, Subject::new(cn, &orgs), "{stem}");
            assert_eq!(cert.usage, Usage::Client, "{stem}");
            assert!(cert.sans.is_empty(), "{stem}");
        }
    }

    #[test]
    fn kubeconfigs_carry_the_identities_rbac_expects_and_the_apiserver_url() {
        let plan = plan(&request()).unwrap();
        let expect = [
            ("admin.conf", "kubernetes-admin", vec![CLUSTER_ADMINS]),
            (
                "super-admin.conf",
                "kubernetes-super-admin",
                vec![SYSTEM_MASTERS],
            ),
            (
                "controller-manager.conf",
                "system:kube-controller-manager",
                vec![],
            ),
            ("scheduler.conf", "system:kube-scheduler", vec![]),
            ("kubelet.conf", "system:node:cp-1", vec!["system:nodes"]),
            ("kube-proxy.conf", "system:kube-proxy", vec![]),
        ];
        assert_eq!(plan.kubeconfigs.len(), expect.len());
        for (file, cn, orgs) in expect {
            let k = kubeconfig(&plan, file);
            assert_eq!(k.subject, Subject::new(cn, &orgs), "{file}");
            assert_eq!(k.server, "https://10.0.0.10:6443", "{file}");
        }
    }

    #[test]
    fn usages_say_server_and_client() {
        assert!(Usage::Server.server() && !Usage::Server.client());
        assert!(!Usage::Client.server() && Usage::Client.client());
        assert!(Usage::ServerAndClient.server() && Usage::ServerAndClient.client());
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let cases = [
            (
                PkiRequest {
                    node_name: "CP_1".into(),
                    ..request()
                },
                "node name `CP_1`",
            ),
            (
                PkiRequest {
                    cert_sans: vec!["not a name".into()],
                    ..request()
                },
                "SAN `not a name`",
            ),
            (
                PkiRequest {
                    apiserver_url: "http://10.0.0.10:6443".into(),
                    ..request()
                },
                "must be https://",
            ),
            (
                PkiRequest {
                    apiserver_url: "https://10.0.0.10:port".into(),
                    ..request()
                },
                "must be https://",
            ),
            (
                PkiRequest {
                    cluster_domain: "".into(),
                    ..request()
                },
                "cluster domain",
            ),
        ];
        for (req, want) in cases {
            let err = plan(&req).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn apiserver_urls_may_name_a_host_an_ipv4_or_a_bracketed_ipv6_address() {
        for url in [
            "https://10.0.0.10:6443",
            "https://api.example.com:6443",
            "https://api.example.com",
            "https://[fd00::10]:6443",
            "https://127.0.0.1:6443/",
        ] {
            check_apiserver_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        for url in [
            "https://",
            "https://[fd00::10:6443",
            "https://h:0",
            "https://h:6443/api",
            "10.0.0.10:6443",
        ] {
            assert!(check_apiserver_url(url).is_err(), "{url}");
        }
    }

    #[test]
    fn sans_are_addresses_or_dns_names() {
        assert_eq!(
            San::parse("10.1.2.3").unwrap(),
            San::Ip("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            San::parse("fd00::1").unwrap(),
            San::Ip("fd00::1".parse().unwrap())
        );
        assert_eq!(
            San::parse("Api.Example.com").unwrap(),
            San::Dns("Api.Example.com".into())
        );
        assert_eq!(
            San::parse("*.apps.example.com").unwrap(),
            San::Dns("*.apps.example.com".into())
        );
        for bad in ["", "a..b", "-a.b", "a b", "a_b.example", "ä.example"] {
            assert!(San::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_service_ip_is_the_first_address_of_the_primary_range() {
        let first = |c: &str| first_service_ip(c).map(|ip| ip.to_string());
        assert_eq!(first("10.96.0.0/12").unwrap(), "10.96.0.1");
        assert_eq!(first("10.96.5.7/12").unwrap(), "10.96.0.1");
        assert_eq!(first("10.96.0.0/12,fd00::/108").unwrap(), "10.96.0.1");
        assert_eq!(first("fd00:10::/108").unwrap(), "fd00:10::1");
        assert!(first("10.96.0.0/32").is_err());
        assert!(first("10.96.0.0").is_err());
        assert!(first("nonsense/12").is_err());
    }
}
