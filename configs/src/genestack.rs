//! The pure mapping from `plinth.genestack` to the node's Kubernetes labels and annotations, as
//! Genestack's DaemonSets and ovn-setup read them (see GENESTACK.md): role labels, the
//! `ovn.openstack.org/*` annotations, then the user's extra labels and annotations (which win).

use std::collections::BTreeMap;

use crate::plinth::ovn_serde::render_bond_options;

pub use crate::plinth::genestack::{Genestack, GenestackRole, Ovn};

/// The label(s) each role puts on the node.
pub fn role_labels(role: GenestackRole) -> &'static [(&'static str, &'static str)] {
    match role {
        GenestackRole::ControlPlane => &[("openstack-control-plane", "enabled")],
        // "compute nodes must carry it too": ovn-setup selects on the network-node label.
        GenestackRole::Compute => &[
            ("openstack-compute-node", "enabled"),
            ("openstack-network-node", "enabled"),
        ],
        GenestackRole::Network => &[("openstack-network-node", "enabled")],
        GenestackRole::Storage => &[("openstack-storage-node", "enabled")],
        GenestackRole::Longhorn => &[("longhorn.io/storage-node", "enabled")],
        GenestackRole::Worker => &[("node-role.kubernetes.io/worker", "worker")],
        GenestackRole::Etcd => &[("node-role.kubernetes.io/etcd", "etcd")],
        GenestackRole::OvnCentral => &[("kube-ovn/role", "master")],
    }
}

/// The annotation key prefix ovn-setup reads.
pub const OVN_PREFIX: &str = "ovn.openstack.org/";

/// The node's labels and annotations for its Genestack settings.
pub fn labels_and_annotations(
    genestack: &Genestack,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut labels = BTreeMap::new();
    for role in genestack.effective_roles() {
        for (k, v) in role_labels(role) {
            labels.insert((*k).to_owned(), (*v).to_owned());
        }
    }
    let mut annotations = genestack
        .ovn
        .as_ref()
        .map(ovn_annotations)
        .unwrap_or_default();
    labels.extend(genestack.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    annotations.extend(
        genestack
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    (labels, annotations)
}

/// Whether the node's control-plane NoSchedule taint is removed (control-plane nodes run workloads in
/// Genestack).
pub fn untaint_control_plane(genestack: &Genestack) -> bool {
    genestack
        .effective_roles()
        .contains(&GenestackRole::ControlPlane)
}

/// The `ovn.openstack.org/*` annotations, in ovn-setup's formats.
pub fn ovn_annotations(ovn: &Ovn) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        if !value.is_empty() {
            out.insert(format!("{OVN_PREFIX}{key}"), value);
        }
    };
    put(
        "int_bridge",
        ovn.int_bridge
            .clone()
            .unwrap_or_else(|| "br-int".to_owned()),
    );
    put("bridges", ovn.bridges.join(","));
    put("ports", joined(&ovn.ports));
    put("bonds", joined(&ovn.bonds));
    put("bond-options", render_bond_options(&ovn.bond_options));
    put("vlans", joined(&ovn.vlans));
    put(
        "mappings",
        ovn.mappings
            .iter()
            .map(|(net, br)| format!("{net}:{br}"))
            .collect::<Vec<_>>()
            .join(","),
    );
    // Colon-separated, as Genestack documents it (`nova:az1:az2`).
    put("availability_zones", ovn.availability_zones.join(":"));
    if ovn.gateway {
        put("gateway", "enabled".to_owned());
    }
    out
}

/// Items in their annotation text form, comma-separated.
fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plinth::{OvnBond, OvnPort, OvnVlan};

    fn labels_of(roles: &[GenestackRole]) -> BTreeMap<String, String> {
        labels_and_annotations(&Genestack {
            roles: roles.to_vec(),
            ..Genestack::default()
        })
        .0
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// GENESTACK.md, "Role labels": one row per label.
    #[test]
    fn role_table() {
        use GenestackRole::*;
        assert_eq!(
            labels_of(&[ControlPlane]),
            map(&[("openstack-control-plane", "enabled")])
        );
        assert_eq!(
            labels_of(&[Compute]),
            map(&[
                ("openstack-compute-node", "enabled"),
                ("openstack-network-node", "enabled")
            ])
        );
        assert_eq!(
            labels_of(&[Network]),
            map(&[("openstack-network-node", "enabled")])
        );
        assert_eq!(
            labels_of(&[Storage]),
            map(&[("openstack-storage-node", "enabled")])
        );
        assert_eq!(
            labels_of(&[Longhorn]),
            map(&[("longhorn.io/storage-node", "enabled")])
        );
        assert_eq!(
            labels_of(&[Worker]),
            map(&[("node-role.kubernetes.io/worker", "worker")])
        );
        assert_eq!(
            labels_of(&[Etcd]),
            map(&[("node-role.kubernetes.io/etcd", "etcd")])
        );
        assert_eq!(
            labels_of(&[OvnCentral]),
            map(&[("kube-ovn/role", "master")])
        );
        assert!(labels_of(&[]).is_empty());
    }

    #[test]
    fn hyperconverged_carries_every_label() {
        let g = Genestack {
            hyperconverged: true,
            ..Genestack::default()
        };
        let (labels, annotations) = labels_and_annotations(&g);
        assert_eq!(labels.len(), 8);
        assert_eq!(labels["kube-ovn/role"], "master");
        assert!(annotations.is_empty());
        assert!(untaint_control_plane(&g));
        assert!(!untaint_control_plane(&Genestack {
            roles: vec![GenestackRole::Compute],
            ..Genestack::default()
        }));
    }

    /// GENESTACK.md, "Network annotations read by ovn-setup": the documented example values.
    #[test]
    fn ovn_annotation_formats() {
        let ovn = Ovn {
            int_bridge: None,
            bridges: vec!["br-ex".into()],
            ports: vec![OvnPort {
                bridge: "br-ex".into(),
                port: "bond1".into(),
            }],
            bonds: vec![OvnBond {
                bridge: "br-ex".into(),
                name: "bond0".into(),
                interfaces: vec!["eno1".into(), "eno3".into()],
                mode: "balance-tcp".into(),
                lacp: "active".into(),
            }],
            bond_options: BTreeMap::new(),
            vlans: vec![OvnVlan {
                name: "bond0.126".into(),
                link: "bond0".into(),
                id: 126,
                mtu: 1500,
            }],
            mappings: map(&[("physnet1", "br-ex")]),
            availability_zones: vec!["az1".into()],
            gateway: true,
        };
        let g = Genestack {
            roles: vec![GenestackRole::Network],
            annotations: map(&[
                ("example.com/owner", "lab"),
                ("ovn.openstack.org/availability_zones", "az9"),
            ]),
            labels: map(&[("openstack-network-node", "disabled")]),
            ovn: Some(ovn),
            ..Genestack::default()
        };
        let (labels, annotations) = labels_and_annotations(&g);
        assert_eq!(
            labels["openstack-network-node"], "disabled",
            "user labels win"
        );
        assert_eq!(
            annotations,
            map(&[
                ("ovn.openstack.org/int_bridge", "br-int"),
                ("ovn.openstack.org/bridges", "br-ex"),
                ("ovn.openstack.org/ports", "br-ex:bond1"),
                (
                    "ovn.openstack.org/bonds",
                    "br-ex:bond0:eno1+eno3:balance-tcp:active"
                ),
                ("ovn.openstack.org/vlans", "bond0.126:bond0:126:1500"),
                ("ovn.openstack.org/mappings", "physnet1:br-ex"),
                ("ovn.openstack.org/availability_zones", "az9"),
                ("ovn.openstack.org/gateway", "enabled"),
                ("example.com/owner", "lab"),
            ])
        );
    }

    /// The same annotations from a config written with the strings Genestack's docs show, as
    /// operators copy them, and from the structured form: ovn-setup sees identical values.
    #[test]
    fn documented_strings_render_as_written() {
        let from = |ovn: &str| {
            let text = format!("plinth:\n  genestack:\n    roles: [network]\n    ovn:\n{ovn}");
            let parsed = crate::parse("t", &text).unwrap_or_else(|d| panic!("{d}"));
            ovn_annotations(parsed.config.plinth.genestack.ovn.as_ref().unwrap())
        };
        let strings = from(
            "      bridges: br-ex,br-provider\n      ports: br-ex:bond0.126\n      bonds: br-ex:bond0:eno1+eno3:balance-tcp:active,br-provider:bond1:eno5+eno7:balance-slb:off\n      bond_options: bond0:mii-monitor-interval=100,lacp-time=fast\n      vlans: bond0.126:bond0:126:1500\n      mappings: physnet1:br-ex\n      availability_zones: nova:az1\n      gateway: enabled\n",
        );
        assert_eq!(
            strings,
            map(&[
                ("ovn.openstack.org/int_bridge", "br-int"),
                ("ovn.openstack.org/bridges", "br-ex,br-provider"),
                ("ovn.openstack.org/ports", "br-ex:bond0.126"),
                (
                    "ovn.openstack.org/bonds",
                    "br-ex:bond0:eno1+eno3:balance-tcp:active,br-provider:bond1:eno5+eno7:balance-slb:off"
                ),
                (
                    "ovn.openstack.org/bond-options",
                    "bond0:lacp-time=fast,mii-monitor-interval=100"
                ),
                ("ovn.openstack.org/vlans", "bond0.126:bond0:126:1500"),
                ("ovn.openstack.org/mappings", "physnet1:br-ex"),
                ("ovn.openstack.org/availability_zones", "nova:az1"),
                ("ovn.openstack.org/gateway", "enabled"),
            ])
        );
        let lists = from(
            "      bridges: [br-ex, br-provider]\n      ports: [\"br-ex:bond0.126\"]\n      bonds:\n        - br-ex:bond0:eno1+eno3:balance-tcp:active\n        - {bridge: br-provider, name: bond1, interfaces: [eno5, eno7], mode: balance-slb, lacp: \"off\"}\n      bond_options:\n        bond0: {mii-monitor-interval: 100, lacp-time: fast}\n      vlans:\n        - {name: bond0.126, link: bond0, id: 126}\n      mappings: {physnet1: br-ex}\n      availability_zones: [nova, az1]\n      gateway: true\n",
        );
        assert_eq!(lists, strings);
    }

    /// A copied string that is not what ovn-setup reads is refused at its line and column.
    #[test]
    fn bad_strings_are_refused_where_they_are() {
        let errors = |ovn: &str| -> Vec<String> {
            let text = format!("plinth:\n  genestack:\n    ovn:\n{ovn}");
            crate::parse("t", &text)
                .unwrap_err()
                .errors()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            errors("      bridges: [br-ex]\n      ports:\n        - br-ex:eno1\n        - br-ex\n"),
            [
                "t:7:11: error: `br-ex` is not of the form `BRIDGE:INTERFACE` (such as `br-ex:bond1`) (at plinth.genestack.ovn.ports[1])"
            ]
        );
        assert_eq!(
            errors("      vlans: bond0.126:bond0:x:1500\n"),
            [
                "t:4:14: error: `bond0.126:bond0:x:1500`: VLAN id `x` is not a number from 1 to 4094 (at plinth.genestack.ovn.vlans)"
            ]
        );
        assert_eq!(
            errors("      mappings: physnet1\n"),
            [
                "t:4:17: error: `physnet1` is not of the form `PHYSNET:BRIDGE` (such as `physnet1:br-ex`) (at plinth.genestack.ovn.mappings)"
            ]
        );
        assert_eq!(
            errors("      gateway: yes-please\n"),
            [
                "t:4:16: error: gateway `yes-please`: expected true, false, `enabled` or `disabled` (at plinth.genestack.ovn.gateway)"
            ]
        );
        assert_eq!(
            errors("      bonds:\n        - {bridge: br-ex, name: bond0, members: [a, b]}\n"),
            [
                "t:5:11: error: missing required key `interfaces` (at plinth.genestack.ovn.bonds[0])",
                "t:5:40: error: unknown key `members`: expected one of `bridge`, `name`, `interfaces`, `mode` or `lacp` (at plinth.genestack.ovn.bonds[0].members)"
            ]
        );
    }
}
