//! `plinth-agent cluster roles`: on a control plane, grants every Node the node-role labels it
//! declared ([`roles`]), with the control plane's admin identity, and keeps them: it lists the
//! Nodes every `interval` and applies (Server-Side Apply, field manager [`roles::FIELD_MANAGER`],
//! forced) the granted labels of each Node that lacks one. A label removed by hand comes back at
//! the next pass; a declaration removed drops its label, as Server-Side Apply lets go of a field
//! its manager no longer applies. Runs for ever; PID 1 restarts it after an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::client;
use super::roles;

/// The default time between two passes.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// What `roles` is run with.
#[derive(Clone, Debug)]
pub struct RolesOptions {
    /// An admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The time between two passes.
    pub interval: Duration,
}

/// Runs the keeper for ever.
pub fn run(options: &RolesOptions) -> anyhow::Result<()> {
    client::runtime()?.block_on(keep(options))
}

async fn keep(options: &RolesOptions) -> anyhow::Result<()> {
    let api = Api::<Node>::all(client::client(&options.kubeconfig).await?);
    // What this keeper applied to each Node last: a Node whose declarations change is applied
    // again, so the labels of a withdrawn declaration are let go.
    let mut applied: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut last_error = None;
    loop {
        match pass(&api, &mut applied).await {
            Ok(()) => last_error = None,
            Err(e) => {
                let line = format!("{e:#}");
                if last_error.as_ref() != Some(&line) {
                    eprintln!("cluster roles: {line}; trying again");
                    last_error = Some(line);
                }
            }
        }
        tokio::time::sleep(options.interval).await;
    }
}

/// One look at every Node.
async fn pass(
    api: &Api<Node>,
    applied: &mut BTreeMap<String, BTreeMap<String, String>>,
) -> Result<(), kube::Error> {
    let nodes = api.list(&ListParams::default()).await?;
    for node in nodes {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let granted = roles::granted(&labels);
        let lacking = roles::missing(&granted, &labels);
        if lacking.is_empty() && applied.get(&name).is_none_or(|a| *a == granted) {
            continue;
        }
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": granted},
        });
        let params = PatchParams::apply(roles::FIELD_MANAGER).force();
        api.patch(&name, &params, &Patch::Apply(&body)).await?;
        if !lacking.is_empty() {
            println!(
                "cluster roles: node {name}: granted {} (declared by the node)",
                lacking.join(", ")
            );
        }
        applied.insert(name, granted);
    }
    Ok(())
}
