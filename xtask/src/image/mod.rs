//! `cargo xtask image [--dev]`: builds the bootable image into `target/image/`.
//!
//! Steps: the Debian tree (mkosi, cached by a key over `image/`, see `tree`), the Kubernetes
//! binary (Go, cached by a key over its module, see `kubernetes`), the static Rust binaries and
//! the pause image (`oci`), the root squashfs, the stage-1 initramfs, the UKI, the ESP, the GPT disk, the PXE
//! set and `manifest.json`. Each long step prints its elapsed time; the last line gives the
//! sizes. When nothing that feeds the image changed, nothing is rebuilt ([`ensure_built`]).

mod binaries;
pub(crate) mod cpio;
mod disk;
mod esp;
mod initramfs;
pub mod inputs;
mod kubernetes;
mod manifest;
mod modules;
pub mod node_boot;
mod oci;
mod pxe;
pub mod rootfs;
pub mod tree;
mod uki;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::{cmd, prereqs};

const MIB: u64 = 1024 * 1024;
/// ESP size: the UKI plus the BIOS kernel and initramfs, with room for a second set.
const ESP_MIB: u64 = 128;
/// Each root slot; the release root is about 230 MiB, `--dev` (lz4) about 330 MiB.
const SLOT_MIB: u64 = 640;
/// Unpartitioned room after the slots for the state partition made on first boot.
const STATE_ROOM_MIB: u64 = 512;

/// Flags of `cargo xtask image`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Fast compression (lz4) for the root squashfs instead of zstd -19: for tests and CI.
    #[arg(long)]
    pub dev: bool,
}

/// Where the image's artifacts are.
#[derive(Debug, Clone)]
pub struct ImagePaths {
    pub dir: PathBuf,
    pub disk: PathBuf,
    pub uki: PathBuf,
    pub pxe_kernel: PathBuf,
    pub pxe_initrd: PathBuf,
    pub pxe_rootfs: PathBuf,
    pub pxe_script: PathBuf,
    pub manifest: PathBuf,
    /// The kernel command line baked into the UKI, syslinux and boot.ipxe.
    pub cmdline: String,
}

impl ImagePaths {
    fn new(dir: &Path, cmdline: String) -> Self {
        Self {
            dir: dir.to_path_buf(),
            disk: dir.join("disk.raw"),
            uki: dir.join("work/BOOTX64.EFI"),
            pxe_kernel: dir.join("pxe/vmlinuz"),
            pxe_initrd: dir.join("pxe/initrd"),
            pxe_rootfs: dir.join("pxe/rootfs.img"),
            pxe_script: dir.join("pxe/boot.ipxe"),
            manifest: dir.join("manifest.json"),
            cmdline,
        }
    }
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let paths = ensure_built(args.dev)?;
    eprintln!("image: artifacts in {}:", paths.dir.display());
    eprintln!("  UEFI/BIOS disk  {}", paths.disk.display());
    eprintln!(
        "  PXE             {} + {} + {} (script {})",
        paths.pxe_kernel.display(),
        paths.pxe_initrd.display(),
        paths.pxe_rootfs.display(),
        paths.pxe_script.display()
    );
    eprintln!("  UKI             {}", paths.uki.display());
    eprintln!("  manifest        {}", paths.manifest.display());
    eprintln!("  kernel cmdline  {}", paths.cmdline);
    Ok(ExitCode::SUCCESS)
}

/// Builds the image when anything feeding it changed (the `image/` inputs, the Rust binaries,
/// the default config, `dev`), and returns where the artifacts are. For `cargo xtask run` and
/// the qemu-tests.
pub fn ensure_built(dev: bool) -> Result<ImagePaths> {
    prereqs::ensure(&prereqs::IMAGE)?;
    let started = Instant::now();
    let root = cmd::workspace_root();
    let image_dir = root.join("image");
    let out = root.join("target/image");
    let work = out.join("work");
    std::fs::create_dir_all(work.join("scratch"))?;
    std::fs::create_dir_all(out.join("pxe"))?;
    let _lock = lock(&out)?;
    let cmdline =
        std::fs::read_to_string(image_dir.join("cmdline")).context("reading image/cmdline")?;
    let paths = ImagePaths::new(&out, cmdline.trim().to_string());

    step("Debian tree", started);
    let tree = tree::ensure(&image_dir, &out.join("mkosi"))?;

    step("Kubernetes (Go)", started);
    let k8s = kubernetes::ensure(&image_dir.join("kubernetes"))?;

    step(
        "Rust binaries (static, musl; plinth-virt-check for glibc)",
        started,
    );
    let bins = binaries::build(dev)?;
    let pause = oci::pause_archive(oci::PAUSE_IMAGE, &std::fs::read(&bins.pause)?)?;

    let (config_source, config_path) = default_config(&root);
    let config = std::fs::read_to_string(&config_path)?;
    let build = if dev { "dev" } else { "release" };
    let build_key = {
        let mut parts = vec![
            std::fs::read_to_string(out.join("mkosi/tree.key")).unwrap_or_default(),
            build.to_string(),
            cmdline.clone(),
            config.clone(),
            env!("CARGO_PKG_VERSION").to_string(),
        ];
        for bin in [
            &bins.init,
            &bins.ctl,
            &bins.agent,
            &bins.pause,
            &bins.virt_check,
        ] {
            parts.push(manifest::sha256_file(bin)?);
        }
        parts.push(k8s.sha256.clone());
        parts.join("\n")
    };
    let key_file = work.join("build.key");
    if std::fs::read_to_string(&key_file).ok().as_deref() == Some(build_key.as_str())
        && paths.disk.exists()
        && paths.manifest.exists()
    {
        eprintln!(
            "image: up to date ({build}); reused everything in {} ({:.1}s)",
            out.display(),
            started.elapsed().as_secs_f64()
        );
        return Ok(paths);
    }
    let _ = std::fs::remove_file(&key_file);

    step(
        &format!("root squashfs ({})", if dev { "lz4" } else { "zstd -19" }),
        started,
    );
    rootfs::install(&tree.root, &bins, &config_path)?;
    kubernetes::install(&tree.root, &k8s)?;
    let archive = tree.root.join(oci::PAUSE_ARCHIVE);
    std::fs::create_dir_all(archive.parent().expect("has a parent"))?;
    std::fs::write(&archive, &pause)?;
    let squashfs = work.join("root.squashfs");
    let compression = if dev {
        rootfs::Compression::Dev
    } else {
        rootfs::Compression::Release
    };
    rootfs::pack(&tree.root, &squashfs, compression, &tree.kernel_release)?;

    step("stage-1 initramfs", started);
    let initrd = paths.pxe_initrd.clone();
    let nmods = initramfs::build(&initrd, &tree.root, &tree.kernel_release, &bins.init)?;
    eprintln!("image: initramfs holds plinth-init and {nmods} module files");
    let kernel = tree
        .root
        .join("usr/lib/modules")
        .join(&tree.kernel_release)
        .join("vmlinuz");
    std::fs::copy(&kernel, &paths.pxe_kernel)
        .with_context(|| format!("copying {}", kernel.display()))?;

    step("UKI, ESP and GPT disk", started);
    let cmdline_file = work.join("scratch/cmdline");
    std::fs::write(&cmdline_file, format!("{}\0", cmdline.trim()))?;
    let osrel = work.join("scratch/os-release");
    std::fs::write(
        &osrel,
        format!(
            "NAME=Plinth\nID=plinth\nID_LIKE=debian\nPRETTY_NAME=\"Plinth {} ({build})\"\nVERSION_ID={}\n",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION")
        ),
    )?;
    uki::build(
        &paths.uki,
        &osrel,
        &cmdline_file,
        &paths.pxe_kernel,
        &initrd,
    )?;
    let esp_img = work.join("esp.img");
    esp::build(
        &esp_img,
        ESP_MIB,
        &esp::EspContents {
            uki: &paths.uki,
            kernel: &paths.pxe_kernel,
            initrd: &initrd,
            cmdline: &cmdline,
        },
        &work.join("scratch"),
    )?;
    let root_size = std::fs::metadata(&squashfs)?.len();
    let layout = disk::plan(
        ESP_MIB * MIB,
        SLOT_MIB * MIB,
        root_size,
        STATE_ROOM_MIB * MIB,
    )?;
    let mbr = Path::new("/usr/lib/syslinux/mbr/gptmbr.bin");
    disk::assemble(&paths.disk, &layout, &esp_img, &squashfs, mbr)?;

    step("PXE set", started);
    pxe::root_initrd(&paths.pxe_rootfs, &squashfs)?;
    std::fs::write(&paths.pxe_script, pxe::boot_ipxe(&cmdline))?;

    step("manifest", started);
    let mut artifacts = Vec::new();
    for rel in [
        "disk.raw",
        "pxe/vmlinuz",
        "pxe/initrd",
        "pxe/rootfs.img",
        "pxe/boot.ipxe",
        "work/BOOTX64.EFI",
        "work/root.squashfs",
    ] {
        artifacts.push(manifest::artifact(&out, rel)?);
    }
    let packages = manifest::packages(
        &std::fs::read_to_string(&tree.mkosi_manifest)
            .with_context(|| format!("reading {}", tree.mkosi_manifest.display()))?,
    )?;
    let initrd_size = std::fs::metadata(&initrd)?.len();
    let uki_size = std::fs::metadata(&paths.uki)?.len();
    let json = manifest::Manifest {
        build,
        kernel_release: &tree.kernel_release,
        cmdline: &cmdline,
        artifacts: &artifacts,
        root_squashfs: root_size,
        initrd: initrd_size,
        uki: uki_size,
        packages: &packages,
        config_source: &config_source,
        config_sha256: &manifest::sha256_file(&config_path)?,
        config: &config,
        tree_reused: tree.reused,
        kubernetes: &k8s,
    }
    .to_json();
    std::fs::write(&paths.manifest, serde_json::to_string_pretty(&json)? + "\n")?;
    std::fs::write(&key_file, &build_key)?;
    eprintln!(
        "image: {build} image (Kubernetes {}) in {} after {:.1}s: root squashfs {:.1} MiB, initrd {:.1} MiB, UKI {:.1} MiB, disk.raw {} MiB (sparse), {} packages{}",
        k8s.version,
        out.display(),
        started.elapsed().as_secs_f64(),
        root_size as f64 / MIB as f64,
        initrd_size as f64 / MIB as f64,
        uki_size as f64 / MIB as f64,
        layout.disk_size / MIB,
        packages.len(),
        if tree.reused {
            ", Debian tree reused"
        } else {
            ""
        },
    );
    Ok(paths)
}

/// The config embedded as the default: the single-node example, or the fallback in `image/`
/// while that example does not exist yet (said loudly).
fn default_config(root: &Path) -> (String, PathBuf) {
    let example = "configs/examples/single-node.yaml";
    if root.join(example).exists() {
        return (example.to_string(), root.join(example));
    }
    let fallback = "image/defaults/fallback-config.yaml";
    eprintln!("image: WARNING: {example} does not exist; embedding {fallback} instead");
    (fallback.to_string(), root.join(fallback))
}

/// Holds the image directory's lock exclusively for the whole build, so two builds (a test run
/// and a `cargo xtask run`, say) never write the same files at once, and no build rewrites the
/// image under a running machine. Released when dropped.
fn lock(out: &Path) -> Result<qemu_tests::image::ImageLock> {
    qemu_tests::image::ImageLock::exclusive(out).context("locking the image directory")
}

fn step(what: &str, started: Instant) {
    eprintln!("image: [{:>6.1}s] {what}", started.elapsed().as_secs_f64());
}
