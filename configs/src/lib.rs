//! `plinth-config` owns the machine config: the `#cloud-config` document every part of Plinth reads.
//!
//! It holds the typed structs (cloud-init keys, netplan v2 network, and Plinth's own `plinth:` settings),
//! parsing with `SOURCE:LINE:COL` errors, validation, the data-source readers, merging with the image's
//! defaults, and the JSON Schema. It performs no effects on the machine: it reads strings and directories.

pub mod cloud_init;
pub mod config;
pub mod decode;
pub mod diagnostic;
pub mod duration;
pub mod genestack;
pub mod kernel;
pub mod network;
pub mod parse;
pub mod plinth;
pub mod redact;
pub mod reference;
pub mod schema;
pub mod sources;
pub mod validate;
pub mod yaml;

pub use config::MachineConfig;
pub use diagnostic::{Diagnostic, Diagnostics, Pos, Severity};
pub use duration::Duration;
pub use network::Network;
pub use parse::{Parsed, parse, parse_network};
pub use plinth::services::{Ready, Restart, Service};
pub use plinth::{Genestack, Plinth};
pub use schema::schema;
pub use sources::load_path;
