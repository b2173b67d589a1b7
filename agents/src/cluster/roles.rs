//! Node roles a joining node declares and the control plane grants. NodeRestriction forbids a
//! kubelet the `node-role.kubernetes.io/*` labels Genestack schedules by (`worker`, `etcd`, …), so
//! a node that has no admin identity (an `agent`) registers, through the kubelet's
//! `--node-labels`, a **declaration** of each: `node-role.plinth.dev/<role>=<value>`, a namespace
//! NodeRestriction leaves alone. The control planes' `cluster-roles` keeper
//! ([`super::roles_keeper`]) turns each declaration into the real label; on a cluster without
//! Plinth's keeper (one made by kubeadm or Kubespray) the node's `cluster-labels` check
//! ([`super::roles_check`]) says once which labels an administrator must add.
//!
//! `control-plane` (and the old `master`) is never granted from a declaration: a node claiming it
//! would draw the control plane's workloads, and a real control plane labels itself with its own
//! admin identity. Pure.

use std::collections::BTreeMap;

/// The prefix of the labels NodeRestriction keeps to admins.
pub const NODE_ROLE: &str = "node-role.kubernetes.io/";
/// The prefix of a node's declarations (settable by its kubelet).
pub const DECLARED: &str = "node-role.plinth.dev/";
/// The field manager the keeper applies granted labels under.
pub const FIELD_MANAGER: &str = "plinth-roles";
/// Roles never granted from a declaration.
const NEVER_GRANTED: [&str; 2] = ["control-plane", "master"];

/// The declarations standing for `labels`' node-role labels: `node-role.kubernetes.io/worker=worker`
/// → `node-role.plinth.dev/worker=worker`. Other labels are not declarations.
pub fn declarations(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter_map(|(key, value)| {
            let role = key.strip_prefix(NODE_ROLE)?;
            Some((format!("{DECLARED}{role}"), value.clone()))
        })
        .collect()
}

/// The node-role labels a keeper grants a Node with these labels: one per declaration, except
/// [`NEVER_GRANTED`] roles.
pub fn granted(node_labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    node_labels
        .iter()
        .filter_map(|(key, value)| {
            let role = key.strip_prefix(DECLARED)?;
            (!role.is_empty() && !NEVER_GRANTED.contains(&role))
                .then(|| (format!("{NODE_ROLE}{role}"), value.clone()))
        })
        .collect()
}

/// The labels of `wanted` that `node_labels` lacks or holds with another value, as `key=value`.
pub fn missing(
    wanted: &BTreeMap<String, String>,
    node_labels: &BTreeMap<String, String>,
) -> Vec<String> {
    wanted
        .iter()
        .filter(|(k, v)| node_labels.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The command an administrator runs to add `labels` (`key=value` each) to `node`.
pub fn kubectl_label(node: &str, labels: &[String]) -> String {
    format!("kubectl label node {node} {} --overwrite", labels.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn node_role_labels_become_declarations_and_nothing_else_does() {
        let labels = map(&[
            ("node-role.kubernetes.io/worker", "worker"),
            ("node-role.kubernetes.io/etcd", "etcd"),
            ("openstack-compute-node", "enabled"),
            ("node.kubernetes.io/instance-type", "lab"),
        ]);
        assert_eq!(
            declarations(&labels),
            map(&[
                ("node-role.plinth.dev/etcd", "etcd"),
                ("node-role.plinth.dev/worker", "worker"),
            ])
        );
        for key in declarations(&labels).keys() {
            assert!(super::super::node::kubelet_may_set(key), "{key}");
        }
    }

    #[test]
    fn declarations_are_granted_but_never_the_control_plane() {
        let node = map(&[
            ("node-role.plinth.dev/worker", "worker"),
            ("node-role.plinth.dev/control-plane", ""),
            ("node-role.plinth.dev/master", ""),
            ("node-role.plinth.dev/", "x"),
            ("openstack-compute-node", "enabled"),
        ]);
        assert_eq!(
            granted(&node),
            map(&[("node-role.kubernetes.io/worker", "worker")])
        );
        assert!(granted(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn what_an_administrator_must_add() {
        let wanted = map(&[
            ("node-role.kubernetes.io/worker", "worker"),
            ("node-role.kubernetes.io/etcd", "etcd"),
        ]);
        let node = map(&[("node-role.kubernetes.io/worker", "worker")]);
        let lacking = missing(&wanted, &node);
        assert_eq!(lacking, ["node-role.kubernetes.io/etcd=etcd"]);
        assert!(missing(&wanted, &wanted).is_empty());
        let other = map(&[("node-role.kubernetes.io/worker", "")]);
        assert_eq!(missing(&wanted, &other).len(), 2, "a wrong value counts");
        assert_eq!(
            kubectl_label("n3", &lacking),
            "kubectl label node n3 node-role.kubernetes.io/etcd=etcd --overwrite"
        );
    }
}
