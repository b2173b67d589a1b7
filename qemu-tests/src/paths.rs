//! Where the harness reads and writes: the workspace root, the built image, and one fresh run
//! directory per test (`target/qemu-tests/<test>/`) holding console logs, disks and sockets.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("qemu-tests lives one level below the workspace root")
        .to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR` when set, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// The directory `cargo xtask image` writes (`PLINTH_IMAGE_DIR` overrides it).
pub fn image_dir() -> PathBuf {
    std::env::var_os("PLINTH_IMAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("image"))
}

/// The Debian root the image's squashfs is packed from (`<image dir>/mkosi/out/tree`), with
/// Plinth's files installed: host tests run the image's own programs from it (etcd, the Kubernetes
/// multicall binary at `usr/bin/kubernetes`). Hold [`crate::image::ImageLock::shared`] on
/// [`image_dir`] while using it, as a build rewrites it.
pub fn image_tree() -> PathBuf {
    image_dir().join("mkosi/out/tree")
}

/// A directory owned by one test or one `cargo xtask qemu` run. Files in it survive the run so a
/// failure can be read afterwards.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Empties and recreates `target/qemu-tests/<name>/`.
    pub fn fresh(name: &str) -> std::io::Result<Self> {
        Self::fresh_at(target_dir().join("qemu-tests").join(sanitize(name)))
    }

    /// Empties and recreates `path`.
    pub fn fresh_at(path: PathBuf) -> std::io::Result<Self> {
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// Uses `path` as it is, creating it when missing.
    pub fn existing(path: PathBuf) -> std::io::Result<Self> {
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

/// A test name made safe as one path component.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_names_become_single_path_components() {
        assert_eq!(
            sanitize("boot::uefi reaches/ready"),
            "boot__uefi_reaches_ready"
        );
        assert_eq!(sanitize("plain-name_1"), "plain-name_1");
    }

    #[test]
    fn fresh_run_dir_is_empty() {
        let base = target_dir().join("qemu-tests").join("unit-fresh-run-dir");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("old.log"), "x").unwrap();
        let dir = RunDir::fresh_at(base.clone()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        std::fs::remove_dir_all(base).unwrap();
    }
}
