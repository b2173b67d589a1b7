//! Validation beyond types: the pure checks on a typed [`MachineConfig`], each finding naming the key
//! path it is about. The parser turns paths into line:column positions; these checks never see YAML.

pub mod addresses;
pub mod cloud_init;
pub mod cluster;
pub mod genestack;
pub mod hostname;
pub mod join;
pub mod kubernetes;
pub mod network;
pub mod node;
pub mod openvswitch;
pub mod ovs_nics;
pub mod services;
pub mod storage;

use crate::config::MachineConfig;
use crate::diagnostic::Severity;
use crate::yaml::KeyPath;

/// One problem found by validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The key the problem is about.
    pub path: KeyPath,
    /// What is wrong and what was expected.
    pub message: String,
    /// Point at the key itself rather than its value (for duplicates and names).
    pub at_key: bool,
    /// Other keys the finding is about (it is moot when one of them had a type error).
    pub related: Vec<KeyPath>,
    /// Another key the message names: its line and column are added to the message, after its
    /// path, so both places can be found.
    pub also: Option<KeyPath>,
}

impl Finding {
    /// An error about the value at `path`.
    pub fn error(path: KeyPath, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Error,
            path,
            message: message.into(),
            at_key: false,
            related: Vec::new(),
            also: None,
        }
    }

    /// A warning about the value at `path`.
    pub fn warning(path: KeyPath, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            path,
            message: message.into(),
            at_key: false,
            related: Vec::new(),
            also: None,
        }
    }

    /// Names another key the finding is about.
    pub fn related(mut self, path: KeyPath) -> Self {
        self.related.push(path);
        self
    }

    /// Names another key by its line and column too (see [`Finding::also`]); it counts as related.
    pub fn also(mut self, path: KeyPath) -> Self {
        self.related.push(path.clone());
        self.also = Some(path);
        self
    }

    /// Point at the key rather than the value.
    pub fn at_key(mut self) -> Self {
        self.at_key = true;
        self
    }
}

/// Runs every check; returns all findings, errors and warnings.
pub fn validate(config: &MachineConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    hostname::check(config, &mut out);
    cloud_init::check(config, &mut out);
    cluster::check(config, &mut out);
    join::check(config, &mut out);
    kubernetes::check(config, &mut out);
    node::check(config, &mut out);
    storage::check(config, &mut out);
    genestack::check(config, &mut out);
    ovs_nics::check(config, &mut out);
    openvswitch::check(config, &mut out);
    services::check(&config.plinth.services, &mut out);
    if let Some(net) = &config.network {
        network::check(net, &mut out);
    }
    out
}

fn root(key: &str) -> KeyPath {
    KeyPath::root().key(key)
}

/// For the validate modules' tests: the rendered diagnostics (errors, else warnings) of a config.
#[cfg(test)]
pub(crate) fn rendered(text: &str) -> Vec<String> {
    match crate::parse("t", text) {
        Ok(parsed) => parsed.warnings.iter().map(ToString::to_string).collect(),
        Err(diags) => diags.0.iter().map(ToString::to_string).collect(),
    }
}
