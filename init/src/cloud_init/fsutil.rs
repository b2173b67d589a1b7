//! File effects the node steps share: replacing a file atomically with a mode, and telling whether
//! a path lies on a read-only filesystem (statvfs `ST_RDONLY` of its nearest existing ancestor).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Replaces `path` with `bytes` and `mode` through [`crate::atomic_file::write`] (so the temporary
/// file is never more readable than `mode`); a file replaced keeps its owner (so /etc/shadow stays
/// `root:shadow`; until the chown the new file is PID 1's, with `mode`, never more open).
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let old_owner = std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()));
    crate::atomic_file::write(path, bytes, mode)?;
    match old_owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

/// Whether `path` (or, when it does not exist yet, its nearest existing ancestor) is on a
/// filesystem mounted read-only.
pub fn on_read_only_fs(path: &Path) -> bool {
    let mut probe = Some(path);
    while let Some(p) = probe {
        if p.exists() {
            return nix::sys::statvfs::statvfs(p)
                .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
                .unwrap_or(false);
        }
        probe = p.parent();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn replace_sets_the_mode_and_proc_is_not_read_only_but_sysfs_ro_paths_are_found() {
        let dir = std::env::temp_dir().join(format!("plinth-fsu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        replace(&f, b"x", 0o600).unwrap();
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        assert!(!on_read_only_fs(&dir.join("not/yet/there")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
