//! Open vSwitch on the host (`plinth.ovs.mode: host`): the bridges, bonds, patch ports and VLAN
//! internal ports that the netplan `network:` section writes in netplan's `openvswitch` syntax,
//! applied through the OVSDB protocol (RFC 7047) on ovsdb-server's unix socket.
//!
//! Pure: what the config wants ([`desired`]) in the shape of the database ([`model`]), the
//! database's rows read into that shape ([`rows`], with OVSDB's JSON values in [`datum`]), the
//! transaction between them ([`plan`]). Effects: the JSON-RPC client ([`client`]), reading and
//! committing, and the database file ([`apply`]); the command line ([`cli`]).

pub mod apply;
pub mod cli;
pub mod client;
pub mod datum;
pub mod desired;
pub mod model;
pub mod plan;
pub mod rows;
