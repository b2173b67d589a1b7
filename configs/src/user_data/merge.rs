//! Merging cloud-config parts as cloud-init does: each part is merged into what the parts before it
//! gave, with that part's mergers — its `merge_how` (or `merge_type`) key, else its `Merge-Type`
//! header, else cloud-init's default `dict(replace)+list()+str()`, under which a part's top-level key
//! replaces the earlier value whole. Mergers are cloud-init's `dict`, `list` and `str` with their
//! options (`replace`, `no_replace`, `append`, `prepend`, `recurse_dict`, `recurse_list`/`recurse_array`,
//! `recurse_str`, `allow_delete`). Values of other types keep the earlier value, as in cloud-init.

use crate::yaml::{Kind, Node, Scalar};

/// cloud-init's mergers for a cloud-config part that names none.
pub const DEFAULT: &str = "dict(replace)+list()+str()";

/// One merger as written: its name (`dict`, `list`, `str`) and options.
pub type Named = (String, Vec<String>);

/// Why a part's mergers (`merge_how`, `merge_type` or its `Merge-Type` header) cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergerError {
    /// A merger other than `dict`, `list` and `str`.
    #[error("unknown merger `{0}`: cloud-init has `dict`, `list` and `str`")]
    Unknown(String),
    /// A merger not written `NAME(OPTIONS)`.
    #[error("merger `{0}` is not written NAME(OPTIONS)")]
    NotNameOptions(String),
    /// A `merge_how` list entry without its `name`.
    #[error("a merge_how entry needs a `name` (dict, list or str)")]
    NoName,
    /// `merge_how` is neither a string nor a list.
    #[error("merge_how is {0}: write a string such as `{DEFAULT}` or a list of {{name, settings}}")]
    NotStringOrList(&'static str),
}

/// A set of mergers, one per type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mergers {
    dict: Option<Vec<String>>,
    list: Option<Vec<String>>,
    string: Option<Vec<String>>,
}

impl Mergers {
    /// The mergers of a `merge_how` string such as `list(append)+dict(no_replace,recurse_list)+str()`.
    pub fn parse(text: &str) -> Result<Mergers, MergerError> {
        Mergers::from_list(parse_list(text)?)
    }

    /// The mergers of a list of (name, options), as `merge_how` may also be written; of several of
    /// one type, the first counts (cloud-init's lookup order).
    pub fn from_list(items: Vec<Named>) -> Result<Mergers, MergerError> {
        let mut m = Mergers {
            dict: None,
            list: None,
            string: None,
        };
        for (name, opts) in items {
            let name = name.strip_prefix("m_").unwrap_or(&name).to_owned();
            let slot = match name.as_str() {
                "dict" => &mut m.dict,
                "list" => &mut m.list,
                "str" => &mut m.string,
                other => return Err(MergerError::Unknown(other.to_owned())),
            };
            if slot.is_none() {
                *slot = Some(opts);
            }
        }
        Ok(m)
    }

    /// Whether these mergers merge mappings at all: without a `dict` merger, cloud-init keeps the
    /// earlier config and ignores the part's keys.
    pub fn merges_mappings(&self) -> bool {
        self.dict.is_some()
    }

    /// cloud-init's default.
    pub fn default_set() -> Mergers {
        Mergers {
            dict: Some(vec!["replace".to_owned()]),
            list: Some(Vec::new()),
            string: Some(Vec::new()),
        }
    }

    fn dict_has(&self, opt: &str) -> bool {
        self.dict
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == opt))
    }

    fn list_has(&self, opt: &str) -> bool {
        self.list
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == opt))
    }

    /// Merges `new` into `old` (cloud-init's `merger.merge(old, new)`).
    pub fn merge(&self, old: Node, new: Node) -> Node {
        match (&old.kind, &new.kind) {
            (Kind::Map(_), _) if self.dict.is_some() => self.on_dict(old, new),
            (Kind::Seq(_), _) if self.list.is_some() => self.on_list(old, new),
            (Kind::Scalar(Scalar::Str(_)), _) if self.string.is_some() => self.on_str(old, new),
            _ => old,
        }
    }

    fn on_dict(&self, old: Node, new: Node) -> Node {
        let Kind::Map(incoming) = new.kind else {
            return old;
        };
        let replace = self
            .dict
            .as_ref()
            .and_then(|o| o.iter().find(|x| *x == "replace" || *x == "no_replace"))
            .is_some_and(|m| m == "replace");
        let recurse_str = self.dict_has("recurse_str");
        let recurse_list = self.dict_has("recurse_array") || self.dict_has("recurse_list");
        let allow_delete = self.dict_has("allow_delete");
        let Kind::Map(mut entries) = old.kind else {
            return old;
        };
        for (key, value) in incoming {
            match entries.iter().position(|(k, _)| k.text == key.text) {
                None => entries.push((key, value)),
                Some(i) => {
                    if matches!(value.kind, Kind::Scalar(Scalar::Null)) && allow_delete {
                        entries.remove(i);
                        continue;
                    }
                    let Some(slot) = entries.get_mut(i) else {
                        continue;
                    };
                    let earlier = std::mem::replace(&mut slot.1, Node::empty_map());
                    slot.1 = if replace {
                        value
                    } else {
                        match &value.kind {
                            Kind::Seq(_) if recurse_list => self.merge(earlier, value),
                            Kind::Scalar(Scalar::Str(_)) if recurse_str => {
                                self.merge(earlier, value)
                            }
                            // cloud-init always recurses into dicts.
                            Kind::Map(_) => self.merge(earlier, value),
                            _ => earlier,
                        }
                    };
                }
            }
        }
        Node {
            kind: Kind::Map(entries),
            ..old
        }
    }

    fn on_list(&self, old: Node, new: Node) -> Node {
        let method = self
            .list
            .as_ref()
            .and_then(|o| {
                ["append", "prepend", "replace", "no_replace"]
                    .into_iter()
                    .find(|m| o.iter().any(|x| x == m))
            })
            .unwrap_or("replace");
        let Kind::Seq(incoming) = new.kind else {
            // cloud-init: `replace` takes a non-list value as it is; the others keep the list.
            return if method == "replace" { new } else { old };
        };
        let Kind::Seq(earlier) = old.kind else {
            return old;
        };
        let values = |items: Vec<(usize, Node)>| items.into_iter().map(|(_, n)| n);
        let merged: Vec<Node> = match method {
            "append" => values(earlier).chain(values(incoming)).collect(),
            "prepend" => values(incoming).chain(values(earlier)).collect(),
            _ => {
                let recurse_dict = self.list_has("recurse_dict");
                let recurse_list = self.list_has("recurse_array") || self.list_has("recurse_list");
                let recurse_str = self.list_has("recurse_str");
                let mut incoming = values(incoming);
                values(earlier)
                    .map(|old_v| match incoming.next() {
                        None => old_v,
                        Some(_) if method == "no_replace" => old_v,
                        Some(new_v) => match &new_v.kind {
                            Kind::Seq(_) if recurse_list => self.merge(old_v, new_v),
                            Kind::Map(_) if recurse_dict => self.merge(old_v, new_v),
                            Kind::Scalar(Scalar::Str(_)) if recurse_str => self.merge(old_v, new_v),
                            _ => new_v,
                        },
                    })
                    .collect()
            }
        };
        Node {
            kind: Kind::Seq(merged.into_iter().enumerate().collect()),
            ..old
        }
    }

    fn on_str(&self, old: Node, new: Node) -> Node {
        let append = self
            .string
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "append"));
        match (&old.kind, &new.kind) {
            (Kind::Scalar(Scalar::Str(a)), Kind::Scalar(Scalar::Str(b))) if append => Node {
                kind: Kind::Scalar(Scalar::Str(format!("{a}{b}"))),
                ..new
            },
            _ => new,
        }
    }
}

/// The (name, options) of a `merge_how` string or `Merge-Type` header, as cloud-init's
/// `string_extract_mergers` reads it.
pub fn parse_list(text: &str) -> Result<Vec<Named>, MergerError> {
    let mut found = Vec::new();
    for item in text.split('+') {
        let item = item.trim().to_ascii_lowercase().replace('-', "_");
        if item.is_empty() {
            continue;
        }
        let (name, opts) = item
            .strip_suffix(')')
            .and_then(|i| i.split_once('('))
            .ok_or_else(|| MergerError::NotNameOptions(item.clone()))?;
        let opts = opts
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        found.push((name.trim().to_owned(), opts));
    }
    Ok(found)
}

/// Takes a part's own mergers out of its tree (`merge_how`, else `merge_type`), as cloud-init pops
/// them: a string, or a list of `{name, settings}` mappings.
pub fn take_mergers(root: &mut Node) -> Option<Result<Vec<Named>, MergerError>> {
    let Kind::Map(entries) = &mut root.kind else {
        return None;
    };
    let at = entries
        .iter()
        .position(|(k, _)| k.text == "merge_how")
        .or_else(|| entries.iter().position(|(k, _)| k.text == "merge_type"))?;
    let (_, value) = entries.remove(at);
    // cloud-init pops only the first of the two; the other would then be an unknown key, which
    // tells nothing useful: drop it too.
    entries.retain(|(k, _)| k.text != "merge_how" && k.text != "merge_type");
    Some(match &value.kind {
        Kind::Scalar(Scalar::Str(s)) => parse_list(s),
        Kind::Seq(items) => items
            .iter()
            .map(|(_, item)| {
                let name = item
                    .get("name")
                    .and_then(Node::as_str)
                    .ok_or(MergerError::NoName)?;
                let settings = match item.get("settings").map(|s| &s.kind) {
                    Some(Kind::Seq(s)) => s
                        .iter()
                        .filter_map(|(_, n)| n.scalar_text())
                        .map(|s| s.to_ascii_lowercase())
                        .collect(),
                    _ => Vec::new(),
                };
                Ok((name.trim().replace('-', "_").to_ascii_lowercase(), settings))
            })
            .collect::<Result<Vec<_>, MergerError>>(),
        _ => Err(MergerError::NotStringOrList(value.describe())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn tree(text: &str) -> Node {
        yaml::parse(text).unwrap()
    }

    fn merged(first: &str, second: &str, how: &str) -> Node {
        let m = Mergers::parse(how).unwrap();
        m.merge(m.merge(Node::empty_map(), tree(first)), tree(second))
    }

    fn strs(node: &Node, key: &str) -> Vec<String> {
        match &node.get(key).unwrap().kind {
            Kind::Seq(items) => items.iter().filter_map(|(_, n)| n.scalar_text()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_replaces_each_top_level_key_whole() {
        let m = merged(
            "runcmd: [a, b]\nplinth: {cluster: {role: init}}\nhostname: one\n",
            "runcmd: [c]\nplinth: {time: {servers: [x]}}\n",
            DEFAULT,
        );
        assert_eq!(strs(&m, "runcmd"), ["c"]);
        assert!(m.get("plinth").unwrap().get("cluster").is_none());
        assert_eq!(m.get("hostname").unwrap().as_str(), Some("one"));
    }

    #[test]
    fn documented_merge_how_appends_and_recurses() {
        let how = "list(append)+dict(no_replace,recurse_list)+str()";
        let m = merged(
            "runcmd: [a, b]\nhostname: one\nplinth: {cluster: {role: init}}\n",
            "runcmd: [c]\nhostname: two\nplinth: {time: {servers: [x]}}\n",
            how,
        );
        assert_eq!(strs(&m, "runcmd"), ["a", "b", "c"]);
        assert_eq!(
            m.get("hostname").unwrap().as_str(),
            Some("one"),
            "no_replace"
        );
        let plinth = m.get("plinth").unwrap();
        assert!(plinth.get("cluster").is_some() && plinth.get("time").is_some());

        let m = merged(
            "a: [1, 2, 3]\n",
            "a: [9]\n",
            "dict(no_replace,recurse_list)+list()",
        );
        assert_eq!(
            strs(&m, "a"),
            ["9", "2", "3"],
            "list(replace) replaces same indexes"
        );
        let m = merged(
            "a: [1, 2]\n",
            "a: [9]\n",
            "dict(no_replace,recurse_list)+list(prepend)",
        );
        assert_eq!(strs(&m, "a"), ["9", "1", "2"]);
        let m = merged(
            "a: x\nb: y\n",
            "a: z\nb: null\n",
            "dict(no_replace,recurse_str,allow_delete)+str(append)",
        );
        assert_eq!(m.get("a").unwrap().as_str(), Some("xz"));
        assert!(m.get("b").is_none());
        assert_eq!(
            Mergers::parse("dict(replace"),
            Err(MergerError::NotNameOptions("dict(replace".into()))
        );
        assert!(
            Mergers::parse("tuple()")
                .unwrap_err()
                .to_string()
                .contains("unknown merger")
        );
        assert_eq!(
            Mergers::parse("tuple()"),
            Err(MergerError::Unknown("tuple".into()))
        );
    }

    #[test]
    fn mergers_come_out_of_the_part() {
        let mut root = tree(
            "merge_how:\n - name: list\n   settings: [append]\n - name: dict\n   settings: [no_replace, recurse_list]\nruncmd: [x]\n",
        );
        let m = Mergers::from_list(take_mergers(&mut root).unwrap().unwrap()).unwrap();
        assert_eq!(
            m,
            Mergers::parse("list(append)+dict(no_replace,recurse_list)").unwrap()
        );
        assert!(root.get("merge_how").is_none());
        let mut root = tree("merge_type: 'list(append)+dict(recurse_array)+str()'\n");
        assert!(take_mergers(&mut root).unwrap().is_ok());
        assert!(take_mergers(&mut tree("a: 1\n")).is_none());
        let e = take_mergers(&mut tree("merge_how: 1\n"))
            .unwrap()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "merge_how is an integer: write a string such as `dict(replace)+list()+str()` or a list of {name, settings}"
        );
        let e = take_mergers(&mut tree("merge_how: [{settings: [append]}]\n"));
        assert_eq!(e, Some(Err(MergerError::NoName)));
    }
}
