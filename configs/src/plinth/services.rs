//! `plinth.services`: the user's own extra services, supervised by PID 1 like the built-in ones.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Duration;

/// Names of the services Plinth itself runs (as plinth-init names them). User services may name them
/// in `after`, and may not take these names. Keep in step with the supervisor's built-in services.
pub const BUILTIN_SERVICES: &[&str] = &[
    "udevd",
    "udev-trigger",
    "udev-settle",
    "dhcp",
    "network",
    "time",
    "chronyd",
    "storage",
    "iscsid",
    "multipathd",
    "compute-check",
    "etcd",
    "containerd",
    "containerd-images",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "ovsdb-server",
    "ovs-vswitchd",
    "ovsdb-init",
    "ovs-apply",
    "node-exporter",
    "cluster-agent",
];

/// Prefixes of built-in service families (`dhcp-eth0`: one DHCP client per configured interface).
pub const BUILTIN_SERVICE_PREFIXES: &[&str] = &["dhcp-"];

/// Whether `name` is, or could be, the name of a built-in service.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_SERVICES.contains(&name) || BUILTIN_SERVICE_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// One user service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Unique name; also the log file and cgroup name.
    pub name: String,
    /// The command as an argv list; the first element is the program.
    pub exec: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Services (by name) that must be ready before this one starts.
    #[serde(default)]
    pub after: Vec<String>,
    /// How to tell the service is ready; without it, a service is ready once it is running.
    #[serde(default)]
    pub ready: Option<Ready>,
    /// When to restart the service after it exits.
    #[serde(default)]
    pub restart: Restart,
    /// A oneshot service is ready when it exits 0, and is not restarted after that.
    #[serde(default)]
    pub oneshot: bool,
    /// Time between the stop signal and SIGKILL (default 10s).
    #[serde(default)]
    pub stop_timeout: Option<Duration>,
}

/// A readiness probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Ready {
    /// A TCP port on localhost accepts connections.
    Tcp(u16),
    /// An HTTP GET of this URL answers 2xx.
    Http(String),
    /// A unix socket at this path accepts connections.
    Unix(String),
    /// This file exists.
    File(String),
    /// This command exits 0.
    Exec(Vec<String>),
}

/// Restart policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Restart whenever the service exits.
    #[default]
    Always,
    /// Restart only when it exits non-zero or is killed by a signal.
    OnFailure,
    /// Never restart.
    Never,
}
