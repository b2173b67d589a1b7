//! Data sources, as pure readers: a NoCloud seed directory, an OpenStack config drive, the kernel
//! command line, and the merge of what they give with the image's defaults. Nothing here mounts or
//! downloads; the boot wires these readers to real media later.

pub mod cmdline;
pub mod config_drive;
pub mod merge;
pub mod nocloud;

use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::parse::{Parsed, parse};

/// Reads a config from `path`: a `#cloud-config` file, a NoCloud seed directory (`user-data`,
/// `meta-data`, ...), or an OpenStack config drive directory (`openstack/latest/...`).
pub fn load_path(path: &Path) -> Result<Parsed, Diagnostics> {
    let name = path.display().to_string();
    if path.is_dir() {
        if config_drive::is_config_drive(path) {
            return config_drive::load(path);
        }
        if nocloud::is_seed(path) {
            return nocloud::load(path);
        }
        return Err(one_error(
            &name,
            "directory is neither a NoCloud seed (user-data, meta-data) nor a config drive (openstack/latest/user_data)"
                .to_owned(),
        ));
    }
    let text = read_text(path, &name)?;
    parse(&name, &text)
}

/// Reads a UTF-8 text file, as a diagnostic on failure.
pub(crate) fn read_text(path: &Path, name: &str) -> Result<String, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| one_error(name, format!("cannot read: {e}")))?;
    if bytes.len() > crate::yaml::MAX_DOCUMENT_BYTES {
        return Err(one_error(
            name,
            format!(
                "file is {} bytes; the limit is {}",
                bytes.len(),
                crate::yaml::MAX_DOCUMENT_BYTES
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| one_error(name, format!("not UTF-8 text: {e}")))
}

pub(crate) fn one_error(source: &str, message: String) -> Diagnostics {
    Diagnostics(vec![Diagnostic::error(source, Pos::new(1, 1), "", message)])
}
