//! Mount effects of stage 1: the pseudo filesystems, read-only root, overlays, loop devices for
//! a root image file, and the final switch into the real root (move it onto `/`, chroot, exec).

use std::convert::Infallible;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{MsFlags, mount};

/// A mount that failed.
#[derive(Debug, thiserror::Error)]
#[error("mount {fstype} {device} on {target}: {errno}")]
pub struct MountError {
    pub fstype: String,
    pub device: String,
    pub target: String,
    pub errno: nix::errno::Errno,
}

/// Mounts `source` on `target` (created if missing) as `fstype`.
pub fn mount_fs(
    source: &str,
    target: &str,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), MountError> {
    let _ = std::fs::create_dir_all(target);
    mount(Some(source), target, Some(fstype), flags, data).map_err(|errno| MountError {
        fstype: fstype.into(),
        device: source.into(),
        target: target.into(),
        errno,
    })
}

/// Moves the mount at `from` to `to`.
pub fn move_mount(from: &str, to: &str) -> Result<(), MountError> {
    let _ = std::fs::create_dir_all(to);
    mount(Some(from), to, None::<&str>, MsFlags::MS_MOVE, None::<&str>).map_err(|errno| {
        MountError {
            fstype: "(move)".into(),
            device: from.into(),
            target: to.into(),
            errno,
        }
    })
}

/// Bind-mounts `from` on `to`.
pub fn bind(from: &str, to: &str) -> Result<(), MountError> {
    mount(Some(from), to, None::<&str>, MsFlags::MS_BIND, None::<&str>).map_err(|errno| {
        MountError {
            fstype: "(bind)".into(),
            device: from.into(),
            target: to.into(),
            errno,
        }
    })
}

/// /proc, /sys and /dev of the initramfs.
pub fn mount_pseudo() -> Result<(), MountError> {
    let nosuid = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV;
    mount_fs("proc", "/proc", "proc", nosuid, None)?;
    mount_fs("sysfs", "/sys", "sysfs", nosuid, None)?;
    mount_fs(
        "devtmpfs",
        "/dev",
        "devtmpfs",
        MsFlags::MS_NOSUID,
        Some("mode=0755"),
    )
}

/// An overlay with the read-only `lower`, and upper/work directories below `state_dir`, mounted
/// on `target`.
pub fn overlay(target: &str, lower: &str, state_dir: &str) -> Result<(), MountError> {
    let upper = format!("{state_dir}/upper");
    let work = format!("{state_dir}/work");
    for dir in [&upper, &work] {
        let _ = std::fs::create_dir_all(dir);
    }
    let data = format!("lowerdir={lower},upperdir={upper},workdir={work}");
    mount_fs("overlay", target, "overlay", MsFlags::empty(), Some(&data))
}

/// Why a loop device could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;

/// Attaches `file` read-only to a free loop device and returns its path.
pub fn attach_loop(file: &str) -> Result<String, LoopError> {
    let io = |what: String| move |source| LoopError::Io { what, source };
    let control = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
        .map_err(io("opening /dev/loop-control".into()))?;
    // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number or -1.
    let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
    if n < 0 {
        return Err(io("LOOP_CTL_GET_FREE".into())(
            std::io::Error::last_os_error(),
        ));
    }
    let device = format!("/dev/loop{n}");
    let backing = File::open(file).map_err(io(format!("opening {file}")))?;
    let dev = OpenOptions::new()
        .read(true)
        .open(&device)
        .map_err(io(format!("opening {device}")))?;
    // SAFETY: LOOP_SET_FD takes the backing file's descriptor, which stays open for the call;
    // the kernel takes its own reference. A read-only backing file makes a read-only loop.
    let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_SET_FD as _, backing.as_raw_fd()) };
    if rc < 0 {
        return Err(io(format!("LOOP_SET_FD {device} ← {file}"))(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(device)
}

/// Why switching into the new root failed.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("chdir {0}: {1}")]
    Chdir(String, nix::errno::Errno),
    #[error("moving {0} onto /: {1}")]
    Move(String, nix::errno::Errno),
    #[error("chroot: {0}")]
    Chroot(nix::errno::Errno),
    #[error("exec {0}: {1}")]
    Exec(String, nix::errno::Errno),
}

/// `switch_root` done in Rust: chdir into `new_root`, move it onto `/`, chroot into it, and exec
/// `init` with `argv`. Returns only on failure.
pub fn switch_root(new_root: &str, init: &str, argv: &[String]) -> Result<Infallible, SwitchError> {
    nix::unistd::chdir(new_root).map_err(|e| SwitchError::Chdir(new_root.into(), e))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| SwitchError::Move(new_root.into(), e))?;
    nix::unistd::chroot(".").map_err(SwitchError::Chroot)?;
    nix::unistd::chdir("/").map_err(|e| SwitchError::Chdir("/".into(), e))?;
    let path = CString::new(init)
        .map_err(|_| SwitchError::Exec(init.into(), nix::errno::Errno::EINVAL))?;
    let args: Vec<CString> = argv
        .iter()
        .filter_map(|a| CString::new(a.as_str()).ok())
        .collect();
    let env = [c"PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_owned()];
    let err = nix::unistd::execve(&path, &args, &env).unwrap_err();
    Err(SwitchError::Exec(init.into(), err))
}

/// Whether `path` exists (following symlinks inside the current root).
pub fn exists(path: &str) -> bool {
    Path::new(path).exists()
}
