//! The node's identity and cloud-init steps on the real image: a NoCloud seed with hostname and
//! FQDN, `write_files` (one refused because it is on the read-only root), a user with an SSH key
//! (so sshd runs) and a `runcmd` printing a marker. The node exporter's `node_uname_info` shows the
//! hostname; the console shows the runcmd output, the files and /etc/hosts. Rebooting the same
//! disk with the same instance-id does not run runcmd again; a seed with a new instance-id does.

use std::time::Duration;

use anyhow::{Result, ensure};
use qemu_tests::metrics;
use qemu_tests::node::{BootOptions, Fixture, Node, Variant};
use qemu_tests::seed::{Seed, SeedFormat};
use regex::Regex;

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJbXp5jOJ9naWTgNoiiQtYQifxEWx95M3exChNno1a73 plinth-test";

/// The seed's user-data: `marker` is what runcmd prints.
fn user_data(marker: &str) -> String {
    format!(
        r#"#cloud-config
hostname: node1
fqdn: node1.cluster.local
users:
  - name: ops
    groups: [kvm]
    ssh_authorized_keys: ["{KEY}"]
write_files:
  - path: /etc/plinth-test/hello.txt
    content: aGVsbG8gZnJvbSB3cml0ZV9maWxlcwo=
    encoding: b64
    permissions: '0640'
  - path: /usr/lib/plinth-refused
    content: "nope"
  - path: /home/ops/deferred.txt
    content: "owned by ops"
    owner: ops:ops
    defer: true
runcmd:
  - echo {marker}
  - [sh, -c, "echo hosts: $(grep cluster.local /etc/hosts); echo file: $(cat /etc/plinth-test/hello.txt); echo owner: $(stat -c %U /home/ops/deferred.txt /home/ops/.ssh/authorized_keys)"]
"#
    )
}

fn boot(fx: &mut Fixture, opts: &BootOptions) -> Result<Node> {
    Ok(fx.boot_ready(opts)?.0)
}

fn console_has(node: &Node, pattern: &str) -> Result<bool> {
    Ok(!node.console().matching(&Regex::new(pattern)?).is_empty())
}

fn ensure_line(node: &Node, pattern: &str) -> Result<()> {
    ensure!(
        console_has(node, pattern)?,
        "no console line matching {pattern:?}; console:\n{}",
        node.console().tail(60)
    );
    Ok(())
}

#[test]
fn identity_files_and_runcmd_once_per_instance() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("identity") else {
        return Ok(());
    };
    let seed_a = fx.seed(
        "seed-a",
        &Seed::new(&user_data("MARKER-RUNCMD-A"), "iid-a", "node1"),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(seed_a.clone());
    opts.no_reboot = true;

    // First boot: everything runs.
    let mut first = boot(&mut fx, &opts)?;
    let samples = first.metrics(Duration::from_secs(60), |s| {
        !metrics::all(s, "node_uname_info").is_empty()
    })?;
    let uname = metrics::all(&samples, "node_uname_info");
    ensure!(
        metrics::nodename(&samples) == Some("node1"),
        "node_uname_info: {uname:?}"
    );
    ensure_line(&first, r"^\[runcmd\.1\] MARKER-RUNCMD-A$")?;
    ensure_line(
        &first,
        r"^\[runcmd\.2\] hosts: 127\.0\.0\.1 node1\.cluster\.local node1$",
    )?;
    ensure_line(&first, r"^\[runcmd\.2\] file: hello from write_files$")?;
    ensure_line(&first, r"^\[runcmd\.2\] owner: ops ops$")?;
    ensure_line(
        &first,
        r"write_files: /usr/lib/plinth-refused: refused, it is on the read-only root",
    )?;
    ensure_line(&first, r"instance iid-a: new")?;
    ensure_line(&first, r"service sshd: ready")?;
    first.reboot_to_exit()?;
    drop(first);

    // Same disk, same instance-id: runcmd does not run again.
    let mut second = boot(&mut fx, &opts)?;
    ensure_line(
        &second,
        r"runcmd and scripts already ran for instance iid-a",
    )?;
    ensure!(
        !console_has(&second, r"MARKER-RUNCMD-A")?,
        "runcmd ran again for the same instance; console:\n{}",
        second.console().tail(60)
    );
    second.reboot_to_exit()?;
    drop(second);

    // A new instance-id: runcmd runs again.
    let seed_b = fx.seed(
        "seed-b",
        &Seed::new(&user_data("MARKER-RUNCMD-B"), "iid-b", "node1"),
        SeedFormat::Vfat,
    )?;
    opts.seed = Some(seed_b);
    let third = boot(&mut fx, &opts)?;
    ensure_line(&third, r"instance iid-b: new \(was iid-a\)")?;
    ensure_line(&third, r"^\[runcmd\.1\] MARKER-RUNCMD-B$")?;
    Ok(())
}
