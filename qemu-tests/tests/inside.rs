//! What only the guest can see, reported by the probe service of the test's seed: `/` is mounted
//! read-only and refuses writes, and PID 1 is plinth-init (`/sbin/init` resolves to it); the seed
//! is read from a vfat virtio disk and from an iso9660 CD-ROM, on q35's AHCI and on a `pc`
//! machine's IDE controller (whose driver the config phase loads late).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::cmdline::Chipset;
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, Variant};
use qemu_tests::seed::SeedFormat;

#[test]
fn root_is_read_only_and_pid_1_is_plinth_init() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("inside") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Bios);
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(fx.probe_seed("inside")?);
    let (node, _) = fx.boot_ready(&opts)?;
    // The probe is a oneshot service, so it has finished by ready; a little slack for the console.
    let report = node
        .probe_report(Duration::from_secs(30))
        .with_context(|| {
            format!(
                "the probe service of the seed did not report; the config phase said:\n{}",
                config_phase(&node)
            )
        })?;
    ensure!(
        report.root_mounted_read_only(),
        "/ is not mounted read-only: {report:?}"
    );
    ensure!(
        report.get("root-write") == Some("refused"),
        "writing to / was not refused: {report:?}"
    );
    ensure!(
        report.get("pid1-exe") == Some("/usr/bin/plinth-init"),
        "PID 1 is not plinth-init: {report:?}"
    );
    Ok(())
}

/// The same probe from an iso9660 seed (as `genisoimage -V cidata` makes it) in a CD-ROM drive:
/// the seed is read from there too.
#[test]
fn an_iso9660_seed_on_a_cdrom_is_read() -> Result<()> {
    cdrom_seed_is_read("inside-cdrom", Chipset::Q35)
}

/// The same on an i440fx (`pc`) machine, whose CD-ROM hangs off the PIIX IDE controller, as an
/// OpenStack instance's config drive does: stage 1 leaves its driver out, so the config phase loads
/// it when it finds no seed elsewhere, and says so.
#[test]
fn an_iso9660_seed_on_the_ide_cdrom_of_a_pc_machine_is_read() -> Result<()> {
    cdrom_seed_is_read("inside-cdrom-pc", Chipset::I440fx)
}

fn cdrom_seed_is_read(name: &str, chipset: Chipset) -> Result<()> {
    let Some(mut fx) = Fixture::for_test(name) else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.chipset = chipset;
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.cdrom = Some(fx.probe_seed_as(name, SeedFormat::Iso9660)?);
    let node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    let report = node
        .probe_report(Duration::from_secs(30))
        .with_context(|| {
            format!(
                "the probe service of the CD-ROM seed did not report; the config phase said:\n{}",
                config_phase(&node)
            )
        })?;
    ensure!(report.done, "{report:?}");
    if chipset == Chipset::I440fx {
        let late = qemu_tests::Regex::new(
            r"config: no seed on the disks found so far: loaded ata_piix, sr_mod",
        )?;
        ensure!(
            !node.console().matching(&late).is_empty(),
            "no console line says the IDE driver was loaded for config media:\n{}",
            config_phase(&node)
        );
    }
    Ok(())
}

/// The console lines of stage 2's config phase (which say where the config came from).
fn config_phase(node: &qemu_tests::node::Node) -> String {
    node.console()
        .lines()
        .into_iter()
        .filter(|l| l.text.contains("phase config"))
        .map(|l| l.text)
        .collect::<Vec<_>>()
        .join("\n")
}
