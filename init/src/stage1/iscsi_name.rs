//! The node's iSCSI initiator name (`/etc/iscsi/initiatorname.iscsi`): open-iscsi's package
//! script makes one at image build time, which every node would share, so the image ships none
//! and stage 1 generates one once, in Debian's `iscsi-iname` format, on the persistent `/etc`.

use std::path::Path;

/// Debian's prefix for generated names.
const PREFIX: &str = "iqn.1993-08.org.debian:01:";

/// The initiator name in `contents`, if the file sets one.
pub fn configured(contents: &str) -> Option<&str> {
    contents.lines().find_map(|l| {
        let name = l.trim().strip_prefix("InitiatorName=")?.trim();
        (!name.is_empty()).then_some(name)
    })
}

/// A name from 6 random bytes: `iqn.1993-08.org.debian:01:` and 12 hex digits.
pub fn format_name(bytes: [u8; 6]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PREFIX}{hex}")
}

/// Keeps the configured name or writes a new one to `path`; returns it and whether it is new.
pub fn ensure(path: &Path, random: [u8; 6]) -> std::io::Result<(String, bool)> {
    if let Ok(text) = std::fs::read_to_string(path)
        && let Some(name) = configured(&text)
    {
        return Ok((name.to_string(), false));
    }
    let name = format_name(random);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    super::machine_id::write_durably(
        path,
        &format!(
            "## Generated once by Plinth's stage 1; kept on the state partition.\nInitiatorName={name}\n"
        ),
    )?;
    Ok((name, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_configured_name_and_ignores_comments() {
        let text = "## DO NOT EDIT\n#InitiatorName=iqn.x:old\nInitiatorName=iqn.2004-10.com.example:node1\n";
        assert_eq!(configured(text), Some("iqn.2004-10.com.example:node1"));
        assert_eq!(configured("GenerateName=yes\n"), None);
        assert_eq!(configured("InitiatorName=\n"), None);
    }

    #[test]
    fn generated_names_follow_iscsi_iname() {
        assert_eq!(
            format_name([0x89, 0x78, 0x7a, 0x65, 0xf5, 0x8f]),
            "iqn.1993-08.org.debian:01:89787a65f58f"
        );
    }

    #[test]
    fn ensure_writes_once_then_keeps() {
        let dir = std::env::temp_dir().join(format!("plinth-iscsi-{}", std::process::id()));
        let path = dir.join("iscsi/initiatorname.iscsi");
        let (first, new) = ensure(&path, [1; 6]).unwrap();
        assert!(new);
        assert_eq!(ensure(&path, [2; 6]).unwrap(), (first, false));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
