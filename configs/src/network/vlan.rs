//! `vlans`: 802.1Q VLANs on top of a link defined in the config.

use super::common::device_struct;

device_struct! {
    /// A VLAN device.
    pub struct Vlan {
        /// VLAN id, 0 to 4094.
        pub id: u16,
        /// The underlying interface (defined in the config).
        pub link: String,
    }
}
