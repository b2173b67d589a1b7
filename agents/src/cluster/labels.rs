//! What the labeller wants on a Node — the labels and annotations Plinth owns (the Genestack role
//! labels of `plinth_config::genestack`, the `ovn.openstack.org/*` annotations, the operator's
//! own) and the taints it removes — and the pure decision, from a Node as read, of what to do:
//! apply the labels and annotations again, and the taint list to write back. The API calls are in
//! `labeller`.
//!
//! Labels and annotations go through Server-Side Apply with the field manager [`FIELD_MANAGER`]:
//! the body holds exactly what Plinth owns, so one Plinth stops wanting is removed by the next
//! apply and everyone else's stay. Taints are an atomic list, not for apply: they are filtered
//! and written back whole (NOTES-kubernetes §5).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Taint};
use plinth_config::genestack::{GenestackRole, role_labels};

/// The Server-Side Apply field manager of everything the labeller sets.
pub const FIELD_MANAGER: &str = "plinth";

/// The taint of a control-plane node (kubeadm's `node-role.kubernetes.io/control-plane`).
pub const CONTROL_PLANE_TAINT: &str = "node-role.kubernetes.io/control-plane:NoSchedule";

/// A taint to remove: `key`, `key:Effect` or `key=value:Effect`, as `kubectl taint` names one
/// (without the trailing `-`). An absent value or effect matches any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaintMatch {
    pub key: String,
    pub value: Option<String>,
    pub effect: Option<String>,
}

/// Why a command-line item was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LabelsError {
    #[error("{0:?}: expected KEY=VALUE")]
    Pair(String),
    #[error(
        "{0:?}: expected a taint KEY[=VALUE][:EFFECT] (EFFECT NoSchedule, PreferNoSchedule or NoExecute)"
    )]
    Taint(String),
    #[error("{0:?}: not a Genestack role (one of {1})")]
    Role(String, String),
}

const EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

impl TaintMatch {
    pub fn parse(text: &str) -> Result<Self, LabelsError> {
        let err = || LabelsError::Taint(text.to_owned());
        let (rest, effect) = match text.rsplit_once(':') {
            Some((rest, effect)) if EFFECTS.contains(&effect) => (rest, Some(effect.to_owned())),
            Some(_) => return Err(err()),
            None => (text, None),
        };
        let (key, value) = match rest.split_once('=') {
            Some((key, value)) => (key, Some(value.to_owned())),
            None => (rest, None),
        };
        if key.is_empty() || key.contains([':', '=', ' ']) {
            return Err(err());
        }
        Ok(Self {
            key: key.to_owned(),
            value,
            effect,
        })
    }

    pub fn matches(&self, taint: &Taint) -> bool {
        taint.key == self.key
            && self
                .value
                .as_ref()
                .is_none_or(|v| taint.value.as_deref().unwrap_or_default() == v)
            && self.effect.as_ref().is_none_or(|e| &taint.effect == e)
    }
}

/// As [`TaintMatch::parse`] reads it: `KEY[=VALUE][:EFFECT]`.
impl std::fmt::Display for TaintMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key)?;
        if let Some(value) = &self.value {
            write!(f, "={value}")?;
        }
        if let Some(effect) = &self.effect {
            write!(f, ":{effect}")?;
        }
        Ok(())
    }
}

/// `KEY=VALUE` (the value may be empty).
pub fn parse_pair(text: &str) -> Result<(String, String), LabelsError> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(LabelsError::Pair(text.to_owned())),
    }
}

/// A Genestack role by its config name (`control-plane`, `compute`, `ovn-central`, …).
pub fn parse_role(text: &str) -> Result<GenestackRole, LabelsError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| {
        let names: Vec<String> = GenestackRole::ALL
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        LabelsError::Role(text.to_owned(), names.join(", "))
    })
}

/// What the labeller keeps on the Node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Wanted {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub remove_taints: Vec<TaintMatch>,
}

impl Wanted {
    /// Adds the labels of Genestack roles (the config crate's table); labels given explicitly
    /// win, as `plinth.genestack.labels` do over the roles'.
    pub fn with_roles(mut self, roles: &[GenestackRole]) -> Self {
        for role in roles {
            for (key, value) in role_labels(*role) {
                self.labels
                    .entry((*key).to_owned())
                    .or_insert_with(|| (*value).to_owned());
            }
        }
        self
    }

    /// The Server-Side Apply body: the Node's name and exactly the labels and annotations owned.
    pub fn apply_body(&self, node: &str) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node,
                "labels": self.labels,
                "annotations": self.annotations,
            },
        })
    }
}

/// What to do with a Node as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Labels or annotations wanted that the Node lacks or has with another value, by name (what
    /// is said in the log); apply when not empty.
    pub missing: Vec<String>,
    /// The Node's taints without those to remove, when it has any of them: written back whole.
    pub taints: Option<Vec<Taint>>,
}

impl Decision {
    pub fn apply(&self) -> bool {
        !self.missing.is_empty()
    }

    pub fn nothing(&self) -> bool {
        !self.apply() && self.taints.is_none()
    }
}

/// What `wanted` asks of `node`.
pub fn decide(wanted: &Wanted, node: &Node) -> Decision {
    let differ = |want: &BTreeMap<String, String>, have: Option<&BTreeMap<String, String>>| {
        want.iter()
            .filter(|(k, v)| have.and_then(|h| h.get(*k)) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
    };
    let mut missing = differ(&wanted.labels, node.metadata.labels.as_ref());
    missing.extend(
        differ(&wanted.annotations, node.metadata.annotations.as_ref())
            .into_iter()
            .map(|k| format!("annotation {k}")),
    );
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let kept: Vec<Taint> = current
        .iter()
        .filter(|t| !wanted.remove_taints.iter().any(|m| m.matches(t)))
        .cloned()
        .collect();
    Decision {
        missing,
        taints: (kept.len() != current.len()).then_some(kept),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::NodeSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: value.map(Into::into),
            effect: effect.into(),
            time_added: None,
        }
    }

    fn node(labels: &[(&str, &str)], annotations: &[(&str, &str)], taints: Vec<Taint>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                labels: Some(map(labels)),
                annotations: Some(map(annotations)),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..NodeSpec::default()
            }),
            status: None,
        }
    }

    fn wanted() -> Wanted {
        Wanted {
            labels: map(&[("node-role.kubernetes.io/worker", "worker")]),
            annotations: map(&[("ovn.openstack.org/bridges", "br-ex")]),
            remove_taints: vec![TaintMatch::parse(CONTROL_PLANE_TAINT).unwrap()],
        }
    }

    #[test]
    fn taint_names() {
        assert_eq!(
            TaintMatch::parse(CONTROL_PLANE_TAINT).unwrap(),
            TaintMatch {
                key: "node-role.kubernetes.io/control-plane".into(),
                value: None,
                effect: Some("NoSchedule".into()),
            }
        );
        assert_eq!(
            TaintMatch::parse("dedicated=db:NoExecute").unwrap(),
            TaintMatch {
                key: "dedicated".into(),
                value: Some("db".into()),
                effect: Some("NoExecute".into()),
            }
        );
        assert_eq!(TaintMatch::parse("k").unwrap().effect, None);
        for text in [CONTROL_PLANE_TAINT, "dedicated=db:NoExecute", "k", "k=v"] {
            assert_eq!(TaintMatch::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "",
            ":NoSchedule",
            "k:Sometimes",
            "=v:NoSchedule",
            "a b:NoSchedule",
        ] {
            assert!(TaintMatch::parse(bad).is_err(), "{bad:?}");
        }
        let any = TaintMatch::parse("k").unwrap();
        assert!(any.matches(&taint("k", Some("x"), "NoExecute")));
        let exact = TaintMatch::parse("k=v:NoSchedule").unwrap();
        assert!(exact.matches(&taint("k", Some("v"), "NoSchedule")));
        assert!(!exact.matches(&taint("k", Some("w"), "NoSchedule")));
        assert!(!exact.matches(&taint("k", Some("v"), "NoExecute")));
        assert!(!exact.matches(&taint("j", Some("v"), "NoSchedule")));
    }

    #[test]
    fn pairs_and_roles() {
        assert_eq!(parse_pair("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_pair("a=").unwrap(), ("a".into(), String::new()));
        assert!(parse_pair("=b").is_err());
        assert!(parse_pair("ab").is_err());
        assert_eq!(
            parse_role("ovn-central").unwrap(),
            GenestackRole::OvnCentral
        );
        let err = parse_role("gpu").unwrap_err().to_string();
        assert!(
            err.contains("control-plane") && err.contains("worker"),
            "{err}"
        );
    }

    /// The roles' labels come from the config crate's table; explicit labels win.
    #[test]
    fn roles_become_the_config_crates_labels() {
        let wanted = Wanted {
            labels: map(&[("openstack-network-node", "disabled")]),
            ..Wanted::default()
        }
        .with_roles(&[GenestackRole::Compute, GenestackRole::Worker]);
        assert_eq!(
            wanted.labels,
            map(&[
                ("node-role.kubernetes.io/worker", "worker"),
                ("openstack-compute-node", "enabled"),
                ("openstack-network-node", "disabled"),
            ])
        );
    }

    #[test]
    fn the_apply_body_holds_only_what_plinth_owns() {
        assert_eq!(
            wanted().apply_body("n1"),
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": "n1",
                    "labels": {"node-role.kubernetes.io/worker": "worker"},
                    "annotations": {"ovn.openstack.org/bridges": "br-ex"},
                },
            })
        );
    }

    #[test]
    fn a_fresh_control_plane_node_needs_everything() {
        let cp = taint("node-role.kubernetes.io/control-plane", None, "NoSchedule");
        let other = taint("node.kubernetes.io/not-ready", None, "NoSchedule");
        let decision = decide(
            &wanted(),
            &node(
                &[("kubernetes.io/os", "linux")],
                &[],
                vec![cp, other.clone()],
            ),
        );
        assert_eq!(
            decision.missing,
            [
                "node-role.kubernetes.io/worker",
                "annotation ovn.openstack.org/bridges"
            ]
        );
        assert!(decision.apply());
        assert_eq!(decision.taints, Some(vec![other]));
    }

    #[test]
    fn a_labelled_node_needs_nothing() {
        let node = node(
            &[("node-role.kubernetes.io/worker", "worker"), ("x", "y")],
            &[("ovn.openstack.org/bridges", "br-ex"), ("z", "w")],
            vec![taint("node.kubernetes.io/not-ready", None, "NoExecute")],
        );
        let decision = decide(&wanted(), &node);
        assert!(decision.nothing(), "{decision:?}");
        let bare = Node::default();
        assert_eq!(decide(&Wanted::default(), &bare), Decision::default());
    }

    #[test]
    fn a_changed_value_or_a_removed_label_is_applied_again() {
        let changed = node(
            &[("node-role.kubernetes.io/worker", "no")],
            &[("ovn.openstack.org/bridges", "br-ex")],
            Vec::new(),
        );
        assert_eq!(
            decide(&wanted(), &changed).missing,
            ["node-role.kubernetes.io/worker"]
        );
        let removed = node(
            &[("node-role.kubernetes.io/worker", "worker")],
            &[],
            Vec::new(),
        );
        let decision = decide(&wanted(), &removed);
        assert_eq!(decision.missing, ["annotation ovn.openstack.org/bridges"]);
        assert_eq!(decision.taints, None);
    }
}
