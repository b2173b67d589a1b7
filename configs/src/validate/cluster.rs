//! `plinth.cluster`: role versus endpoint and token, the cluster name, etcd ports and paths.

use super::addresses::check_endpoint;
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
            let role = if cluster.role == Role::Server {
                "server"
            } else {
                "agent"
            };
            if cluster.endpoint.is_none() {
                out.push(
                    Finding::error(
                        path.key("role"),
                        format!("role `{role}` joins an existing cluster and needs `endpoint` (the address of a server)"),
                    )
                    .related(path.key("endpoint")),
                );
            }
            if cluster.token.is_none() && cluster.token_file.is_none() {
                out.push(
                    Finding::error(
                        path.key("role"),
                        format!("role `{role}` needs `token` or `token_file` to join"),
                    )
                    .related(path.key("token"))
                    .related(path.key("token_file")),
                );
            }
        }
    }
    if cluster.token.is_some() && cluster.token_file.is_some() {
        out.push(Finding::error(
            path.key("token_file"),
            "give `token` or `token_file`, not both",
        ));
    }
    if let Some(token) = &cluster.token
        && token.trim().is_empty()
    {
        out.push(Finding::error(path.key("token"), "token is empty"));
    }
    if let Some(file) = &cluster.token_file
        && !file.starts_with('/')
    {
        out.push(Finding::error(
            path.key("token_file"),
            format!("`{file}` must be an absolute path"),
        ));
    }
    if let Some(endpoint) = &cluster.endpoint
        && let Err(problem) = check_endpoint(endpoint)
    {
        out.push(Finding::error(path.key("endpoint"), problem));
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
    if cluster.role == Role::Init && etcd.member == Some(false) {
        out.push(Finding::error(
            path.key("etcd").key("member"),
            "the `init` node bootstraps etcd and must be a member",
        ));
    }
}
