//! Disk selectors: how the config names a disk. A path (`/dev/sdb`, `/dev/disk/by-id/...`) or one
//! of `serial:`, `wwn:`, `model:` matched against what udev and sysfs report for a whole disk.
//! Parsing is here; matching observed disks is the storage agent's.

use std::fmt;

/// One way of naming a disk.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiskSelector {
    /// A device path under `/dev/` (a kernel name or a udev symlink such as `/dev/disk/by-id/...`).
    Path(String),
    /// The disk's serial number (udev `ID_SERIAL_SHORT`, or sysfs `serial`).
    Serial(String),
    /// The disk's World Wide Name (udev `ID_WWN`, sysfs `wwid`), with or without `0x`.
    Wwn(String),
    /// The disk's model (udev `ID_MODEL`, sysfs `model`); must name exactly one disk.
    Model(String),
}

/// Why a text is not a disk selector.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiskSelectorError {
    /// `serial:`, `wwn:` or `model:` with nothing after it.
    #[error("`{text}` names no {kind}")]
    Empty {
        /// The selector as written.
        text: String,
        /// What it should name: `serial`, `wwn` or `model`.
        kind: &'static str,
    },
    /// Neither a path under `/dev/` nor one of the prefixes.
    #[error(
        "`{0}` is not a disk: use a path under /dev/ (such as /dev/disk/by-id/...), serial:S, wwn:W or model:M"
    )]
    NotADisk(String),
}

impl DiskSelector {
    /// Parses `text`; the error says what forms are accepted.
    pub fn parse(text: &str) -> Result<Self, DiskSelectorError> {
        let value = |prefix: &'static str| {
            let rest = text[prefix.len()..].trim();
            if rest.is_empty() {
                Err(DiskSelectorError::Empty {
                    text: text.to_owned(),
                    kind: prefix.trim_end_matches(':'),
                })
            } else {
                Ok(rest.to_owned())
            }
        };
        if text.starts_with("/dev/") && text.len() > "/dev/".len() {
            Ok(Self::Path(text.to_owned()))
        } else if text.starts_with("serial:") {
            value("serial:").map(Self::Serial)
        } else if text.starts_with("wwn:") {
            value("wwn:").map(Self::Wwn)
        } else if text.starts_with("model:") {
            value("model:").map(Self::Model)
        } else {
            Err(DiskSelectorError::NotADisk(text.to_owned()))
        }
    }
}

impl fmt::Display for DiskSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => write!(f, "{p}"),
            Self::Serial(s) => write!(f, "serial:{s}"),
            Self::Wwn(w) => write!(f, "wwn:{w}"),
            Self::Model(m) => write!(f, "model:{m}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_prints_back() {
        for text in [
            "/dev/sdb",
            "/dev/disk/by-id/virtio-cv1",
            "serial:CV1",
            "wwn:0x5000c500a1b2c3d4",
            "model:QEMU HARDDISK",
        ] {
            assert_eq!(DiskSelector::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            DiskSelector::parse("serial:CV1").unwrap(),
            DiskSelector::Serial("CV1".into())
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for text in ["sdb", "/dev/", "serial:", "wwn: ", "label:x", ""] {
            let e = DiskSelector::parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("`{text}`")), "{e}");
        }
        assert!(
            DiskSelector::parse("sdb")
                .unwrap_err()
                .to_string()
                .contains("serial:S")
        );
        assert_eq!(
            DiskSelector::parse("serial:"),
            Err(DiskSelectorError::Empty {
                text: "serial:".into(),
                kind: "serial"
            })
        );
        assert_eq!(
            DiskSelector::parse("wwn: ").unwrap_err().to_string(),
            "`wwn: ` names no wwn"
        );
        assert_eq!(
            DiskSelector::parse("label:x"),
            Err(DiskSelectorError::NotADisk("label:x".into()))
        );
    }
}
