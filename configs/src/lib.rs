//! `plinth-config` owns the machine config: the `#cloud-config` document every part of Plinth reads.
//!
//! It holds the typed structs (cloud-init keys, netplan v2 network, and Plinth's own `plinth:` settings),
//! parsing with `SOURCE:LINE:COL` errors, validation, the data-source readers, merging with the image's
//! defaults, and the JSON Schema. It performs no effects on the machine: it reads strings and directories.
//!
//! The pipeline: [`yaml`] parses text (under limits) into a tree that knows every node's line and
//! column; [`parse`](mod@parse) reads the typed [`MachineConfig`] from it through [`yaml::de`], reporting every
//! type error and unknown key with its key path, then runs [`validate`]; [`sources`] feeds it from
//! seeds, config drives and the command line and merges the results.
#![forbid(unsafe_code)]

/// The standard cloud-init keys Plinth implements (users, write_files, ntp, commands, ...).
pub mod cloud_init;
/// [`MachineConfig`], the whole typed config.
pub mod config;
/// base64 and size-capped gzip decoding (write_files content, compressed user-data).
pub mod decode;
/// [`Diagnostic`]s printed as `SOURCE:LINE:COL: severity: message (at key.path)`.
pub mod diagnostic;
/// Durations as users write them (`30s`, `500ms`).
pub mod duration;
/// Genestack roles → node labels and `ovn.openstack.org/*` annotations.
pub mod genestack;
/// Shell-style glob matching (`*`, `?`, `[...]`), for interface names and module aliases.
pub mod glob;
/// The Genestack kernel modules and sysctls, merged with `plinth.kernel`.
pub mod kernel;
/// The network agent's ready file: the typed, versioned document `plinth-agent net` writes for PID 1.
pub mod net_ready;
/// netplan version 2 network config, and the features refused as unsupported.
pub mod network;
/// Text → checked config: YAML, typed read with error recovery, unknown keys, validation.
pub mod parse;
/// Plinth's own `plinth:` settings.
pub mod plinth;
/// The config with secrets hidden, and as YAML.
pub mod redact;
/// The Markdown config reference generated from the schema.
pub mod reference;
/// The JSON Schema of the config.
pub mod schema;
/// Data sources: NoCloud seeds, config drives, the kernel command line, merging, order.
pub mod sources;
/// "Did you mean ...?" for misspelt keys.
pub mod suggest;
/// User-data in every format cloud-init reads: MIME multipart, archives, scripts, merging.
pub mod user_data;
/// Validation beyond types, as findings with key paths.
pub mod validate;
/// YAML under limits into a position-aware tree, and the deserializer over it.
pub mod yaml;

pub use config::MachineConfig;
pub use diagnostic::{Diagnostic, Diagnostics, Pos, Severity};
pub use duration::{Duration, DurationError};
pub use network::Network;
pub use parse::{Parsed, parse, parse_network, parse_with};
pub use plinth::services::{Ready, Restart, Service};
pub use plinth::{Genestack, Plinth};
pub use schema::schema;
pub use sources::{load_path, load_path_with};
