//! The per-test fixture: a fresh run directory, the built image, the accelerator, and booting
//! Plinth nodes from them — UEFI or BIOS from a copy-on-write disk, or the PXE set — with the seed
//! the test wrote, the node exporter forwarded to a free host port, and a QMP socket.
//!
//! A [`Node`] is one boot; dropping it kills its QEMU. A test that boots the same disk twice keeps
//! the disk path from the first boot and passes it to the second.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use crate::accel;
use crate::cmdline::{
    Accel, Boot, Chipset, DiskFormat, Drive, Forward, MachineSpec, Nic, NicBackend,
};
use crate::console::{Console, Line, WaitError};
use crate::disk::{self, DiskError};
use crate::http::{self, HttpError};
use crate::image::ImageSet;
use crate::metrics::{self, Sample};
use crate::paths::RunDir;
use crate::ports;
use crate::qmp::{Qmp, QmpError};
use crate::seed::{Seed, SeedError, SeedFormat};
use crate::vm::{ExitError, StartError, Vm};

/// The console line stage 2 prints when the boot reached ready.
pub const READY_PATTERN: &str = r"plinth: ready in (\d+(?:\.\d+)?)s";

/// How long a boot may take to reach ready under TCG with another VM beside it on a busy host
/// (alone, a boot takes 10–20 s here).
pub const READY_TIMEOUT: Duration = Duration::from_secs(150);

/// Console lines after which a boot will not reach ready: waiting stops at once.
pub const HOPELESS_PATTERN: &str =
    r"Kernel panic - not syncing|plinth stage 1: FAILED|maintenance mode";

/// How long a clean power-off or reboot may take once asked for.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(120);

/// The node exporter's port in the guest.
pub const NODE_EXPORTER_PORT: u16 = 9100;

/// How a node boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// OVMF boots the disk's ESP (the unified kernel image).
    Uefi,
    /// SeaBIOS boots the disk's legacy boot loader.
    Bios,
    /// The kernel and both initrds of `pxe/`, loaded directly as iPXE would.
    Pxe,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Uefi => "uefi",
            Variant::Bios => "bios",
            Variant::Pxe => "pxe",
        }
    }
}

/// Why a fixture step failed.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("run directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("a {0:?} boot needs a disk")]
    NoDisk(Variant),
    #[error("a {0:?} boot's kernel command line is fixed in the image; extra arguments need PXE")]
    FixedCmdline(Variant),
}

/// The test's run directory, image and accelerator; it holds a shared lock on the image
/// directory so no build rewrites the image under its machines.
pub struct Fixture {
    pub image: ImageSet,
    _lock: crate::image::ImageLock,
    pub dir: RunDir,
    pub accel: Accel,
    boots: usize,
    echo: bool,
}

/// What one boot uses.
#[derive(Clone, Debug)]
pub struct BootOptions {
    pub variant: Variant,
    /// The boot disk (or, for PXE, an optional extra disk).
    pub disk: Option<Drive>,
    /// More virtio disks, after the boot disk and before the seed.
    pub extra_disks: Vec<Drive>,
    /// A seed volume made with [`Fixture::seed`], as a virtio disk.
    pub seed: Option<PathBuf>,
    /// An iso9660 seed in a CD-ROM drive.
    pub cdrom: Option<PathBuf>,
    pub memory_mib: u32,
    /// Virtual CPUs (1 unless a test runs something as busy as a control plane: QEMU's TCG runs
    /// each on its own host thread).
    pub cpus: u32,
    /// Guest TCP ports to forward from free host ports. Forwards go through the user-network NIC,
    /// so a machine without one (see `nics`) gets none.
    pub guest_ports: Vec<u16>,
    /// Connections from the guest to `GUEST_FORWARD_ADDR:guest` relayed to `127.0.0.1:host`.
    pub guest_forwards: Vec<crate::cmdline::GuestForward>,
    /// Exit instead of resetting when the guest reboots.
    pub no_reboot: bool,
    /// PXE only: this initrd instead of the image's two, and this kernel command line instead
    /// of the image's (for booting the same kernel with another init).
    pub pxe_override: Option<(PathBuf, String)>,
    /// PXE only: words appended to the kernel command line (a disk boot's command line is
    /// inside the UKI or the boot loader's config).
    pub extra_cmdline: Option<String>,
    /// The network cards, in PCI order: by default one on the user network.
    pub nics: Vec<Nic>,
    /// q35 unless a test needs i440fx's NIC names.
    pub chipset: Chipset,
    /// A second serial port (the guest's ttyS1) on a unix socket, for [`Node::shell`].
    pub serial2: bool,
}

impl BootOptions {
    /// 1 GiB (1.5 GiB for PXE, whose root squashfs is unpacked into RAM from the initrd beside
    /// the initrd itself: 350 MiB for a `--dev` image, and 1 GiB no longer holds both), the node
    /// exporter forwarded, no disk or seed yet.
    pub fn new(variant: Variant) -> Self {
        Self {
            variant,
            disk: None,
            extra_disks: Vec::new(),
            seed: None,
            cdrom: None,
            memory_mib: if variant == Variant::Pxe { 1536 } else { 1024 },
            cpus: 1,
            guest_ports: vec![NODE_EXPORTER_PORT],
            guest_forwards: Vec::new(),
            no_reboot: false,
            pxe_override: None,
            extra_cmdline: None,
            nics: vec![Nic::user()],
            chipset: Chipset::Q35,
            serial2: false,
        }
    }
}

impl Fixture {
    /// The fixture for `test`, or `None` (after saying why) when no image was built.
    pub fn for_test(test: &str) -> Option<Self> {
        let image = ImageSet::for_test(test)?;
        Some(Self::new(test, image).unwrap_or_else(|e| panic!("{test}: {e}")))
    }

    /// A fixture with a fresh `target/qemu-tests/<name>/`, holding the image's lock.
    pub fn new(name: &str, image: ImageSet) -> Result<Self, FixtureError> {
        let lock =
            crate::image::ImageLock::shared(&image.dir).map_err(|source| FixtureError::Io {
                path: image.dir.join(".lock"),
                source,
            })?;
        // Read the image again under the lock: a build may have finished while we waited.
        let image = ImageSet::locate(&image.dir).map_err(|e| FixtureError::Io {
            path: image.dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let dir = RunDir::fresh(name).map_err(|source| FixtureError::Io {
            path: crate::paths::target_dir().join("qemu-tests").join(name),
            source,
        })?;
        let accel = accel::choose(Some(&image.kernel));
        Ok(Self {
            image,
            _lock: lock,
            dir,
            accel,
            boots: 0,
            echo: std::env::var_os("PLINTH_QEMU_ECHO").is_some(),
        })
    }

    /// A qcow2 overlay `<name>.qcow2` of the image's disk of `size_gib` GiB.
    pub fn overlay(&self, name: &str, size_gib: u64) -> Result<Drive, FixtureError> {
        let path = self.dir.join(&format!("{name}.qcow2"));
        disk::create_overlay(&self.image.disk, &path, Some(size_gib))?;
        Ok(Drive {
            path,
            format: DiskFormat::Qcow2,
            read_only: false,
            serial: None,
        })
    }

    /// A raw disk `<name>.img` of `size_mib` MiB holding an empty ext4 labelled `PLINTH_STATE`,
    /// made on the host: a PXE-booted node keeps its state there (it creates no partition on a
    /// disk it did not boot from).
    pub fn state_disk(&self, name: &str, size_mib: u64) -> Result<Drive, FixtureError> {
        let path = self.dir.join(&format!("{name}.img"));
        let io = |source| FixtureError::Io {
            path: path.clone(),
            source,
        };
        std::fs::File::create(&path)
            .and_then(|f| f.set_len(size_mib << 20))
            .map_err(io)?;
        let status = std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "PLINTH_STATE"])
            .arg(&path)
            .status()
            .map_err(io)?;
        if !status.success() {
            return Err(io(std::io::Error::other(format!(
                "mkfs.ext4 (e2fsprogs) failed: {status}"
            ))));
        }
        Ok(Drive {
            path,
            format: DiskFormat::Raw,
            read_only: false,
            serial: None,
        })
    }

    /// Writes `seed` as `<name>.img` (vfat) or `<name>.iso` in the run directory.
    pub fn seed(
        &self,
        name: &str,
        seed: &Seed,
        format: SeedFormat,
    ) -> Result<PathBuf, FixtureError> {
        let ext = match format {
            SeedFormat::Vfat => "img",
            SeedFormat::Iso9660 => "iso",
        };
        let path = self.dir.join(&format!("{name}.{ext}"));
        seed.write(format, &path)?;
        Ok(path)
    }

    /// Writes a vfat seed `<name>.img` whose config runs the [`probe`](crate::probe) service.
    pub fn probe_seed(&self, name: &str) -> Result<PathBuf, FixtureError> {
        self.probe_seed_as(name, SeedFormat::Vfat)
    }

    /// Writes a seed in `format` whose config runs the [`probe`](crate::probe) service.
    pub fn probe_seed_as(&self, name: &str, format: SeedFormat) -> Result<PathBuf, FixtureError> {
        let seed = Seed::new(&crate::probe::user_data(name), name, name);
        self.seed(name, &seed, format)
    }

    /// A sparse raw copy `<name>.raw` of the image's disk, for tests that edit it from the host.
    pub fn raw_copy(&self, name: &str) -> Result<Drive, FixtureError> {
        let path = self.dir.join(&format!("{name}.raw"));
        disk::sparse_copy(&self.image.disk, &path)?;
        Ok(Drive {
            path,
            format: DiskFormat::Raw,
            read_only: false,
            serial: None,
        })
    }

    /// The contents of `drive` as a raw file the host can read: the file itself when raw, else a
    /// sparse raw export `<stem>.flat.raw` of the qcow2 (QEMU must have exited).
    pub fn flatten(&self, drive: &Drive) -> Result<PathBuf, FixtureError> {
        match drive.format {
            DiskFormat::Raw => Ok(drive.path.clone()),
            DiskFormat::Qcow2 => {
                let stem = drive
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "disk".into());
                let out = self.dir.join(&format!("{stem}.flat.raw"));
                let _ = std::fs::remove_file(&out);
                disk::qcow2_to_raw(&drive.path, &out)?;
                Ok(out)
            }
        }
    }

    /// The PXE set's two initrds as one file (QEMU's `-initrd` takes one file for Linux; the
    /// kernel unpacks concatenated archives in turn, as it does when iPXE loads two).
    pub fn pxe_initrd(&self) -> Result<PathBuf, FixtureError> {
        let out = self.dir.join("pxe-initrd.img");
        concat_initrds(&[&self.image.initrd, &self.image.rootfs], &out).map_err(|source| {
            FixtureError::Io {
                path: out.clone(),
                source,
            }
        })?;
        Ok(out)
    }

    /// Boots a node; its logs are `boot-<n>-<variant>.*` in the run directory.
    pub fn boot(&mut self, opts: &BootOptions) -> Result<Node, FixtureError> {
        self.boots += 1;
        let name = format!("boot-{}-{}", self.boots, opts.variant.name());
        let boot = match opts.variant {
            Variant::Uefi => Boot::Uefi,
            Variant::Bios => Boot::Bios,
            Variant::Pxe => {
                let (initrd, mut append) = match &opts.pxe_override {
                    Some((initrd, append)) => (initrd.clone(), append.clone()),
                    None => (self.pxe_initrd()?, self.image.cmdline.clone()),
                };
                if let Some(extra) = &opts.extra_cmdline {
                    append = format!("{append} {extra}");
                }
                Boot::Kernel {
                    kernel: self.image.kernel.clone(),
                    initrd: Some(initrd.into()),
                    append,
                }
            }
        };
        if opts.variant != Variant::Pxe && opts.disk.is_none() {
            return Err(FixtureError::NoDisk(opts.variant));
        }
        if opts.variant != Variant::Pxe && opts.extra_cmdline.is_some() {
            return Err(FixtureError::FixedCmdline(opts.variant));
        }
        let serial2 = opts
            .serial2
            .then(|| socket_path(self.dir.path(), &name, "serial2"));
        let mut drives: Vec<Drive> = opts.disk.iter().cloned().collect();
        drives.extend(opts.extra_disks.iter().cloned());
        if let Some(seed) = &opts.seed {
            drives.push(Drive {
                path: seed.clone(),
                format: DiskFormat::Raw,
                read_only: true,
                serial: None,
            });
        }
        let on_user_network = opts.nics.iter().any(|n| n.backend == NicBackend::User);
        let guest_ports = if on_user_network {
            opts.guest_ports.as_slice()
        } else {
            &[]
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let forwards: Vec<Forward> = guest_ports
                .iter()
                .map(|&guest| ports::free_port().map(|host| Forward { host, guest }))
                .collect::<Result<_, _>>()
                .map_err(|source| FixtureError::Io {
                    path: "127.0.0.1:0".into(),
                    source,
                })?;
            let mut spec = MachineSpec::new(&name, self.accel, boot.clone());
            spec.memory_mib = opts.memory_mib;
            spec.cpus = opts.cpus;
            spec.drives = drives.clone();
            spec.cdrom = opts.cdrom.clone();
            spec.forwards = forwards.clone();
            spec.guest_forwards = opts.guest_forwards.clone();
            spec.qmp = Some(socket_path(self.dir.path(), &name, "qmp"));
            spec.no_reboot = opts.no_reboot;
            spec.nics = opts.nics.clone();
            spec.chipset = opts.chipset;
            spec.serial2 = serial2.clone();
            match Vm::start(&spec, &self.dir.join(&name), self.echo) {
                Ok(vm) => {
                    eprintln!(
                        "{name}: QEMU pid {} ({}), console log {}",
                        vm.pid(),
                        accel::name(self.accel),
                        vm.console().log_path().display()
                    );
                    return Ok(Node {
                        vm,
                        forwards,
                        serial2,
                    });
                }
                Err(StartError::PortTaken(_)) if attempts < 5 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// A unix socket path `<name>.<ext>`: in the run directory when it fits a unix socket address,
/// else in /tmp.
fn socket_path(dir: &Path, name: &str, ext: &str) -> PathBuf {
    let path = dir.join(format!("{name}.{ext}"));
    if path.as_os_str().len() < 100 {
        path
    } else {
        std::env::temp_dir().join(format!("plinth-{}-{name}.{ext}", std::process::id()))
    }
}

/// Writes `parts` back to back into `out`, each padded with zeros to a 4-byte boundary (the
/// kernel's initramfs unpacker skips zero padding between archives). The file is made beside
/// `out` and renamed over it: a QEMU still loading the previous one (a test booting several
/// machines) keeps reading its own copy instead of dying of SIGBUS on a truncated mapping.
pub fn concat_initrds(parts: &[&Path], out: &Path) -> std::io::Result<()> {
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let mut file = std::fs::File::create(&partial)?;
    for part in parts {
        let copied = std::io::copy(&mut std::fs::File::open(part)?, &mut file)?;
        let pad = (4 - copied % 4) % 4;
        std::io::Write::write_all(&mut file, &vec![0u8; pad as usize])?;
    }
    drop(file);
    std::fs::rename(&partial, out)
}

/// Why [`Node::reboot_to_exit`] failed.
#[derive(Debug, thiserror::Error)]
pub enum RebootError {
    #[error(transparent)]
    Qmp(#[from] QmpError),
    #[error("no reboot after ctrl-alt-del ({source}); console:\n{tail}")]
    NoShutdown { source: QmpError, tail: String },
    #[error(transparent)]
    Exit(#[from] ExitError),
}

/// One booted node.
pub struct Node {
    vm: Vm,
    forwards: Vec<Forward>,
    serial2: Option<PathBuf>,
}

/// The ready line and the boot time it reports.
#[derive(Clone, Debug)]
pub struct Ready {
    pub line: Line,
    pub seconds: f64,
}

impl Node {
    pub fn console(&self) -> &Console {
        self.vm.console()
    }

    pub fn vm(&mut self) -> &mut Vm {
        &mut self.vm
    }

    /// The host address forwarded to `guest_port`.
    pub fn forwarded(&self, guest_port: u16) -> Option<SocketAddr> {
        self.forwards
            .iter()
            .find(|f| f.guest == guest_port)
            .map(|f| SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, f.host)))
    }

    /// Waits for `plinth: ready in X.XXs` on the console (after console line `from`); stops early
    /// at a line that means the boot cannot get there ([`HOPELESS_PATTERN`]).
    pub fn wait_ready_after(&self, from: usize, timeout: Duration) -> Result<Ready, WaitError> {
        let re = Regex::new(READY_PATTERN).expect("valid pattern");
        let either = Regex::new(&format!("{READY_PATTERN}|{HOPELESS_PATTERN}")).expect("valid");
        let line = self.console().wait_for_after(from, &either, timeout)?;
        if !re.is_match(&line.text) {
            return Err(WaitError::Hopeless {
                line: line.text,
                tail: self.console().tail(40),
            });
        }
        let seconds = re
            .captures(&line.text)
            .and_then(|c| c[1].parse().ok())
            .unwrap_or(f64::NAN);
        Ok(Ready { line, seconds })
    }

    /// Waits for the first ready line of this boot.
    pub fn wait_ready(&self, timeout: Duration) -> Result<Ready, WaitError> {
        self.wait_ready_after(0, timeout)
    }

    /// Polls the node exporter through its forwarded port until `accept` likes the samples.
    pub fn metrics(
        &self,
        timeout: Duration,
        accept: impl Fn(&[Sample]) -> bool,
    ) -> Result<Vec<Sample>, HttpError> {
        let addr = self
            .forwarded(NODE_EXPORTER_PORT)
            .expect("the node exporter is forwarded (BootOptions::new) through a user-network NIC");
        let resp = http::poll(addr, "/metrics", timeout, |r| {
            r.status == 200 && accept(&metrics::parse(&r.body))
        })?;
        Ok(metrics::parse(&resp.body))
    }

    /// Waits for the probe's `done` line and returns its report.
    pub fn probe_report(&self, timeout: Duration) -> Result<crate::probe::Report, WaitError> {
        let re = Regex::new(r"plinth-probe done").expect("valid pattern");
        self.console().wait_for(&re, timeout)?;
        Ok(crate::probe::Report::from_console(&self.console().lines()))
    }

    /// A session with the shell the guest runs on its second serial port (booted with
    /// [`BootOptions::serial2`] and a kernel command line that asks for a shell on ttyS1).
    pub fn shell(
        &self,
        timeout: Duration,
    ) -> Result<crate::shell::Shell, crate::shell::ShellError> {
        let path = self
            .serial2
            .as_deref()
            .ok_or(crate::shell::ShellError::NoPort)?;
        crate::shell::Shell::connect(path, timeout)
    }

    /// A QMP session with this node's QEMU.
    pub fn qmp(&self) -> Result<Qmp, QmpError> {
        self.vm.qmp()
    }

    /// Reboots the guest with ctrl-alt-del and waits for QEMU to exit: booted with
    /// [`BootOptions::no_reboot`], the reset ends QEMU, and the test boots the same disk again.
    /// Returns QEMU's `SHUTDOWN` event (its `reason` says whether the guest reset itself).
    pub fn reboot_to_exit(&mut self) -> Result<serde_json::Value, RebootError> {
        let mut qmp = self.qmp()?;
        qmp.ctrl_alt_delete()?;
        let shutdown = qmp
            .wait_event("SHUTDOWN", SHUTDOWN_TIMEOUT)
            .map_err(|source| RebootError::NoShutdown {
                source,
                tail: self.console().tail(25),
            })?;
        self.wait_exit(SHUTDOWN_TIMEOUT)?;
        Ok(shutdown)
    }

    /// Waits for QEMU to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, ExitError> {
        self.vm.wait_exit(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hopeless_lines_are_recognised() {
        let re = Regex::new(HOPELESS_PATTERN).unwrap();
        assert!(re.is_match("[    3.1] Kernel panic - not syncing: Attempted to kill init!"));
        assert!(re.is_match("[  32.0] plinth stage 1: FAILED: finding the root"));
        assert!(re.is_match("plinth: phase config failed; staying up in maintenance mode"));
        assert!(!re.is_match("plinth stage 1: loaded 36 modules in 2637 ms"));
        assert!(!re.is_match("[node-exporter] msg=failed to read textfile"));
    }

    #[test]
    fn ready_pattern_reads_the_boot_time() {
        let re = Regex::new(READY_PATTERN).unwrap();
        let caps = re.captures("[   31.2] plinth: ready in 12.34s").unwrap();
        assert_eq!(&caps[1], "12.34");
        assert!(re.is_match("plinth: ready in 9s"));
        assert!(!re.is_match("plinth: not ready in 9s yet"));
    }

    #[test]
    fn initrds_are_concatenated_on_4_byte_boundaries() {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-initrd");
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b, out) = (dir.join("a"), dir.join("b"), dir.join("out"));
        std::fs::write(&a, b"07070").unwrap();
        std::fs::write(&b, b"0707").unwrap();
        concat_initrds(&[&a, &b], &out).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"07070\x00\x00\x000707");
    }

    #[test]
    fn long_run_dirs_put_the_qmp_socket_in_tmp() {
        assert_eq!(
            socket_path(Path::new("/w/t"), "boot-1-uefi", "qmp"),
            PathBuf::from("/w/t/boot-1-uefi.qmp")
        );
        let long = PathBuf::from(format!("/{}", "x".repeat(120)));
        assert!(socket_path(&long, "boot-1-uefi", "qmp").starts_with(std::env::temp_dir()));
    }
}
