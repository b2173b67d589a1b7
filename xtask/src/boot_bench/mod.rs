//! `cargo xtask bench boot`: boot the image N times under QEMU beside two baselines and report
//! where the time goes.
//!
//! Per boot, from the captured console: firmware (QEMU start to the kernel banner), kernel → PID 1
//! (the initramfs's start by the kernel's clock), PID 1 → ready and kernel → ready; for Plinth,
//! from the node exporter, `plinth_boot_phase_seconds` and PID 1's resident memory
//! (`plinth_init_rss_bytes`, else the seed's probe service reading `/proc/1/status`). Each Plinth
//! boot uses a fresh disk, so each is a first boot (state partition created).
//!
//! The baselines boot the same kernel PXE-style through one shared initramfs ([`baseline`]): the
//! floor ([`floor`]: Plinth's own root with a shell script as PID 1 starting the same daemons at
//! once) and systemd ([`systemd`]: Plinth's tree with systemd 257 as Debian ships it, the same
//! daemons as units). All three use one definition of ready ([`READY_MEANS`]). Rounds interleave
//! the three so that a busy host slows each alike; the medians and the ratios Plinth/floor and
//! Plinth/systemd come last.

mod baseline;
mod floor;
mod systemd;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use qemu_tests::image::ImageSet;
use qemu_tests::metrics;
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, Variant};
use qemu_tests::timeline::{self, BootTimes, Markers};

use crate::{cmd, image, prereqs};

/// Flags of `cargo xtask bench boot`.
#[derive(clap::Args)]
pub struct BootArgs {
    /// How many boots.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Boot by legacy BIOS instead of UEFI.
    #[arg(long, conflicts_with = "pxe")]
    bios: bool,
    /// Boot the PXE set instead of the disk.
    #[arg(long)]
    pxe: bool,
    /// Boot whatever is in target/image/ without checking whether it is stale.
    #[arg(long)]
    no_build: bool,
}

/// What one boot measured.
struct Run {
    times: BootTimes,
    phases: BTreeMap<String, f64>,
    rss_kib: Option<f64>,
    /// PID 1's resident memory as the probe split it: anonymous (heap, stacks) and file-backed
    /// (the binary's pages it touched), KiB.
    rss_split: Option<(f64, f64)>,
}

pub fn run(args: &BootArgs) -> Result<ExitCode> {
    prereqs::ensure(&prereqs::QEMU)?;
    prereqs::ensure(&prereqs::BENCH)?;
    let dir = if args.no_build {
        qemu_tests::paths::image_dir()
    } else {
        image::ensure_built(true)?.dir
    };
    let image = ImageSet::locate(&dir)?;
    let variant = if args.pxe {
        Variant::Pxe
    } else if args.bios {
        Variant::Bios
    } else {
        Variant::Uefi
    };
    let mut fx = Fixture::new("bench-boot", image)?;
    eprintln!(
        "bench: {} rounds of {} Plinth, floor and systemd boots under {}; logs in {}",
        args.runs,
        variant.name(),
        qemu_tests::accel::name(fx.accel),
        fx.dir.path().display()
    );
    let kver = kernel_release(&fx.image)?;
    let scratch = fx.dir.join("baselines");
    let plinth_root = floor::plinth_root(&fx.image, &scratch)?;
    let modules = baseline::InitModules::from_root(&plinth_root, &kver, &scratch)?;
    let floor_initrd = floor::initrd(&fx.image, &modules, &scratch)?;
    let workspace = cmd::workspace_root();
    let tree_key = dir.join("mkosi/tree.key");
    let tree_key = std::fs::read_to_string(&tree_key).with_context(|| {
        format!(
            "reading {}: build the image here first (`cargo xtask image --dev`)",
            tree_key.display()
        )
    })?;
    let systemd_root = systemd::ensure_root(
        &workspace.join("image"),
        (&dir.join("mkosi/out/tree"), &tree_key),
        &kver,
        &qemu_tests::paths::target_dir().join("bench/systemd"),
    )?;
    let systemd_initrd = systemd::initrd(&systemd_root, &modules, &scratch)?;
    let _ = std::fs::remove_file(&plinth_root);
    println!("ready means: {READY_MEANS}");
    if variant != Variant::Pxe {
        println!(
            "note: the baselines boot PXE-style, so their kernel→PID 1 includes unpacking a root of \
             hundreds of MiB from the initrd; PID 1→ready compares like with like (or use --pxe)"
        );
    }
    // A boot that fails is reported and left out of the medians; the others still count.
    let mut runs = Vec::new();
    let mut floors = Vec::new();
    let mut systemds = Vec::new();
    for n in 1..=args.runs {
        match boot_once(&mut fx, variant, n) {
            Ok(run) => {
                print_run(&format!("plinth {n}"), &run);
                runs.push(run);
            }
            Err(e) => println!("plinth {n}: failed: {e:#}"),
        }
        for (label, initrd, said, into) in [
            ("floor", &floor_initrd, floor::SAYS, &mut floors),
            ("systemd", &systemd_initrd, systemd::SAYS, &mut systemds),
        ] {
            match boot_baseline_once(&mut fx, initrd, said, variant, n) {
                Ok(run) => {
                    print_run(&format!("{label} {n}"), &run);
                    into.push(run);
                }
                Err(e) => println!("{label} {n}: failed: {e:#}"),
            }
        }
    }
    let plinth = print_medians("plinth", &runs);
    let floor = print_medians("floor", &floors);
    let systemd = print_medians("systemd", &systemds);
    for (label, base, goal) in [("floor", floor, 1.1), ("systemd", systemd, 0.25)] {
        if let (Some(p), Some(b)) = (plinth, base) {
            println!(
                "plinth/{label}: kernel→ready {:.2}x (goal ≤ {goal}x), PID 1→ready {:.2}x",
                p.0 / b.0,
                p.1 / b.1
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The one definition of ready the three variants share, as the bench prints it.
pub const READY_MEANS: &str = "udev has settled, a NIC holds its DHCP IPv4 address and the node \
exporter answers on :9100. Plinth: its `plinth: ready` line, after every service is ready \
(udev-settle exited, the node exporter's probe answered) and phase time-sync saw the first lease \
(the bench's seed names no NTP server, so that is all it waits for). Floor and systemd: a script \
checking exactly these, started after udev settle";

/// The kernel release the manifest records.
fn kernel_release(image: &ImageSet) -> Result<String> {
    let text = std::fs::read_to_string(&image.manifest)?;
    let manifest: serde_json::Value = serde_json::from_str(&text)?;
    manifest["kernel_release"]
        .as_str()
        .map(str::to_string)
        .context("manifest.json has no kernel_release")
}

/// One baseline boot: the PXE kernel with a baseline's initrd, on the machine Plinth's `plinths`
/// boot had.
fn boot_baseline_once(
    fx: &mut Fixture,
    initrd: &std::path::Path,
    (label, markers): (&str, Markers),
    plinths: Variant,
    n: u32,
) -> Result<Run> {
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.pxe_override = Some((initrd.to_path_buf(), baseline::CMDLINE.to_string()));
    // The same machine as Plinth's boot: its disk and its seed, which udev's coldplug (and so
    // settle) goes through even though the baseline reads neither.
    if plinths != Variant::Pxe {
        opts.disk = Some(fx.overlay(&format!("disk-{label}-{n}"), 4)?);
    }
    opts.seed = Some(fx.probe_seed(&format!("{label}-{n}"))?);
    let mut node = fx.boot(&opts)?;
    let re = regex_lite(markers.ready);
    node.console()
        .wait_for(&re, READY_TIMEOUT)
        .with_context(|| format!("boot {n}: {}", node.console().log_path().display()))?;
    let times = timeline::boot_times_with(&node.console().lines(), markers)?;
    let rss = node
        .console()
        .wait_for(
            &regex_lite(&format!(r"{label}: pid1-rss-kib=\d+")),
            Duration::from_secs(10),
        )
        .ok()
        .and_then(|l| l.text.rsplit('=').next()?.trim().parse().ok());
    node.qmp()?.quit()?;
    node.wait_exit(Duration::from_secs(30))?;
    Ok(Run {
        times,
        phases: BTreeMap::new(),
        rss_kib: rss,
        rss_split: None,
    })
}

fn regex_lite(pattern: &str) -> qemu_tests::Regex {
    qemu_tests::Regex::new(pattern).expect("valid pattern")
}

fn boot_once(fx: &mut Fixture, variant: Variant, n: u32) -> Result<Run> {
    let mut opts = BootOptions::new(variant);
    if variant != Variant::Pxe {
        opts.disk = Some(fx.overlay(&format!("disk-{n}"), 4)?);
    }
    opts.seed = Some(fx.probe_seed(&format!("bench-{n}"))?);
    let mut node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    let times = timeline::boot_times(&node.console().lines())
        .with_context(|| format!("boot {n}: {}", node.console().log_path().display()))?;
    let samples = node
        .metrics(Duration::from_secs(20), |s| {
            !metrics::all(s, "plinth_boot_phase_seconds").is_empty()
        })
        .unwrap_or_default();
    let phases = metrics::all(&samples, "plinth_boot_phase_seconds")
        .into_iter()
        .filter_map(|s| Some((s.labels.get("phase")?.clone(), s.value)))
        .collect();
    // PID 1's own figure, else what the seed's probe read from /proc/1/status.
    let report = node.probe_report(Duration::from_secs(5)).ok();
    let probed = |key: &str| -> Option<f64> { report.as_ref()?.get(key)?.parse().ok() };
    let rss_kib = metrics::find(&samples, "plinth_init_rss_bytes", &[])
        .map(|b| b / 1024.0)
        .or_else(|| probed("pid1-rss-kib"));
    let rss_split = probed("pid1-rss-anon-kib").zip(probed("pid1-rss-file-kib"));
    node.qmp()?.quit()?;
    node.wait_exit(Duration::from_secs(30))?;
    Ok(Run {
        times,
        phases,
        rss_kib,
        rss_split,
    })
}

fn secs(d: Duration) -> String {
    format!("{:6.2}s", d.as_secs_f64())
}

fn print_run(label: &str, run: &Run) {
    let t = &run.times;
    println!(
        "{label}: firmware {}  kernel→PID 1 {}  PID 1→ready {}  kernel→ready {}  PID 1 RSS {}",
        secs(t.firmware),
        secs(t.kernel_to_pid1),
        secs(t.pid1_to_ready),
        secs(t.kernel_to_ready),
        run.rss_kib
            .map(|k| format!("{:.1} MiB", k / 1024.0))
            .unwrap_or_else(|| "n/a".into())
    );
    if let Some((anon, file)) = run.rss_split {
        println!(
            "        PID 1 RSS: {:.1} MiB anonymous (heap, stacks), {:.1} MiB file-backed (its binary's pages)",
            anon / 1024.0,
            file / 1024.0
        );
    }
    // The baselines have no phases to show.
    if !run.phases.is_empty() {
        let phases: Vec<String> = run
            .phases
            .iter()
            .map(|(p, s)| format!("{p} {s:.3}s"))
            .collect();
        println!("        boot phases: {}", phases.join(", "));
    }
}

/// Prints the medians; returns those of kernel→ready and PID 1→ready.
fn print_medians(label: &str, runs: &[Run]) -> Option<(f64, f64)> {
    let median =
        |f: &dyn Fn(&Run) -> f64| timeline::median(&runs.iter().map(f).collect::<Vec<_>>());
    let show = |m: Option<f64>| {
        m.map(|m| format!("{m:6.2}s"))
            .unwrap_or_else(|| "   n/a".into())
    };
    let to_ready = median(&|r| r.times.kernel_to_ready.as_secs_f64());
    let pid1_to_ready = median(&|r| r.times.pid1_to_ready.as_secs_f64());
    println!(
        "{label} median ({} boots): firmware {}  kernel→PID 1 {}  PID 1→ready {}  kernel→ready {}",
        runs.len(),
        show(median(&|r| r.times.firmware.as_secs_f64())),
        show(median(&|r| r.times.kernel_to_pid1.as_secs_f64())),
        show(pid1_to_ready),
        show(to_ready),
    );
    if let Some(rss) = timeline::median(&runs.iter().filter_map(|r| r.rss_kib).collect::<Vec<_>>())
    {
        println!("{label} median PID 1 RSS: {:.1} MiB", rss / 1024.0);
    }
    Some((to_ready?, pid1_to_ready?))
}
