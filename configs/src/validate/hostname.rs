//! Host names (RFC 1123) and the FQDN.

use super::{Finding, root};
use crate::config::MachineConfig;

/// Why `name` is not an RFC 1123 host name, if it is not.
pub fn hostname_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a host name cannot be empty".to_owned());
    }
    if name.len() > 253 {
        return Some(format!(
            "host name is {} characters; the limit is 253",
            name.len()
        ));
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    for label in name.split('.') {
        if label.is_empty() {
            return Some(format!("`{name}` has an empty label (two dots in a row)"));
        }
        if label.len() > 63 {
            return Some(format!(
                "label `{label}` is {} characters; the limit is 63",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && *c != '-')
        {
            return Some(format!(
                "`{name}` contains `{c}`: host names use letters, digits, `-` and dots (RFC 1123)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!(
                "label `{label}` starts or ends with `-` (RFC 1123)"
            ));
        }
    }
    None
}

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    if let Some(host) = &config.hostname
        && let Some(problem) = hostname_problem(host)
    {
        out.push(Finding::error(root("hostname"), problem));
    }
    if let Some(fqdn) = &config.fqdn {
        if let Some(problem) = hostname_problem(fqdn) {
            out.push(Finding::error(root("fqdn"), problem));
        } else if !fqdn.trim_end_matches('.').contains('.') {
            out.push(Finding::warning(
                root("fqdn"),
                format!("`{fqdn}` has no domain part; an FQDN looks like node1.example.com"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::hostname_problem;

    #[test]
    fn rfc1123() {
        assert_eq!(hostname_problem("node1"), None);
        assert_eq!(hostname_problem("node1.lab.example.com"), None);
        assert_eq!(hostname_problem("1node"), None);
        assert!(hostname_problem("node_1").unwrap().contains("`_`"));
        assert!(hostname_problem("-node").is_some());
        assert!(hostname_problem("a..b").is_some());
        assert!(hostname_problem(&"a".repeat(64)).is_some());
        assert!(hostname_problem("").is_some());
    }
}
