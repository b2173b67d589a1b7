//! The state partition: created by stage 1 on the first boot in the free space after the root
//! slots, found again (same partition, same filesystem, same machine-id) on the second, also when
//! the first boot ended in a power cut; and a disk whose free space already holds a partition with
//! data is left exactly as it was.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::disk;
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, SHUTDOWN_TIMEOUT, Variant};
use regex::Regex;

/// The GPT name and ext4 label of the state partition.
const STATE: &str = "PLINTH_STATE";

/// Stage 1's `state: … labelled PLINTH_STATE (created|found …)` line, and its machine-id line.
fn stage1_state(node: &Node) -> Result<(String, String)> {
    let state = node.console().wait_for(
        &Regex::new(r"plinth stage 1: state: .*PLINTH_STATE")?,
        Duration::ZERO,
    )?;
    let id = node
        .console()
        .wait_for(&Regex::new(r"machine-id [0-9a-f]{32}")?, Duration::ZERO)?;
    let id = Regex::new(r"machine-id ([0-9a-f]{32})")?
        .captures(&id.text)
        .map(|c| c[1].to_string())
        .context("machine-id line")?;
    Ok((state.text, id))
}

/// Ends QEMU as a power cut would; the guest's filesystems are not unmounted.
fn pull_the_plug(node: &mut Node) -> Result<()> {
    node.qmp()?.quit()?;
    node.wait_exit(SHUTDOWN_TIMEOUT)?;
    Ok(())
}

#[test]
fn state_partition_is_created_on_first_boot_and_found_on_the_second() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("state-reuse") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    let drive = fx.overlay("disk", 4)?;
    opts.disk = Some(drive.clone());
    opts.no_reboot = true;

    let mut first = fx.boot(&opts)?;
    first.wait_ready(READY_TIMEOUT)?;
    let (state1, id1) = stage1_state(&first)?;
    ensure!(state1.contains("created"), "first boot: {state1}");
    first.reboot_to_exit()?;
    drop(first);

    let flat = fx.flatten(&drive)?;
    let table1 = disk::table(&flat)?;
    let part1 = table1
        .by_name(STATE)
        .cloned()
        .with_context(|| format!("no partition named {STATE} after the first boot: {table1:?}"))?;
    let root_b = table1.by_name("plinth-root-b").context("slot B")?;
    ensure!(
        part1.start >= root_b.start + root_b.size,
        "the state partition is not after the root slots: {part1:?}"
    );
    let fs1 = disk::ext4_of(&flat, &part1)?.context("the state partition holds no ext4")?;
    ensure!(fs1.label == STATE, "{fs1:?}");

    let mut second = fx.boot(&opts)?;
    second.wait_ready(READY_TIMEOUT)?;
    let (state2, id2) = stage1_state(&second)?;
    ensure!(
        !state2.contains("created"),
        "second boot made a new one: {state2}"
    );
    ensure!(id1 == id2, "machine-id changed: {id1} then {id2}");
    pull_the_plug(&mut second)?;
    drop(second);

    let flat = fx.flatten(&drive)?;
    let table2 = disk::table(&flat)?;
    ensure!(
        table2 == table1,
        "the partition table changed on the second boot:\n{table1:?}\n{table2:?}"
    );
    let fs2 = disk::ext4_of(&flat, &part1)?.context("state ext4 gone")?;
    ensure!(fs2.uuid == fs1.uuid, "the state filesystem was remade");
    Ok(())
}

#[test]
fn free_space_holding_a_partition_with_data_is_left_untouched() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("state-occupied") else {
        return Ok(());
    };
    let drive = fx.raw_copy("disk")?;
    let data = disk::append_partition_filling_rest(&drive.path, "precious")?;
    // Something that is plainly data: a pattern at the start and at the end of the partition.
    let pattern: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    disk::write_at(&drive.path, data.start, &pattern)?;
    disk::write_at(
        &drive.path,
        data.start + data.size - pattern.len() as u64,
        &pattern,
    )?;
    let table_before = disk::table(&drive.path)?;
    let hash_before = disk::hash_range(&drive.path, data.start, data.size)?;

    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(drive.clone());
    let mut node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    let created = node
        .console()
        .lines()
        .into_iter()
        .find(|l| l.text.contains("state") && l.text.contains("created"));
    ensure!(created.is_none(), "stage 1 created state: {created:?}");
    node.qmp()?.quit()?;
    node.wait_exit(SHUTDOWN_TIMEOUT)?;
    drop(node);

    let table_after = disk::table(&drive.path)?;
    ensure!(
        table_after == table_before,
        "the partition table changed:\n{table_before:?}\n{table_after:?}"
    );
    let hash_after = disk::hash_range(&drive.path, data.start, data.size)?;
    ensure!(
        hash_after == hash_before,
        "the data partition's bytes changed"
    );
    Ok(())
}

/// An appliance loses power at any time: a machine-id generated on the first boot must be on disk
/// by the time the node says it is ready, or the node comes back as another machine.
#[test]
fn machine_id_survives_a_power_cut_after_ready() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("state-power-cut") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(fx.overlay("disk", 4)?);
    let mut first = fx.boot(&opts)?;
    first.wait_ready(READY_TIMEOUT)?;
    let (_, id1) = stage1_state(&first)?;
    // Past ext4's 5 s journal commit interval: only what was never written back is lost.
    std::thread::sleep(Duration::from_secs(6));
    pull_the_plug(&mut first)?;
    drop(first);

    let second = fx.boot(&opts)?;
    second.wait_ready(READY_TIMEOUT)?;
    let (state2, id2) = stage1_state(&second)?;
    ensure!(
        !state2.contains("created"),
        "second boot made a new one: {state2}"
    );
    ensure!(
        id1 == id2,
        "machine-id changed across a power cut: {id1} then {id2}"
    );
    Ok(())
}
