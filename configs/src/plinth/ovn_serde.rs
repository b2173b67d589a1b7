//! How `plinth.genestack.ovn` reads: each field takes its structured form or the exact annotation
//! value Genestack's docs show (comma-separated items, `BRIDGE:INTERFACE` and the like, `enabled`),
//! and a list takes text items and mappings mixed. A bad string is a type error at its own node, so
//! it is reported with its line, column and key path like any other. The JSON schema says the same.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};

use super::ovn::{AnnotationError, AnnotationItem};

/// One item: its text form or its mapping.
struct Item<T>(T);

impl<'de, T: AnnotationItem + DeserializeOwned> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: AnnotationItem + DeserializeOwned> Visitor<'de> for V<T> {
            type Value = Item<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "`{}` (such as `{}`) or a mapping", T::FORM, T::EXAMPLE)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Item<T>, E> {
                v.parse().map(Item).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Item)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Splits an annotation value on `sep`, dropping empty pieces.
fn pieces(text: &str, sep: char) -> impl Iterator<Item = &str> {
    text.split(sep).map(str::trim).filter(|p| !p.is_empty())
}

/// A list of items, or the annotation's comma-separated string of them.
pub fn items<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: AnnotationItem + DeserializeOwned,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T: AnnotationItem + DeserializeOwned> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "a list of `{}` strings or mappings, or one comma-separated string (such as `{}`)",
                T::FORM,
                T::EXAMPLE
            )
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            pieces(v, ',')
                .map(|p| p.parse().map_err(E::custom))
                .collect()
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(Item(item)) = seq.next_element::<Item<T>>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// A list of names, or one string of them separated by `sep`.
fn separated<'de, D: Deserializer<'de>>(
    d: D,
    sep: char,
    expecting: &'static str,
) -> Result<Vec<String>, D::Error> {
    struct V(char, &'static str);
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.1)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(pieces(v, self.0).map(str::to_owned).collect())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.push(name);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(sep, expecting))
}

/// Bridge names: a list, or `br-ex,br-provider`.
pub fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    separated(
        d,
        ',',
        "a list of names, or one comma-separated string (such as `br-ex`)",
    )
}

/// Availability zones: a list, or Genestack's colon-separated `nova:az1`.
pub fn zones<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    separated(
        d,
        ':',
        "a list of zones, or one colon-separated string (such as `az1` or `nova:az1`)",
    )
}

/// `NET:BRIDGE` → (net, bridge).
fn mapping_pair(text: &str) -> Result<(String, String), AnnotationError> {
    match text.split(':').map(str::trim).collect::<Vec<_>>()[..] {
        [net, bridge] if !net.is_empty() && !bridge.is_empty() => {
            Ok((net.to_owned(), bridge.to_owned()))
        }
        _ => Err(AnnotationError::Form {
            text: text.to_owned(),
            form: "PHYSNET:BRIDGE",
            example: "physnet1:br-ex",
        }),
    }
}

/// Mappings: `physnet1: br-ex`, a list of `physnet1:br-ex`, or the annotation's string.
pub fn mappings<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of physical network to bridge, `PHYSNET:BRIDGE` strings, or one comma-separated string (such as `physnet1:br-ex`)")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            pieces(v, ',')
                .map(|p| mapping_pair(p).map_err(E::custom))
                .collect()
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(text) = seq.next_element::<String>()? {
                let (net, bridge) = mapping_pair(&text).map_err(de::Error::custom)?;
                out.insert(net, bridge);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            BTreeMap::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V)
}

/// `bond0:mii-monitor-interval=100,lacp-time=fast,bond1:updelay=500`: a piece with a `:` starts a
/// bond; the pieces after it, up to the next, are its `option=value`s.
pub fn parse_bond_options(
    text: &str,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, AnnotationError> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut bond: Option<String> = None;
    for piece in pieces(text, ',') {
        let option = match piece.split_once(':') {
            Some((name, first)) if !name.trim().is_empty() => {
                bond = Some(name.trim().to_owned());
                first.trim()
            }
            _ => piece,
        };
        let Some(name) = &bond else {
            return Err(AnnotationError::NoBondName(text.to_owned()));
        };
        match option.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                out.entry(name.clone())
                    .or_default()
                    .insert(k.trim().to_owned(), v.trim().to_owned());
            }
            _ => {
                return Err(AnnotationError::BondOption {
                    option: option.to_owned(),
                    text: text.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

/// The annotation value of bond options, in the form [`parse_bond_options`] reads.
pub fn render_bond_options(options: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    options
        .iter()
        .filter(|(_, opts)| !opts.is_empty())
        .map(|(bond, opts)| {
            let list: Vec<String> = opts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{bond}:{}", list.join(","))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Bond options: a mapping of bond → options, or the annotation's string.
pub fn bond_options<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, BTreeMap<String, String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping of bond to its options, or one string such as `bond0:mii-monitor-interval=100,lacp-time=fast`")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_bond_options(v).map_err(E::custom)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let raw: BTreeMap<String, BTreeMap<String, Scalar>> =
                BTreeMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
            Ok(raw
                .into_iter()
                .map(|(b, o)| (b, o.into_iter().map(|(k, v)| (k, v.0)).collect()))
                .collect())
        }
    }
    d.deserialize_any(V)
}

/// An OVS option value: a string, number or boolean, kept as its text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an option value (string, number or boolean)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `true`/`false`, or the annotation's `enabled`/`disabled`.
pub fn gateway<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true, false, `enabled` or `disabled`")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v {
                "enabled" => Ok(true),
                "disabled" => Ok(false),
                other => Err(E::custom(format!(
                    "gateway `{other}`: expected true, false, `enabled` or `disabled`"
                ))),
            }
        }
    }
    d.deserialize_any(V)
}

/// Schema of [`items`].
pub fn items_schema<T: AnnotationItem + JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    let item = g.subschema_for::<T>();
    let form = format!("`{}`, such as `{}`", T::FORM, T::EXAMPLE);
    json_schema!({
        "anyOf": [
            {"type": "string", "description": format!("Comma-separated {form}")},
            {"type": "array", "items": {"anyOf": [{"type": "string", "description": form}, item]}}
        ]
    })
}

/// Schema of [`names`].
pub fn names_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "string", "description": "Comma-separated names, such as `br-ex`"},
            {"type": "array", "items": {"type": "string"}}
        ]
    })
}

/// Schema of [`zones`].
pub fn zones_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "string", "description": "Colon-separated zones, such as `az1` or `nova:az1`"},
            {"type": "array", "items": {"type": "string"}}
        ]
    })
}

/// Schema of [`mappings`].
pub fn mappings_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "object", "additionalProperties": {"type": "string"}},
            {"type": "string", "description": "Comma-separated `PHYSNET:BRIDGE`, such as `physnet1:br-ex`"},
            {"type": "array", "items": {"type": "string", "description": "`PHYSNET:BRIDGE`"}}
        ]
    })
}

/// Schema of [`bond_options`].
pub fn bond_options_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "object", "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]}
            }},
            {"type": "string", "description": "`BOND:OPTION=VALUE,OPTION=VALUE`, such as `bond0:mii-monitor-interval=100,lacp-time=fast`"}
        ]
    })
}

/// Schema of [`gateway`].
pub fn gateway_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [{"type": "boolean"}, {"enum": ["enabled", "disabled"]}],
        "default": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bond_options_read_as_documented_and_print_back() {
        let text = "bond0:mii-monitor-interval=100,lacp-time=fast,bond1:updelay=500,downdelay=500";
        let options = parse_bond_options(text).unwrap();
        assert_eq!(options["bond0"]["lacp-time"], "fast");
        assert_eq!(options["bond1"]["downdelay"], "500");
        assert_eq!(
            render_bond_options(&options),
            "bond0:lacp-time=fast,mii-monitor-interval=100,bond1:downdelay=500,updelay=500"
        );
        assert_eq!(
            parse_bond_options(&render_bond_options(&options)),
            Ok(options)
        );
        assert_eq!(
            parse_bond_options("lacp-time=fast"),
            Err(AnnotationError::NoBondName("lacp-time=fast".into()))
        );
        assert_eq!(
            parse_bond_options("bond0:lacp-time")
                .unwrap_err()
                .to_string(),
            "`lacp-time` in `bond0:lacp-time` is not `OPTION=VALUE` (such as `lacp-time=fast`)"
        );
    }

    #[test]
    fn mapping_pairs() {
        assert_eq!(
            mapping_pair("physnet1:br-ex"),
            Ok(("physnet1".into(), "br-ex".into()))
        );
        assert_eq!(
            mapping_pair("physnet1").unwrap_err().to_string(),
            "`physnet1` is not of the form `PHYSNET:BRIDGE` (such as `physnet1:br-ex`)"
        );
        assert!(mapping_pair("a:b:c").is_err());
    }
}
