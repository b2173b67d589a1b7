//! `plinth-agent cluster cni`: the pod network of `cni: bridge` — Debian's `bridge` and
//! `host-local` plugins on the Node's podCIDR (allocated by the controller-manager once the
//! kubelet has registered the Node), with `portmap` for hostPorts. It waits for the podCIDR,
//! writes [`CONFLIST`] in containerd's CNI directory (containerd notices it and the kubelet's
//! Node becomes Ready), and exits. The conflist is pure ([`conflist`]); a later boot writes it
//! again only if the podCIDR changed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use tokio::time::Instant;

use super::client::{self, retry};
use crate::pki::store;

/// The network's file name (first in the directory's order, as containerd picks the first).
pub const CONFLIST: &str = "10-plinth-bridge.conflist";
/// The bridge the pods are attached to.
pub const BRIDGE: &str = "cni0";
/// How long to wait for the podCIDR.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(900);

/// What `cni` is run with.
#[derive(Clone, Debug)]
pub struct CniOptions {
    pub kubeconfig: PathBuf,
    pub node: String,
    /// containerd's CNI `conf_dir`.
    pub dir: PathBuf,
    pub timeout: Duration,
}

/// The conflist of a node whose pods get addresses from `pod_cidr`.
pub fn conflist(pod_cidr: &str) -> String {
    let default_route = if pod_cidr.contains(':') {
        "::/0"
    } else {
        "0.0.0.0/0"
    };
    let value = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "plinth-bridge",
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": pod_cidr}]],
                    "routes": [{"dst": default_route}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// Runs `cni`.
pub fn run(options: &CniOptions) -> anyhow::Result<()> {
    client::runtime()?.block_on(async {
        let api = Api::<Node>::all(client::client(&options.kubeconfig).await?);
        let deadline = Instant::now() + options.timeout;
        let pod_cidr = loop {
            let node = retry("reading the Node", deadline, || api.get_opt(&options.node)).await?;
            let cidr = node.and_then(|n| n.spec).and_then(|s| s.pod_cidr);
            match cidr {
                Some(cidr) => break cidr,
                None if Instant::now() >= deadline => anyhow::bail!(
                    "Node {} has no podCIDR after {}s (is the controller-manager allocating node CIDRs?)",
                    options.node,
                    options.timeout.as_secs()
                ),
                None => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        };
        write(&options.dir, &pod_cidr)
    })
}

/// Writes the conflist for `pod_cidr` into `dir` unless it is there already.
pub fn write(dir: &Path, pod_cidr: &str) -> anyhow::Result<()> {
    let path = dir.join(CONFLIST);
    let text = conflist(pod_cidr);
    if std::fs::read_to_string(&path).is_ok_and(|t| t == text) {
        println!("cni: {} already holds podCIDR {pod_cidr}", path.display());
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    store::replace(&path, text.as_bytes(), 0o644)
        .with_context(|| format!("writing {}", path.display()))?;
    println!("cni: wrote {} for podCIDR {pod_cidr}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_on_the_nodes_pod_cidr() {
        let value: serde_json::Value = serde_json::from_str(&conflist("10.236.0.0/24")).unwrap();
        let bridge = &value["plugins"][0];
        assert_eq!(bridge["type"], "bridge");
        assert_eq!(bridge["bridge"], BRIDGE);
        assert_eq!(bridge["ipam"]["type"], "host-local");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.236.0.0/24");
        assert_eq!(bridge["ipam"]["routes"][0]["dst"], "0.0.0.0/0");
        assert_eq!(value["plugins"][1]["type"], "portmap");
        let v6: serde_json::Value = serde_json::from_str(&conflist("fd00:10::/64")).unwrap();
        assert_eq!(v6["plugins"][0]["ipam"]["routes"][0]["dst"], "::/0");
    }

    #[test]
    fn written_once_and_again_when_the_cidr_changes() {
        let dir = std::env::temp_dir().join(format!("plinth-cni-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write(&dir, "10.236.0.0/24").unwrap();
        write(&dir, "10.236.0.0/24").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(CONFLIST)).unwrap(),
            conflist("10.236.0.0/24")
        );
        write(&dir, "10.236.1.0/24").unwrap();
        assert!(
            std::fs::read_to_string(dir.join(CONFLIST))
                .unwrap()
                .contains("10.236.1.0/24")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
