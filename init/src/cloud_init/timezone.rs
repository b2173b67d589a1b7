//! `timezone`: `/etc/localtime` as a symlink to `/usr/share/zoneinfo/<tz>` (tzdata is in the image)
//! and `/etc/timezone` holding the name. An unknown zone is an error naming it; the clock itself
//! stays UTC.

use std::io;
use std::path::Path;

/// Whether `tz` is a plausible zone name (no `..`, no leading `/`, only zoneinfo's characters).
pub fn valid_name(tz: &str) -> bool {
    !tz.is_empty()
        && !tz.starts_with('/')
        && !tz
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..")
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
}

/// Points `<root>/etc/localtime` at the zone and writes `<root>/etc/timezone`.
pub fn apply(root: &Path, tz: &str) -> io::Result<String> {
    let zone = format!("/usr/share/zoneinfo/{tz}");
    if !valid_name(tz) || !root.join(zone.trim_start_matches('/')).is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("timezone {tz:?}: no such zone in /usr/share/zoneinfo"),
        ));
    }
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc)?;
    let link = etc.join("localtime");
    let tmp = etc.join("localtime.plinth-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&zone, &tmp)?;
    std::fs::rename(&tmp, &link)?;
    super::fsutil::replace(&etc.join("timezone"), format!("{tz}\n").as_bytes(), 0o644)?;
    Ok(format!("timezone {tz}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(valid_name("Etc/UTC"));
        assert!(valid_name("America/Argentina/Buenos_Aires"));
        assert!(valid_name("Etc/GMT+5"));
        assert!(!valid_name("../../etc/shadow"));
        assert!(!valid_name("/etc"));
        assert!(!valid_name(""));
    }

    #[test]
    fn apply_links_localtime_and_refuses_unknown_zones() {
        let root = std::env::temp_dir().join(format!("plinth-tz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/share/zoneinfo/Europe")).unwrap();
        std::fs::write(root.join("usr/share/zoneinfo/Europe/Paris"), "TZif").unwrap();
        apply(&root, "Europe/Paris").unwrap();
        apply(&root, "Europe/Paris").unwrap();
        assert_eq!(
            std::fs::read_link(root.join("etc/localtime")).unwrap(),
            Path::new("/usr/share/zoneinfo/Europe/Paris")
        );
        assert_eq!(
            std::fs::read_to_string(root.join("etc/timezone")).unwrap(),
            "Europe/Paris\n"
        );
        let err = apply(&root, "Mars/Olympus").unwrap_err().to_string();
        assert!(err.contains("Mars/Olympus"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
