//! A part's type from its first line, as cloud-init's `handlers.type_from_starts_with` finds it
//! (the longest matching prefix wins, so `#cloud-config-archive` is not `#cloud-config`), and
//! whether a user-data is a MIME message.

/// The MIME type cloud-init gives a document or part that starts with each prefix.
const STARTS: &[(&str, &str)] = &[
    ("#include", INCLUDE),
    ("#include-once", INCLUDE_ONCE),
    ("#!", SHELLSCRIPT),
    ("#cloud-config", CLOUD_CONFIG),
    ("#part-handler", PART_HANDLER),
    ("#cloud-boothook", BOOTHOOK),
    ("#cloud-config-archive", ARCHIVE),
    ("#cloud-config-jsonp", JSONP),
    ("## template: jinja", JINJA),
    ("text/x-shellscript-per-boot", SHELLSCRIPT_PER_BOOT),
    ("text/x-shellscript-per-instance", SHELLSCRIPT_PER_INSTANCE),
    ("text/x-shellscript-per-once", SHELLSCRIPT_PER_ONCE),
];

/// `#cloud-config`.
pub const CLOUD_CONFIG: &str = "text/cloud-config";
/// `#cloud-config-archive`.
pub const ARCHIVE: &str = "text/cloud-config-archive";
/// `#cloud-config-jsonp`.
pub const JSONP: &str = "text/cloud-config-jsonp";
/// `#!`.
pub const SHELLSCRIPT: &str = "text/x-shellscript";
/// A script run every boot.
pub const SHELLSCRIPT_PER_BOOT: &str = "text/x-shellscript-per-boot";
/// A script run once per instance.
pub const SHELLSCRIPT_PER_INSTANCE: &str = "text/x-shellscript-per-instance";
/// A script run once ever.
pub const SHELLSCRIPT_PER_ONCE: &str = "text/x-shellscript-per-once";
/// `#cloud-boothook`.
pub const BOOTHOOK: &str = "text/cloud-boothook";
/// `#include`.
pub const INCLUDE: &str = "text/x-include-url";
/// `#include-once`.
pub const INCLUDE_ONCE: &str = "text/x-include-once-url";
/// `#part-handler`.
pub const PART_HANDLER: &str = "text/part-handler";
/// `## template: jinja`.
pub const JINJA: &str = "text/jinja2";
/// What a MIME part without a Content-Type is.
pub const PLAIN: &str = "text/plain";
/// What cloud-init calls a user-data that is not MIME before its type is found.
pub const NOT_MULTIPART: &str = "text/x-not-multipart";

/// The MIME types cloud-init gunzips before finding the type of what is inside.
pub const GZIP_TYPES: &[&str] = &[
    "application/gzip",
    "application/gzip-compressed",
    "application/gzipped",
    "application/x-compress",
    "application/x-compressed",
    "application/x-gzip",
    "application/x-gzip-compressed",
];

/// The type a payload's start gives, if any prefix matches.
pub fn type_from_start(payload: &[u8]) -> Option<&'static str> {
    STARTS
        .iter()
        .filter(|(prefix, _)| payload.starts_with(prefix.as_bytes()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, t)| *t)
}

/// Whether a user-data is a MIME message: as cloud-init decides, `MIME-Version:` (any case) in
/// its first 4096 bytes.
pub fn is_mime(bytes: &[u8]) -> bool {
    let head = bytes.get(..4096).unwrap_or(bytes);
    head.windows(b"mime-version:".len())
        .any(|w| w.eq_ignore_ascii_case(b"mime-version:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_wins() {
        assert_eq!(type_from_start(b"#cloud-config\n"), Some(CLOUD_CONFIG));
        assert_eq!(type_from_start(b"#cloud-config-archive\n"), Some(ARCHIVE));
        assert_eq!(
            type_from_start(b"#include-once\nhttp://x\n"),
            Some(INCLUDE_ONCE)
        );
        assert_eq!(type_from_start(b"#!/bin/sh\n"), Some(SHELLSCRIPT));
        assert_eq!(type_from_start(b"## template: jinja\n"), Some(JINJA));
        assert_eq!(type_from_start(b"hostname: x\n"), None);
        assert!(is_mime(
            b"Content-Type: multipart/mixed\nMIME-Version: 1.0\n"
        ));
        assert!(!is_mime(b"#cloud-config\n"));
    }
}
