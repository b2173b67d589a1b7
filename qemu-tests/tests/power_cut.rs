//! Power cuts (issue 14's fault suite): a PXE node with a state disk and a data disk boots once
//! to ready (its config, from a NoCloud seed, is then kept on the state disk), and then, `runs`
//! times (`PLINTH_POWER_CUTS`, 2 by default; `cargo xtask faults --power-cuts N`), loses power
//! (QMP `quit`) at a random point between its start and ready (one in each of N slices of that
//! time), and boots again to ready. Every
//! boot keeps the first boot's machine-id; at the end, after a clean shutdown, the state
//! filesystem checks clean (`e2fsck -fn`), the kept config is whole (its seal checks), and the
//! data disk, which nothing should write, is byte for byte as it was.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use qemu_tests::cmdline::{DiskFormat, Drive};
use qemu_tests::disk;
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, SHUTDOWN_TIMEOUT, Variant};
use qemu_tests::seed::{Seed, SeedFormat};
use regex::Regex;

const USER_DATA: &str = "#cloud-config\nhostname: cut-node\n";

/// The machine-id stage 1 printed on this boot.
fn machine_id(node: &Node) -> Result<String> {
    let line = node
        .console()
        .wait_for(&Regex::new(r"machine-id [0-9a-f]{32}")?, Duration::ZERO)?;
    Regex::new(r"machine-id ([0-9a-f]{32})")?
        .captures(&line.text)
        .map(|c| c[1].to_string())
        .context("machine-id line")
}

/// A raw disk of `mib` MiB filled with a pattern, and its hash.
fn data_disk(fx: &Fixture, mib: u64) -> Result<(Drive, String)> {
    let path = fx.dir.join("data.img");
    let pattern: Vec<u8> = (0..(mib << 20) as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&path, &pattern)?;
    let hash = disk::hash_range(&path, 0, mib << 20)?;
    Ok((
        Drive {
            path,
            format: DiskFormat::Raw,
            read_only: false,
            serial: None,
        },
        hash,
    ))
}

/// A small deterministic generator (xorshift64) for the cut points.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn power_cuts_at_random_points_leave_a_node_that_boots_with_its_state_whole() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("power-cut") else {
        return Ok(());
    };
    let runs: usize = std::env::var("PLINTH_POWER_CUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2);
    let state = fx.state_disk("state", 512)?;
    let (data, data_hash) = data_disk(&fx, 16)?;
    let seed = fx.seed(
        "seed",
        &Seed::new(USER_DATA, "i-power-cut", "cut-node"),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.disk = Some(state.clone());
    opts.extra_disks = vec![data];
    opts.seed = Some(seed);
    // A reboot ends QEMU, so the last boot's clean shutdown can be waited for.
    opts.no_reboot = true;

    let started = Instant::now();
    let first = fx.boot(&opts)?;
    first.wait_ready(READY_TIMEOUT)?;
    let to_ready = started.elapsed();
    let id = machine_id(&first)?;
    let mut first = first;
    first.qmp()?.quit()?;
    first.wait_exit(SHUTDOWN_TIMEOUT)?;
    drop(first);

    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut cuts = Vec::new();
    for run in 0..runs {
        // Within the first 70% of the first boot's time to ready (later boots are quicker: no
        // machine-id to make, and the cut should come before ready), one cut in each of `runs`
        // equal slices of it, at a random point of its slice.
        let window = (to_ready.as_millis() as u64 * 7 / 10).max(1);
        let slice = window / runs as u64;
        let at = Duration::from_millis(slice * run as u64 + next(&mut rng) % slice.max(1));
        let mut cut = fx.boot(&opts)?;
        std::thread::sleep(at);
        cut.qmp()?.quit()?;
        cut.wait_exit(SHUTDOWN_TIMEOUT)?;
        let reached = cut
            .console()
            .lines()
            .into_iter()
            .rev()
            .find(|l| l.text.contains("plinth"))
            .map(|l| l.text.clone())
            .unwrap_or_else(|| "(before the kernel said anything of Plinth)".into());
        drop(cut);
        let stage = if reached.contains("ready in") {
            "after ready"
        } else if reached.contains("stage 1") {
            "in stage 1"
        } else if reached.contains("plinth: [") {
            "in stage 2"
        } else {
            "before stage 1"
        };
        cuts.push(format!("{:.1}s ({stage})", at.as_secs_f64()));

        let again = fx.boot(&opts)?;
        again
            .wait_ready(READY_TIMEOUT)
            .with_context(|| format!("run {run}: no ready after a cut at {at:?} ({reached})"))?;
        ensure!(
            machine_id(&again)? == id,
            "run {run}: the machine-id changed after a cut at {at:?}"
        );
        let corrupt = again
            .console()
            .lines()
            .into_iter()
            .any(|l| l.text.contains("is corrupt"));
        ensure!(
            !corrupt,
            "run {run}: the kept config was damaged by a cut at {at:?}:\n{}",
            again.console().tail(40)
        );
        let mut again = again;
        if run + 1 == runs {
            again.reboot_to_exit()?;
        } else {
            again.qmp()?.quit()?;
            again.wait_exit(SHUTDOWN_TIMEOUT)?;
        }
    }

    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(&state.path)
        .output()?;
    ensure!(
        fsck.status.success(),
        "the state filesystem is not clean: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let kept = Command::new("debugfs")
        .args(["-R", "cat /var/upper/lib/plinth/config.yaml"])
        .arg(&state.path)
        .output()?;
    let kept = String::from_utf8_lossy(&kept.stdout).into_owned();
    plinth_init::boot::kept_config::check(&kept)
        .map_err(|e| anyhow::anyhow!("the kept config is not whole ({e}):\n{kept}"))?;
    ensure!(kept.contains("cut-node"), "{kept}");
    ensure!(
        disk::hash_range(&opts.extra_disks[0].path, 0, 16 << 20)? == data_hash,
        "the data disk changed"
    );
    let figure = format!(
        "power cuts: {runs} cuts at {} (ready takes {:.1}s): every boot after came to ready with machine-id {id}; state fsck clean; kept config whole; data disk unchanged",
        cuts.join(", "),
        to_ready.as_secs_f64()
    );
    eprintln!("FIGURE {figure}");
    if let Ok(path) = std::env::var("PLINTH_FAULT_REPORT") {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{figure}")?;
    }
    Ok(())
}
