//! The control API: a D-Bus interface (`org.plinth.Init1` at `/org/plinth/Init1`) served peer to
//! peer by PID 1 on a root-only unix socket, with no bus daemon. `types` holds the wire types,
//! `controller` the functions behind each method, `interface` the zbus adapter and the client
//! proxy, `server` the socket.

pub mod controller;
pub mod interface;
pub mod peer;
pub mod server;
pub mod types;

/// The default control socket.
pub const DEFAULT_SOCKET: &str = "/run/plinth/control.sock";
/// The object path of the interface.
pub const OBJECT_PATH: &str = "/org/plinth/Init1";
/// The interface name.
pub const INTERFACE: &str = "org.plinth.Init1";
