//! Kubernetes as the tests see it: the version the image pins (the `k8s.io/kubernetes`
//! requirement of the Go module in `image/kubernetes/go.mod`, read by the xtask that builds it and
//! by the tests that check what the built components report, so the version is written in one
//! place), and what the cluster tests do through a node's shell: run a pod of the image's own
//! pause image and check its address, and read the JSON a command printed.

use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::session::{Session, SessionError};

/// The image's pause image, imported on first boot: a pod of it needs no registry.
pub const PAUSE_IMAGE: &str = "localhost/plinth/pause:1";

/// A pod `name` in `default` of the pause image, on `node` when given (else scheduled).
pub fn pause_pod(name: &str, node: Option<&str>) -> String {
    let mut spec = serde_json::json!({
        "containers": [{"name": "pause", "image": PAUSE_IMAGE, "imagePullPolicy": "Never"}],
        "terminationGracePeriodSeconds": 1,
    });
    if let Some(node) = node {
        spec["nodeName"] = node.into();
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    })
    .to_string()
}

/// Applies [`pause_pod`] with `kubectl` (its command, with its kubeconfig) through `sh` and
/// waits up to `timeout` for it to run: its address (empty when it has none).
pub fn run_pause_pod(
    sh: &mut Session<'_>,
    kubectl: &str,
    name: &str,
    node: Option<&str>,
    timeout: Duration,
) -> Result<String, SessionError> {
    let pod = pause_pod(name, node);
    // Admission refuses a pod until the controller-manager has made its namespace's `default`
    // service account, which under emulation beside other machines can take minutes.
    sh.run_until(
        &format!("{kubectl} get serviceaccount default -o name"),
        "serviceaccount/default",
        timeout,
    )?;
    sh.run_until(
        &format!("echo '{pod}' | {kubectl} apply -f -"),
        &format!("pod/{name} "),
        Duration::from_secs(120),
    )?;
    let running = sh.run_until(
        &format!("{kubectl} get pod {name} -o jsonpath='{{.status.phase}} {{.status.podIP}}'"),
        "Running ",
        timeout,
    )?;
    Ok(running
        .text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned())
}

/// Whether the IPv4 address `ip` is in `cidr` (`10.236.1.0/24`); false when either does not
/// parse.
pub fn in_cidr(ip: &str, cidr: &str) -> bool {
    let parsed = || {
        let ip: Ipv4Addr = ip.trim().parse().ok()?;
        let (net, bits) = cidr.trim().split_once('/')?;
        let net: Ipv4Addr = net.parse().ok()?;
        let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        Some(u32::from(ip) & mask == u32::from(net) & mask)
    };
    parsed().unwrap_or(false)
}

/// The first JSON value a command printed: from its first `{` to the end of that value (a
/// failing `plinthctl cluster` adds a line on stderr after its report).
pub fn first_json(text: &str) -> Option<serde_json::Value> {
    let start = text.find('{')?;
    serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<serde_json::Value>()
        .next()?
        .ok()
}

/// The `k8s.io/kubernetes` version a go.mod requires (single `require` line or a block).
pub fn pinned_version_in(go_mod: &str) -> Option<String> {
    go_mod.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let first = words.next()?;
        let module = if first == "require" {
            words.next()?
        } else {
            first
        };
        (module == "k8s.io/kubernetes")
            .then(|| words.next().map(str::to_string))
            .flatten()
    })
}

/// The version `image/kubernetes/go.mod` pins, e.g. `v1.35.4`.
pub fn pinned_version() -> io::Result<String> {
    let path = crate::paths::workspace_root().join("image/kubernetes/go.mod");
    let text = std::fs::read_to_string(&path)?;
    pinned_version_in(&text).ok_or_else(|| {
        io::Error::other(format!(
            "{} requires no k8s.io/kubernetes version",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_is_read_from_a_single_or_block_require() {
        let single = "module m\n\ngo 1.25.0\n\nrequire k8s.io/kubernetes v1.35.4\n";
        assert_eq!(pinned_version_in(single).as_deref(), Some("v1.35.4"));
        let block = "module m\nrequire (\n\tgithub.com/x/y v1.0.0\n\tk8s.io/kubernetes v1.36.1 // indirect\n)\n";
        assert_eq!(pinned_version_in(block).as_deref(), Some("v1.36.1"));
        let replace_only = "replace k8s.io/api => k8s.io/api v0.35.4\n";
        assert_eq!(pinned_version_in(replace_only), None);
    }

    #[test]
    fn addresses_in_ranges() {
        assert!(in_cidr("10.236.1.7", "10.236.1.0/24"));
        assert!(!in_cidr("10.236.2.7", "10.236.1.0/24"));
        assert!(in_cidr("10.236.2.7", "10.236.0.0/14"));
        assert!(in_cidr("1.2.3.4", "0.0.0.0/0"));
        assert!(!in_cidr("", "10.236.1.0/24"));
        assert!(!in_cidr("10.236.1.7", "10.236.1.0/33"));
    }

    #[test]
    fn the_first_json_value_before_a_stderr_line() {
        let text = "prompt\n{\"healthy\": false}\nplinth-agent: cluster: 5 of 9 checks failing\n";
        assert_eq!(first_json(text).unwrap()["healthy"], false);
        assert_eq!(first_json("no json here"), None);
    }

    #[test]
    fn a_pause_pod_on_a_node() {
        let pod: serde_json::Value = serde_json::from_str(&pause_pod("p", Some("node4"))).unwrap();
        assert_eq!(pod["spec"]["nodeName"], "node4");
        assert_eq!(pod["spec"]["containers"][0]["image"], PAUSE_IMAGE);
        let pod: serde_json::Value = serde_json::from_str(&pause_pod("p", None)).unwrap();
        assert!(pod["spec"].get("nodeName").is_none());
    }

    #[test]
    fn the_image_pins_the_1_35_line() {
        let version = pinned_version().unwrap();
        assert!(version.starts_with("v1.35."), "{version}");
    }
}
