//! User services: unique names, dependencies that exist, no dependency cycles, usable commands.

use std::collections::BTreeMap;

use super::{Finding, root};
use crate::plinth::Service;
use crate::plinth::services::{BUILTIN_SERVICES, is_builtin};

pub(super) fn check(services: &[Service], out: &mut Vec<Finding>) {
    let path = root("plinth").key("services");
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, s) in services.iter().enumerate() {
        let at = path.index(i);
        let valid = !s.name.is_empty()
            && s.name.len() <= 64
            && s.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !s.name.starts_with('.');
        if !valid {
            out.push(Finding::error(
                at.key("name"),
                format!(
                    "`{}` is not a service name: use letters, digits, `-`, `_`, `.`",
                    s.name
                ),
            ));
        }
        if is_builtin(&s.name) {
            out.push(Finding::error(
                at.key("name"),
                format!(
                    "`{}` is the name of a built-in service; choose another",
                    s.name
                ),
            ));
        }
        if let Some(first) = index.insert(&s.name, i) {
            out.push(Finding::error(
                at.key("name"),
                format!(
                    "service `{}` is already defined at plinth.services[{first}]",
                    s.name
                ),
            ));
            index.insert(&s.name, first);
        }
        if s.exec.is_empty() || s.exec[0].is_empty() {
            out.push(Finding::error(
                at.key("exec"),
                "`exec` needs at least the program to run",
            ));
        }
        if let Some(crate::Ready::Tcp(0)) = s.ready {
            out.push(Finding::error(
                at.key("ready").key("tcp"),
                "port 0 is not a usable port",
            ));
        }
    }
    for (i, s) in services.iter().enumerate() {
        for (j, dep) in s.after.iter().enumerate() {
            if dep == &s.name {
                out.push(Finding::error(
                    path.index(i).key("after").index(j),
                    format!("service `{dep}` cannot depend on itself"),
                ));
            } else if !index.contains_key(dep.as_str()) && !is_builtin(dep) {
                let mut known: Vec<&str> = index.keys().copied().collect();
                known.extend(BUILTIN_SERVICES);
                out.push(Finding::error(
                    path.index(i).key("after").index(j),
                    format!(
                        "no service named `{dep}`: expected one of {}",
                        crate::yaml::de::one_of(&known)
                    ),
                ));
            }
        }
    }
    for cycle in cycles(services, &index) {
        let names: Vec<&str> = cycle.iter().map(|&i| services[i].name.as_str()).collect();
        let first = cycle[0];
        out.push(
            Finding::error(
                path.index(first).key("after"),
                format!("dependency cycle: {} → {}", names.join(" → "), names[0]),
            )
            .at_key(),
        );
    }
}

/// Every elementary cycle found by depth-first search, each reported once (from its smallest index).
fn cycles(services: &[Service], index: &BTreeMap<&str, usize>) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        n: usize,
        services: &[Service],
        index: &BTreeMap<&str, usize>,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
    ) {
        marks[n] = Mark::Active;
        stack.push(n);
        for dep in &services[n].after {
            let Some(&m) = index.get(dep.as_str()) else {
                continue;
            };
            if m == n {
                continue; // self-dependency is reported on its own
            }
            match marks[m] {
                Mark::New => visit(m, services, index, marks, stack, found),
                Mark::Active => {
                    let start = stack.iter().position(|&s| s == m).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|&(_, v)| *v)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    if !found.contains(&cycle) {
                        found.push(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[n] = Mark::Done;
    }
    let mut marks = vec![Mark::New; services.len()];
    let mut found = Vec::new();
    for n in 0..services.len() {
        if marks[n] == Mark::New {
            visit(n, services, index, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, after: &[&str]) -> Service {
        Service {
            name: name.to_owned(),
            exec: vec!["/bin/true".to_owned()],
            env: BTreeMap::new(),
            after: after.iter().map(|s| (*s).to_owned()).collect(),
            ready: None,
            restart: crate::Restart::Always,
            oneshot: false,
            stop_timeout: None,
        }
    }

    fn messages(services: &[Service]) -> Vec<String> {
        let mut out = Vec::new();
        check(services, &mut out);
        out.into_iter()
            .map(|f| format!("{}: {}", f.path, f.message))
            .collect()
    }

    #[test]
    fn finds_cycles_duplicates_and_missing() {
        let m = messages(&[svc("a", &["b"]), svc("b", &["c"]), svc("c", &["a"])]);
        assert_eq!(
            m,
            vec!["plinth.services[0].after: dependency cycle: a → b → c → a"]
        );
        let m = messages(&[svc("a", &[]), svc("a", &["ghost"])]);
        assert!(
            m[0].starts_with("plinth.services[1].name: service `a` is already defined"),
            "{m:?}"
        );
        assert!(
            m[1].starts_with("plinth.services[1].after[0]: no service named `ghost`"),
            "{m:?}"
        );
        assert!(
            messages(&[
                svc("a", &[]),
                svc("b", &["a", "etcd", "udev-settle", "dhcp-eth0"])
            ])
            .is_empty()
        );
        assert_eq!(
            messages(&[svc("a", &["a"])]),
            vec!["plinth.services[0].after[0]: service `a` cannot depend on itself"]
        );
    }
}
