//! NoCloud seeds: a small volume labelled `cidata` holding `user-data`, `meta-data` and optionally
//! `network-config`, exactly as cloud-init's `cloud-localds` makes them, so a guest reads it as it
//! would any NoCloud seed. The one place seeds are made, for the tests and for `cargo xtask qemu`.
//!
//! vfat is made without mounting (the host may lack vfat): `mkfs.vfat -C` then `mcopy`
//! (`MTOOLS_SKIP_CHECK=1` because the image is not a floppy); iso9660 with `genisoimage` or
//! `xorriso`, volume id `cidata`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The volume label cloud-init's NoCloud source looks for.
pub const LABEL: &str = "cidata";

/// The files of a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seed {
    pub user_data: String,
    pub meta_data: String,
    pub network_config: Option<String>,
}

/// The filesystem the seed is written as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedFormat {
    Vfat,
    Iso9660,
}

/// Why a seed could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("seed directory {0} has no user-data")]
    NoUserData(PathBuf),
    #[error("could not run {command}: {source} (install it: `cargo xtask prereqs`)")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} failed: {stderr}")]
    Tool { command: String, stderr: String },
    #[error("neither genisoimage nor xorriso is installed")]
    NoIsoTool,
}

impl Seed {
    /// A seed whose user-data is `user_data`, with a meta-data naming the instance and host.
    pub fn new(user_data: &str, instance_id: &str, hostname: &str) -> Self {
        Self {
            user_data: user_data.to_string(),
            meta_data: meta_data(instance_id, hostname),
            network_config: None,
        }
    }

    /// The seed files found in `dir` (`user-data` required; a missing `meta-data` is generated
    /// from the directory name).
    pub fn from_dir(dir: &Path) -> Result<Self, SeedError> {
        let read = |name: &str| -> Result<Option<String>, SeedError> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(SeedError::Io { path, source }),
            }
        };
        let user_data = read("user-data")?.ok_or_else(|| SeedError::NoUserData(dir.into()))?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "plinth".into());
        Ok(Self {
            user_data,
            meta_data: read("meta-data")?.unwrap_or_else(|| meta_data(&name, &name)),
            network_config: read("network-config")?,
        })
    }

    /// The files as (name, content), in the order they are written.
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        let mut files = vec![
            ("user-data", self.user_data.as_str()),
            ("meta-data", self.meta_data.as_str()),
        ];
        if let Some(net) = &self.network_config {
            files.push(("network-config", net.as_str()));
        }
        files
    }

    /// Writes the seed volume to `out` (replacing it); the files are staged beside it in
    /// `<out>.d/`.
    pub fn write(&self, format: SeedFormat, out: &Path) -> Result<(), SeedError> {
        let staging = out.with_extension("d");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SeedError::Io { path, source }
        };
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(io(&staging))?;
        let mut paths = Vec::new();
        for (name, content) in self.files() {
            let path = staging.join(name);
            std::fs::write(&path, content).map_err(io(&path))?;
            paths.push(path);
        }
        match std::fs::remove_file(out) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(SeedError::Io {
                    path: out.into(),
                    source: e,
                });
            }
            _ => {}
        }
        match format {
            SeedFormat::Vfat => {
                let total: usize = self.files().iter().map(|(_, c)| c.len()).sum();
                let mut mkfs = Command::new("mkfs.vfat");
                mkfs.arg("-C")
                    .args(["-n", LABEL])
                    .arg(out)
                    .arg(vfat_blocks(total).to_string());
                run(&mut mkfs)?;
                let mut mcopy = Command::new("mcopy");
                mcopy.env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(out);
                mcopy.args(&paths).arg("::");
                run(&mut mcopy)
            }
            SeedFormat::Iso9660 => {
                let tool = ["genisoimage", "xorriso"]
                    .into_iter()
                    .find(|t| on_path(t))
                    .ok_or(SeedError::NoIsoTool)?;
                let mut cmd = Command::new(tool);
                if tool == "xorriso" {
                    cmd.args(["-as", "genisoimage"]);
                }
                cmd.arg("-quiet")
                    .arg("-output")
                    .arg(out)
                    .args(["-volid", LABEL, "-joliet", "-rock"])
                    .args(&paths);
                run(&mut cmd)
            }
        }
    }
}

/// The NoCloud meta-data for an instance.
pub fn meta_data(instance_id: &str, hostname: &str) -> String {
    format!("instance-id: {instance_id}\nlocal-hostname: {hostname}\n")
}

/// Size of the vfat volume in KiB blocks for `content_bytes` of files: at least 2 MiB, always
/// twice the content plus room for the FAT and directory.
pub fn vfat_blocks(content_bytes: usize) -> usize {
    (content_bytes.div_ceil(1024) * 2 + 512).max(2048)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn run(cmd: &mut Command) -> Result<(), SeedError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| SeedError::Spawn {
        command: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(SeedError::Tool {
            command: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-seed")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn meta_data_names_instance_and_host() {
        assert_eq!(
            meta_data("i-1", "node-1"),
            "instance-id: i-1\nlocal-hostname: node-1\n"
        );
    }

    #[test]
    fn vfat_size_grows_with_content() {
        assert_eq!(vfat_blocks(10), 2048);
        assert_eq!(vfat_blocks(4 * 1024 * 1024), 8192 + 512);
    }

    #[test]
    fn seed_dir_needs_user_data_and_fills_in_meta_data() {
        let dir = scratch("lab-node");
        assert!(matches!(
            Seed::from_dir(&dir),
            Err(SeedError::NoUserData(_))
        ));
        std::fs::write(dir.join("user-data"), "#cloud-config\n").unwrap();
        std::fs::write(dir.join("network-config"), "version: 2\n").unwrap();
        let seed = Seed::from_dir(&dir).unwrap();
        assert_eq!(seed.meta_data, meta_data("lab-node", "lab-node"));
        let names: Vec<&str> = seed.files().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["user-data", "meta-data", "network-config"]);
    }

    /// Writes a real vfat seed and reads it back with mtools, as a guest would find it.
    #[test]
    fn vfat_seed_is_labelled_cidata_and_holds_the_files() {
        if !on_path("mkfs.vfat") || !on_path("mcopy") {
            crate::skip::unavailable(
                "vfat_seed",
                "mkfs.vfat/mtools not installed (cargo xtask prereqs)",
            );
            return;
        }
        let dir = scratch("vfat");
        let out = dir.join("seed.img");
        let seed = Seed::new("#cloud-config\nhostname: probe\n", "i-probe", "probe");
        seed.write(SeedFormat::Vfat, &out).unwrap();
        // Writing again replaces the volume rather than failing on the existing file.
        seed.write(SeedFormat::Vfat, &out).unwrap();
        let label = Command::new("mlabel")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-s", "-i"])
            .arg(&out)
            .arg("::")
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&label.stdout).contains("cidata"));
        let typed = Command::new("mtype")
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(&out)
            .arg("::user-data")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&typed.stdout),
            "#cloud-config\nhostname: probe\n"
        );
    }

    /// Writes a real iso9660 seed and checks the volume id and a file in it.
    #[test]
    fn iso_seed_has_volume_id_cidata() {
        if !on_path("genisoimage") && !on_path("xorriso") {
            crate::skip::unavailable("iso_seed", "neither genisoimage nor xorriso is installed");
            return;
        }
        let dir = scratch("iso");
        let out = dir.join("seed.iso");
        Seed::new("#cloud-config\n", "i-iso", "iso")
            .write(SeedFormat::Iso9660, &out)
            .unwrap();
        let bytes = std::fs::read(&out).unwrap();
        // The primary volume descriptor is sector 16; its volume id is at offset 40, 32 bytes.
        let pvd = &bytes[16 * 2048..17 * 2048];
        assert_eq!(&pvd[1..6], b"CD001");
        assert_eq!(String::from_utf8_lossy(&pvd[40..72]).trim_end(), LABEL);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("local-hostname: iso"));
    }
}
