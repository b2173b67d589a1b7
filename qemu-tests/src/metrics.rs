//! Reading Prometheus text exposition (what the node exporter serves on `/metrics`): samples by
//! name and labels. Only what the tests need: no types, help or timestamps.

use std::collections::BTreeMap;

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Every sample in `text`; comment lines and lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find('{') {
        Some(open) if line[..open].find(char::is_whitespace).is_none() => {
            let (labels, used) = parse_labels(&line[open + 1..])?;
            (&line[..open], labels, &line[open + 1 + used..])
        }
        _ => {
            let (name, rest) = line.split_once(char::is_whitespace)?;
            (name, BTreeMap::new(), rest)
        }
    };
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Labels up to and including the closing brace; returns them and the bytes consumed.
fn parse_labels(s: &str) -> Option<(BTreeMap<String, String>, usize)> {
    let mut labels = BTreeMap::new();
    let bytes: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut consumed = 0;
    loop {
        while i < bytes.len() && (bytes[i] == ',' || bytes[i].is_whitespace()) {
            consumed += bytes[i].len_utf8();
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        if bytes[i] == '}' {
            return Some((labels, consumed + 1));
        }
        let mut key = String::new();
        while i < bytes.len() && bytes[i] != '=' {
            key.push(bytes[i]);
            consumed += bytes[i].len_utf8();
            i += 1;
        }
        if i + 1 >= bytes.len() || bytes[i + 1] != '"' {
            return None;
        }
        consumed += 2;
        i += 2;
        let mut value = String::new();
        loop {
            let c = *bytes.get(i)?;
            consumed += c.len_utf8();
            i += 1;
            match c {
                '"' => break,
                '\\' => {
                    let e = *bytes.get(i)?;
                    consumed += e.len_utf8();
                    i += 1;
                    value.push(match e {
                        'n' => '\n',
                        other => other,
                    });
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim().to_string(), value);
    }
}

/// The value of the first sample named `name` whose labels include all of `labels`.
pub fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|have| have == v))
        })
        .map(|s| s.value)
}

/// Every sample named `name`.
pub fn all<'a>(samples: &'a [Sample], name: &str) -> Vec<&'a Sample> {
    samples.iter().filter(|s| s.name == name).collect()
}

/// The node name the node exporter reports (`node_uname_info`'s `nodename` label): the guest
/// kernel's hostname, seen from outside.
pub fn nodename(samples: &[Sample]) -> Option<&str> {
    all(samples, "node_uname_info")
        .first()
        .and_then(|s| s.labels.get("nodename"))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP plinth_boot_ready_seconds Seconds from kernel start to ready.
# TYPE plinth_boot_ready_seconds gauge
plinth_boot_ready_seconds 7.31
plinth_service_up{service="node-exporter"} 1
plinth_service_up{service="udevd",kind="builtin"} 0
node_filesystem_readonly{device="/dev/vda4",fstype="ext4",mountpoint="/var"} 0
weird{path="a \"quoted\" \\ value, with {braces}"} 2.5e+00
go_gc_duration_seconds{quantile="1"} +Inf
"#;

    #[test]
    fn the_nodename_is_read_from_uname_info() {
        let samples = parse(
            "node_uname_info{domainname=\"(none)\",machine=\"x86_64\",nodename=\"node1\",release=\"6.12\"} 1\n",
        );
        assert_eq!(nodename(&samples), Some("node1"));
        assert_eq!(nodename(&parse(TEXT)), None);
    }

    #[test]
    fn samples_are_found_by_name_and_labels() {
        let samples = parse(TEXT);
        assert_eq!(find(&samples, "plinth_boot_ready_seconds", &[]), Some(7.31));
        assert_eq!(
            find(
                &samples,
                "plinth_service_up",
                &[("service", "node-exporter")]
            ),
            Some(1.0)
        );
        assert_eq!(
            find(&samples, "plinth_service_up", &[("service", "udevd")]),
            Some(0.0)
        );
        assert_eq!(
            find(&samples, "plinth_service_up", &[("service", "etcd")]),
            None
        );
        assert_eq!(
            find(
                &samples,
                "node_filesystem_readonly",
                &[("mountpoint", "/var")]
            ),
            Some(0.0)
        );
        assert_eq!(
            find(&samples, "go_gc_duration_seconds", &[]),
            Some(f64::INFINITY)
        );
        assert_eq!(all(&samples, "plinth_service_up").len(), 2);
    }

    #[test]
    fn escaped_label_values_are_unescaped() {
        let samples = parse(TEXT);
        let weird = all(&samples, "weird")[0];
        assert_eq!(weird.labels["path"], r#"a "quoted" \ value, with {braces}"#);
        assert_eq!(weird.value, 2.5);
    }

    #[test]
    fn broken_lines_are_skipped() {
        let samples = parse("ok 1\nbroken{a=\"x} 1\nnovalue\nalso_ok{} 3\n");
        assert_eq!(samples.len(), 2);
        assert_eq!(find(&samples, "also_ok", &[]), Some(3.0));
    }
}
