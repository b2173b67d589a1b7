//! Replacing a file atomically: the bytes go to a temporary file beside it, created with its final
//! mode (so a secret is never readable by others, not even for a moment), then renamed over it.
//! Readers see the old contents or the new, never half; a crash leaves at worst the temporary file.
//! The file is fsynced before the rename and its directory after, so once `write` returns the new
//! contents survive a power cut (without the first, ext4 may commit the rename before the data,
//! leaving an empty file after a crash). Missing parent directories are created.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Writes `bytes` to `path` atomically, the file getting `mode` (0o600 for secrets, 0o644 else).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)?;
    // The mode given at creation is masked by the umask; a temporary file left by an earlier crash
    // keeps its old mode. Either way, set it.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_files_with_their_mode_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("plinth-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("sub/secret.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        // A leftover from a crash, world-readable: the new file must not inherit that.
        std::fs::write(dir.join("sub/secret.yaml.tmp"), "old").unwrap();
        std::fs::set_permissions(
            dir.join("sub/secret.yaml.tmp"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        write(&path, b"token: s3cret\n", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "token: s3cret\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.join("sub/secret.yaml.tmp").exists());
        write(&dir.join("new/dir/plain.txt"), b"x", 0o644).unwrap();
        let mode = std::fs::metadata(dir.join("new/dir/plain.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
