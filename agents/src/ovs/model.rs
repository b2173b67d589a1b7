//! The part of the Open_vSwitch database Plinth manages, one shape for what the config wants and
//! for what the database holds: the switch row (`Open_vSwitch`), its bridges, their ports and the
//! ports' interfaces, and the bridges' controllers. Rows read from the database carry their uuid;
//! wanted rows have none. Only the columns the config can set are here: every other column is
//! left as the database has it.

use std::collections::BTreeMap;

/// The `external_ids` key that marks a row Plinth made: only marked bridges and ports are ever
/// removed, when the config no longer has them.
pub const MANAGED_KEY: &str = "plinth-managed";

/// A `Controller` row.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Controller {
    /// Its target, such as `unix:/run/openvswitch/br0.mgmt`.
    pub target: String,
    /// `in-band` or `out-of-band`.
    pub connection_mode: Option<String>,
}

/// An `Interface` row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// The row's uuid (read rows only).
    pub uuid: Option<String>,
    /// Interface name.
    pub name: String,
    /// `""` (a system interface), `internal` or `patch`.
    pub kind: String,
    /// `options` (a patch port's `peer`).
    pub options: BTreeMap<String, String>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
    /// `mtu_request`.
    pub mtu_request: Option<i64>,
}

/// A `Port` row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Port {
    /// The row's uuid (read rows only).
    pub uuid: Option<String>,
    /// Port name.
    pub name: String,
    /// Its interfaces (two or more: a bond).
    pub interfaces: Vec<Interface>,
    /// Access VLAN tag.
    pub tag: Option<i64>,
    /// A fake bridge's port (a netplan VLAN on an OVS bridge).
    pub fake_bridge: bool,
    /// `active-backup`, `balance-tcp` or `balance-slb`.
    pub bond_mode: Option<String>,
    /// `active`, `passive` or `off`.
    pub lacp: Option<String>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

/// A `Bridge` row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bridge {
    /// The row's uuid (read rows only).
    pub uuid: Option<String>,
    /// Bridge name.
    pub name: String,
    /// Its ports, the bridge's own internal port among them.
    pub ports: Vec<Port>,
    /// `secure` or `standalone`.
    pub fail_mode: Option<String>,
    /// `mcast_snooping_enable`.
    pub mcast_snooping: bool,
    /// `rstp_enable`.
    pub rstp: bool,
    /// OpenFlow versions.
    pub protocols: Vec<String>,
    /// Controllers.
    pub controllers: Vec<Controller>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

/// The `Open_vSwitch` row and its bridges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Switch {
    /// The row's uuid; `None` when the database has no row yet (a new database) or wanted.
    pub uuid: Option<String>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
    /// Bridges.
    pub bridges: Vec<Bridge>,
}

/// What a bridge, port and interface row share: a name, the row's UUID once read, its
/// `external_ids`, where Plinth's mark is, and its `other_config`.
pub trait Row {
    /// The row's `name` column.
    fn name(&self) -> &str;
    /// The row's UUID; `None` for a wanted row, not yet in the database.
    fn uuid(&self) -> Option<&str>;
    /// The row's `external_ids`.
    fn external_ids(&self) -> &BTreeMap<String, String>;
    /// The row's `other_config`.
    fn other_config(&self) -> &BTreeMap<String, String>;
}

macro_rules! row {
    ($($t:ty),*) => {$(
        impl Row for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn uuid(&self) -> Option<&str> {
                self.uuid.as_deref()
            }
            fn external_ids(&self) -> &BTreeMap<String, String> {
                &self.external_ids
            }
            fn other_config(&self) -> &BTreeMap<String, String> {
                &self.other_config
            }
        }
    )*};
}
row!(Bridge, Port, Interface);

/// Whether a read row's `external_ids` carry Plinth's mark.
pub fn managed(external_ids: &BTreeMap<String, String>) -> bool {
    external_ids.get(MANAGED_KEY).is_some_and(|v| v == "true")
}
