//! The built image as the harness uses it: the files `cargo xtask image` leaves in `target/image/`
//! (`disk.raw`, `pxe/vmlinuz`, `pxe/initrd`, `pxe/rootfs.img`, `pxe/boot.ipxe`, `manifest.json`)
//! and the kernel command line the PXE set boots with.
//!
//! The command line comes from `manifest.json` (a string field `cmdline` or `kernel_cmdline`,
//! at the top or in an object below it) or else from the `kernel` line of `pxe/boot.ipxe`, without
//! iPXE's own `initrd=` arguments; `console=ttyS0` is added when the image does not name a serial
//! console, since QEMU's serial port is the harness's only view of the guest.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Paths of one built image.
#[derive(Clone, Debug)]
pub struct ImageSet {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub disk: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub rootfs: PathBuf,
    /// The kernel command line for direct kernel (PXE-style) boots.
    pub cmdline: String,
}

/// A lock on the image directory's `.lock`: `cargo xtask image` holds it exclusively while it
/// writes, machines hold it shared while they run, so no build rewrites the files a running
/// machine reads and a build waits for the machines.
#[derive(Debug)]
pub struct ImageLock {
    _file: std::fs::File,
}

impl ImageLock {
    /// For a machine: waits for any build in `dir` to finish, then holds the lock until dropped.
    pub fn shared(dir: &Path) -> std::io::Result<Self> {
        Self::take(dir, false)
    }

    /// For a build: waits for the machines and any other build using `dir`, then holds the lock
    /// until dropped.
    pub fn exclusive(dir: &Path) -> std::io::Result<Self> {
        Self::take(dir, true)
    }

    fn take(dir: &Path, exclusive: bool) -> std::io::Result<Self> {
        use rustix::fs::{FlockOperation, flock};
        let (at_once, waiting, holders) = if exclusive {
            (
                FlockOperation::NonBlockingLockExclusive,
                FlockOperation::LockExclusive,
                "running machines or another image build",
            )
        } else {
            (
                FlockOperation::NonBlockingLockShared,
                FlockOperation::LockShared,
                "an image build",
            )
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        if flock(&file, at_once).is_err() {
            eprintln!(
                "{}/.lock is held by {holders}; waiting for it",
                dir.display()
            );
            flock(&file, waiting)?;
        }
        Ok(Self { _file: file })
    }
}

/// Why the image could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no image in {0}: build it with `cargo xtask image --dev`")]
    NotBuilt(PathBuf),
    #[error("the image in {dir} lacks {missing}: rebuild it with `cargo xtask image --dev`")]
    Incomplete { dir: PathBuf, missing: PathBuf },
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: not JSON: {1}")]
    Manifest(PathBuf, serde_json::Error),
    #[error("neither {manifest} nor {ipxe} says which kernel command line the image boots with")]
    NoCmdline { manifest: PathBuf, ipxe: PathBuf },
}

impl ImageSet {
    /// The image in `dir`, checking that every file is there.
    pub fn locate(dir: &Path) -> Result<Self, ImageError> {
        let manifest = dir.join("manifest.json");
        if !manifest.is_file() {
            return Err(ImageError::NotBuilt(dir.into()));
        }
        let set = Self {
            dir: dir.into(),
            disk: dir.join("disk.raw"),
            kernel: dir.join("pxe/vmlinuz"),
            initrd: dir.join("pxe/initrd"),
            rootfs: dir.join("pxe/rootfs.img"),
            cmdline: String::new(),
            manifest,
        };
        for path in [&set.disk, &set.kernel, &set.initrd, &set.rootfs] {
            if !path.is_file() {
                return Err(ImageError::Incomplete {
                    dir: dir.into(),
                    missing: path.clone(),
                });
            }
        }
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| ImageError::Read {
                path: path.into(),
                source,
            })
        };
        let manifest_json: Value = serde_json::from_str(&read(&set.manifest)?)
            .map_err(|e| ImageError::Manifest(set.manifest.clone(), e))?;
        let ipxe = dir.join("pxe/boot.ipxe");
        let cmdline = cmdline_from_manifest(&manifest_json)
            .or_else(|| read(&ipxe).ok().and_then(|s| cmdline_from_ipxe(&s)))
            .ok_or_else(|| ImageError::NoCmdline {
                manifest: set.manifest.clone(),
                ipxe: ipxe.clone(),
            })?;
        Ok(Self {
            cmdline: with_serial_console(&cmdline),
            ..set
        })
    }

    /// The image in `target/image/` (or `PLINTH_IMAGE_DIR`).
    pub fn default_location() -> Result<Self, ImageError> {
        Self::locate(&crate::paths::image_dir())
    }

    /// For tests: the image, or `None` after printing why the test is skipped.
    pub fn for_test(test: &str) -> Option<Self> {
        match Self::default_location() {
            Ok(set) => Some(set),
            Err(ImageError::NotBuilt(dir)) => {
                crate::skip::unavailable(
                    test,
                    &format!(
                        "no image in {} (manifest.json missing); `cargo xtask test` builds it, or run `cargo xtask image --dev`",
                        dir.display()
                    ),
                );
                None
            }
            Err(e) => panic!("{test}: the image cannot be used: {e}"),
        }
    }
}

/// A `cmdline`/`kernel_cmdline` string in the manifest, at the top level or one level down.
pub fn cmdline_from_manifest(manifest: &Value) -> Option<String> {
    let direct = |v: &Value| {
        ["cmdline", "kernel_cmdline"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
    };
    direct(manifest).or_else(|| manifest.as_object()?.values().find_map(direct))
}

/// The arguments of the `kernel` (or `chain`) line of an iPXE script, without `initrd=` arguments
/// and without the kernel file itself.
pub fn cmdline_from_ipxe(script: &str) -> Option<String> {
    script.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let verb = words.next()?;
        if verb != "kernel" && verb != "chain" {
            return None;
        }
        // Options come first; `--name x`, `-n x`, `--timeout x` and `-t x` take a value.
        let mut words = words.peekable();
        while let Some(w) = words.peek() {
            if !w.starts_with('-') {
                break;
            }
            let takes_value = matches!(*w, "--name" | "-n" | "--timeout" | "-t");
            words.next();
            if takes_value {
                words.next();
            }
        }
        words.next()?;
        let args: Vec<&str> = words.filter(|w| !w.starts_with("initrd=")).collect();
        Some(args.join(" "))
    })
}

/// `cmdline` with `console=ttyS0` added unless it already names a serial console.
pub fn with_serial_console(cmdline: &str) -> String {
    if cmdline
        .split_whitespace()
        .any(|w| w.starts_with("console=ttyS"))
    {
        cmdline.trim().to_string()
    } else {
        format!("{} console=ttyS0", cmdline.trim())
            .trim()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cmdline_is_read_from_the_manifest() {
        assert_eq!(
            cmdline_from_manifest(&json!({"cmdline": "console=ttyS0 quiet"})).as_deref(),
            Some("console=ttyS0 quiet")
        );
        assert_eq!(
            cmdline_from_manifest(&json!({"boot": {"kernel_cmdline": "plinth.slot=a"}})).as_deref(),
            Some("plinth.slot=a")
        );
        assert_eq!(cmdline_from_manifest(&json!({"artifacts": []})), None);
    }

    #[test]
    fn cmdline_is_read_from_the_ipxe_script() {
        let script = "#!ipxe\n# Plinth\nkernel --name vmlinuz vmlinuz initrd=initrd initrd=rootfs.img console=ttyS0 plinth.slot=a\ninitrd initrd\ninitrd rootfs.img\nboot\n";
        assert_eq!(
            cmdline_from_ipxe(script).as_deref(),
            Some("console=ttyS0 plinth.slot=a")
        );
        assert_eq!(
            cmdline_from_ipxe("kernel ${base}/vmlinuz quiet\n").as_deref(),
            Some("quiet")
        );
        assert_eq!(
            cmdline_from_ipxe("kernel --name=k -t 5000 http://x/vmlinuz a=1\n").as_deref(),
            Some("a=1")
        );
        assert_eq!(cmdline_from_ipxe("#!ipxe\nboot\n"), None);
    }

    #[test]
    fn a_serial_console_is_added_once() {
        assert_eq!(with_serial_console("quiet"), "quiet console=ttyS0");
        assert_eq!(
            with_serial_console("console=tty0 console=ttyS0,115200"),
            "console=tty0 console=ttyS0,115200"
        );
        assert_eq!(with_serial_console(""), "console=ttyS0");
    }

    /// Machines share the image; a build (exclusive) must wait for them.
    #[test]
    fn the_image_lock_is_shared_by_machines_and_excludes_a_build() {
        use rustix::fs::{FlockOperation, flock};
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-image-lock");
        std::fs::create_dir_all(&dir).unwrap();
        let first = ImageLock::shared(&dir).unwrap();
        let second = ImageLock::shared(&dir).unwrap();
        let build = std::fs::File::create(dir.join(".lock")).unwrap();
        assert!(flock(&build, FlockOperation::NonBlockingLockExclusive).is_err());
        drop((first, second));
        assert!(flock(&build, FlockOperation::NonBlockingLockExclusive).is_ok());
    }

    /// A build holds the lock alone: a machine must wait for it.
    #[test]
    fn a_build_holds_the_image_lock_alone() {
        use rustix::fs::{FlockOperation, flock};
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-image-lock-build");
        std::fs::create_dir_all(&dir).unwrap();
        let build = ImageLock::exclusive(&dir).unwrap();
        let machine = std::fs::File::open(dir.join(".lock")).unwrap();
        assert!(flock(&machine, FlockOperation::NonBlockingLockShared).is_err());
        drop(build);
        assert!(flock(&machine, FlockOperation::NonBlockingLockShared).is_ok());
    }

    #[test]
    fn a_missing_manifest_means_not_built() {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-image-none");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            ImageSet::locate(&dir),
            Err(ImageError::NotBuilt(_))
        ));
    }

    #[test]
    fn an_incomplete_image_names_the_missing_file() {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-image-partial");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pxe")).unwrap();
        std::fs::write(dir.join("manifest.json"), "{}").unwrap();
        std::fs::write(dir.join("disk.raw"), "").unwrap();
        match ImageSet::locate(&dir) {
            Err(ImageError::Incomplete { missing, .. }) => {
                assert_eq!(missing, dir.join("pxe/vmlinuz"))
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
