//! The network agent: applies the machine config's netplan v2 network with rtnetlink.
//!
//! Pure decisions — which link each entry means ([`matching`]), the devices and their final names
//! ([`devices`]), bond and bridge parameters ([`bond`], [`bridge`]), routes and rules ([`routes`], [`rules`]), the ordered operations ([`plan`]),
//! the DHCP clients ([`dhcp`]) and resolv.conf ([`resolv`]), the NICs OVS owns ([`ovs_owned`]), host-mode OVS's devices left to OVSDB ([`ovs_host`]) — are separate from the effects:
//! reading the state ([`observe`]), performing operations ([`apply`]), and the command around them
//! ([`run`], [`watch`]). DHCP clients themselves are not run here: PID 1 supervises them.

pub mod apply;
pub mod bond;
pub mod bridge;
pub mod cidr;
pub mod devices;
pub mod dhcp;
pub mod matching;
pub mod observe;
pub mod ops;
pub mod ovs_host;
pub mod ovs_owned;
pub mod plan;
pub mod resolv;
pub mod routes;
pub mod rules;
pub mod run;
pub mod state;
pub mod watch;

pub use ops::Op;
pub use plan::{Plan, plan};
pub use plinth_config::net_ready::DhcpClient;
pub use run::{NetError, NetOptions, run};
pub use state::{Link, RouteEntry, State};
