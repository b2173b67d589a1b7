//! The per-test fixture: a fresh run directory, the built image, the accelerator, and booting
//! Plinth nodes from them — UEFI or BIOS from a copy-on-write disk, or the PXE set — with the seed
//! the test wrote, the node exporter forwarded to a free host port, and a QMP socket. Each boot is
//! a [`Node`] (`node.rs`).

use std::path::{Path, PathBuf};

use crate::accel;
use crate::cmdline::{
    Accel, Boot, Chipset, DiskFormat, Drive, Forward, MachineSpec, Nic, NicBackend,
};
use crate::console::WaitError;
use crate::disk::{self, DiskError};
use crate::image::ImageSet;
#[cfg(doc)]
use crate::node::READY_TIMEOUT;
use crate::node::{NODE_EXPORTER_PORT, Node, Ready};
use crate::paths::RunDir;
use crate::ports;
use crate::seed::{Seed, SeedError, SeedFormat};
use crate::vm::{StartError, Vm};

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

/// Why [`Fixture::boot_ready`] has no ready node.
#[derive(Debug, thiserror::Error)]
pub enum BootReadyError {
    /// The machine could not be started.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// It started but did not reach ready; the console's last [`TAIL_LINES`] lines.
    #[error("not ready; console:\n{tail}")]
    NotReady {
        #[source]
        source: WaitError,
        tail: String,
    },
}

/// The console lines a boot that does not reach ready shows.
pub const TAIL_LINES: usize = 60;

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

    /// The options of a `variant` disk boot (UEFI or BIOS) of a fresh 4 GiB overlay `disk` with the
    /// vfat seed `seed_file` holding `seed`.
    pub fn seeded(
        &self,
        variant: Variant,
        disk: &str,
        seed_file: &str,
        seed: &Seed,
    ) -> Result<BootOptions, FixtureError> {
        let mut opts = BootOptions::new(variant);
        opts.disk = Some(self.overlay(disk, 4)?);
        opts.seed = Some(self.seed(seed_file, seed, SeedFormat::Vfat)?);
        Ok(opts)
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

    /// Boots a node and waits up to [`READY_TIMEOUT`] for its ready line; a boot that does not
    /// get there fails with the console's last [`TAIL_LINES`] lines.
    pub fn boot_ready(&mut self, opts: &BootOptions) -> Result<(Node, Ready), BootReadyError> {
        let node = self.boot(opts)?;
        let ready = node.ready_or_tail()?;
        Ok((node, ready))
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

#[cfg(test)]
mod tests {
    use super::*;

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
