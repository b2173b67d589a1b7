//! `cargo xtask qemu`: boot the built image in QEMU with the console on this terminal.
//!
//! UEFI (OVMF) by default, `--bios` (SeaBIOS) or `--pxe` (the kernel and both initrds of `pxe/`,
//! as iPXE loads them). The disk is a fresh qcow2 overlay of `disk.raw` (the image stays
//! pristine; `--keep-disk` reuses the last one so state survives), a `--config` or `--seed` becomes
//! a NoCloud `cidata` volume (checked with plinth-config first), and the node exporter is
//! forwarded from a free port on 127.0.0.1. The guest reaches nothing beyond this machine. Run
//! files (overlay, seed, console log, QMP socket) are in `target/qemu/<variant>/`.
//!
//! The harness library of `qemu-tests` does the work (command line, seed, overlay, accelerator),
//! so what a developer boots here is what the tests boot.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use qemu_tests::cmdline::{
    Boot, Console, DiskFormat, Drive, Forward, MachineSpec, QEMU, qemu_args,
};
use qemu_tests::image::ImageSet;
use qemu_tests::node::{NODE_EXPORTER_PORT, concat_initrds};
use qemu_tests::paths::RunDir;
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::vm::shell_quote;
use qemu_tests::{accel, disk, ports};

use crate::{image, prereqs};

/// Guest memory unless `--mem` says otherwise: the default config is a one-node control plane
/// (etcd, the apiserver, the kubelet and the rest want about 1.5 GiB once up).
const DEFAULT_MEM_MIB: u32 = 3072;
/// The apiserver's port, forwarded too.
const APISERVER_PORT: u16 = 6443;
/// Disk overlay size unless `--disk-size` says otherwise.
const DEFAULT_DISK_GIB: u64 = 8;

/// Flags of `cargo xtask qemu`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Boot the disk with UEFI firmware (OVMF): the default.
    #[arg(long, conflicts_with_all = ["bios", "pxe"])]
    pub uefi: bool,
    /// Boot the disk with legacy BIOS (SeaBIOS).
    #[arg(long, conflicts_with = "pxe")]
    pub bios: bool,
    /// Boot the PXE set (pxe/vmlinuz with pxe/initrd and pxe/rootfs.img) directly; no disk.
    #[arg(long)]
    pub pxe: bool,
    /// A NoCloud seed directory (user-data, meta-data, network-config) to attach as `cidata`.
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub seed: Option<PathBuf>,
    /// A machine config (`#cloud-config`) to attach as the user-data of a `cidata` seed.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write the seed as iso9660 and put it in a CD-ROM drive (instead of a vfat virtio disk).
    #[arg(long)]
    pub iso: bool,
    /// Boot the seed even if plinth-config rejects it (to see how the node handles it).
    #[arg(long)]
    pub no_validate: bool,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = DEFAULT_MEM_MIB, value_name = "MiB")]
    pub mem: u32,
    /// Virtual CPUs (two: the default config's control plane is CPU-bound under emulation).
    #[arg(long, default_value_t = 2)]
    pub cpus: u32,
    /// Size of the disk overlay in GiB (room beyond the image for the state partition).
    #[arg(long, default_value_t = DEFAULT_DISK_GIB, value_name = "GiB")]
    pub disk_size: u64,
    /// Reuse the disk overlay of the previous run of this variant (state survives).
    #[arg(long)]
    pub keep_disk: bool,
    /// Use the release image (zstd root) instead of the `--dev` one.
    #[arg(long)]
    pub release: bool,
    /// Boot whatever is in target/image/ without checking whether it is stale.
    #[arg(long)]
    pub no_build: bool,
}

/// What `cargo xtask run` boots with: the flags' own defaults, as `cargo xtask qemu` with no flags.
impl Default for Args {
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct NoFlags {
            #[command(flatten)]
            args: Args,
        }
        <NoFlags as clap::Parser>::parse_from(["qemu"]).args
    }
}

impl Args {
    fn variant(&self) -> &'static str {
        if self.pxe {
            "pxe"
        } else if self.bios {
            "bios"
        } else {
            "uefi"
        }
    }
}

pub fn run(args: &Args) -> Result<ExitCode> {
    prereqs::ensure(&prereqs::QEMU)?;
    let image_dir = if args.no_build {
        qemu_tests::paths::image_dir()
    } else {
        image::ensure_built(!args.release)?.dir
    };
    let image = ImageSet::locate(&image_dir)?;
    boot(&image, args)
}

/// A PXE boot's line: the image's, then the kernel arguments of `--config` as a PXE server would
/// give that node ([`crate::image::node_boot`]).
fn pxe_cmdline(image: &ImageSet, args: &Args) -> Result<String> {
    let Some(path) = &args.config else {
        return Ok(image.cmdline.clone());
    };
    let included = plinth_config::user_data::include::Included::new(
        plinth_config::user_data::include::Unfetched::Warn(String::new()),
    );
    let parsed = plinth_config::load_path_with(path, &included)
        .map_err(|d| anyhow::anyhow!("{}:\n{d}", path.display()))?;
    Ok(crate::image::node_boot::node_cmdline(
        &image.cmdline,
        &parsed.config.plinth.kernel,
    ))
}

/// Boots `image` as `args` say, with the console on this terminal; returns when QEMU exits.
pub fn boot(image: &ImageSet, args: &Args) -> Result<ExitCode> {
    let variant = args.variant();
    let run_path = qemu_tests::paths::target_dir().join("qemu").join(variant);
    let dir = if args.keep_disk {
        RunDir::existing(run_path)?
    } else {
        RunDir::fresh_at(run_path)?
    };

    let mut drives = Vec::new();
    let boot = match variant {
        "pxe" => {
            let initrd = dir.join("pxe-initrd.img");
            concat_initrds(&[&image.initrd, &image.rootfs], &initrd)
                .with_context(|| format!("writing {}", initrd.display()))?;
            Boot::Kernel {
                kernel: image.kernel.clone(),
                initrd: Some(initrd.into()),
                append: pxe_cmdline(image, args)?,
            }
        }
        other => {
            let overlay = dir.join("disk.qcow2");
            if args.keep_disk && overlay.exists() {
                eprintln!("qemu: reusing {}", overlay.display());
            } else {
                let size = disk::create_overlay(&image.disk, &overlay, Some(args.disk_size))?;
                eprintln!(
                    "qemu: disk {} ({} GiB copy-on-write over {})",
                    overlay.display(),
                    size >> 30,
                    image.disk.display()
                );
            }
            drives.push(Drive {
                path: overlay,
                format: DiskFormat::Qcow2,
                read_only: false,
                serial: None,
            });
            if other == "bios" {
                Boot::Bios
            } else {
                Boot::Uefi
            }
        }
    };

    let mut cdrom = None;
    if let Some(seed) = make_seed(args, &dir)? {
        if args.iso {
            cdrom = Some(seed);
        } else {
            drives.push(Drive {
                path: seed,
                format: DiskFormat::Raw,
                read_only: true,
                serial: None,
            });
        }
    }

    let exporter = ports::free_port()?;
    let apiserver = ports::free_port()?;
    let accel = accel::choose(Some(&image.kernel));
    let mut spec = MachineSpec::new(variant, accel, boot);
    spec.memory_mib = args.mem;
    spec.cpus = args.cpus;
    spec.drives = drives;
    spec.cdrom = cdrom;
    spec.forwards = vec![
        Forward {
            host: exporter,
            guest: NODE_EXPORTER_PORT,
        },
        Forward {
            host: apiserver,
            guest: APISERVER_PORT,
        },
    ];
    spec.console = Console::Terminal {
        log: Some(dir.join("console.log")),
    };
    spec.qmp = Some(dir.join("qmp.sock"));

    let qemu_args = qemu_args(&spec);
    let shown = std::iter::once(QEMU.to_string())
        .chain(qemu_args.iter().map(|a| shell_quote(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(dir.join("cmdline"), format!("{shown}\n"))?;
    eprintln!("$ {shown}");
    eprintln!(
        "qemu: {variant} boot, {} MiB, {} vCPU, {} ({}); files in {}",
        args.mem,
        args.cpus,
        accel::name(accel),
        match accel {
            qemu_tests::cmdline::Accel::Kvm => "KVM probe passed",
            qemu_tests::cmdline::Accel::Tcg => "software emulation: a boot takes tens of seconds",
        },
        dir.path().display()
    );
    eprintln!(
        "qemu: node exporter: http://127.0.0.1:{exporter}/metrics  (guest :{NODE_EXPORTER_PORT}, once the node is ready)"
    );
    eprintln!(
        "qemu: Kubernetes API: https://127.0.0.1:{apiserver}  (on a control-plane node, once up: \
         `plinthctl kubeconfig --server https://127.0.0.1:{apiserver}` on its console prints a kubeconfig for it)"
    );
    eprintln!(
        "qemu: QMP: {}   console log: {}",
        dir.join("qmp.sock").display(),
        dir.join("console.log").display()
    );
    eprintln!("qemu: stop with ctrl-a x (ctrl-a c: QEMU monitor; ctrl-c goes to the guest)");
    let status = Command::new(QEMU)
        .args(&qemu_args)
        .status()
        .with_context(|| format!("could not start {QEMU}: try `cargo xtask prereqs`"))?;
    eprintln!(
        "qemu: QEMU exited ({status}); disk and console log kept in {}",
        dir.path().display()
    );
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The seed volume for `--seed`/`--config`, validated with plinth-config unless `--no-validate`.
fn make_seed(args: &Args, dir: &RunDir) -> Result<Option<PathBuf>> {
    let (source, seed) = match (&args.seed, &args.config) {
        (Some(seed_dir), _) => (seed_dir.clone(), Seed::from_dir(seed_dir)?),
        (None, Some(config)) => {
            let text = std::fs::read_to_string(config)
                .with_context(|| format!("reading {}", config.display()))?;
            let name = config
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "plinth".into());
            (config.clone(), Seed::new(&text, &name, &name))
        }
        (None, None) => return Ok(None),
    };
    if !args.no_validate {
        validate(&source)?;
    }
    let format = if args.iso {
        SeedFormat::Iso9660
    } else {
        SeedFormat::Vfat
    };
    let out = dir.join(if args.iso { "seed.iso" } else { "seed.img" });
    seed.write(format, &out)?;
    eprintln!(
        "qemu: seed {} (cidata, {}) from {}",
        out.display(),
        if args.iso { "iso9660" } else { "vfat" },
        source.display()
    );
    Ok(Some(out))
}

fn validate(source: &Path) -> Result<()> {
    match plinth_config::load_path(source) {
        Ok(parsed) => {
            for warning in &parsed.warnings {
                eprintln!("{warning}");
            }
            Ok(())
        }
        Err(diagnostics) => {
            eprintln!("{diagnostics}");
            bail!(
                "{} is not a valid machine config (boot it anyway with --no-validate)",
                source.display()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("qemu").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn uefi_is_the_default_and_one_boot_path_at_a_time() {
        assert_eq!(parse(&[]).unwrap().variant(), "uefi");
        assert_eq!(parse(&["--bios"]).unwrap().variant(), "bios");
        assert_eq!(parse(&["--pxe"]).unwrap().variant(), "pxe");
        assert!(parse(&["--bios", "--pxe"]).is_err());
        assert!(parse(&["--uefi", "--bios"]).is_err());
    }

    #[test]
    fn a_seed_directory_or_a_config_not_both() {
        let a = parse(&["--config", "node.yaml", "--mem", "768", "--disk-size", "12"]).unwrap();
        assert_eq!(a.config.as_deref(), Some(Path::new("node.yaml")));
        assert_eq!((a.mem, a.disk_size), (768, 12));
        assert!(parse(&["--seed", "dir", "--config", "node.yaml"]).is_err());
    }

    #[test]
    fn run_boots_like_qemu_with_its_defaults() {
        let d = Args::default();
        let flags = parse(&[]).unwrap();
        assert_eq!(d.variant(), "uefi");
        assert!(d.seed.is_none() && d.config.is_none());
        assert_eq!(
            (d.mem, d.cpus, d.disk_size, d.no_build),
            (flags.mem, flags.cpus, flags.disk_size, flags.no_build)
        );
        // The default config is a one-node control plane: it needs room and a second vCPU.
        assert_eq!((d.mem, d.cpus), (3072, 2));
    }
}
