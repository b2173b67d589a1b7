//! Power: the ACPI power button (QMP `system_powerdown`) powers the node off cleanly, and
//! ctrl-alt-del (QMP `send-key`) reboots it cleanly. "Cleanly" is read from the disk afterwards:
//! the state filesystem was unmounted (valid, nothing for the journal to replay), and the node
//! boots again to ready.

use anyhow::{Context, Result, ensure};
use qemu_tests::cmdline::Drive;
use qemu_tests::disk;
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, SHUTDOWN_TIMEOUT, Variant};

/// The state filesystem on `drive` was unmounted cleanly.
fn state_is_clean(fx: &Fixture, drive: &Drive) -> Result<()> {
    let flat = fx.flatten(drive)?;
    let table = disk::table(&flat)?;
    let part = table
        .by_name("PLINTH_STATE")
        .with_context(|| format!("no state partition: {table:?}"))?;
    let fs = disk::ext4_of(&flat, part)?.context("the state partition holds no ext4")?;
    ensure!(
        fs.clean(),
        "the state filesystem was not unmounted cleanly: {fs:?}"
    );
    Ok(())
}

#[test]
fn system_powerdown_powers_off_cleanly() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("power-off") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    let drive = fx.overlay("disk", 4)?;
    opts.disk = Some(drive.clone());
    let mut node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    let mut qmp = node.qmp()?;
    qmp.system_powerdown()?;
    let shutdown = qmp
        .wait_event("SHUTDOWN", SHUTDOWN_TIMEOUT)
        .with_context(|| format!("no power-off; console:\n{}", node.console().tail(25)))?;
    ensure!(
        shutdown["reason"] == "guest-shutdown",
        "QEMU stopped for another reason: {shutdown}"
    );
    node.wait_exit(SHUTDOWN_TIMEOUT)?;
    drop(node);
    state_is_clean(&fx, &drive)
}

#[test]
fn ctrl_alt_del_reboots_cleanly() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("power-reboot") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    let drive = fx.overlay("disk", 4)?;
    opts.disk = Some(drive.clone());
    // QEMU exits instead of resetting, so the disk can be read between the two boots.
    opts.no_reboot = true;
    let mut node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    let shutdown = node.reboot_to_exit()?;
    ensure!(
        shutdown["reason"] == "guest-reset",
        "the guest did not reboot: {shutdown}"
    );
    drop(node);
    state_is_clean(&fx, &drive)?;

    opts.no_reboot = false;
    let again = fx.boot(&opts)?;
    again.wait_ready(READY_TIMEOUT)?;
    Ok(())
}
