//! `plinth.cluster`: role versus endpoint, the advertised address, the cluster name, etcd ports and
//! paths. The join secrets are [`super::join`]'s, the Kubernetes settings [`super::kubernetes`]'s.

use super::addresses::{check_advertise_address, check_endpoint};
use super::{Finding, root};
use crate::config::MachineConfig;
use crate::plinth::Role;

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    let cluster = &config.plinth.cluster;
    let path = root("plinth").key("cluster");
    match cluster.role {
        Role::Init => {
            if cluster.endpoint.is_some() {
                out.push(Finding::error(
                    path.key("endpoint"),
                    "role `init` bootstraps a new cluster and has no endpoint: remove it, or use role `server` to join",
                ));
            }
        }
        Role::Server | Role::Agent => {
            if cluster.endpoint.is_none() {
                out.push(
                    Finding::error(
                        path.key("role"),
                        format!(
                            "role `{}` joins an existing cluster and needs `endpoint` (the address of a server)",
                            cluster.role.as_str()
                        ),
                    )
                    .related(path.key("endpoint")),
                );
            }
        }
    }
    if let Some(endpoint) = &cluster.endpoint
        && let Err(problem) = check_endpoint(endpoint)
    {
        out.push(Finding::error(path.key("endpoint"), problem.to_string()));
    }
    if let Some(address) = &cluster.advertise_address
        && let Err(problem) = check_advertise_address(address)
    {
        out.push(Finding::error(
            path.key("advertise_address"),
            problem.to_string(),
        ));
    }
    if let Some(name) = &cluster.name {
        let ok = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if !ok {
            out.push(Finding::error(
                path.key("name"),
                format!("cluster name `{name}` must be a DNS label: lowercase letters, digits and `-`, at most 63"),
            ));
        }
    }
    let etcd = &cluster.etcd;
    let ports = [
        ("client_port", etcd.client_port),
        ("peer_port", etcd.peer_port),
        ("metrics_port", etcd.metrics_port),
    ];
    for (i, (name, port)) in ports.iter().enumerate() {
        if *port == 0 {
            out.push(Finding::error(
                path.key("etcd").key(name),
                "port 0 is not a usable port",
            ));
        }
        if let Some((other, _)) = ports[..i].iter().find(|(_, p)| p == port) {
            out.push(Finding::error(
                path.key("etcd").key(name),
                format!("port {port} is already used by etcd.{other}"),
            ));
        }
    }
    if !etcd.data_dir.starts_with('/') {
        out.push(Finding::error(
            path.key("etcd").key("data_dir"),
            format!("`{}` must be an absolute path", etcd.data_dir),
        ));
    }
    match cluster.role {
        Role::Init if etcd.member == Some(false) => out.push(Finding::error(
            path.key("etcd").key("member"),
            "the `init` node bootstraps etcd and must be a member",
        )),
        Role::Server if etcd.member == Some(false) => out.push(Finding::error(
            path.key("etcd").key("member"),
            "a `server`'s apiserver uses its own stacked etcd member: Plinth control planes run no external etcd; use role `agent` for a node without one",
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {

    /// The rendered diagnostics of `cluster` (the lines under `plinth.cluster:`, indented by 4).
    fn diagnostics(cluster: &str) -> Vec<String> {
        super::super::rendered(&format!("#cloud-config\nplinth:\n  cluster:\n{cluster}"))
    }

    #[test]
    fn k3s_is_refused_at_its_key_with_the_new_one() {
        assert_eq!(
            diagnostics("    role: init\n    k3s:\n      node_taints: [a=b:NoSchedule]\n"),
            [
                "t:5:5: error: `k3s` is gone: Plinth runs upstream Kubernetes; use `plinth.cluster.kubernetes` (at plinth.cluster.k3s)"
            ]
        );
        assert_eq!(
            diagnostics("    k3s: {}\n    kubernetes: {cni: bridge}\n"),
            [
                "t:4:5: error: `k3s` is gone: Plinth runs upstream Kubernetes; use `plinth.cluster.kubernetes` (at plinth.cluster.k3s)"
            ]
        );
    }

    #[test]
    fn advertise_address_is_an_address_or_an_interface() {
        for ok in ["192.0.2.11", "2001:db8::11", "lab0", "bond0.100"] {
            assert_eq!(
                diagnostics(&format!("    advertise_address: {ok}\n")),
                Vec::<String>::new(),
                "{ok}"
            );
        }
        assert_eq!(
            diagnostics("    advertise_address: 192.0.2.300\n"),
            [
                "t:4:24: error: `192.0.2.300` is not an IPv4 or IPv6 address (at plinth.cluster.advertise_address)"
            ]
        );
        assert_eq!(
            diagnostics("    advertise_address: 0.0.0.0\n"),
            [
                "t:4:24: error: `0.0.0.0` cannot be advertised: other nodes and pods must reach the node at it (at plinth.cluster.advertise_address)"
            ]
        );
        assert_eq!(
            diagnostics("    advertise_address: enp0s31f6-uplink\n"),
            [
                "t:4:24: error: `enp0s31f6-uplink` is neither an IP address nor an interface name (`enp0s31f6-uplink` is 16 characters: an interface name is 1 to 15 characters without `/`, `:` or spaces) (at plinth.cluster.advertise_address)"
            ]
        );
    }

    #[test]
    fn joiners_need_an_endpoint_and_init_has_none() {
        assert_eq!(
            diagnostics("    role: agent\n    token: 7k3m9q.4f8h2j6l0n1p3r5t\n"),
            [
                "t:4:11: error: role `agent` joins an existing cluster and needs `endpoint` (the address of a server) (at plinth.cluster.role)"
            ]
        );
        assert_eq!(
            diagnostics("    role: init\n    endpoint: 192.0.2.11\n"),
            [
                "t:5:15: error: role `init` bootstraps a new cluster and has no endpoint: remove it, or use role `server` to join (at plinth.cluster.endpoint)"
            ]
        );
    }

    #[test]
    fn control_planes_run_an_etcd_member() {
        assert_eq!(
            diagnostics("    role: init\n    etcd:\n      member: false\n"),
            [
                "t:6:15: error: the `init` node bootstraps etcd and must be a member (at plinth.cluster.etcd.member)"
            ]
        );
        let server = "    role: server\n    endpoint: 192.0.2.11\n    token: 7k3m9q.4f8h2j6l0n1p3r5t\n    certificate_key_file: /k\n    etcd:\n      member: false\n";
        assert_eq!(
            diagnostics(server),
            [
                "t:9:15: error: a `server`'s apiserver uses its own stacked etcd member: Plinth control planes run no external etcd; use role `agent` for a node without one (at plinth.cluster.etcd.member)"
            ]
        );
    }
}
