//! `plinth.genestack.ovn`: the OVN settings Genestack's ovn-setup reads from the node's
//! `ovn.openstack.org/*` annotations, and their text forms. Each item reads and prints exactly as the
//! annotation value Genestack's docs show (`br-ex:bond1`, `br-ex:bond0:eno1+eno3:balance-tcp:active`,
//! `bond0.126:bond0:126:1500`), so operators can copy those strings into a config; the structured
//! form is accepted too ([`super::ovn_serde`]). Pure: no effects.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ovn_serde;

/// OVN settings (annotations `ovn.openstack.org/*`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ovn {
    /// Integration bridge (default `br-int`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int_bridge: Option<String>,
    /// Provider bridges: a list, or the annotation's comma-separated string (`br-ex`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "ovn_serde::names"
    )]
    #[schemars(schema_with = "ovn_serde::names_schema")]
    pub bridges: Vec<String>,
    /// Host interfaces handed to bridges: `BRIDGE:INTERFACE` strings (`br-ex:bond1`), mappings
    /// with `bridge` and `port`, or the annotation's comma-separated string. A port that is neither
    /// an OVS bond nor a VLAN below is a NIC OVS owns: Plinth brings it up with no address.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "ovn_serde::items"
    )]
    #[schemars(schema_with = "ovn_serde::items_schema::<OvnPort>")]
    pub ports: Vec<OvnPort>,
    /// OVS bonds: `BRIDGE:BOND:MEMBER+MEMBER[:MODE[:LACP]]` strings
    /// (`br-ex:bond0:eno1+eno3:balance-tcp:active`), mappings with `bridge`, `name`, `interfaces`,
    /// `mode` (default `balance-tcp`) and `lacp` (default `active`), or the annotation's string.
    /// The members are NICs OVS owns: Plinth brings them up with no address.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "ovn_serde::items"
    )]
    #[schemars(schema_with = "ovn_serde::items_schema::<OvnBond>")]
    pub bonds: Vec<OvnBond>,
    /// Extra OVS options per bond (`ovn.openstack.org/bond-options`): bond name → option → value,
    /// or the annotation's string (`bond0:mii-monitor-interval=100,lacp-time=fast`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "ovn_serde::bond_options"
    )]
    #[schemars(schema_with = "ovn_serde::bond_options_schema")]
    pub bond_options: BTreeMap<String, BTreeMap<String, String>>,
    /// Host VLAN interfaces ovn-setup creates: `NAME:PARENT:ID[:MTU]` strings
    /// (`bond0.126:bond0:126:1500`), mappings with `name`, `link`, `id` and `mtu` (default 1500),
    /// or the annotation's string. The parent stays the host's (it may be in `network:`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "ovn_serde::items"
    )]
    #[schemars(schema_with = "ovn_serde::items_schema::<OvnVlan>")]
    pub vlans: Vec<OvnVlan>,
    /// Physical network name → bridge: a mapping (`physnet1: br-ex`), `NET:BRIDGE` strings, or the
    /// annotation's comma-separated string (`physnet1:br-ex`).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "ovn_serde::mappings"
    )]
    #[schemars(schema_with = "ovn_serde::mappings_schema")]
    pub mappings: BTreeMap<String, String>,
    /// Availability zones of this chassis: a list, or the annotation's colon-separated string
    /// (`nova:az1`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "ovn_serde::zones"
    )]
    #[schemars(schema_with = "ovn_serde::zones_schema")]
    pub availability_zones: Vec<String>,
    /// This node is an OVN gateway chassis: `true`, or the annotation's `enabled`.
    #[serde(default, deserialize_with = "ovn_serde::gateway")]
    #[schemars(schema_with = "ovn_serde::gateway_schema")]
    pub gateway: bool,
}

impl Ovn {
    /// The host interfaces this config hands to OVS, each with where it is named: the ports that
    /// are neither an OVS bond of [`Ovn::bonds`] nor a VLAN ovn-setup creates ([`Ovn::vlans`]),
    /// and every bond member. A VLAN's parent stays the host's.
    pub fn ovs_interfaces(&self) -> Vec<OvsInterface> {
        let mut out: Vec<OvsInterface> = Vec::new();
        let mut add = |name: &str, at: OvsClaim| {
            if !out.iter().any(|o| o.name == name) {
                out.push(OvsInterface {
                    name: name.to_owned(),
                    at,
                });
            }
        };
        for (i, p) in self.ports.iter().enumerate() {
            let is_bond = self.bonds.iter().any(|b| b.name == p.port);
            let is_vlan = self.vlans.iter().any(|v| v.name == p.port);
            if !is_bond && !is_vlan {
                add(&p.port, OvsClaim::Port(i));
            }
        }
        for (i, b) in self.bonds.iter().enumerate() {
            for m in &b.interfaces {
                add(m, OvsClaim::BondMember(i));
            }
        }
        out
    }

    /// The names ovn-setup creates on the host itself: OVS bonds and VLAN interfaces.
    pub fn created_names(&self) -> impl Iterator<Item = (&str, OvsClaim)> {
        let bonds = self
            .bonds
            .iter()
            .enumerate()
            .map(|(i, b)| (b.name.as_str(), OvsClaim::Bond(i)));
        let vlans = self
            .vlans
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), OvsClaim::Vlan(i)));
        bonds.chain(vlans)
    }
}

/// A host interface handed to OVS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OvsInterface {
    /// The interface name.
    pub name: String,
    /// Which entry hands it over.
    pub at: OvsClaim,
}

/// The entry of [`Ovn`] that claims a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OvsClaim {
    /// `ports[i]`.
    Port(usize),
    /// A member of `bonds[i]`.
    BondMember(usize),
    /// The bond `bonds[i]` itself.
    Bond(usize),
    /// The VLAN `vlans[i]`.
    Vlan(usize),
}

/// A port on a bridge (`br-ex:bond1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvnPort {
    /// Bridge name.
    pub bridge: String,
    /// Host interface.
    pub port: String,
}

/// An OVS bond on a bridge (`br-ex:bond0:eno1+eno3:balance-tcp:active`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvnBond {
    /// Bridge name.
    pub bridge: String,
    /// Bond name.
    pub name: String,
    /// Member interfaces.
    pub interfaces: Vec<String>,
    /// OVS bond mode (`balance-tcp`, `balance-slb`, `active-backup`).
    #[serde(default = "default_bond_mode")]
    pub mode: String,
    /// LACP: `active`, `passive` or `off`.
    #[serde(default = "default_lacp")]
    pub lacp: String,
}

fn default_bond_mode() -> String {
    "balance-tcp".to_owned()
}
fn default_lacp() -> String {
    "active".to_owned()
}

/// A VLAN interface (`bond0.126:bond0:126:1500`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OvnVlan {
    /// Interface name, such as `bond0.126`.
    pub name: String,
    /// Parent interface.
    pub link: String,
    /// VLAN id.
    pub id: u16,
    /// MTU (default 1500).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
}

const fn default_mtu() -> u32 {
    1500
}

/// Why an annotation value, or one item of it, cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// Not the item's form: too few or too many fields, or an empty one.
    #[error("`{text}` is not of the form `{form}` (such as `{example}`)")]
    Form {
        /// The item as written.
        text: String,
        /// The form it should have.
        form: &'static str,
        /// Genestack's documented example of the form.
        example: &'static str,
    },
    /// Bond members with an empty name among them.
    #[error(
        "`{text}`: the members `{members}` are interface names joined by `+` (such as `eno1+eno3`)"
    )]
    BondMembers {
        /// The bond as written.
        text: String,
        /// Its members field.
        members: String,
    },
    /// A VLAN id that is not a number.
    #[error("`{text}`: VLAN id `{id}` is not a number from 1 to 4094")]
    VlanId {
        /// The VLAN as written.
        text: String,
        /// Its id field.
        id: String,
    },
    /// An MTU that is not a number.
    #[error("`{text}`: MTU `{mtu}` is not a number of bytes")]
    Mtu {
        /// The VLAN as written.
        text: String,
        /// Its MTU field.
        mtu: String,
    },
    /// Bond options before any bond name.
    #[error(
        "`{0}` does not start with a bond name: the form is `BOND:OPTION=VALUE,OPTION=VALUE` (such as `bond0:mii-monitor-interval=100,lacp-time=fast`)"
    )]
    NoBondName(String),
    /// A bond option that is not `OPTION=VALUE`.
    #[error("`{option}` in `{text}` is not `OPTION=VALUE` (such as `lacp-time=fast`)")]
    BondOption {
        /// The option as written.
        option: String,
        /// The whole bond options value.
        text: String,
    },
}

/// One item of an annotation value: its text form, what it looks like, and its example.
pub trait AnnotationItem: FromStr<Err = AnnotationError> + fmt::Display {
    /// The form, for messages and the schema (`BRIDGE:INTERFACE`).
    const FORM: &'static str;
    /// Genestack's documented example.
    const EXAMPLE: &'static str;
}

/// The fields of `text` split on `:`, refused unless there are `min..=max` of them, none empty.
fn fields<T: AnnotationItem>(
    text: &str,
    min: usize,
    max: usize,
) -> Result<Vec<&str>, AnnotationError> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() < min || parts.len() > max || parts.iter().any(|p| p.trim().is_empty()) {
        return Err(AnnotationError::Form {
            text: text.to_owned(),
            form: T::FORM,
            example: T::EXAMPLE,
        });
    }
    Ok(parts.into_iter().map(str::trim).collect())
}

impl AnnotationItem for OvnPort {
    const FORM: &'static str = "BRIDGE:INTERFACE";
    const EXAMPLE: &'static str = "br-ex:bond1";
}

impl FromStr for OvnPort {
    type Err = AnnotationError;
    fn from_str(text: &str) -> Result<Self, AnnotationError> {
        let f = fields::<Self>(text, 2, 2)?;
        Ok(OvnPort {
            bridge: f[0].to_owned(),
            port: f[1].to_owned(),
        })
    }
}

impl fmt::Display for OvnPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.bridge, self.port)
    }
}

impl AnnotationItem for OvnBond {
    const FORM: &'static str = "BRIDGE:BOND:MEMBER+MEMBER[:MODE[:LACP]]";
    const EXAMPLE: &'static str = "br-ex:bond0:eno1+eno3:balance-tcp:active";
}

impl FromStr for OvnBond {
    type Err = AnnotationError;
    fn from_str(text: &str) -> Result<Self, AnnotationError> {
        let f = fields::<Self>(text, 3, 5)?;
        let interfaces: Vec<String> = f[2].split('+').map(|m| m.trim().to_owned()).collect();
        if interfaces.iter().any(String::is_empty) {
            return Err(AnnotationError::BondMembers {
                text: text.to_owned(),
                members: f[2].to_owned(),
            });
        }
        Ok(OvnBond {
            bridge: f[0].to_owned(),
            name: f[1].to_owned(),
            interfaces,
            mode: f.get(3).map_or_else(default_bond_mode, |m| (*m).to_owned()),
            lacp: f.get(4).map_or_else(default_lacp, |l| (*l).to_owned()),
        })
    }
}

impl fmt::Display for OvnBond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}:{}",
            self.bridge,
            self.name,
            self.interfaces.join("+"),
            self.mode,
            self.lacp
        )
    }
}

impl AnnotationItem for OvnVlan {
    const FORM: &'static str = "NAME:PARENT:VLAN_ID[:MTU]";
    const EXAMPLE: &'static str = "bond0.126:bond0:126:1500";
}

impl FromStr for OvnVlan {
    type Err = AnnotationError;
    fn from_str(text: &str) -> Result<Self, AnnotationError> {
        let f = fields::<Self>(text, 3, 4)?;
        let id = f[2].parse::<u16>().map_err(|_| AnnotationError::VlanId {
            text: text.to_owned(),
            id: f[2].to_owned(),
        })?;
        let mtu = match f.get(3) {
            Some(m) => m.parse::<u32>().map_err(|_| AnnotationError::Mtu {
                text: text.to_owned(),
                mtu: (*m).to_owned(),
            })?,
            None => default_mtu(),
        };
        Ok(OvnVlan {
            name: f[0].to_owned(),
            link: f[1].to_owned(),
            id,
            mtu,
        })
    }
}

impl fmt::Display for OvnVlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}:{}", self.name, self.link, self.id, self.mtu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_strings_read_and_print_back() {
        for text in ["br-ex:bond1", "br-ex:bond0", "br-ex:bond0.126"] {
            assert_eq!(text.parse::<OvnPort>().unwrap().to_string(), text);
        }
        for text in [
            "br-ex:bond0:eno1+eno3:balance-tcp:active",
            "br-provider:bond1:eno5+eno7:balance-slb:off",
        ] {
            assert_eq!(text.parse::<OvnBond>().unwrap().to_string(), text);
        }
        let vlan: OvnVlan = "bond0.126:bond0:126:1500".parse().unwrap();
        assert_eq!(
            (vlan.link.as_str(), vlan.id, vlan.mtu),
            ("bond0", 126, 1500)
        );
        assert_eq!(vlan.to_string(), "bond0.126:bond0:126:1500");
    }

    #[test]
    fn short_forms_take_the_defaults() {
        let bond: OvnBond = "br-ex:bond0:eno1+eno3".parse().unwrap();
        assert_eq!(bond.to_string(), "br-ex:bond0:eno1+eno3:balance-tcp:active");
        let vlan: OvnVlan = "bond0.126:bond0:126".parse().unwrap();
        assert_eq!(vlan.mtu, 1500);
    }

    #[test]
    fn bad_strings_say_the_form() {
        assert_eq!(
            "br-ex".parse::<OvnPort>().unwrap_err().to_string(),
            "`br-ex` is not of the form `BRIDGE:INTERFACE` (such as `br-ex:bond1`)"
        );
        assert_eq!(
            "br-ex".parse::<OvnPort>().unwrap_err(),
            AnnotationError::Form {
                text: "br-ex".into(),
                form: OvnPort::FORM,
                example: OvnPort::EXAMPLE
            }
        );
        assert!("br-ex::bond1".parse::<OvnPort>().is_err());
        assert!("br-ex:bond1:x".parse::<OvnPort>().is_err());
        assert_eq!(
            "br-ex:bond0:eno1++eno3"
                .parse::<OvnBond>()
                .unwrap_err()
                .to_string(),
            "`br-ex:bond0:eno1++eno3`: the members `eno1++eno3` are interface names joined by `+` (such as `eno1+eno3`)"
        );
        assert_eq!(
            "bond0.x:bond0:x:1500"
                .parse::<OvnVlan>()
                .unwrap_err()
                .to_string(),
            "`bond0.x:bond0:x:1500`: VLAN id `x` is not a number from 1 to 4094"
        );
        assert_eq!(
            "bond0.126:bond0:126:big".parse::<OvnVlan>(),
            Err(AnnotationError::Mtu {
                text: "bond0.126:bond0:126:big".into(),
                mtu: "big".into()
            })
        );
    }

    #[test]
    fn ovs_interfaces_are_ports_and_bond_members_not_bonds_or_vlans() {
        let ovn = Ovn {
            ports: vec![
                "br-ex:bond0".parse().unwrap(),
                "br-ex:eno2".parse().unwrap(),
                "br-vlan:bond1.126".parse().unwrap(),
            ],
            bonds: vec!["br-ex:bond0:eno1+eno3".parse().unwrap()],
            vlans: vec!["bond1.126:bond1:126".parse().unwrap()],
            ..Ovn::default()
        };
        let got: Vec<(String, OvsClaim)> = ovn
            .ovs_interfaces()
            .into_iter()
            .map(|o| (o.name, o.at))
            .collect();
        assert_eq!(
            got,
            [
                ("eno2".to_owned(), OvsClaim::Port(1)),
                ("eno1".to_owned(), OvsClaim::BondMember(0)),
                ("eno3".to_owned(), OvsClaim::BondMember(0)),
            ]
        );
        let created: Vec<&str> = ovn.created_names().map(|(n, _)| n).collect();
        assert_eq!(created, ["bond0", "bond1.126"]);
    }
}
