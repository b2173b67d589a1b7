//! User-data read the way cloud-init's user-data processing reads it: the format is found from the
//! first line or MIME headers, and every part goes where cloud-init sends it.
//!
//! - `#cloud-config` (`text/cloud-config`): merged in order with cloud-init's mergers ([`merge`]),
//!   then checked as one config; a document without a first line cloud-init knows is read as
//!   cloud-config too, with a warning.
//! - MIME multipart ([`mime`]), nested, with base64 and quoted-printable parts, gzip parts.
//! - `#cloud-config-archive` ([`archive`]).
//! - `#!` / `text/x-shellscript` (once per instance, after runcmd), `text/x-shellscript-per-boot`,
//!   `#cloud-boothook` (every boot, early): kept in [`MachineConfig::user_scripts`].
//! - `## template: jinja`: read when it uses no template syntax, else refused as unsupported.
//! - `#include` / `#include-once` ([`include`]): the documents the reader fetched, read as
//!   user-data in their turn; a URL not fetched is refused (or, for a validator, warned about).
//! - `#part-handler`, `#cloud-config-jsonp`, `text/x-shellscript-per-once`: refused or warned
//!   about by name; any other type is a warning naming it, never a silent drop.
//!
//! A diagnostic in a part names it, `SOURCE (part N, FILENAME):LINE:COL`, with the line and column
//! inside that part.

pub mod archive;
pub mod detect;
pub mod include;
pub mod merge;
pub mod mime;
pub mod render;
pub mod transfer;

use crate::MachineConfig;
use crate::cloud_init::{Frequency, Script};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::parse::{Parsed, check, leniency};
use crate::yaml::{self, Node};
use include::{Included, Unfetched};
use merge::Mergers;

/// How deep archives, includes and jinja headers may nest in each other.
const MAX_NESTING: usize = 4;

/// The most bytes all parts may have together once decoded (each part is also held to
/// [`crate::yaml::MAX_DOCUMENT_BYTES`]), so a user-data of many gzip parts cannot exhaust PID 1's
/// memory.
pub const MAX_TOTAL_BYTES: usize = 4 * crate::yaml::MAX_DOCUMENT_BYTES;

/// One part, before its type decides where it goes.
#[derive(Clone, Debug)]
struct Part {
    /// 1-based position among the user-data's parts; 0 for a user-data of one part.
    index: u32,
    filename: Option<String>,
    content_type: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// What the parts gave so far.
#[derive(Default)]
struct Gathered {
    configs: Vec<(Node, Mergers)>,
    config: MachineConfig,
    diags: Vec<Diagnostic>,
    labels: Vec<(u32, String)>,
    next_index: u32,
    includes: usize,
    total_bytes: usize,
}

/// Reads a user-data of any format cloud-init reads; an `#include` is refused (see
/// [`read_with`]). `source` names it in diagnostics.
pub fn read(source: &str, text: &str) -> Result<Parsed, Diagnostics> {
    read_with(source, text, &Included::default())
}

/// Reads a user-data, with the documents fetched for its `#include` URLs in `included` (a URL
/// not there is asked for through [`Included::take_wanted`]).
pub fn read_with(source: &str, text: &str, included: &Included) -> Result<Parsed, Diagnostics> {
    let mut g = Gathered::default();
    let bytes = text.trim_start_matches('\u{feff}').as_bytes();
    if let Err(e) = document(source, bytes, None, 0, &mut g, included) {
        return Err(Diagnostics(vec![Diagnostic::error(
            source,
            Pos::new(1, 1),
            "",
            e,
        )]));
    }
    finish(source, g)
}

/// A whole user-data (the top one, or an included one named `from`): its MIME leaves, or itself
/// as one part (index 0 at the top, so its positions need no part name).
fn document(
    source: &str,
    bytes: &[u8],
    from: Option<&str>,
    depth: usize,
    g: &mut Gathered,
    included: &Included,
) -> Result<(), String> {
    if detect::is_mime(bytes) {
        let leaves = mime::leaves(bytes).map_err(|e| format!("MIME multipart user-data: {e}"))?;
        for leaf in leaves {
            g.next_index += 1;
            let part = Part {
                index: g.next_index,
                filename: leaf.filename().or_else(|| from.map(str::to_owned)),
                content_type: leaf.content_type,
                headers: leaf.headers,
                body: leaf.body,
            };
            handle(source, part, depth, g, included);
        }
    } else {
        let index = match from {
            Some(_) => {
                g.next_index += 1;
                g.next_index
            }
            None => 0,
        };
        let part = Part {
            index,
            filename: from.map(str::to_owned),
            content_type: detect::NOT_MULTIPART.to_owned(),
            headers: Vec::new(),
            body: bytes.to_vec(),
        };
        handle(source, part, depth, g, included);
    }
    Ok(())
}

/// The name of part `index` in diagnostics.
fn label(source: &str, index: u32, filename: Option<&str>) -> String {
    match (index, filename) {
        (0, _) => source.to_owned(),
        (i, Some(f)) => format!("{source} (part {i}, {f})"),
        (i, None) => format!("{source} (part {i})"),
    }
}

fn handle(source: &str, part: Part, depth: usize, g: &mut Gathered, included: &Included) {
    let name = label(source, part.index, part.filename.as_deref());
    if part.index > 0 && !g.labels.iter().any(|(i, _)| *i == part.index) {
        g.labels.push((part.index, name.clone()));
    }
    let error = |g: &mut Gathered, pos: Pos, message: String| {
        g.diags.push(Diagnostic::error(&name, pos, "", message));
    };
    let warn = |g: &mut Gathered, message: String| {
        g.diags
            .push(Diagnostic::warning(&name, Pos::new(1, 1), "", message));
    };
    let mut content_type = part.content_type.clone();
    let mut body = part.body.clone();
    if detect::GZIP_TYPES.contains(&content_type.as_str()) || crate::decode::is_gzip(&body) {
        match crate::decode::gunzip(&body) {
            Ok(inflated) => {
                body = inflated;
                content_type = detect::NOT_MULTIPART.to_owned();
            }
            Err(e) => return error(g, Pos::new(1, 1), format!("compressed part is {e}")),
        }
    }
    if body.len() > crate::yaml::MAX_DOCUMENT_BYTES {
        return error(
            g,
            Pos::new(1, 1),
            format!(
                "part is {} bytes; the limit is {}",
                body.len(),
                crate::yaml::MAX_DOCUMENT_BYTES
            ),
        );
    }
    g.total_bytes += body.len();
    if g.total_bytes > MAX_TOTAL_BYTES {
        return error(
            g,
            Pos::new(1, 1),
            format!("the parts together are more than {MAX_TOTAL_BYTES} bytes; refused"),
        );
    }
    if [detect::PLAIN, detect::NOT_MULTIPART, detect::SHELLSCRIPT].contains(&content_type.as_str())
        && let Some(found) = detect::type_from_start(&body)
    {
        content_type = found.to_owned();
    }
    let text = match String::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            return error(
                g,
                Pos::new(1, 1),
                format!("{content_type} part is not UTF-8 text: {e}"),
            );
        }
    };
    let script_name = || {
        part.filename
            .clone()
            .unwrap_or_else(|| format!("part-{:03}", part.index.max(1)))
    };
    match content_type.as_str() {
        detect::CLOUD_CONFIG => cloud_config(&name, &part, &text, g),
        detect::NOT_MULTIPART => {
            if !text.trim().is_empty() {
                warn(g, "the first line is not `#cloud-config`; cloud-init would ignore this document (Plinth reads it anyway)".into());
                cloud_config(&name, &part, &text, g);
            }
        }
        detect::ARCHIVE => {
            if depth >= MAX_NESTING {
                return error(
                    g,
                    Pos::new(1, 1),
                    format!("archives and includes nest more than {MAX_NESTING} deep; refused"),
                );
            }
            match archive::entries(&text) {
                Ok(entries) => {
                    for entry in entries {
                        g.next_index += 1;
                        let inner = Part {
                            index: g.next_index,
                            filename: entry.filename,
                            content_type: entry.content_type,
                            headers: entry.headers,
                            body: entry.content.into_bytes(),
                        };
                        handle(source, inner, depth + 1, g, included);
                    }
                }
                Err(e) => error(g, e.pos, e.message),
            }
        }
        detect::SHELLSCRIPT | detect::SHELLSCRIPT_PER_INSTANCE => {
            g.config.user_scripts.scripts.push(Script {
                name: script_name(),
                frequency: Frequency::Instance,
                body: text,
            });
        }
        detect::SHELLSCRIPT_PER_BOOT => {
            g.config.user_scripts.scripts.push(Script {
                name: script_name(),
                frequency: Frequency::Boot,
                body: strip_first_line_if(&text, "text/x-shellscript-per-boot"),
            });
        }
        detect::BOOTHOOK => {
            g.config.user_scripts.boothooks.push(Script {
                name: script_name(),
                frequency: Frequency::Boot,
                body: strip_first_line_if(&text, "#cloud-boothook"),
            });
        }
        detect::JINJA => jinja(source, &name, &part, &text, depth, g, included),
        detect::INCLUDE | detect::INCLUDE_ONCE => {
            for (line, url) in include::urls(&text) {
                let pos = Pos::new(line, 1);
                match included.get(&url) {
                    Some(Ok(bytes)) => {
                        g.includes += 1;
                        if depth >= MAX_NESTING || g.includes > include::MAX_INCLUDES {
                            error(
                                g,
                                pos,
                                format!(
                                    "`#include` {url}: more than {} includes, or nested more than {MAX_NESTING} deep; refused",
                                    include::MAX_INCLUDES
                                ),
                            );
                            continue;
                        }
                        let bytes = if crate::decode::is_gzip(bytes) {
                            match crate::decode::gunzip(bytes) {
                                Ok(b) => b,
                                Err(e) => {
                                    error(g, pos, format!("`#include` {url}: compressed document is {e}"));
                                    continue;
                                }
                            }
                        } else {
                            bytes.clone()
                        };
                        if let Err(e) = document(source, &bytes, Some(&url), depth + 1, g, included) {
                            error(g, pos, format!("`#include` {url}: {e}"));
                        }
                    }
                    Some(Err(why)) => error(g, pos, format!("`#include` {url}: {why}")),
                    None => {
                        included.want(&url);
                        match included.unfetched() {
                            Unfetched::Refuse(why) => {
                                error(g, pos, format!("`#include` {url} ({content_type}) not fetched: {why}"));
                            }
                            Unfetched::Warn(why) => g.diags.push(Diagnostic::warning(
                                &name,
                                pos,
                                "",
                                format!("`#include` {url} ({content_type}) not fetched: {why}"),
                            )),
                        }
                    }
                }
            }
        }
        detect::JSONP => error(
            g,
            Pos::new(1, 1),
            "unsupported: `#cloud-config-jsonp` (a JSON patch of the config) is not applied by Plinth; write the result as a `#cloud-config` part".into(),
        ),
        detect::PART_HANDLER => warn(
            g,
            "`#part-handler` (text/part-handler) is a Python handler cloud-init would load; Plinth runs no Python: part ignored".into(),
        ),
        detect::SHELLSCRIPT_PER_ONCE => warn(
            g,
            "text/x-shellscript-per-once (run once ever) is not run by Plinth: part ignored; use text/x-shellscript (once per instance)".into(),
        ),
        detect::PLAIN if text.trim().is_empty() => {}
        other => warn(
            g,
            format!("part type `{other}` is not one cloud-init or Plinth handles: part ignored"),
        ),
    }
}

/// `text` without its first line when that line starts with `header`.
fn strip_first_line_if(text: &str, header: &str) -> String {
    if text.starts_with(header) {
        text.split_once('\n')
            .map_or("", |(_, rest)| rest)
            .to_owned()
    } else {
        text.to_owned()
    }
}

/// A `## template: jinja` part: rendered when it holds no template syntax (the rest is then read
/// by its own first line), else refused as unsupported.
fn jinja(
    source: &str,
    name: &str,
    part: &Part,
    text: &str,
    depth: usize,
    g: &mut Gathered,
    included: &Included,
) {
    if depth >= MAX_NESTING {
        g.diags.push(Diagnostic::error(
            name,
            Pos::new(1, 1),
            "",
            format!("`## template: jinja` headers nest more than {MAX_NESTING} deep; refused"),
        ));
        return;
    }
    let rest = text.split_once('\n').map_or("", |(_, r)| r);
    if let Some((line, _)) = rest
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("{{") || l.contains("{%") || l.contains("{#"))
    {
        g.diags.push(Diagnostic::error(
            name,
            Pos::new(u32::try_from(line + 2).unwrap_or(u32::MAX), 1),
            "",
            "unsupported: `## template: jinja` user-data with template syntax: Plinth does not render jinja (cloud-init's instance-data is not there); render the template before handing the user-data over",
        ));
        return;
    }
    let content_type = detect::type_from_start(rest.as_bytes()).unwrap_or(detect::PLAIN);
    // A cloud-config keeps its lines where they were (the header line left empty), so its
    // diagnostics point into the document as written.
    let body = if content_type == detect::CLOUD_CONFIG {
        format!("\n{rest}")
    } else {
        rest.to_owned()
    };
    let inner = Part {
        content_type: content_type.to_owned(),
        body: body.into_bytes(),
        ..part.clone()
    };
    if inner.content_type == detect::PLAIN {
        g.diags.push(Diagnostic::warning(
            name,
            Pos::new(2, 1),
            "",
            "a `## template: jinja` part whose second line is no type cloud-init knows (#cloud-config, #!, ...): part ignored, as cloud-init does",
        ));
        return;
    }
    handle(source, inner, depth + 1, g, included);
}

/// A cloud-config part: parsed with PyYAML's leniencies, its mergers taken out, kept for merging.
fn cloud_config(name: &str, part: &Part, text: &str, g: &mut Gathered) {
    let doc = match yaml::parse_document(text) {
        Ok(doc) => doc,
        Err(e) => {
            g.diags.push(Diagnostic::error(name, e.pos, "", e.message));
            return;
        }
    };
    let mut root = doc.root;
    for l in &doc.lenient {
        g.diags.push(leniency(name, l));
    }
    // cloud-init takes the part's own mergers, then its Merge-Type header's (for the types the
    // part's leave out), else its default.
    let own = match merge::take_mergers(&mut root) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            g.diags.push(Diagnostic::error(
                name,
                root.pos,
                "merge_how",
                e.to_string(),
            ));
            return;
        }
        None => Vec::new(),
    };
    let header = ["Merge-Type", "X-Merge-Type"]
        .iter()
        .find_map(|h| {
            part.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(h))
                .map(|(_, v)| v.clone())
        })
        .filter(|v| !v.trim().is_empty());
    let from_header = match header.map(|h| merge::parse_list(&h)) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            g.diags.push(Diagnostic::error(
                name,
                Pos::new(1, 1),
                "",
                format!("Merge-Type header: {e}"),
            ));
            return;
        }
        None => Vec::new(),
    };
    let all: Vec<_> = own.into_iter().chain(from_header).collect();
    let mergers = if all.is_empty() {
        Mergers::default_set()
    } else {
        match Mergers::from_list(all) {
            Ok(m) => m,
            Err(e) => {
                g.diags.push(Diagnostic::error(
                    name,
                    root.pos,
                    "merge_how",
                    e.to_string(),
                ));
                return;
            }
        }
    };
    if !mergers.merges_mappings() {
        g.diags.push(Diagnostic::warning(
            name,
            root.pos,
            "merge_how",
            "the mergers name no `dict` merger: cloud-init ignores every key of this part (its top level is a mapping), and so does Plinth; add `dict(...)` to merge it",
        ));
    }
    if part.index > 0 {
        if !matches!(root.kind, crate::yaml::Kind::Map(_)) {
            g.diags.push(Diagnostic::error(
                name,
                root.pos,
                "",
                format!(
                    "a cloud-config part is a mapping of keys (hostname:, plinth:, ...), found {}",
                    root.describe()
                ),
            ));
            return;
        }
        root.stamp_part(part.index);
    }
    g.configs.push((root, mergers));
}

/// Merges the cloud-config parts, checks the result, and names the part of each diagnostic.
fn finish(source: &str, g: Gathered) -> Result<Parsed, Diagnostics> {
    let Gathered {
        configs,
        config: scripts_only,
        mut diags,
        labels,
        ..
    } = g;
    let had_errors = diags.iter().any(Diagnostic::is_error);
    let merged = match configs.len() {
        // One document: its own tree, so a non-mapping is reported as such.
        1 if configs.iter().all(|(_, m)| m.merges_mappings()) => {
            configs.into_iter().next().map(|(root, _)| root)
        }
        0 => None,
        _ => Some(
            configs
                .into_iter()
                .fold(Node::empty_map(), |acc, (part, m)| m.merge(acc, part)),
        ),
    };
    let result = match merged {
        Some(root) => check(source, root, Vec::new()),
        None => Ok(Parsed::default()),
    };
    let name_part = |mut d: Diagnostic| {
        if d.pos.part > 0 {
            if let Some((_, l)) = labels.iter().find(|(i, _)| *i == d.pos.part) {
                d.source.clone_from(l);
            }
            d.pos = d.pos.in_part(0);
        }
        d
    };
    let (config, warnings) = match result {
        Ok(p) => (Some(p.config), p.warnings),
        Err(d) => (None, d.0),
    };
    diags.extend(warnings.into_iter().map(name_part));
    let mut all = Diagnostics(diags);
    all.normalize();
    match config {
        Some(mut config) if !had_errors && !all.has_errors() => {
            config.user_scripts = scripts_only.user_scripts;
            Ok(Parsed {
                config,
                warnings: all.0,
            })
        }
        _ => Err(all),
    }
}
