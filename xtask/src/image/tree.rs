//! The Debian tree: built by mkosi from `image/` only when the inputs' key changed, then pruned
//! (kernel modules, see `modules`) and re-indexed with the tree's own depmod. The key is written
//! last, so an interrupted build is redone rather than trusted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::{inputs, modules};
use crate::cmd;

/// The prepared tree and what is known about it.
#[derive(Debug, Clone)]
pub struct Tree {
    pub root: PathBuf,
    /// The kernel release, e.g. `6.12.118+deb13-amd64`.
    pub kernel_release: String,
    /// mkosi's JSON manifest (package names and versions).
    pub mkosi_manifest: PathBuf,
    pub reused: bool,
}

/// Builds or reuses the tree under `work` (`target/image/mkosi`).
pub fn ensure(image_dir: &Path, work: &Path) -> Result<Tree> {
    let version = cmd::output(&mut cmd::cmd("mkosi", ["--version"]))
        .context("mkosi is missing: run `cargo xtask prereqs`")?;
    let key = inputs::tree_key(image_dir, &version)?;
    let out = work.join("out");
    let root = out.join("tree");
    let key_file = work.join("tree.key");
    let stored = std::fs::read_to_string(&key_file).unwrap_or_default();
    let reused = stored.trim() == key && root.join("usr").is_dir();
    if reused {
        eprintln!(
            "image: reusing the Debian tree {} (inputs key {})",
            root.display(),
            &key[..12]
        );
    } else {
        let _ = std::fs::remove_file(&key_file);
        build(image_dir, work, &out)?;
    }
    let kernel_release = kernel_release(&root)?;
    if !reused {
        prune(&root, &kernel_release)?;
        std::fs::write(&key_file, format!("{key}\n"))?;
    }
    Ok(Tree {
        mkosi_manifest: out.join("tree.manifest"),
        root,
        kernel_release,
        reused,
    })
}

/// Runs mkosi on the recipe in `image_dir` into `out` (its `tree/`), with its cache in `work`.
pub fn build(image_dir: &Path, work: &Path, out: &Path) -> Result<()> {
    let started = Instant::now();
    eprintln!("image: building the Debian tree with mkosi (inputs changed); about 1-2 minutes");
    std::fs::create_dir_all(out)?;
    let cache = work.join("cache");
    std::fs::create_dir_all(&cache)?;
    let mut mkosi = cmd::cmd("mkosi", ["--force"]);
    mkosi
        .arg("--directory")
        .arg(image_dir)
        .arg("--output-dir")
        .arg(out)
        .arg("--cache-dir")
        .arg(&cache)
        .arg("build");
    cmd::run(&mut mkosi)?;
    eprintln!(
        "image: mkosi done in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The one kernel release under `usr/lib/modules`.
fn kernel_release(root: &Path) -> Result<String> {
    let dir = root.join("usr/lib/modules");
    let releases: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .filter(|e| e.path().join("modules.dep").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    match releases.as_slice() {
        [one] => Ok(one.clone()),
        other => bail!("expected one kernel in {}, found {other:?}", dir.display()),
    }
}

fn prune(root: &Path, release: &str) -> Result<()> {
    let started = Instant::now();
    let moddir = root.join("usr/lib/modules").join(release);
    let (count, bytes) = modules::prune(&moddir)?;
    // The tree's own depmod (trixie's kmod), run in a chroot of the tree.
    cmd::output(&mut cmd::cmd(
        "chroot",
        [
            root.as_os_str(),
            "depmod".as_ref(),
            "-a".as_ref(),
            release.as_ref(),
        ],
    ))?;
    eprintln!(
        "image: pruned {count} kernel modules ({} MiB) and ran depmod in {:.1}s",
        bytes / (1024 * 1024),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
