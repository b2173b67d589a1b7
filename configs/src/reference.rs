//! The Markdown config reference (`configs/REFERENCE.md`), generated from the JSON Schema so it can
//! never disagree with the types: one row per key, with its type, default and description.

use serde_json::{Map, Value};

/// The reference document.
pub fn reference_markdown() -> String {
    let schema = crate::schema::schema();
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out = String::from(
        "# Machine config reference\n\n\
         Generated from the Rust types by `cargo xtask schema --write`; do not edit by hand. Examples: \
         [`examples/`](examples/). `NAME` stands for a key you choose (an interface name, a label key).\n",
    );
    // (title, the top-level key of the section; None for all the cloud-init keys)
    let sections = [
        ("Cloud-init keys", None),
        ("`network:` (netplan version 2)", Some("network")),
        ("`plinth:`", Some("plinth")),
    ];
    for (title, only) in sections {
        let wanted = |k: &str| match only {
            Some(section) => k == section,
            None => k != "network" && k != "plinth",
        };
        out.push_str(&format!(
            "\n## {title}\n\n| key | type | default | description |\n|---|---|---|---|\n"
        ));
        for (key, prop) in props.iter().filter(|(k, _)| wanted(k)) {
            rows(key, prop, defs, 0, &mut out);
        }
    }
    out
}

fn rows(path: &str, prop: &Value, defs: &Map<String, Value>, depth: usize, out: &mut String) {
    let target = resolve(prop, defs);
    let description = prop
        .get("description")
        .or_else(|| target.get("description"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("")
        .replace('\n', " ")
        .replace('|', "\\|");
    let default = prop
        .get("default")
        .filter(|d| !d.is_object() && d.as_array().is_none_or(|a| !a.is_empty()))
        .map(|d| format!("`{d}`"))
        .unwrap_or_default();
    out.push_str(&format!(
        "| `{path}` | {} | {default} | {description} |\n",
        type_text(target, defs)
    ));
    if depth >= 8 {
        return;
    }
    if let Some(props) = target.get("properties").and_then(Value::as_object) {
        for (key, child) in props {
            rows(&format!("{path}.{key}"), child, defs, depth + 1, out);
        }
    }
    if let Some(item) = target.get("items").and_then(|i| with_properties(i, defs)) {
        rows(&format!("{path}[]"), item, defs, depth + 1, out);
    }
    if let Some(values) = target.get("additionalProperties").filter(|v| v.is_object()) {
        let value = resolve(values, defs);
        if value.get("properties").is_some() {
            rows(&format!("{path}.NAME"), values, defs, depth + 1, out);
        }
    }
}

/// The mapping form of a schema (itself, or the one `anyOf` alternative that is a mapping).
fn with_properties<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> Option<&'a Value> {
    let target = resolve(schema, defs);
    if target.get("properties").is_some() {
        return Some(target);
    }
    let any = target.get("anyOf").and_then(Value::as_array)?;
    let objects: Vec<&Value> = any
        .iter()
        .map(|s| resolve(s, defs))
        .filter(|s| s.get("properties").is_some())
        .collect();
    match objects.as_slice() {
        [only] => Some(only),
        _ => None,
    }
}

/// Follows `$ref`, and `anyOf: [X, null]` (an optional X), to the schema that says what the value is.
fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
    {
        return defs.get(name).map_or(schema, |d| resolve(d, defs));
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let non_null: Vec<&Value> = any
            .iter()
            .filter(|s| s.get("type") != Some(&Value::from("null")))
            .collect();
        if let [only] = non_null.as_slice() {
            return resolve(only, defs);
        }
    }
    schema
}

fn type_text(schema: &Value, defs: &Map<String, Value>) -> String {
    let consts: Vec<String> = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|s| {
                    s.get("const")
                        .or_else(|| s.get("enum").and_then(|e| e.get(0)))
                })
                .map(|c| format!("`{}`", c.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|c| format!("`{}`", c.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(", ");
    }
    if !consts.is_empty() && schema.get("oneOf").is_some() {
        return consts.join(", ");
    }
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        // An externally tagged enum: each alternative is a mapping with one key.
        let tagged: Vec<String> = variants
            .iter()
            .filter_map(|v| {
                let props = v.get("properties")?.as_object()?;
                let (key, value) = props.iter().next()?;
                Some(format!(
                    "`{key}: {}`",
                    type_text(resolve(value, defs), defs)
                ))
            })
            .collect();
        if tagged.len() == variants.len() {
            return format!("one of {}", tagged.join(", "));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let parts: Vec<String> = any
            .iter()
            .filter(|s| s.get("type") != Some(&Value::from("null")))
            .map(|s| match s.get("const") {
                Some(c) => format!("`{}`", c.as_str().unwrap_or("")),
                None => type_text(resolve(s, defs), defs),
            })
            .collect();
        return parts.join(" or ");
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => String::new(),
    };
    match kind.as_str() {
        "array" => match schema.get("items") {
            Some(items) => format!("list of {}", type_text(resolve(items, defs), defs)),
            None => "list".to_owned(),
        },
        "object" if schema.get("properties").is_some() => "mapping".to_owned(),
        "object" => match schema.get("additionalProperties").filter(|v| v.is_object()) {
            Some(v) => format!("mapping of NAME to {}", type_text(resolve(v, defs), defs)),
            None => "mapping".to_owned(),
        },
        "" => "any".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_lists_nested_keys_with_defaults() {
        let md = super::reference_markdown();
        assert!(
            md.contains("| `plinth.cluster.role` | `init`, `server`, `agent` | `\"init\"` |"),
            "{md}"
        );
        assert!(
            md.contains("| `plinth.cluster.etcd.client_port` | integer | `2379` |"),
            "{md}"
        );
        assert!(
            md.contains("| `network.ethernets.NAME.dhcp4` | boolean |"),
            "{md}"
        );
        assert!(
            md.contains("| `plinth.storage.lvm[].devices` | list of string or mapping |"),
            "{md}"
        );
        assert!(md.contains("| `users[].name` | string |"), "{md}");
    }
}
