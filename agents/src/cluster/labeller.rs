//! `plinth-agent cluster labels`: keeps the labels, annotations and taints of `labels::Wanted` on
//! one Node, with an admin identity (NodeRestriction forbids a kubelet the
//! `node-role.kubernetes.io/*` labels Genestack needs).
//!
//! Waits for the Node to be registered, applies the labels and annotations (Server-Side Apply,
//! field manager `plinth`, forced: they are Plinth's even when someone set them first), and removes
//! the taints asked for by reading the Node, filtering its taints and replacing it with the
//! `resourceVersion` read (a conflict — the kubelet updates its Node often — reads again). With
//! `watch` it then stays: it watches the Node and, at least every `interval`, reads it again,
//! acting only when [`labels::decide`] finds something missing (a label deleted by hand comes
//! back within seconds); a deleted Node is waited for again. An error that retrying does not
//! cure ends it, and PID 1 restarts it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use tokio::time::Instant;

use super::client::{self, retry};
use super::labels::{self, Decision, Wanted};

/// The default longest time between two reads of the Node while watching.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// How long to wait for the Node to be registered without `watch`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How often to look for a Node not registered yet.
const NODE_POLL: Duration = Duration::from_secs(2);
/// How long one write may keep retrying transient errors.
const WRITE_PATIENCE: Duration = Duration::from_secs(60);

/// What `labels` is run with.
#[derive(Clone, Debug)]
pub struct LabelsOptions {
    /// An admin kubeconfig.
    pub kubeconfig: PathBuf,
    /// The Node's name.
    pub node: String,
    pub wanted: Wanted,
    /// Stay and keep them.
    pub watch: bool,
    /// While watching, the longest time between two reads of the Node.
    pub interval: Duration,
    /// Without `watch`, how long to wait for the Node (and for the API).
    pub timeout: Duration,
}

/// Runs `labels`: once, or for ever with `watch`.
pub fn run(options: &LabelsOptions) -> anyhow::Result<()> {
    client::runtime()?.block_on(labeller(options))
}

async fn labeller(options: &LabelsOptions) -> anyhow::Result<()> {
    let api = Api::<Node>::all(client::client(&options.kubeconfig).await?);
    let mut applied_once = false;
    loop {
        let node = wait_for_node(&api, options).await?;
        // The first apply is unconditional: it takes ownership of labels others set first, and
        // drops those a previous run owned that are no longer wanted.
        let node = converge(&api, options, node, !applied_once).await?;
        applied_once = true;
        if !options.watch {
            return Ok(());
        }
        if !keep(&api, options, node).await? {
            eprintln!("node {}: deleted; waiting for it again", options.node);
        }
    }
}

/// The Node once it exists (for ever with `watch`, else until the timeout).
async fn wait_for_node(api: &Api<Node>, options: &LabelsOptions) -> anyhow::Result<Node> {
    let start = Instant::now();
    let deadline = (!options.watch).then(|| start + options.timeout);
    let mut said = false;
    loop {
        let patience = deadline.unwrap_or_else(|| Instant::now() + WRITE_PATIENCE);
        match retry(&format!("reading node {}", options.node), patience, || {
            api.get_opt(&options.node)
        })
        .await
        {
            Ok(Some(node)) => return Ok(node),
            Ok(None) => {}
            Err(e) if options.watch => eprintln!("{e:#}"),
            Err(e) => return Err(e),
        }
        if deadline.is_some_and(|d| Instant::now() + NODE_POLL > d) {
            bail!(
                "node {} is not registered after {:.0} s",
                options.node,
                start.elapsed().as_secs_f64()
            );
        }
        if !said {
            eprintln!("node {}: not registered yet; waiting", options.node);
            said = true;
        }
        tokio::time::sleep(NODE_POLL).await;
    }
}

/// Acts on `node` as [`labels::decide`] says (applying in any case with `force_apply`); the Node
/// as last written or read.
async fn converge(
    api: &Api<Node>,
    options: &LabelsOptions,
    node: Node,
    force_apply: bool,
) -> anyhow::Result<Node> {
    let name = options.node.as_str();
    let decision = labels::decide(&options.wanted, &node);
    let mut node = node;
    if force_apply || decision.apply() {
        let body = options.wanted.apply_body(name);
        let patch = Patch::Apply(&body);
        let params = PatchParams::apply(labels::FIELD_MANAGER).force();
        let deadline = Instant::now() + WRITE_PATIENCE;
        node = retry(&format!("applying labels to node {name}"), deadline, || {
            api.patch(name, &params, &patch)
        })
        .await?;
        if decision.apply() {
            eprintln!("node {name}: applied {}", decision.missing.join(", "));
        } else {
            eprintln!(
                "node {name}: {} labels and {} annotations held",
                options.wanted.labels.len(),
                options.wanted.annotations.len()
            );
        }
    }
    if decision.taints.is_some() {
        node = remove_taints(api, name, &options.wanted).await?;
    }
    Ok(node)
}

/// Get → filter → replace with the `resourceVersion` read, until no taint to remove is left.
async fn remove_taints(api: &Api<Node>, name: &str, wanted: &Wanted) -> anyhow::Result<Node> {
    let deadline = Instant::now() + WRITE_PATIENCE;
    let what = format!("removing taints of node {name}");
    retry(&what, deadline, || async {
        let mut node = api.get(name).await?;
        let Decision {
            taints: Some(taints),
            ..
        } = labels::decide(wanted, &node)
        else {
            return Ok(node);
        };
        let before = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .map_or(0, Vec::len);
        let removed = before - taints.len();
        node.spec.get_or_insert_default().taints = Some(taints);
        // A conflict (409) is transient: `retry` reads the Node again.
        let node = api.replace(name, &PostParams::default(), &node).await?;
        eprintln!("node {name}: removed {removed} taint(s)");
        Ok(node)
    })
    .await
}

/// Watches the Node, converging on each change and at least every `interval`; `false` once it is
/// deleted.
async fn keep(api: &Api<Node>, options: &LabelsOptions, node: Node) -> anyhow::Result<bool> {
    let name = options.node.as_str();
    let fields = format!("metadata.name={name}");
    let seconds = u32::try_from(options.interval.as_secs().max(1)).unwrap_or(u32::MAX);
    let mut version = node.metadata.resource_version.clone().unwrap_or_default();
    loop {
        let params = WatchParams::default().fields(&fields).timeout(seconds);
        match api.watch(&params, &version).await {
            Ok(stream) => {
                let mut stream = std::pin::pin!(stream);
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(WatchEvent::Added(node) | WatchEvent::Modified(node)) => {
                            let node = act(api, options, node).await?;
                            version = node.metadata.resource_version.unwrap_or_default();
                        }
                        Ok(WatchEvent::Deleted(_)) => return Ok(false),
                        Ok(WatchEvent::Bookmark(b)) => version = b.metadata.resource_version,
                        // 410 Gone (the version is too old) and the like: read again below.
                        Ok(WatchEvent::Error(_)) | Err(_) => break,
                    }
                }
            }
            Err(e) => {
                eprintln!("watching node {name}: {e}");
                tokio::time::sleep(options.interval.min(Duration::from_secs(5))).await;
            }
        }
        // The periodic read: whatever a watch missed.
        match api.get_opt(name).await {
            Ok(Some(node)) => {
                let node = act(api, options, node).await?;
                version = node.metadata.resource_version.unwrap_or_default();
            }
            Ok(None) => return Ok(false),
            Err(e) => eprintln!("reading node {name}: {e}"),
        }
    }
}

/// [`converge`] when something is missing; the Node as it is then.
async fn act(api: &Api<Node>, options: &LabelsOptions, node: Node) -> anyhow::Result<Node> {
    if labels::decide(&options.wanted, &node).nothing() {
        return Ok(node);
    }
    converge(api, options, node, false)
        .await
        .with_context(|| format!("keeping the labels of node {}", options.node))
}
