//! From text to a checked [`MachineConfig`]: YAML under limits, netplan pre-checks, the typed read with
//! error recovery (every type error is reported, not just the first), unknown-key policy, then
//! validation. Every diagnostic carries `SOURCE:LINE:COL` and the key path.

use crate::config::MachineConfig;
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::network::unsupported;
use crate::validate;
use crate::yaml::de::{Context, UnknownKey, from_node, one_of};
use crate::yaml::{self, KeyPath, Kind, Node, Scalar};

/// A config that parsed and validated, with the warnings it produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parsed {
    /// The typed config.
    pub config: MachineConfig,
    /// Problems that do not stop the config from being used.
    pub warnings: Vec<Diagnostic>,
}

/// How many type errors are reported before giving up on a document.
const MAX_TYPE_ERRORS: usize = 64;

/// How many typed reads are tried; each error costs one or two (a pruned required key costs its parent).
const MAX_ATTEMPTS: usize = 3 * MAX_TYPE_ERRORS;

/// Parses and validates a user-data in any format cloud-init reads (`#cloud-config`, MIME
/// multipart, `#cloud-config-archive`, scripts; see [`crate::user_data`]). `source_name` names it
/// in diagnostics.
pub fn parse(source_name: &str, text: &str) -> Result<Parsed, Diagnostics> {
    crate::user_data::read(source_name, text)
}

/// [`parse`], with the documents fetched for its `#include` URLs.
pub fn parse_with(
    source_name: &str,
    text: &str,
    included: &crate::user_data::include::Included,
) -> Result<Parsed, Diagnostics> {
    crate::user_data::read_with(source_name, text, included)
}

/// The diagnostic for a place where a document relies on PyYAML's leniency: a warning saying what
/// cloud-init does, except under `plinth:` and `network:`, where it is an error.
pub fn leniency(source: &str, l: &yaml::Leniency) -> Diagnostic {
    let path = l.path().to_string();
    match l.path().first_key() {
        Some(section @ ("plinth" | "network")) => Diagnostic::error(
            source,
            l.pos(),
            path,
            format!(
                "{}; under `{section}:` Plinth refuses it, because there it would silently change how the node is built (fix the value)",
                l.describe()
            ),
        ),
        _ => Diagnostic::warning(
            source,
            l.pos(),
            path,
            format!("{}, and so does Plinth", l.describe()),
        ),
    }
}

/// Parses a cloud-init `network-config` document: netplan v2, bare or under a `network:` key.
pub fn parse_network(source_name: &str, text: &str) -> Result<Parsed, Diagnostics> {
    let doc = yaml::parse_document(text)
        .map_err(|e| Diagnostics(vec![Diagnostic::error(source_name, e.pos, "", e.message)]))?;
    let wrapped = doc.root.get("network").is_some();
    let mut diags = Vec::new();
    for l in &doc.lenient {
        // Every key of a bare network-config is under `network:`.
        let l = if wrapped {
            l.clone()
        } else {
            l.clone().under(&KeyPath::root().key("network"))
        };
        diags.push(leniency(source_name, &l));
    }
    let root = doc.root;
    let root = if wrapped {
        root
    } else {
        let pos = root.pos;
        Node {
            kind: Kind::Map(vec![(
                yaml::Key {
                    text: "network".to_owned(),
                    pos,
                    span: None,
                },
                root,
            )]),
            pos,
            span: None,
            raw: None,
        }
    };
    check_part(source_name, root, diags, true)
}

/// Checks a parsed tree: the whole pipeline after YAML.
pub fn check(source: &str, root: Node, diags: Vec<Diagnostic>) -> Result<Parsed, Diagnostics> {
    check_part(source, root, diags, false)
}

/// [`check`]; a `network_only` document (network-config) does not know `plinth.ovs.mode`: its
/// Open vSwitch keys are checked as host mode reads them, and whether the mode is host is left to
/// the merged config (`sources::nocloud`).
fn check_part(
    source: &str,
    mut root: Node,
    mut diags: Vec<Diagnostic>,
    network_only: bool,
) -> Result<Parsed, Diagnostics> {
    if !matches!(root.kind, Kind::Map(_)) {
        if matches!(root.kind, Kind::Scalar(Scalar::Null)) {
            root = Node {
                kind: Kind::Map(Vec::new()),
                ..root
            };
        } else {
            diags.push(Diagnostic::error(
                source,
                root.pos,
                "",
                format!(
                    "a machine config is a mapping of keys (hostname:, plinth:, ...), found {}",
                    root.describe()
                ),
            ));
            return Err(Diagnostics(diags));
        }
    }
    let original = root.clone();
    precheck_network(source, &mut root, &mut diags);
    drop_default_user(&mut root);
    drop_nameless_users(source, &mut root, &mut diags);

    let ctx = Context::default();
    let mut pruned: Vec<KeyPath> = Vec::new();
    let mut config = None;
    let mut reported = 0;
    for attempt in 0.. {
        if reported == MAX_TYPE_ERRORS || attempt == MAX_ATTEMPTS {
            diags.push(Diagnostic::error(
                source,
                Pos::new(1, 1),
                "",
                format!("too many errors: stopped after {reported}; fix these and validate again"),
            ));
            break;
        }
        match from_node::<MachineConfig>(&root, &KeyPath::root(), &ctx) {
            Ok(c) => {
                config = Some(c);
                break;
            }
            Err(err) => {
                let path = err.path.clone().unwrap_or_default();
                // An error caused by an earlier pruning is not reported again: a required key
                // that was pruned is now "missing", and a mapping that lost its only key (an enum
                // such as `ready: {tcp: ...}`) is now empty.
                let cascade = match err.missing_field.as_deref() {
                    Some(field) => pruned.contains(&path.key(field)),
                    None => pruned.iter().any(|p| p != &path && p.starts_with(&path)),
                };
                if !cascade {
                    reported += 1;
                    let pos = err.pos.unwrap_or_else(|| original.locate(&path));
                    diags.push(Diagnostic::error(
                        source,
                        pos,
                        path.to_string(),
                        err.message.clone(),
                    ));
                }
                if path.is_root() || !root.prune(&path) {
                    break;
                }
                pruned.push(path);
            }
        }
    }
    for unknown in ctx.unknown_keys() {
        diags.push(unknown_key(source, &unknown));
    }
    if let Some(config) = &config {
        // A network-only document has no `plinth:`: its Open vSwitch keys are checked as host
        // mode wants them here, and the mode itself on the merged config.
        let checked = if network_only {
            let mut host = config.clone();
            host.plinth.ovs.mode = crate::plinth::OvsMode::Host;
            validate::validate(&host)
        } else {
            validate::validate(config)
        };
        for finding in checked {
            let affected = pruned.iter().any(|p| {
                finding.path.starts_with(p)
                    || p.starts_with(&finding.path)
                    || finding.related.iter().any(|r| r.starts_with(p))
            });
            if affected {
                continue;
            }
            let pos = if finding.at_key {
                original.locate_key(&finding.path)
            } else {
                original.locate(&finding.path)
            };
            let message = match &finding.also {
                Some(also) => {
                    let at = original.locate_key(also);
                    finding.message.replacen(
                        &also.to_string(),
                        &format!("{also} ({}:{})", at.line, at.col),
                        1,
                    )
                }
                None => finding.message,
            };
            diags.push(Diagnostic {
                source: source.to_owned(),
                pos,
                severity: finding.severity,
                message,
                path: finding.path.to_string(),
            });
        }
    }
    let mut all = Diagnostics(diags);
    all.normalize();
    match config {
        Some(config) if !all.has_errors() => Ok(Parsed {
            config,
            warnings: all.0,
        }),
        _ => Err(all),
    }
}

/// Network version checks and unsupported netplan features, on the raw tree.
fn precheck_network(source: &str, root: &mut Node, diags: &mut Vec<Diagnostic>) {
    let path = KeyPath::root().key("network");
    let Some(network) = root.get("network") else {
        return;
    };
    if network.get("config").and_then(Node::as_str) == Some("disabled") {
        let pos = network.get("config").map_or(network.pos, |n| n.pos);
        diags.push(Diagnostic::warning(
            source,
            pos,
            "network.config",
            "`config: disabled` gives no network config: the image default applies (DHCP on every ethernet)",
        ));
        root.prune(&path);
        return;
    }
    if let Some(version) = network.get("version") {
        let v = version.scalar_text().unwrap_or_default();
        if v == "1" {
            diags.push(Diagnostic::error(
                source, version.pos, "network.version",
                "network config version 1 is unsupported, use version 2 (netplan syntax: ethernets, bonds, vlans, bridges)",
            ));
            root.prune(&path);
            return;
        }
        if v != "2" {
            diags.push(Diagnostic::error(
                source,
                version.pos,
                "network.version",
                format!("unknown network config version `{v}`: use version 2"),
            ));
            root.prune(&path);
            return;
        }
    }
    if let Some(renderer) = network.get("renderer").and_then(Node::scalar_text)
        && renderer != "networkd"
    {
        let pos = network.get("renderer").map_or(network.pos, |n| n.pos);
        diags.push(Diagnostic::warning(
            source,
            pos,
            "network.renderer",
            format!("renderer `{renderer}` is ignored: Plinth configures links itself"),
        ));
    }
    let original = root.clone();
    for item in unsupported::strip(root, &path) {
        diags.push(Diagnostic::error(
            source,
            original.locate_key(&item.path),
            item.path.to_string(),
            item.message,
        ));
    }
}

/// cloud-init's `users: [default, ...]` names the distro's default user; Plinth has none, so the entry
/// is dropped (silently: it is the normal first entry of cloud-init examples).
fn drop_default_user(root: &mut Node) {
    let defaults: Vec<KeyPath> = match root.get("users").map(|u| &u.kind) {
        Some(Kind::Seq(items)) => items
            .iter()
            .filter(|(_, n)| n.as_str() == Some("default"))
            .map(|(i, _)| KeyPath::root().key("users").index(*i))
            .collect(),
        _ => Vec::new(),
    };
    for path in defaults {
        root.prune(&path);
    }
}

/// A `users` entry without `name` is, to cloud-init, settings for the distro's default user
/// (Ubuntu Core's `snapuser:` entries are such); Plinth has no default user, so it is skipped,
/// with a warning saying so.
fn drop_nameless_users(source: &str, root: &mut Node, diags: &mut Vec<Diagnostic>) {
    let nameless: Vec<(KeyPath, Pos, String)> = match root.get("users").map(|u| &u.kind) {
        Some(Kind::Seq(items)) => items
            .iter()
            .filter(|(_, n)| matches!(n.kind, Kind::Map(_)) && n.get("name").is_none())
            .map(|(i, n)| {
                let keys: Vec<String> = n
                    .entries()
                    .iter()
                    .map(|(k, _)| format!("`{}`", k.text))
                    .collect();
                (
                    KeyPath::root().key("users").index(*i),
                    n.pos,
                    keys.join(", "),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    for (path, pos, keys) in nameless {
        diags.push(Diagnostic::warning(
            source,
            pos,
            path.to_string(),
            format!(
                "a users entry without `name` ({keys}) is, to cloud-init, settings for the distro's default user; Plinth has no default user: entry skipped"
            ),
        ));
        root.prune(&path);
    }
}

fn unknown_key(source: &str, u: &UnknownKey) -> Diagnostic {
    let path = u.parent.key(&u.key).to_string();
    if let Some(message) = crate::suggest::retired(&u.parent.to_string(), &u.key) {
        return Diagnostic::error(source, u.pos, path, message);
    }
    let suggestion = crate::suggest::closest(&u.key, &u.expected);
    let expected = match suggestion {
        Some(k) => format!("did you mean `{k}`?"),
        None => format!("expected one of {}", one_of(&u.expected)),
    };
    let hint = suggestion
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    let key = &u.key;
    match u.parent.first_key() {
        // A misspelt Plinth section would silently drop the node's whole Plinth or network config.
        None if crate::suggest::closest(key, &["plinth", "network"]).is_some() => {
            Diagnostic::error(
                source,
                u.pos,
                path,
                format!(
                    "unknown key `{key}`: {expected} As written, the whole section would be ignored"
                ),
            )
        }
        None => Diagnostic::warning(
            source,
            u.pos,
            path,
            format!("cloud-init key `{key}` is not implemented by Plinth and is ignored{hint}"),
        ),
        Some("plinth") => Diagnostic::error(
            source,
            u.pos,
            path,
            format!("unknown key `{key}` in {}: {expected}", u.parent),
        ),
        Some("network") => Diagnostic::error(
            source,
            u.pos,
            path,
            format!("unknown netplan key `{key}` in {}: {expected}", u.parent),
        ),
        Some(_) => Diagnostic::warning(
            source,
            u.pos,
            path,
            format!(
                "key `{key}` in {} is not implemented by Plinth and is ignored{hint}",
                u.parent
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_config_documents_bare_or_wrapped() {
        let bare = parse_network("nc", "version: 2\nethernets:\n  eth0: {dhcp4: true}\n").unwrap();
        assert_eq!(
            bare.config.network.unwrap().ethernets["eth0"].dhcp4,
            Some(true)
        );
        let wrapped = parse_network(
            "nc",
            "network:\n  version: 2\n  ethernets:\n    eth0: {dhcp4: true}\n",
        )
        .unwrap();
        assert_eq!(wrapped.config.network.unwrap().ethernets.len(), 1);
        let v1 = parse_network(
            "nc",
            "version: 1\nconfig:\n  - type: physical\n    name: eth0\n",
        )
        .unwrap_err();
        assert_eq!(
            v1.to_string(),
            "nc:1:10: error: network config version 1 is unsupported, use version 2 (netplan syntax: ethernets, bonds, vlans, bridges) (at network.version)"
        );
    }

    #[test]
    fn pruning_cascades_are_not_reported() {
        let text =
            "#cloud-config\nplinth:\n  services:\n    - name: x\n      ready: {tcp: 99999}\n";
        let err = parse("c", text).unwrap_err().to_string();
        assert_eq!(
            err,
            "c:4:7: error: missing required key `exec` (at plinth.services[0])\n\
             c:5:20: error: invalid value integer `99999`: expected an integer from 0 to 65535 (at plinth.services[0].ready.tcp)"
        );
    }

    #[test]
    fn network_config_disabled() {
        let p = parse_network("nc", "network:\n  config: disabled\n").unwrap();
        assert_eq!(p.config.network, None);
        assert!(
            p.warnings[0]
                .to_string()
                .starts_with("nc:2:11: warning: `config: disabled`"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn header_and_empty_documents() {
        assert_eq!(parse("e", "").unwrap().config, MachineConfig::default());
        assert_eq!(
            parse("e", "#cloud-config\n").unwrap().config,
            MachineConfig::default()
        );
        let no_header = parse("h", "hostname: a\n").unwrap();
        assert!(
            no_header.warnings[0]
                .to_string()
                .starts_with("h:1:1: warning: the first line is not `#cloud-config`")
        );
        let script = parse("s", "#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(
            script.config.user_scripts.scripts[0].body,
            "#!/bin/sh\necho hi\n"
        );
        assert_eq!(script.config.user_scripts.scripts[0].name, "part-001");
    }

    #[test]
    fn validation_is_skipped_where_a_type_error_pruned_the_value() {
        // endpoint has the wrong type: report that, not also "role agent needs an endpoint".
        let err = parse("p", "#cloud-config\nplinth:\n  cluster:\n    role: agent\n    endpoint: [1]\n    token: abcdef.0123456789abcdef\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "p:5:15: error: expected a string, found a list (at plinth.cluster.endpoint)"
            ),
            "{text}"
        );
        assert!(!text.contains("needs `endpoint`"), "{text}");
    }
}
