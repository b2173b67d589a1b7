//! The image boots to ready by every supported path: the disk by UEFI (OVMF) and by legacy BIOS
//! (SeaBIOS), and the PXE set (kernel plus both initrds, loaded directly as iPXE would).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::node::{BootOptions, Fixture, Variant};
use regex::Regex;

#[test]
fn disk_boots_by_uefi_to_ready() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("boot-uefi") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(fx.overlay("disk", 4)?);
    let (node, ready) = fx.boot_ready(&opts)?;
    eprintln!(
        "UEFI: ready line at {:.1}s of QEMU time, stage 2 says {:.2}s",
        ready.line.at.as_secs_f64(),
        ready.seconds
    );
    node.console()
        .wait_for(
            &Regex::new("BdsDxe: (loading|starting) Boot")?,
            Duration::ZERO,
        )
        .context("OVMF did the booting")?;
    Ok(())
}

#[test]
fn disk_boots_by_bios_to_ready() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("boot-bios") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Bios);
    opts.disk = Some(fx.overlay("disk", 4)?);
    let (node, ready) = fx.boot_ready(&opts)?;
    eprintln!(
        "BIOS: ready line at {:.1}s of QEMU time, stage 2 says {:.2}s",
        ready.line.at.as_secs_f64(),
        ready.seconds
    );
    ensure!(
        !node
            .console()
            .lines()
            .iter()
            .any(|l| l.text.contains("BdsDxe")),
        "UEFI firmware ran in a BIOS boot"
    );
    Ok(())
}

#[test]
fn pxe_set_boots_to_ready() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("boot-pxe") else {
        return Ok(());
    };
    let (_node, ready) = fx.boot_ready(&BootOptions::new(Variant::Pxe))?;
    eprintln!(
        "PXE: ready line at {:.1}s of QEMU time, stage 2 says {:.2}s",
        ready.line.at.as_secs_f64(),
        ready.seconds
    );
    Ok(())
}
