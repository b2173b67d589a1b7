//! `plinth.cluster.kubernetes`: the pod and Service ranges (IPv4 networks that do not overlap), the
//! cluster domain, certificate names, node labels and taints, and the extra component flags.

use std::net::IpAddr;

use super::addresses::parse_cidr;
use super::genestack::labels;
use super::hostname::hostname_problem;
use super::{Finding, root};
use crate::config::MachineConfig;
use crate::plinth::Kubernetes;
use crate::plinth::kubernetes::{ipv4_network, mask};
use crate::yaml::KeyPath;

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let cluster = &config.plinth.cluster;
    let k = &cluster.kubernetes;
    let at = root("plinth").key("cluster").key("kubernetes");
    let pods = network(&k.pod_cidr, &at.key("pod_cidr"), out);
    let services = network(&k.service_cidr, &at.key("service_cidr"), out);
    if let Some((_, prefix)) = services
        && !(12..=28).contains(&prefix)
    {
        out.push(Finding::error(
            at.key("service_cidr"),
            format!("a Service range of /{prefix}: it must be /12 (the kube-apiserver's largest) to /28 (room for the DNS Service's tenth address)"),
        ));
    }
    if let (Some(pods), Some(services)) = (pods, services)
        && overlap(pods, services)
    {
        // Point at the range the config changed from Genestack's default, else at service_cidr.
        let key = if k.pod_cidr != Kubernetes::default().pod_cidr {
            "pod_cidr"
        } else {
            "service_cidr"
        };
        out.push(Finding::error(
            at.key(key),
            format!(
                "service_cidr `{}` and pod_cidr `{}` overlap: Services and pods need separate ranges",
                k.service_cidr, k.pod_cidr
            ),
        ));
    }
    if let Some(problem) = hostname_problem(&k.cluster_domain) {
        out.push(Finding::error(at.key("cluster_domain"), problem));
    }
    for (i, san) in k.cert_sans.iter().enumerate() {
        let dns = san.strip_prefix("*.").unwrap_or(san);
        if san.parse::<IpAddr>().is_err() && hostname_problem(dns).is_some() {
            out.push(Finding::error(
                at.key("cert_sans").index(i),
                format!("`{san}` is neither an IP address nor a DNS name"),
            ));
        }
    }
    labels(&k.node_labels, &at.key("node_labels"), out);
    for (i, taint) in k.node_taints.iter().enumerate() {
        let effect_ok = taint.rsplit_once(':').is_some_and(|(kv, effect)| {
            ["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect) && !kv.is_empty()
        });
        if !effect_ok {
            out.push(Finding::error(
                at.key("node_taints").index(i),
                format!("`{taint}` is not a taint: expected KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute"),
            ));
        }
    }
    let args = &k.extra_args;
    for (component, flags) in [
        ("apiserver", &args.apiserver),
        ("controller_manager", &args.controller_manager),
        ("scheduler", &args.scheduler),
        ("kubelet", &args.kubelet),
        ("proxy", &args.proxy),
        ("etcd", &args.etcd),
    ] {
        for (i, flag) in flags.iter().enumerate() {
            if !is_flag(flag) {
                out.push(Finding::error(
                    at.key("extra_args").key(component).index(i),
                    format!("`{flag}` is not a flag: write `--name=value` or `--name`, one flag per item"),
                ));
            }
        }
    }
    if k.schedule_on_control_plane && !cluster.is_control_plane() {
        out.push(
            Finding::warning(
                at.key("schedule_on_control_plane"),
                "`schedule_on_control_plane` is unused on role `agent`: an agent runs no control plane and takes pods anyway",
            )
            .at_key(),
        );
    }
}

/// An IPv4 network address with its prefix, or a finding saying why `cidr` is not one.
fn network(cidr: &str, at: &KeyPath, out: &mut Vec<Finding>) -> Option<(u32, u8)> {
    let problem = match parse_cidr(cidr) {
        Err(problem) => problem.to_string(),
        Ok((IpAddr::V6(_), _)) => format!("`{cidr}` is IPv6: only IPv4 ranges are supported"),
        Ok((IpAddr::V4(addr), prefix)) => match ipv4_network(cidr) {
            Some((net, prefix)) => return Some((u32::from(net), prefix)),
            None => format!(
                "`{cidr}` is not a network address: its host bits are set (did you mean `{}/{prefix}`?)",
                std::net::Ipv4Addr::from(u32::from(addr) & mask(prefix))
            ),
        },
    };
    out.push(Finding::error(at.clone(), problem));
    None
}

/// Whether two IPv4 networks share an address: the wider one holds the other's network address.
fn overlap((a, a_len): (u32, u8), (b, b_len): (u32, u8)) -> bool {
    let wider = mask(a_len.min(b_len));
    a & wider == b & wider
}

/// `--name` or `--name=value`, the name letters, digits, `-`, `_` and `.`.
fn is_flag(text: &str) -> bool {
    let Some(flag) = text.strip_prefix("--") else {
        return false;
    };
    let name = flag.split_once('=').map_or(flag, |(name, _)| name);
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    /// The rendered diagnostics of `kubernetes` (the lines under it, indented by 6) on an init node.
    fn diagnostics(kubernetes: &str) -> Vec<String> {
        super::super::rendered(&format!(
            "#cloud-config\nplinth:\n  cluster:\n    role: init\n    kubernetes:\n{kubernetes}"
        ))
    }

    #[test]
    fn defaults_are_genestacks() {
        let config = parse(
            "t",
            "#cloud-config\nplinth:\n  cluster:\n    kubernetes: {}\n",
        )
        .unwrap()
        .config;
        let k = &config.plinth.cluster.kubernetes;
        assert_eq!(k, &Kubernetes::default());
        assert_eq!(
            (
                k.pod_cidr.as_str(),
                k.service_cidr.as_str(),
                k.cluster_domain.as_str()
            ),
            ("10.236.0.0/14", "10.233.0.0/18", "cluster.local")
        );
        assert_eq!(k.cni, crate::plinth::Cni::None);
        assert_eq!(k.proxy_mode, crate::plinth::ProxyMode::Ipvs);
        assert!(!k.schedule_on_control_plane);
        let set = parse(
            "t",
            "#cloud-config\nplinth:\n  cluster:\n    kubernetes: {cni: bridge, proxy_mode: iptables}\n",
        )
        .unwrap()
        .config;
        assert_eq!(
            set.plinth.cluster.kubernetes.cni,
            crate::plinth::Cni::Bridge
        );
        assert_eq!(
            set.plinth.cluster.kubernetes.proxy_mode,
            crate::plinth::ProxyMode::Iptables
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(
            diagnostics("      pod_cidr: 10.233.0.0/16\n"),
            [
                "t:6:17: error: service_cidr `10.233.0.0/18` and pod_cidr `10.233.0.0/16` overlap: Services and pods need separate ranges (at plinth.cluster.kubernetes.pod_cidr)"
            ]
        );
        assert_eq!(
            diagnostics("      service_cidr: 10.237.128.0/18\n"),
            [
                "t:6:21: error: service_cidr `10.237.128.0/18` and pod_cidr `10.236.0.0/14` overlap: Services and pods need separate ranges (at plinth.cluster.kubernetes.service_cidr)"
            ]
        );
        assert_eq!(
            diagnostics("      pod_cidr: 10.244.0.0/16\n      service_cidr: 10.96.0.0/12\n"),
            Vec::<String>::new()
        );
        assert_eq!(
            diagnostics("      pod_cidr: 10.244.0.1/16\n      service_cidr: 10.96.0.0\n"),
            [
                "t:6:17: error: `10.244.0.1/16` is not a network address: its host bits are set (did you mean `10.244.0.0/16`?) (at plinth.cluster.kubernetes.pod_cidr)",
                "t:7:21: error: `10.96.0.0` is not in CIDR form: expected ADDRESS/PREFIX such as 192.0.2.10/24 (at plinth.cluster.kubernetes.service_cidr)",
            ]
        );
        assert_eq!(
            diagnostics("      service_cidr: 10.96.0.0/29\n      pod_cidr: fd00::/48\n"),
            [
                "t:6:21: error: a Service range of /29: it must be /12 (the kube-apiserver's largest) to /28 (room for the DNS Service's tenth address) (at plinth.cluster.kubernetes.service_cidr)",
                "t:7:17: error: `fd00::/48` is IPv6: only IPv4 ranges are supported (at plinth.cluster.kubernetes.pod_cidr)",
            ]
        );
    }

    #[test]
    fn names_labels_taints_and_flags() {
        let d = diagnostics(
            "      cluster_domain: Cluster_Local\n      cert_sans: [api.lab.example, \"*.lab.example\", 192.0.2.10, \"bad name\"]\n      node_labels:\n        Bad/Key: x\n      node_taints: [dedicated=infra:NoSchedule, dedicated]\n      extra_args:\n        kubelet: [--v=2, --max-pods=250]\n        apiserver: [\"--audit-log-path /var/log/audit\", -v]\n",
        );
        assert_eq!(
            d,
            [
                "t:6:23: error: `Cluster_Local` contains `_`: host names use letters, digits, `-` and dots (RFC 1123) (at plinth.cluster.kubernetes.cluster_domain)",
                "t:7:65: error: `bad name` is neither an IP address nor a DNS name (at plinth.cluster.kubernetes.cert_sans[3])",
                "t:9:9: error: prefix `Bad` of `Bad/Key` is not a DNS subdomain (lowercase, digits, `-`, dots) (at plinth.cluster.kubernetes.node_labels[\"Bad/Key\"])",
                "t:10:49: error: `dedicated` is not a taint: expected KEY[=VALUE]:NoSchedule|PreferNoSchedule|NoExecute (at plinth.cluster.kubernetes.node_taints[1])",
                "t:13:21: error: `--audit-log-path /var/log/audit` is not a flag: write `--name=value` or `--name`, one flag per item (at plinth.cluster.kubernetes.extra_args.apiserver[0])",
                "t:13:56: error: `-v` is not a flag: write `--name=value` or `--name`, one flag per item (at plinth.cluster.kubernetes.extra_args.apiserver[1])",
            ]
        );
    }

    #[test]
    fn schedule_on_control_plane_is_for_control_planes() {
        assert_eq!(
            diagnostics("      schedule_on_control_plane: true\n"),
            Vec::<String>::new()
        );
        let agent = "#cloud-config\nplinth:\n  cluster:\n    role: agent\n    endpoint: 192.0.2.11\n    token: 7k3m9q.4f8h2j6l0n1p3r5t\n    kubernetes:\n      schedule_on_control_plane: true\n";
        let warnings: Vec<String> = parse("t", agent)
            .unwrap()
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            warnings,
            [
                "t:8:7: warning: `schedule_on_control_plane` is unused on role `agent`: an agent runs no control plane and takes pods anyway (at plinth.cluster.kubernetes.schedule_on_control_plane)"
            ]
        );
    }

    #[test]
    fn overlapping_networks() {
        let net = |a: [u8; 4], p: u8| (u32::from(std::net::Ipv4Addr::from(a)), p);
        assert!(overlap(
            net([10, 236, 0, 0], 14),
            net([10, 239, 255, 0], 24)
        ));
        assert!(!overlap(net([10, 236, 0, 0], 14), net([10, 233, 0, 0], 18)));
        assert!(overlap(net([0, 0, 0, 0], 0), net([192, 0, 2, 0], 24)));
        assert!(
            is_flag("--v=2") && is_flag("--feature-gates=A=true,B=false") && is_flag("--profiling")
        );
        assert!(!is_flag("--") && !is_flag("--=x") && !is_flag("v=2"));
    }
}
