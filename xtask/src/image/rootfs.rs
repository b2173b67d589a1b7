//! The root filesystem image: the prepared Debian tree plus Plinth's own files (the static
//! binaries, `/sbin/init` → plinth-init, the embedded default config, the state mount point),
//! packed read-only as a squashfs — zstd for release builds, lz4 for `--dev`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::binaries::Binaries;
use crate::cmd;

/// Where the embedded default config lives in the root.
pub const DEFAULT_CONFIG: &str = "usr/lib/plinth/default-config.yaml";

/// Copies Plinth's files into `tree` (overwriting the previous build's).
pub fn install(tree: &Path, bins: &Binaries, config: &Path) -> Result<()> {
    for (src, dst) in [
        (&bins.init, "usr/bin/plinth-init"),
        (&bins.ctl, "usr/bin/plinthctl"),
        (&bins.agent, "usr/bin/plinth-agent"),
        (&bins.virt_check, "usr/bin/plinth-virt-check"),
    ] {
        let to = tree.join(dst);
        let _ = std::fs::remove_file(&to);
        std::fs::copy(src, &to)
            .with_context(|| format!("copying {} to {}", src.display(), to.display()))?;
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    }
    // systemd-sysv is not installed, so nothing else owns /usr/sbin/init.
    let init = tree.join("usr/sbin/init");
    let _ = std::fs::remove_file(&init);
    std::os::unix::fs::symlink("../bin/plinth-init", &init)?;
    let config_to = tree.join(DEFAULT_CONFIG);
    std::fs::create_dir_all(config_to.parent().expect("has a parent"))?;
    std::fs::copy(config, &config_to).with_context(|| format!("copying {}", config.display()))?;
    std::fs::create_dir_all(tree.join("state"))?;
    // Empty: stage 1 generates the id once and keeps it on the state partition.
    let machine_id = tree.join("etc/machine-id");
    let _ = std::fs::remove_file(&machine_id);
    std::fs::write(&machine_id, "")?;
    Ok(())
}

/// Compression of the root image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zstd level 19: smallest, slow to make.
    Release,
    /// lz4: fast to make, bigger.
    Dev,
}

/// mksquashfs arguments after the source and destination.
pub fn mksquashfs_args(compression: Compression, kernel_release: &str) -> Vec<String> {
    let mut args: Vec<String> = ["-noappend", "-quiet", "-no-progress"]
        .map(String::from)
        .to_vec();
    args.extend(match compression {
        Compression::Release => ["-comp", "zstd", "-Xcompression-level", "19", "-b", "1M"]
            .map(String::from)
            .to_vec(),
        Compression::Dev => ["-comp", "lz4"].map(String::from).to_vec(),
    });
    // The kernel boots from the ESP or PXE; its copies in the tree are dead weight.
    args.push("-e".into());
    args.extend([
        "boot".to_string(),
        "vmlinuz".into(),
        "vmlinuz.old".into(),
        "initrd.img".into(),
        "initrd.img.old".into(),
        format!("usr/lib/modules/{kernel_release}/vmlinuz"),
    ]);
    args
}

/// Packs `tree` into `out`.
pub fn pack(tree: &Path, out: &Path, compression: Compression, kernel_release: &str) -> Result<()> {
    let _ = std::fs::remove_file(out);
    let mut c = cmd::cmd("mksquashfs", [tree, out]);
    c.args(mksquashfs_args(compression, kernel_release));
    cmd::run(&mut c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_is_zstd_and_dev_is_lz4() {
        let rel = mksquashfs_args(Compression::Release, "6.12");
        assert!(rel.windows(2).any(|w| w == ["-comp", "zstd"]));
        let dev = mksquashfs_args(Compression::Dev, "6.12");
        assert!(dev.windows(2).any(|w| w == ["-comp", "lz4"]));
    }

    #[test]
    fn kernel_copies_are_excluded() {
        let args = mksquashfs_args(Compression::Dev, "6.12.1");
        let excluded = &args[args.iter().position(|a| a == "-e").unwrap() + 1..];
        assert!(excluded.contains(&"boot".to_string()));
        assert!(excluded.contains(&"usr/lib/modules/6.12.1/vmlinuz".to_string()));
    }
}
