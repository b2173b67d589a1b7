//! Data sources, as pure readers: a NoCloud seed directory, an OpenStack config drive, the kernel
//! command line, and the merge of what they give with the image's defaults. Nothing here mounts or
//! downloads; the boot wires these readers to real media later.

pub mod cmdline;
pub mod config_drive;
pub mod merge;
pub mod network_data;
pub mod nocloud;
pub mod select;

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::parse::{Parsed, parse_with};
use crate::user_data::include::Included;

/// Reads a config from `path`: a `#cloud-config` file, a NoCloud seed directory (`user-data`,
/// `meta-data`, ...), or an OpenStack config drive directory (`openstack/latest/...`).
pub fn load_path(path: &Path) -> Result<Parsed, Diagnostics> {
    load_path_with(path, &Included::default())
}

/// [`load_path`], with the documents fetched for `#include` URLs in its user-data.
pub fn load_path_with(path: &Path, included: &Included) -> Result<Parsed, Diagnostics> {
    let name = path.display().to_string();
    if path.is_dir() {
        if config_drive::is_config_drive(path) {
            return config_drive::load_with(path, included);
        }
        if nocloud::is_seed(path) {
            return nocloud::load_with(path, included);
        }
        return Err(one_error(
            &name,
            "directory is neither a NoCloud seed (user-data, meta-data) nor a config drive (openstack/latest/user_data)"
                .to_owned(),
        ));
    }
    let text = read_text(path, &name)?;
    parse_with(&name, &text, included)
}

/// Reads a text file (gzip-compressed or not), as a diagnostic on failure.
pub(crate) fn read_text(path: &Path, name: &str) -> Result<String, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| one_error(name, format!("cannot read: {e}")))?;
    text_of(name, &bytes)
}

/// The text of a source's bytes, as cloud-init takes user-data: gzip-compressed or plain, UTF-8, and
/// no larger than a config may be. For user-data fetched from anywhere (a URL, a disk).
pub fn text_of(source: &str, bytes: &[u8]) -> Result<String, Diagnostics> {
    let bytes = if crate::decode::is_gzip(bytes) {
        std::borrow::Cow::Owned(
            crate::decode::gunzip(bytes)
                .map_err(|e| one_error(source, format!("compressed user-data is {e}")))?,
        )
    } else {
        std::borrow::Cow::Borrowed(bytes)
    };
    if bytes.len() > crate::yaml::MAX_DOCUMENT_BYTES {
        return Err(one_error(
            source,
            format!(
                "{} bytes; the limit is {}",
                bytes.len(),
                crate::yaml::MAX_DOCUMENT_BYTES
            ),
        ));
    }
    String::from_utf8(bytes.into_owned())
        .map_err(|e| one_error(source, format!("not UTF-8 text: {e}")))
}

pub(crate) fn one_error(source: &str, message: String) -> Diagnostics {
    Diagnostics(vec![Diagnostic::error(source, Pos::new(1, 1), "", message)])
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn user_data_may_be_gzip_compressed() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"#cloud-config\nhostname: gz\n").unwrap();
        let packed = enc.finish().unwrap();
        let text = text_of("user-data", &packed).unwrap();
        assert_eq!(
            crate::parse("user-data", &text)
                .unwrap()
                .config
                .hostname
                .as_deref(),
            Some("gz")
        );
        assert_eq!(text_of("u", b"plain").unwrap(), "plain");
        let err = text_of("u", &[0xff, 0xfe]).unwrap_err().to_string();
        assert!(err.starts_with("u:1:1: error: not UTF-8 text"), "{err}");
    }
}
