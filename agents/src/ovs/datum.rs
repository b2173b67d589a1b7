//! OVSDB's JSON notation for values (RFC 7047 §5.1): an atom is a JSON string, number or boolean,
//! or `["uuid", U]` / `["named-uuid", N]`; a set of one atom may be that atom alone, otherwise
//! `["set", [...]]`; a map is `["map", [[k, v], ...]]`. Pure conversions both ways.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The atoms of a set column (a lone atom is a set of one).
pub fn set(value: &Value) -> Vec<&Value> {
    match value.as_array().map(Vec::as_slice) {
        Some([tag, items]) if tag == "set" => items
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        _ => vec![value],
    }
}

/// The strings of a set column.
pub fn string_set(value: Option<&Value>) -> Vec<String> {
    value
        .map(|v| {
            set(v)
                .into_iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// An optional string column (a set of zero or one).
pub fn optional_string(value: Option<&Value>) -> Option<String> {
    string_set(value).into_iter().next()
}

/// An optional integer column.
pub fn optional_int(value: Option<&Value>) -> Option<i64> {
    value.and_then(|v| set(v).into_iter().find_map(Value::as_i64))
}

/// The uuids of a set of references.
pub fn uuid_set(value: Option<&Value>) -> Vec<String> {
    value
        .map(|v| set(v).into_iter().filter_map(uuid).collect())
        .unwrap_or_default()
}

/// `["uuid", U]` → U.
pub fn uuid(atom: &Value) -> Option<String> {
    match atom.as_array().map(Vec::as_slice) {
        Some([tag, id]) if tag == "uuid" => id.as_str().map(str::to_owned),
        _ => None,
    }
}

/// A string→string map column.
pub fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    let Some(Value::Array(parts)) = value else {
        return BTreeMap::new();
    };
    match parts.as_slice() {
        [tag, Value::Array(pairs)] if tag == "map" => pairs
            .iter()
            .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A map as OVSDB's JSON.
pub fn to_map(map: &BTreeMap<String, String>) -> Value {
    json!([
        "map",
        map.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()
    ])
}

/// A set of strings as OVSDB's JSON.
pub fn to_set<S: AsRef<str>>(items: &[S]) -> Value {
    json!(["set", items.iter().map(|s| s.as_ref()).collect::<Vec<_>>()])
}

/// An optional value as a set of zero or one.
pub fn to_optional<T: Into<Value>>(value: Option<T>) -> Value {
    match value {
        Some(v) => v.into(),
        None => json!(["set", []]),
    }
}

/// A reference to an existing row.
pub fn to_uuid(id: &str) -> Value {
    json!(["uuid", id])
}

/// A reference to a row inserted in the same transaction.
pub fn to_named(name: &str) -> Value {
    json!(["named-uuid", name])
}

/// A set of references.
pub fn to_ref_set(refs: Vec<Value>) -> Value {
    json!(["set", refs])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_atoms_sets_and_maps_as_the_server_writes_them() {
        assert_eq!(string_set(Some(&json!("a"))), ["a"]);
        assert_eq!(string_set(Some(&json!(["set", ["a", "b"]]))), ["a", "b"]);
        assert_eq!(optional_string(Some(&json!(["set", []]))), None);
        assert_eq!(optional_int(Some(&json!(100))), Some(100));
        assert_eq!(uuid_set(Some(&json!(["uuid", "u1"]))), ["u1"]);
        assert_eq!(
            uuid_set(Some(&json!(["set", [["uuid", "u1"], ["uuid", "u2"]]]))),
            ["u1", "u2"]
        );
        let map = string_map(Some(&json!(["map", [["k", "v"]]])));
        assert_eq!(map["k"], "v");
        assert_eq!(to_map(&map), json!(["map", [["k", "v"]]]));
    }
}
