//! `plinth.cluster.kubernetes`: the upstream Kubernetes a node runs — its address ranges, DNS domain,
//! CNI and kube-proxy mode, certificate names, node labels and taints, and extra component flags —
//! with the addresses derived from them (the `kubernetes` Service's IP, the cluster DNS IP).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Kubernetes settings, with Genestack's defaults (Kubespray's, and Kube-OVN's pod range).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kubernetes {
    /// The pods' address range (IPv4 CIDR). The default is Kube-OVN's, as Genestack installs it.
    #[serde(default = "default_pod_cidr")]
    pub pod_cidr: String,
    /// The Services' address range (IPv4 CIDR, /12 to /28). Its first address is the `kubernetes`
    /// Service, its tenth the cluster DNS, as kubeadm assigns them. Must not overlap `pod_cidr`.
    #[serde(default = "default_service_cidr")]
    pub service_cidr: String,
    /// The cluster's DNS domain.
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
    /// The pod network: `none` (Genestack installs Kube-OVN afterwards; nodes are NotReady until it
    /// runs) or `bridge` (a bridge on the node for labs and tests, so nodes become Ready alone).
    #[serde(default)]
    pub cni: Cni,
    /// kube-proxy's mode: `ipvs` (Genestack's) or `iptables`.
    #[serde(default)]
    pub proxy_mode: ProxyMode,
    /// Extra names (DNS names or IP addresses) in the kube-apiserver's serving certificate, such as
    /// a load balancer's name or a VIP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_sans: Vec<String>,
    /// Extra node labels the kubelet sets at registration.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    /// Node taints registered with the node (`key=value:Effect`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_taints: Vec<String>,
    /// Extra command-line flags for each component (`--flag=value`), after Plinth's own.
    #[serde(default, skip_serializing_if = "ExtraArgs::is_empty")]
    pub extra_args: ExtraArgs,
    /// Whether a control-plane node (role `init` or `server`) takes ordinary pods: it is
    /// registered without the `node-role.kubernetes.io/control-plane:NoSchedule` taint. Default
    /// false, as kubeadm; single-node and hyperconverged nodes set it. Unused on an agent.
    #[serde(default)]
    pub schedule_on_control_plane: bool,
}

/// The pod network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Cni {
    /// No CNI from the platform: Genestack installs Kube-OVN as a chart afterwards.
    #[default]
    None,
    /// The CNI bridge plugin with host-local addresses from the node's pod range (labs, tests).
    Bridge,
}

/// kube-proxy's mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProxyMode {
    /// IPVS (Genestack's, with strict ARP for MetalLB).
    #[default]
    Ipvs,
    /// iptables rules.
    Iptables,
}

/// Extra flags per component, each `--flag=value` (or `--flag`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtraArgs {
    /// kube-apiserver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apiserver: Vec<String>,
    /// kube-controller-manager.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controller_manager: Vec<String>,
    /// kube-scheduler.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scheduler: Vec<String>,
    /// kubelet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubelet: Vec<String>,
    /// kube-proxy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy: Vec<String>,
    /// etcd, on a node that runs a member (kubeadm's `etcd.local.extraArgs`): for example
    /// `--heartbeat-interval=500` and `--election-timeout=5000` for members on slow or distant
    /// machines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub etcd: Vec<String>,
}

fn default_pod_cidr() -> String {
    "10.236.0.0/14".to_owned()
}
fn default_service_cidr() -> String {
    "10.233.0.0/18".to_owned()
}
fn default_cluster_domain() -> String {
    "cluster.local".to_owned()
}

impl Default for Kubernetes {
    fn default() -> Self {
        Kubernetes {
            pod_cidr: default_pod_cidr(),
            service_cidr: default_service_cidr(),
            cluster_domain: default_cluster_domain(),
            cni: Cni::default(),
            proxy_mode: ProxyMode::default(),
            cert_sans: Vec::new(),
            node_labels: BTreeMap::new(),
            node_taints: Vec::new(),
            extra_args: ExtraArgs::default(),
            schedule_on_control_plane: false,
        }
    }
}

impl ExtraArgs {
    /// Whether no component has extra flags.
    pub fn is_empty(&self) -> bool {
        self == &ExtraArgs::default()
    }
}

impl Kubernetes {
    /// The `kubernetes` Service's address, the first of `service_cidr` (10.233.0.1 by default):
    /// the kube-apiserver's certificate names it. None when `service_cidr` is not a valid IPv4 range.
    pub fn first_service_ip(&self) -> Option<Ipv4Addr> {
        nth_address(&self.service_cidr, 1)
    }

    /// The cluster DNS Service's address, the tenth of `service_cidr` as kubeadm picks it
    /// (10.233.0.10 by default): the kubelet's `clusterDNS`. None when `service_cidr` is not a
    /// valid IPv4 range.
    pub fn cluster_dns_ip(&self) -> Option<Ipv4Addr> {
        nth_address(&self.service_cidr, 10)
    }
}

/// The network address and prefix of an IPv4 CIDR whose host bits are clear.
pub(crate) fn ipv4_network(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let IpAddr::V4(addr) = addr.parse().ok()? else {
        return None;
    };
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let bits = u32::from(addr);
    (bits & !mask(prefix) == 0).then_some((addr, prefix))
}

/// The netmask of a prefix length (at most 32), as bits.
pub(crate) fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The `n`th address after the network address of `cidr`, if the range holds it.
fn nth_address(cidr: &str, n: u32) -> Option<Ipv4Addr> {
    let (net, prefix) = ipv4_network(cidr)?;
    let size = 1u64 << (32 - u32::from(prefix));
    (u64::from(n) < size).then(|| Ipv4Addr::from(u32::from(net) + n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_addresses_as_kubeadm_picks_them() {
        let k = Kubernetes::default();
        assert_eq!(k.first_service_ip(), Some(Ipv4Addr::new(10, 233, 0, 1)));
        assert_eq!(k.cluster_dns_ip(), Some(Ipv4Addr::new(10, 233, 0, 10)));
        let small = Kubernetes {
            service_cidr: "192.0.2.16/28".to_owned(),
            ..Kubernetes::default()
        };
        assert_eq!(small.cluster_dns_ip(), Some(Ipv4Addr::new(192, 0, 2, 26)));
        let tiny = Kubernetes {
            service_cidr: "192.0.2.16/30".to_owned(),
            ..Kubernetes::default()
        };
        assert_eq!(tiny.first_service_ip(), Some(Ipv4Addr::new(192, 0, 2, 17)));
        assert_eq!(tiny.cluster_dns_ip(), None, "a /30 has no tenth address");
        for bad in ["10.233.0.5/18", "fd00::/108", "10.233.0.0", "10.233.0.0/33"] {
            let k = Kubernetes {
                service_cidr: bad.to_owned(),
                ..Kubernetes::default()
            };
            assert_eq!(k.first_service_ip(), None, "{bad}");
        }
    }

    #[test]
    fn networks_and_masks() {
        assert_eq!(
            ipv4_network("10.236.0.0/14"),
            Some((Ipv4Addr::new(10, 236, 0, 0), 14))
        );
        assert_eq!(ipv4_network("10.237.0.0/14"), None, "host bits set");
        assert_eq!(ipv4_network("0.0.0.0/0"), Some((Ipv4Addr::UNSPECIFIED, 0)));
        assert_eq!(mask(0), 0);
        assert_eq!(mask(18), 0xffff_c000);
        assert_eq!(mask(32), u32::MAX);
    }
}
