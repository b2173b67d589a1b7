//! The cache key of the Debian tree: a sha256 over every file under `image/` that mkosi reads
//! (path, executable bits and contents), the mkosi version, and the module-pruning policy's version, so the
//! tree is rebuilt exactly when one of them changes.

use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Bump when the xtask changes what it does to the mkosi tree after mkosi (pruning, depmod).
const TREE_RECIPE: &str = "plinth-tree-recipe-2";

/// Files of `image/` that do not feed mkosi, so editing them keeps the tree: documentation, and
/// the sources of programs built for the image by their own tools with their own caches: the Go
/// module of the Kubernetes binary (`kubernetes`) and the pause program (a cargo crate).
fn ignored(rel: &str) -> bool {
    rel.ends_with(".md") || rel.starts_with("kubernetes/") || rel.starts_with("pause/")
}

/// The cache key for the tree built from `image_dir` by `mkosi_version`.
pub fn tree_key(image_dir: &Path, mkosi_version: &str) -> Result<String> {
    let mut files = Vec::new();
    collect(image_dir, image_dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    hasher.update(TREE_RECIPE.as_bytes());
    hasher.update([0]);
    hasher.update(mkosi_version.trim().as_bytes());
    hasher.update([0]);
    for (rel, mode, contents) in files {
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update(mode.to_le_bytes());
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, u32, Vec<u8>)>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path)?;
        let rel = path
            .strip_prefix(root)
            .expect("walked below root")
            .to_string_lossy()
            .into_owned();
        if meta.is_dir() {
            collect(root, &path, out)?;
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            out.push((
                rel,
                0o120_000,
                target.to_string_lossy().into_owned().into_bytes(),
            ));
        } else if !ignored(&rel) {
            let contents =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            // Only the executable bit: git keeps nothing else, so clones with another umask
            // get the same key.
            out.push((rel, meta.permissions().mode() & 0o111, contents));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-inputs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("mkosi.conf"), "[Distribution]\n").unwrap();
        std::fs::write(dir.join("sub/packages"), "udev\n").unwrap();
        dir
    }

    #[test]
    fn key_changes_with_content_and_version_but_not_docs() {
        let dir = scratch("key");
        let first = tree_key(&dir, "mkosi 24.3").unwrap();
        assert_eq!(first, tree_key(&dir, "mkosi 24.3").unwrap());
        std::fs::write(dir.join("README.md"), "docs only").unwrap();
        assert_eq!(first, tree_key(&dir, "mkosi 24.3").unwrap());
        std::fs::create_dir_all(dir.join("kubernetes")).unwrap();
        std::fs::write(dir.join("kubernetes/main.go"), "package main").unwrap();
        assert_eq!(
            first,
            tree_key(&dir, "mkosi 24.3").unwrap(),
            "the Go module has its own key"
        );
        assert_ne!(first, tree_key(&dir, "mkosi 25").unwrap());
        use std::os::unix::fs::PermissionsExt;
        let packages = dir.join("sub/packages");
        std::fs::set_permissions(&packages, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert_eq!(
            first,
            tree_key(&dir, "mkosi 24.3").unwrap(),
            "umask must not matter"
        );
        std::fs::set_permissions(&packages, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(
            first,
            tree_key(&dir, "mkosi 24.3").unwrap(),
            "executable bit matters"
        );
        std::fs::write(&packages, "udev\nkmod\n").unwrap();
        assert_ne!(first, tree_key(&dir, "mkosi 24.3").unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
