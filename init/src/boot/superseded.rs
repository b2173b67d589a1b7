//! A seed replaced by `plinthctl config apply`. Seeds come before the persisted copy in DESIGN's
//! order, so without this a node whose (say, invalid) seed was corrected by an applied config
//! would go back to that seed — and to maintenance mode — at the next boot. When a config is
//! applied, the fingerprint of the seed or config drive the boot had read is kept in a marker
//! beside the persisted copy; a later boot skips a seed with that exact fingerprint and says so,
//! so the applied config stays in effect. A seed that changes in any way wins again, and a boot
//! whose config came from a seed clears the marker.
//!
//! The fingerprint is the SHA-256 of every file of the mounted seed (names and contents, in name
//! order). URL sources are not fingerprinted: whoever serves them decides what a node boots.

use std::path::{Path, PathBuf};

use plinth_config::sources::select::Candidate;
use sha2::{Digest, Sha256};

/// A seed larger than this (all files together) is never fingerprinted, so never skipped.
const MAX_SEED_BYTES: u64 = 16 << 20;
/// How deep a config drive's tree is read (`openstack/latest/user_data` is two levels down).
const MAX_DEPTH: usize = 4;

/// The marker's path: beside the persisted copy `persisted`.
pub fn marker_path(persisted: &Path) -> PathBuf {
    persisted.with_file_name("config.superseded")
}

/// The fingerprint of a seed or config drive candidate; `None` for any other candidate, or a
/// seed that cannot be read whole.
pub fn fingerprint(candidate: &Candidate) -> Option<String> {
    let dir = match candidate {
        Candidate::NoCloudDir(dir) | Candidate::ConfigDrive(dir) => dir,
        _ => return None,
    };
    let mut files = Vec::new();
    collect(dir, Path::new(""), 0, &mut files).ok()?;
    files.sort();
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    for relative in files {
        let bytes = std::fs::read(dir.join(&relative)).ok()?;
        total += bytes.len() as u64;
        if total > MAX_SEED_BYTES {
            return None;
        }
        hasher.update(relative.as_os_str().as_encoded_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Some(format!("{:x}", hasher.finalize()))
}

fn collect(
    root: &Path,
    relative: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = relative.join(entry.file_name());
        if kind.is_file() {
            out.push(path);
        } else if kind.is_dir() && depth < MAX_DEPTH {
            collect(root, &path, depth + 1, out)?;
        }
    }
    Ok(())
}

/// The candidates minus those whose fingerprint is `marker`'s, and the skipped ones. Pure but for
/// `fingerprint_of`, which the boot gives as [`fingerprint`].
pub fn skip_superseded(
    candidates: Vec<Candidate>,
    marker: Option<&str>,
    fingerprint_of: impl Fn(&Candidate) -> Option<String>,
) -> (Vec<Candidate>, Vec<Candidate>) {
    let Some(marker) = marker else {
        return (candidates, Vec::new());
    };
    candidates
        .into_iter()
        .partition(|c| fingerprint_of(c).as_deref() != Some(marker))
}

/// The fingerprint in the marker file, if there is a well-formed one.
pub fn read_marker(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_marker(&text)
}

fn parse_marker(text: &str) -> Option<String> {
    let hex = text.lines().find_map(|l| l.strip_prefix("sha256 "))?.trim();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_string())
}

/// Keeps `fingerprint` as the superseded seed, or removes the marker when the boot had no seed.
pub fn mark(path: &Path, fingerprint: Option<&str>, seed: &str) -> std::io::Result<()> {
    let Some(fingerprint) = fingerprint else {
        return clear(path);
    };
    let text = format!(
        "# Written by `plinthctl config apply`: the config it applied replaced {seed}.\n\
         # Boots skip that seed while its contents are unchanged; change the seed (or delete this\n\
         # file) to have it read again.\n\
         sha256 {fingerprint}\n"
    );
    crate::atomic_file::write(path, text.as_bytes(), 0o644)
}

/// Removes the marker (there being none is fine).
pub fn clear(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-sup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_seed_fingerprint_changes_with_any_file_and_only_then() {
        let dir = scratch("fp");
        std::fs::write(dir.join("user-data"), "#cloud-config\nhostname: a\n").unwrap();
        std::fs::write(dir.join("meta-data"), "instance-id: i-1\n").unwrap();
        let seed = Candidate::NoCloudDir(dir.clone());
        let first = fingerprint(&seed).unwrap();
        assert_eq!(fingerprint(&seed).unwrap(), first, "stable");
        std::fs::write(dir.join("meta-data"), "instance-id: i-2\n").unwrap();
        let second = fingerprint(&seed).unwrap();
        assert_ne!(second, first, "meta-data counts");
        std::fs::create_dir_all(dir.join("openstack/latest")).unwrap();
        std::fs::write(dir.join("openstack/latest/user_data"), "x").unwrap();
        assert_ne!(fingerprint(&seed).unwrap(), second, "nested files count");
        assert_eq!(fingerprint(&Candidate::ImageDefault), None);
        assert_eq!(
            fingerprint(&Candidate::NoCloudDir(dir.join("missing"))),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_seed_with_the_marked_fingerprint_is_skipped() {
        let seed = Candidate::NoCloudDir("/run/plinth/media/cidata".into());
        let drive = Candidate::ConfigDrive("/run/plinth/media/config-2".into());
        let persisted = Candidate::Persisted("/var/lib/plinth/config.yaml".into());
        let all = vec![
            seed.clone(),
            drive.clone(),
            persisted.clone(),
            Candidate::ImageDefault,
        ];
        let fp = |c: &Candidate| match c {
            Candidate::NoCloudDir(_) => Some("aa".to_string()),
            Candidate::ConfigDrive(_) => Some("bb".to_string()),
            _ => None,
        };
        let (kept, skipped) = skip_superseded(all.clone(), Some("aa"), fp);
        assert_eq!(skipped, vec![seed]);
        assert_eq!(kept, vec![drive, persisted, Candidate::ImageDefault]);
        let (kept, skipped) = skip_superseded(all.clone(), None, fp);
        assert_eq!((kept, skipped.len()), (all.clone(), 0));
        let (kept, _) = skip_superseded(all.clone(), Some("cc"), fp);
        assert_eq!(kept, all, "a changed seed wins again");
    }

    #[test]
    fn the_marker_round_trips_and_refuses_junk() {
        let dir = scratch("marker");
        let path = marker_path(&dir.join("config.yaml"));
        assert_eq!(path, dir.join("config.superseded"));
        let hex = "ab".repeat(32);
        mark(&path, Some(&hex), "NoCloud seed /run/plinth/media/cidata").unwrap();
        assert_eq!(read_marker(&path), Some(hex));
        mark(&path, None, "-").unwrap();
        assert_eq!(read_marker(&path), None);
        clear(&path).unwrap();
        assert_eq!(parse_marker("sha256 xyz\n"), None);
        assert_eq!(parse_marker("# only a comment\n"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
