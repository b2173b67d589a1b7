//! The planner: the machine config's services (and the built-ins) turned into [`ServiceSpec`]s with
//! every default applied, checked as a graph. Pure: it reads values and returns values.

use std::time::Duration;

use plinth_config::{Ready, Restart, Service};

use super::graph::{Graph, GraphError};
use super::spec::{DEFAULT_STOP_TIMEOUT, Origin, Probe, RestartPolicy, ServiceSpec};

/// Defaults the config does not carry.
#[derive(Clone, Copy, Debug)]
pub struct PlanDefaults {
    /// How long a readiness probe may take.
    pub ready_timeout: Duration,
}

impl Default for PlanDefaults {
    fn default() -> Self {
        PlanDefaults {
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// Why the services cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// A service has an empty `exec`.
    #[error("service `{0}` has an empty exec")]
    EmptyExec(String),
    /// A service name cannot be a file or cgroup name.
    #[error("service name `{0}` must be non-empty and use only letters, digits, `-`, `_` and `.`")]
    BadName(String),
    /// The `after` relation is broken.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// The planned services and their graph.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Built-ins first, then the user's services in config order.
    pub specs: Vec<ServiceSpec>,
    /// Their dependency graph.
    pub graph: Graph,
}

/// Plans `builtins` (already resolved by `crate::services`) and the user's `services`.
pub fn plan(
    builtins: Vec<ServiceSpec>,
    services: &[Service],
    defaults: PlanDefaults,
) -> Result<Plan, PlanError> {
    let mut specs = builtins;
    specs.extend(services.iter().map(|s| user_spec(s, defaults)));
    for spec in &specs {
        if !valid_name(&spec.name) {
            return Err(PlanError::BadName(spec.name.clone()));
        }
        if spec.exec.first().is_none_or(|p| p.is_empty()) {
            return Err(PlanError::EmptyExec(spec.name.clone()));
        }
    }
    let graph = Graph::new(&specs)?;
    Ok(Plan { specs, graph })
}

/// One `plinth.services` entry with its defaults.
fn user_spec(service: &Service, defaults: PlanDefaults) -> ServiceSpec {
    let probe = match (&service.ready, service.oneshot) {
        (Some(ready), _) => probe_of(ready),
        (None, true) => Probe::ExitZero,
        (None, false) => Probe::Running,
    };
    ServiceSpec {
        name: service.name.clone(),
        exec: service.exec.clone(),
        env: service.env.clone(),
        after: service.after.clone(),
        probe,
        ready_timeout: Some(defaults.ready_timeout),
        restart: match service.restart {
            Restart::Always => RestartPolicy::Always,
            Restart::OnFailure => RestartPolicy::OnFailure,
            Restart::Never => RestartPolicy::Never,
        },
        oneshot: service.oneshot,
        stop_signal: libc::SIGTERM,
        stop_timeout: service
            .stop_timeout
            .map_or(DEFAULT_STOP_TIMEOUT, |d| d.get()),
        origin: Origin::User,
        tty: None,
        background: false,
    }
}

fn probe_of(ready: &Ready) -> Probe {
    match ready {
        Ready::Tcp(port) => Probe::Tcp(*port),
        Ready::Http(url) => Probe::Http(url.clone()),
        Ready::Unix(path) => Probe::Unix(path.clone()),
        Ready::File(path) => Probe::File(path.clone()),
        Ready::Exec(argv) => Probe::Exec(argv.clone()),
    }
}

/// Names become file and cgroup names: keep them to a safe alphabet.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> Service {
        Service {
            name: name.into(),
            exec: vec!["/bin/sleep".into(), "infinity".into()],
            env: Default::default(),
            after: vec![],
            ready: None,
            restart: Restart::default(),
            oneshot: false,
            stop_timeout: None,
        }
    }

    #[test]
    fn defaults_are_applied() {
        let plan = plan(vec![], &[service("web")], PlanDefaults::default()).unwrap();
        let spec = &plan.specs[0];
        assert_eq!(spec.probe, Probe::Running);
        assert_eq!(spec.restart, RestartPolicy::Always);
        assert_eq!(spec.stop_timeout, DEFAULT_STOP_TIMEOUT);
        assert_eq!(spec.stop_signal, libc::SIGTERM);
        assert_eq!(spec.ready_timeout, Some(Duration::from_secs(60)));
        assert_eq!(spec.origin, Origin::User);
    }

    #[test]
    fn config_fields_carry_over() {
        let mut s = service("db");
        s.ready = Some(Ready::Tcp(5432));
        s.restart = Restart::OnFailure;
        s.stop_timeout = Some(plinth_config::Duration::from_secs(3));
        s.env.insert("PGDATA".into(), "/var/lib/pg".into());
        let mut web = service("web");
        web.after = vec!["db".into()];
        let mut migrate = service("migrate");
        migrate.oneshot = true;
        let plan = plan(vec![], &[s, web, migrate], PlanDefaults::default()).unwrap();
        assert_eq!(plan.specs[0].probe, Probe::Tcp(5432));
        assert_eq!(plan.specs[0].restart, RestartPolicy::OnFailure);
        assert_eq!(plan.specs[0].stop_timeout, Duration::from_secs(3));
        assert_eq!(plan.specs[0].env["PGDATA"], "/var/lib/pg");
        assert_eq!(plan.specs[2].probe, Probe::ExitZero);
        assert_eq!(plan.graph.dependents("db"), ["web"]);
    }

    #[test]
    fn builtins_come_first_and_users_may_come_after_them() {
        let mut builtin = user_spec(&service("udev"), PlanDefaults::default());
        builtin.origin = Origin::Builtin;
        let mut web = service("web");
        web.after = vec!["udev".into()];
        let plan = plan(vec![builtin], &[web], PlanDefaults::default()).unwrap();
        assert_eq!(plan.graph.start_order(), ["udev", "web"]);
        assert_eq!(plan.specs[0].origin, Origin::Builtin);
    }

    #[test]
    fn broken_services_are_rejected() {
        let mut empty = service("empty");
        empty.exec.clear();
        assert_eq!(
            plan(vec![], &[empty], PlanDefaults::default()).unwrap_err(),
            PlanError::EmptyExec("empty".into())
        );
        assert_eq!(
            plan(vec![], &[service("../etc")], PlanDefaults::default()).unwrap_err(),
            PlanError::BadName("../etc".into())
        );
        let mut a = service("a");
        a.after = vec!["b".into()];
        let mut b = service("b");
        b.after = vec!["a".into()];
        assert!(matches!(
            plan(vec![], &[a, b], PlanDefaults::default()),
            Err(PlanError::Graph(GraphError::Cycle(_)))
        ));
    }
}
