//! `plinth-agent cluster roles-check`: on a node without an admin identity (an `agent`), waits
//! for its Node and for the node-role labels it declared ([`roles`]) to be granted by the
//! cluster, and says how that went, once: granted (a Plinth control plane's keeper did it), or,
//! after `wait`, which labels an administrator must add, as the `kubectl label` line to run — a
//! cluster made by kubeadm or Kubespray has no keeper. It asks as the node itself (the kubelet's
//! kubeconfig: a Node may read its own object) and exits 0 either way: a cluster that labels
//! nothing is not the node's failure.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use tokio::time::Instant;

use super::client;
use super::roles;

/// How long the cluster has to grant the labels before the node asks an administrator.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// How often the Node is read.
const POLL: Duration = Duration::from_secs(5);

/// What `roles-check` is run with.
#[derive(Clone, Debug)]
pub struct RolesCheckOptions {
    /// A kubeconfig of the node (the kubelet's).
    pub kubeconfig: PathBuf,
    /// The Node's name.
    pub node: String,
    /// The node-role labels the node declared (`node-role.kubernetes.io/worker=worker`, …).
    pub wanted: BTreeMap<String, String>,
    /// How long to wait for them.
    pub wait: Duration,
}

/// Runs the check.
pub fn run(options: &RolesCheckOptions) -> anyhow::Result<()> {
    if options.wanted.is_empty() {
        println!(
            "cluster roles: node {} declares no node-role labels",
            options.node
        );
        return Ok(());
    }
    client::runtime()?.block_on(check(options))
}

async fn check(options: &RolesCheckOptions) -> anyhow::Result<()> {
    let name = options.node.as_str();
    let start = Instant::now();
    // The kubeconfig is the kubelet's, written once its TLS bootstrap is approved.
    let api = loop {
        match client::client(&options.kubeconfig).await {
            Ok(c) => break Api::<Node>::all(c),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    };
    let mut registered = None;
    let lacking = loop {
        if let Ok(Some(node)) = api.get_opt(name).await {
            let at = *registered.get_or_insert_with(Instant::now);
            let labels = node.metadata.labels.unwrap_or_default();
            let lacking = roles::missing(&options.wanted, &labels);
            if lacking.is_empty() {
                println!(
                    "cluster roles: node {name}: the cluster granted its node-role labels ({}) {:.0} s after it registered",
                    options
                        .wanted
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    at.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            if at.elapsed() >= options.wait {
                break lacking;
            }
        } else if start.elapsed() >= options.wait * 4 {
            // Not even registered: the kubelet's own trouble, which `plinthctl cluster` shows.
            println!(
                "cluster roles: node {name} is not registered; its node-role labels were not checked"
            );
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    };
    println!(
        "cluster roles: node {name}: the cluster did not grant {} within {:.0} s (no Plinth control plane keeps node roles there); an administrator must run: {}",
        lacking.join(", "),
        options.wait.as_secs_f64(),
        roles::kubectl_label(name, &lacking)
    );
    Ok(())
}
