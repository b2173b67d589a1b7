//! Cluster and node-level Plinth settings: role vs endpoint and token, etcd ports, exporters, install,
//! kernel names.

use super::addresses::{check_endpoint, check_listen};
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

    let exporter = &config.plinth.exporters.node_exporter;
    if let Err(problem) = check_listen(&exporter.listen) {
        out.push(Finding::error(
            root("plinth")
                .key("exporters")
                .key("node_exporter")
                .key("listen"),
            problem,
        ));
    }

    if let Some(install) = &config.plinth.install {
        let given = [&install.serial, &install.wwn, &install.path]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given != 1 {
            out.push(Finding::error(
                root("plinth").key("install"),
                format!("choose the install disk with exactly one of `serial`, `wwn` or `path` ({given} given)"),
            ));
        }
        if let Some(p) = &install.path
            && !p.starts_with("/dev/")
        {
            out.push(Finding::error(
                root("plinth").key("install").key("path"),
                format!("`{p}` is not a device path under /dev/"),
            ));
        }
    }

    let kernel = root("plinth").key("kernel");
    for (name, _) in config.plinth.kernel.modules.entries() {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(Finding::error(
                kernel.key("modules"),
                format!("`{name}` is not a kernel module name"),
            ));
        }
    }
    for key in config.plinth.kernel.sysctls.keys() {
        let ok = !key.is_empty()
            && !key.starts_with(['.', '/'])
            && !key.contains("..")
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '*'));
        if !ok {
            out.push(
                Finding::error(
                    kernel.key("sysctls").key(key),
                    format!("`{key}` is not a sysctl name"),
                )
                .at_key(),
            );
        }
    }
    let ovs = root("plinth").key("ovs");
    if config.plinth.ovs.mode == crate::plinth::OvsMode::KubeOvn
        && !config.plinth.ovs.bridges.is_empty()
    {
        out.push(Finding::warning(
            ovs.key("bridges"),
            "bridges are created only in `mode: host`; in `kube-ovn` mode Kube-OVN's pods own OVS",
        ));
    }
}
