//! The state partition: found by its ext4 label `PLINTH_STATE` on any block device, or created
//! on the first boot in the boot disk's free space after the root slots (the plan is
//! `state_plan`'s pure decision). Creating it runs the root image's own `sfdisk` and
//! `mkfs.ext4` inside a chroot of the mounted read-only root, so the initramfs carries no tools.

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use super::blockdev::{self, BlockDev};
use super::mounts;
use super::state_plan::{self, NoStatePlan, StatePlan};

/// The filesystem label (and GPT partition name) of the state partition.
pub const LABEL: &str = "PLINTH_STATE";
/// GPT type "Linux filesystem data".
const LINUX_DATA: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

/// The label of an ext2/3/4 filesystem from its first 2 KiB, if it is one.
pub fn ext_label(head: &[u8]) -> Option<String> {
    let sb = head.get(1024..1024 + 136)?;
    if sb.get(56..58)? != [0x53, 0xEF] {
        return None;
    }
    let raw = sb.get(120..136)?;
    let label = raw.split(|b| *b == 0).next().unwrap_or(raw);
    Some(String::from_utf8_lossy(label).into_owned())
}

fn read_head(dev: &str, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(format!("/dev/{dev}"))?;
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0; len];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// The device holding an ext4 filesystem labelled `PLINTH_STATE`, if any.
pub fn find(devs: &[BlockDev]) -> Option<BlockDev> {
    devs.iter()
        .filter(|d| d.size > 0 && !d.name.starts_with("loop") && !d.name.starts_with("sr"))
        .find(|d| {
            read_head(&d.name, 0, 2048)
                .ok()
                .and_then(|h| ext_label(&h))
                .is_some_and(|l| l == LABEL)
        })
        .cloned()
}

/// Why creating the state partition failed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    NoPlan(#[from] NoStatePlan),
    #[error(
        "the free space on {disk} at sector {start} is not blank (it holds data); leaving it untouched"
    )]
    NotBlank { disk: String, start: u64 },
    #[error("reading {disk}: {source}")]
    Read {
        disk: String,
        source: std::io::Error,
    },
    #[error("preparing the chroot: {0}")]
    Mount(#[from] mounts::MountError),
    #[error("`{command}` failed: {detail}")]
    Tool { command: String, detail: String },
    #[error("the new partition did not appear within 10 s")]
    NoNode,
}

/// Runs `argv` inside a chroot of `root` (with /dev, /proc, /sys bound in by the caller).
fn run_in_root(root: &str, argv: &[&str], stdin: Option<&str>) -> Result<(), CreateError> {
    let command = argv.join(" ");
    let tool = |detail: String| CreateError::Tool {
        command: command.clone(),
        detail,
    };
    let root_c = std::ffi::CString::new(root).map_err(|e| tool(e.to_string()))?;
    let [program, args @ ..] = argv else {
        return Err(tool("no program to run".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin")
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        });
    // SAFETY: chroot(2) and chdir(2) are async-signal-safe and touch no memory of the parent;
    // nix passes the C strings as they are (no allocation in the child); `root_c` outlives the
    // spawn.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::chroot(root_c.as_c_str())?;
            nix::unistd::chdir(c"/")?;
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| tool(e.to_string()))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        pipe.write_all(text.as_bytes())
            .map_err(|e| tool(e.to_string()))?;
    }
    let status = child.wait().map_err(|e| tool(e.to_string()))?;
    if !status.success() {
        return Err(tool(status.to_string()));
    }
    Ok(())
}

/// Plans, checks and creates the state partition on `disk`, then makes the filesystem.
/// `root` is the mounted root image (its tools run in a chroot). Returns the new device.
pub fn create(root: &str, disk: &BlockDev) -> Result<BlockDev, CreateError> {
    let plan: StatePlan = state_plan::plan(disk, &blockdev::scan("/sys/class/block".as_ref()))?;
    for (sector, len) in state_plan::probes(plan) {
        let bytes =
            read_head(&disk.name, sector * 512, len).map_err(|source| CreateError::Read {
                disk: disk.name.clone(),
                source,
            })?;
        if !state_plan::region_is_blank(&bytes) {
            return Err(CreateError::NotBlank {
                disk: disk.name.clone(),
                start: sector,
            });
        }
    }
    let binds = ["/dev", "/proc", "/sys"];
    for dir in binds {
        mounts::bind(dir, &format!("{root}{dir}"))?;
    }
    let result = partition_and_format(root, disk, plan);
    for dir in binds.iter().rev() {
        let _ = nix::mount::umount2(
            format!("{root}{dir}").as_str(),
            nix::mount::MntFlags::MNT_DETACH,
        );
    }
    result
}

/// The GPT entry number for a new partition on `disk`: one past the highest in use.
pub fn next_partition_number(disk: &BlockDev, devs: &[BlockDev]) -> u32 {
    devs.iter()
        .filter(|d| d.disk.as_deref() == Some(disk.name.as_str()))
        .filter_map(|d| d.partn)
        .max()
        .unwrap_or(0)
        + 1
}

/// The sfdisk script line for the state partition. sfdisk counts in the disk's logical
/// sectors, the plan in 512-byte units (as sysfs does).
pub fn sfdisk_line(plan: StatePlan, logical_block_size: u64) -> String {
    let per = logical_block_size.max(512) / 512;
    format!(
        "start={}, size={}, type={LINUX_DATA}, name=\"{LABEL}\"\n",
        plan.start / per,
        plan.size / per
    )
}

/// `BLKPG` ioctl and its "add partition" operation (linux/blkpg.h).
const BLKPG: libc::c_ulong = 0x1269;
const BLKPG_ADD_PARTITION: libc::c_int = 1;

#[repr(C)]
struct BlkpgPartition {
    start: libc::c_longlong,
    length: libc::c_longlong,
    pno: libc::c_int,
    devname: [libc::c_char; 64],
    volname: [libc::c_char; 64],
}

#[repr(C)]
struct BlkpgIoctlArg {
    op: libc::c_int,
    flags: libc::c_int,
    datalen: libc::c_int,
    data: *mut libc::c_void,
}

/// Tells the kernel about one new partition of an in-use disk (re-reading the whole table
/// fails with EBUSY while the root slot is mounted).
fn kernel_add_partition(disk: &str, pno: u32, plan: StatePlan) -> Result<(), CreateError> {
    use std::os::fd::AsRawFd;
    let io = |e: std::io::Error| CreateError::Tool {
        command: format!("BLKPG add partition {pno} to /dev/{disk}"),
        detail: e.to_string(),
    };
    let file = std::fs::File::open(format!("/dev/{disk}")).map_err(io)?;
    let mut part = BlkpgPartition {
        start: (plan.start * 512) as libc::c_longlong,
        length: (plan.size * 512) as libc::c_longlong,
        pno: pno as libc::c_int,
        devname: [0; 64],
        volname: [0; 64],
    };
    let mut arg = BlkpgIoctlArg {
        op: BLKPG_ADD_PARTITION,
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as libc::c_int,
        data: (&raw mut part).cast(),
    };
    // SAFETY: BLKPG reads one blkpg_ioctl_arg whose data points at a blkpg_partition of
    // `datalen` bytes; both live on this stack frame for the whole call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), BLKPG as _, &raw mut arg) };
    if rc != 0 {
        return Err(io(std::io::Error::last_os_error()));
    }
    Ok(())
}

fn partition_and_format(
    root: &str,
    disk: &BlockDev,
    plan: StatePlan,
) -> Result<BlockDev, CreateError> {
    let node = format!("/dev/{}", disk.name);
    let quiet = ["--quiet", "--no-reread", "--no-tell-kernel"];
    // A disk image grown after it was written keeps its backup GPT in the middle; move it to
    // the end first (a no-op otherwise).
    let mut relocate = vec!["/usr/sbin/sfdisk"];
    relocate.extend(quiet);
    relocate.extend(["--relocate", "gpt-bak-std", &node]);
    run_in_root(root, &relocate, None)?;
    let pno = next_partition_number(disk, &blockdev::scan("/sys/class/block".as_ref()));
    let pno_text = pno.to_string();
    let block_size = std::fs::read_to_string(format!(
        "/sys/class/block/{}/queue/logical_block_size",
        disk.name
    ))
    .ok()
    .and_then(|s| s.trim().parse().ok())
    .unwrap_or(512);
    let script = sfdisk_line(plan, block_size);
    let mut add = vec!["/usr/sbin/sfdisk"];
    add.extend(quiet);
    add.extend(["-N", &pno_text, &node]);
    run_in_root(root, &add, Some(&script))?;
    kernel_add_partition(&disk.name, pno, plan)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let part = loop {
        let devs = blockdev::scan("/sys/class/block".as_ref());
        if let Some(p) = devs
            .into_iter()
            .find(|d| d.disk.as_deref() == Some(disk.name.as_str()) && d.partn == Some(pno))
        {
            break p;
        }
        if Instant::now() > deadline {
            return Err(CreateError::NoNode);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let part_node = format!("/dev/{}", part.name);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !mounts::exists(&part_node) {
        if Instant::now() > deadline {
            return Err(CreateError::NoNode);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    run_in_root(
        root,
        &[
            "/usr/sbin/mkfs.ext4",
            "-q",
            "-F",
            "-L",
            LABEL,
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
            &part_node,
        ],
        None,
    )?;
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock(label: &[u8]) -> Vec<u8> {
        let mut head = vec![0u8; 2048];
        head[1024 + 56] = 0x53;
        head[1024 + 57] = 0xEF;
        head[1024 + 120..1024 + 120 + label.len()].copy_from_slice(label);
        head
    }

    #[test]
    fn reads_the_ext4_label() {
        assert_eq!(
            ext_label(&superblock(b"PLINTH_STATE")).as_deref(),
            Some("PLINTH_STATE")
        );
        assert_eq!(ext_label(&superblock(b"")).as_deref(), Some(""));
    }

    #[test]
    fn a_full_16_byte_label_has_no_terminator() {
        assert_eq!(
            ext_label(&superblock(b"ABCDEFGHIJKLMNOP")).as_deref(),
            Some("ABCDEFGHIJKLMNOP")
        );
    }

    #[test]
    fn the_new_partition_takes_the_next_number_on_its_disk() {
        let dev = |name: &str, disk: Option<&str>, partn: Option<u32>| BlockDev {
            name: name.into(),
            disk: disk.map(str::to_string),
            partn,
            ..BlockDev::default()
        };
        let vda = dev("vda", None, None);
        let devs = [
            vda.clone(),
            dev("vda1", Some("vda"), Some(1)),
            dev("vda3", Some("vda"), Some(3)),
            dev("vdb7", Some("vdb"), Some(7)),
        ];
        assert_eq!(next_partition_number(&vda, &devs), 4);
        assert_eq!(next_partition_number(&vda, &devs[..1]), 1);
    }

    #[test]
    fn sfdisk_counts_in_logical_sectors() {
        let plan = StatePlan {
            start: 2048 * 1153,
            size: 2048 * 512,
        };
        assert_eq!(
            sfdisk_line(plan, 512),
            "start=2361344, size=1048576, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"PLINTH_STATE\"\n"
        );
        assert!(sfdisk_line(plan, 4096).starts_with("start=295168, size=131072,"));
    }

    #[test]
    fn other_filesystems_have_no_ext_label() {
        assert_eq!(ext_label(&vec![0u8; 2048]), None);
        assert_eq!(ext_label(&[0u8; 100]), None);
    }
}
