//! What the supervisor runs: a [`ServiceSpec`] is one service, fully resolved by the planner (defaults
//! applied), so the supervisor never looks at the machine config itself.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Time between the stop signal and SIGKILL when the config says nothing.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a service comes from: the user's `plinth.services` or one of Plinth's built-ins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An entry of `plinth.services`.
    User,
    /// A built-in service from `crate::services`.
    Builtin,
}

/// How the supervisor decides that a started service is ready.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Ready as soon as the process runs.
    Running,
    /// Ready when it exits 0 (a oneshot).
    ExitZero,
    /// A TCP port on localhost accepts connections.
    Tcp(u16),
    /// An HTTP GET answers 2xx (plain `http://` only).
    Http(String),
    /// A unix socket accepts connections.
    Unix(String),
    /// A file exists.
    File(String),
    /// A command exits 0.
    Exec(Vec<String>),
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Running => f.write_str("running"),
            Probe::ExitZero => f.write_str("exit 0"),
            Probe::Tcp(port) => write!(f, "tcp :{port}"),
            Probe::Http(url) => write!(f, "http {url}"),
            Probe::Unix(path) => write!(f, "unix {path}"),
            Probe::File(path) => write!(f, "file {path}"),
            Probe::Exec(argv) => write!(f, "exec {}", argv.join(" ")),
        }
    }
}

/// When to restart a service after it exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Whenever it exits.
    Always,
    /// When it exits non-zero or is killed by a signal.
    OnFailure,
    /// Never.
    Never,
}

impl RestartPolicy {
    /// The policy's name as the config spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Never => "never",
        }
    }
}

/// One service, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    /// Unique name: log file, cgroup and API name.
    pub name: String,
    /// argv; the first element is the program.
    pub exec: Vec<String>,
    /// Extra environment on top of PID 1's base environment.
    pub env: BTreeMap<String, String>,
    /// Services that must be ready (or, for oneshots, exited 0) before this one starts.
    pub after: Vec<String>,
    /// How readiness is decided.
    pub probe: Probe,
    /// How long the probe may take before the start counts as failed; for a oneshot, how long
    /// it may run before it is killed as hung. `None`: no limit, decided where the spec is built
    /// (the cluster's background oneshots: nothing waits for them, and they wait, with retries,
    /// for as long as a cluster takes to be there).
    pub ready_timeout: Option<Duration>,
    /// What happens after it exits.
    pub restart: RestartPolicy,
    /// A oneshot runs to completion; exit 0 makes it `exited`, which satisfies dependents.
    pub oneshot: bool,
    /// The signal sent first on stop (SIGTERM unless a built-in says otherwise).
    pub stop_signal: i32,
    /// Time between the stop signal and SIGKILL of the whole process group.
    pub stop_timeout: Duration,
    /// Where the service comes from.
    pub origin: Origin,
    /// A login session on this terminal (`/dev/...`): it runs in a new session with the terminal
    /// as stdin, stdout, stderr and controlling terminal (nothing is captured), and, being the
    /// operator's, it is kept running across plan reloads (`plinthctl config apply`); only a
    /// stop or the shutdown ends it.
    pub tty: Option<String>,
    /// Not part of the node's readiness: the boot's `ready` phase does not wait for it, and its
    /// failing does not send the node to maintenance mode. The cluster's services are: a node is
    /// ready when the OS is, while a control plane under emulation may take minutes and a cluster
    /// may simply not be there yet (`plinthctl cluster` tells how it is doing).
    pub background: bool,
}
