//! `plinth-config` owns the machine config: the `#cloud-config` document every part of Plinth reads.
//!
//! It holds the typed structs (cloud-init keys, netplan v2 network, and Plinth's own `plinth:` settings),
//! parsing with `SOURCE:LINE:COL` errors, validation, the data-source readers, merging with the image's
//! defaults, and the JSON Schema. It performs no effects on the machine: it reads strings and directories.

pub mod duration;
pub mod plinth;

pub use duration::Duration;
pub use plinth::services::{Ready, Restart, Service};
