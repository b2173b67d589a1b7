//! The Prometheus text format as the agents write it for the node exporter's textfile collector
//! (`plinth_storage.prom`, `plinth_compute.prom`): a gauge family's header and a label value
//! escaped as the format asks.

use std::fmt::Write as _;

/// `value` as a label value: backslash, double quote and newline escaped.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the `# HELP` and `# TYPE … gauge` lines of family `name`.
pub fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_families_get_their_header() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut out = String::new();
        gauge(&mut out, "plinth_x", "An x.");
        assert_eq!(out, "# HELP plinth_x An x.\n# TYPE plinth_x gauge\n");
    }
}
