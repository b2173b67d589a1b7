//! The dependency graph of the planned services: validation (unknown names, cycles), a start order,
//! and who depends on whom, for starting in order and stopping in reverse.

use std::collections::{BTreeMap, BTreeSet};

use super::spec::ServiceSpec;

/// Why a set of services cannot form a graph.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// Two services share a name.
    #[error("two services are named `{0}`")]
    Duplicate(String),
    /// A service comes `after` a name no service has.
    #[error("service `{service}` comes after `{missing}`, which is not a service")]
    Unknown {
        /// The service naming it.
        service: String,
        /// The missing name.
        missing: String,
    },
    /// The `after` relation loops.
    #[error("services depend on each other in a cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

/// The validated graph: names in a topological order (every service after what it comes after).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    order: Vec<String>,
    after: BTreeMap<String, Vec<String>>,
    dependents: BTreeMap<String, Vec<String>>,
}

impl Graph {
    /// Builds the graph of `specs`, rejecting duplicates, unknown names and cycles.
    pub fn new(specs: &[ServiceSpec]) -> Result<Graph, GraphError> {
        let mut after = BTreeMap::new();
        for spec in specs {
            if after
                .insert(spec.name.clone(), spec.after.clone())
                .is_some()
            {
                return Err(GraphError::Duplicate(spec.name.clone()));
            }
        }
        let mut dependents: BTreeMap<String, Vec<String>> = after
            .keys()
            .map(|name| (name.clone(), Vec::new()))
            .collect();
        for spec in specs {
            for dep in &spec.after {
                match dependents.get_mut(dep) {
                    Some(list) => list.push(spec.name.clone()),
                    None => {
                        return Err(GraphError::Unknown {
                            service: spec.name.clone(),
                            missing: dep.clone(),
                        });
                    }
                }
            }
        }
        let order = topological_order(specs, &after)?;
        Ok(Graph {
            order,
            after,
            dependents,
        })
    }

    /// Every service, each after everything it comes after (ties in config order).
    pub fn start_order(&self) -> &[String] {
        &self.order
    }

    /// What `name` comes after.
    pub fn after(&self, name: &str) -> &[String] {
        self.after.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// The services that come after `name`.
    pub fn dependents(&self, name: &str) -> &[String] {
        self.dependents
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// Depth-first topological sort that reports the first cycle it finds.
fn topological_order(
    specs: &[ServiceSpec],
    after: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, GraphError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit(
        name: &str,
        after: &BTreeMap<String, Vec<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
        order: &mut Vec<String>,
    ) -> Result<(), GraphError> {
        match marks.get(name) {
            Some(Mark::Done) => return Ok(()),
            Some(Mark::Visiting) => {
                let start = path.iter().position(|n| n == name).unwrap_or(0);
                let mut cycle = path.get(start..).unwrap_or_default().to_vec();
                cycle.push(name.to_string());
                return Err(GraphError::Cycle(cycle));
            }
            None => {}
        }
        marks.insert(name.to_string(), Mark::Visiting);
        path.push(name.to_string());
        for dep in after.get(name).into_iter().flatten() {
            visit(dep, after, marks, path, order)?;
        }
        path.pop();
        marks.insert(name.to_string(), Mark::Done);
        order.push(name.to_string());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut order = Vec::with_capacity(specs.len());
    for spec in specs {
        visit(&spec.name, after, &mut marks, &mut Vec::new(), &mut order)?;
    }
    debug_assert_eq!(order.iter().collect::<BTreeSet<_>>().len(), order.len());
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::spec::{Origin, Probe, RestartPolicy};

    fn spec(name: &str, after: &[&str]) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            exec: vec!["/bin/true".into()],
            env: Default::default(),
            after: after.iter().map(|s| s.to_string()).collect(),
            probe: Probe::Running,
            ready_timeout: Some(std::time::Duration::from_secs(1)),
            restart: RestartPolicy::Always,
            oneshot: false,
            stop_signal: libc::SIGTERM,
            stop_timeout: std::time::Duration::from_secs(1),
            origin: Origin::User,
            tty: None,
            background: false,
        }
    }

    #[test]
    fn order_puts_every_service_after_its_dependencies() {
        let specs = [
            spec("web", &["db", "cache"]),
            spec("cache", &[]),
            spec("db", &["disk"]),
            spec("disk", &[]),
        ];
        let graph = Graph::new(&specs).unwrap();
        let order = graph.start_order();
        let pos = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(pos("disk") < pos("db"));
        assert!(pos("db") < pos("web"));
        assert!(pos("cache") < pos("web"));
        assert_eq!(order.len(), 4);
        assert_eq!(graph.dependents("db"), ["web"]);
        assert_eq!(graph.after("web"), ["db", "cache"]);
        assert!(graph.dependents("web").is_empty());
    }

    #[test]
    fn cycles_are_rejected_with_their_path() {
        let specs = [spec("a", &["c"]), spec("b", &["a"]), spec("c", &["b"])];
        match Graph::new(&specs) {
            Err(GraphError::Cycle(path)) => {
                assert_eq!(path.first(), path.last());
                assert_eq!(path.len(), 4);
            }
            other => panic!("expected a cycle, got {other:?}"),
        }
        assert!(matches!(
            Graph::new(&[spec("self", &["self"])]),
            Err(GraphError::Cycle(_))
        ));
    }

    #[test]
    fn unknown_and_duplicate_names_are_rejected() {
        assert_eq!(
            Graph::new(&[spec("a", &["ghost"])]).unwrap_err(),
            GraphError::Unknown {
                service: "a".into(),
                missing: "ghost".into()
            }
        );
        assert_eq!(
            Graph::new(&[spec("a", &[]), spec("a", &[])]).unwrap_err(),
            GraphError::Duplicate("a".into())
        );
    }
}
