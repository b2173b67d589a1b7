//! Performing the planner's operations and the host's needs with the image's tools: `wipefs`,
//! `mkfs.ext4`/`mkfs.xfs`, `mount`, `lvm`, `modprobe`. Every command runs with stdin closed, so a
//! tool that would ask before destroying something gets "no". Tested in QEMU.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::action::Action;
use super::host::{CONFIGFS, HostNeeds, MULTIPATH_CONF};

const MIB: u64 = 1 << 20;

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} failed ({status}): {stderr}")]
    Tool {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Runs `program args`; an error carries its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<(), ApplyError> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(program)
        .args(args)
        .env("LVM_SUPPRESS_FD_WARNINGS", "1")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ApplyError::Spawn {
            command: command.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ApplyError::Tool {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

fn io(path: &str) -> impl FnOnce(std::io::Error) -> ApplyError + '_ {
    move |source| ApplyError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Zeros the first and last MiB of `dev`.
fn zero_ends(dev: &str) -> Result<(), ApplyError> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(io(dev))?;
    let size = f.seek(SeekFrom::End(0)).map_err(io(dev))?;
    let zeros = vec![0u8; MIB.min(size) as usize];
    for at in [0, size.saturating_sub(MIB)] {
        f.seek(SeekFrom::Start(at)).map_err(io(dev))?;
        f.write_all(&zeros).map_err(io(dev))?;
    }
    f.sync_all().map_err(io(dev))
}

/// Performs one operation; `lvm_config` is the `--config` every LVM command gets (the filter
/// of this run's disks).
pub fn apply(action: &Action, lvm_config: &str) -> Result<(), ApplyError> {
    let lvm = |args: &[&str]| {
        let mut all = vec![args[0], "--config", lvm_config];
        all.extend(&args[1..]);
        run("lvm", &all)
    };
    match action {
        Action::Wipe { dev, partitions } => {
            for p in partitions {
                run("wipefs", &["--all", "--force", p])?;
            }
            run("wipefs", &["--all", "--force", dev])?;
            zero_ends(dev)?;
            // The kernel forgets the partitions it knew (a disk with no table has none).
            let _ = run("blockdev", &["--rereadpt", dev]);
            Ok(())
        }
        Action::Mkfs {
            dev,
            filesystem,
            label,
        } => match filesystem.as_str() {
            "xfs" => run("mkfs.xfs", &["-q", "-L", label, dev]),
            _ => run("mkfs.ext4", &["-q", "-L", label, dev]),
        },
        Action::Mount {
            dev,
            path,
            filesystem,
        } => {
            fs::create_dir_all(path).map_err(io(path))?;
            run("mount", &["-t", filesystem, dev, path])?;
            run("mount", &["--make-rshared", path])
        }
        Action::PvCreate { dev } => lvm(&["pvcreate", "--metadatasize", "2048", dev]),
        Action::VgCreate { vg, devs } => {
            let mut args = vec!["vgcreate", vg.as_str()];
            args.extend(devs.iter().map(String::as_str));
            lvm(&args)
        }
        Action::VgExtend { vg, devs } => {
            let mut args = vec!["vgextend", vg.as_str()];
            args.extend(devs.iter().map(String::as_str));
            lvm(&args)
        }
        Action::VgActivate { vg } => lvm(&["vgchange", "--activate", "y", vg]),
    }
}

/// Writes `text` to `path` through a file beside it renamed over it.
pub fn write_file(path: &str, text: &str) -> Result<(), ApplyError> {
    if let Some(dir) = Path::new(path).parent() {
        fs::create_dir_all(dir).map_err(io(path))?;
    }
    let tmp = format!("{path}.plinth-new");
    fs::write(&tmp, text).map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

/// Whether something is mounted at `path`.
fn mounted(path: &str) -> bool {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    super::observe::parse_mountinfo(&info)
        .iter()
        .any(|(_, p)| p == path)
}

/// Loads the modules, mounts configfs and writes multipath.conf; returns one message per thing
/// that failed (the rest is still done).
pub fn host(needs: &HostNeeds) -> Vec<String> {
    let mut errors = Vec::new();
    for module in &needs.modules {
        if let Err(e) = run("modprobe", &[module]) {
            errors.push(format!("module {module}: {e}"));
        }
    }
    if needs.configfs
        && !mounted(CONFIGFS)
        && let Err(e) = run("mount", &["-t", "configfs", "configfs", CONFIGFS])
    {
        errors.push(format!("configfs: {e}"));
    }
    if let Some(text) = &needs.multipath_conf
        && let Err(e) = write_file(MULTIPATH_CONF, text)
    {
        errors.push(format!("multipath: {e}"));
    }
    errors
}
