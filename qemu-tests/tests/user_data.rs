//! User-data as `cloud-init devel make-mime` writes it, on the real image: a NoCloud seed whose
//! user-data is MIME multipart with a `text/cloud-config` part (hostname, a `write_files` entry), a
//! `text/x-shellscript` part that writes a marker on the state partition, and a
//! `text/cloud-boothook` part that counts the marker's lines. Both the config and the script take
//! effect on the first boot; after a reboot of the same disk and instance the boothook runs again
//! (every boot) and sees one marker line: the script did not run a second time.
//!
//! And `#include`: a seed whose user-data only includes a URL, served by the test to the guest at
//! `10.0.2.100:80` through a `guestfwd`; the node brings its network up to fetch it while reading
//! the seed, and the included multipart's config and script take effect.

use std::time::Duration;

use anyhow::{Result, ensure};
use qemu_tests::cmdline::GuestForward;
use qemu_tests::metrics;
use qemu_tests::node::{BootOptions, Fixture, Node, Variant};
use qemu_tests::seed::{Seed, SeedFormat};
use regex::Regex;

const BOUNDARY: &str = "===============5387094437468372393==";

/// `cloud-init devel make-mime -a config.yaml:cloud-config -a marker.sh:x-shellscript
/// -a count.sh:cloud-boothook`, byte for byte in its layout.
fn user_data() -> String {
    let parts = [
        (
            "config.yaml",
            "cloud-config",
            "#cloud-config\nhostname: mime-node\nwrite_files:\n  - path: /etc/plinth-test/from-mime.txt\n    content: written by the cloud-config part\n",
        ),
        (
            "marker.sh",
            "x-shellscript",
            "#!/bin/sh\necho ran >> /var/lib/plinth-test-marker\necho \"SCRIPT-RAN host=$(cat /proc/sys/kernel/hostname) file=$(cat /etc/plinth-test/from-mime.txt)\"\n",
        ),
        (
            "count.sh",
            "cloud-boothook",
            "#cloud-boothook\n#!/bin/sh\necho \"BOOTHOOK instance=$INSTANCE_ID markers=$(cat /var/lib/plinth-test-marker 2>/dev/null | wc -l)\"\n",
        ),
    ];
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\nMIME-Version: 1.0\n\n");
    for (name, subtype, body) in parts {
        out.push_str(&format!(
            "--{BOUNDARY}\nContent-Type: text/{subtype}; charset=\"us-ascii\"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename=\"{name}\"\n\n{body}\n"
        ));
    }
    out.push_str(&format!("--{BOUNDARY}--\n"));
    out
}

fn boot(fx: &mut Fixture, opts: &BootOptions) -> Result<Node> {
    Ok(fx.boot_ready(opts)?.0)
}

fn count(node: &Node, pattern: &str) -> Result<usize> {
    Ok(node.console().matching(&Regex::new(pattern)?).len())
}

fn ensure_line(node: &Node, pattern: &str) -> Result<()> {
    ensure!(
        count(node, pattern)? > 0,
        "no console line matching {pattern:?}; console:\n{}",
        node.console().tail(80)
    );
    Ok(())
}

#[test]
fn mime_multipart_config_and_script_once_per_instance() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("user_data") else {
        return Ok(());
    };
    // The harness reads the seed as a user would validate it first.
    let parsed =
        plinth_config::parse("user-data", &user_data()).map_err(|d| anyhow::anyhow!("{d}"))?;
    ensure!(parsed.config.user_scripts.scripts.len() == 1, "{parsed:?}");
    let seed = fx.seed(
        "seed",
        &Seed::new(&user_data(), "iid-mime", "meta-name"),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(seed);
    opts.no_reboot = true;

    let mut first = boot(&mut fx, &opts)?;
    ensure_line(
        &first,
        r"^\[boothook\.1 count\.sh\] BOOTHOOK instance=iid-mime markers=0$",
    )?;
    ensure_line(
        &first,
        r"^\[script\.1 marker\.sh\] SCRIPT-RAN host=mime-node file=written by the cloud-config part$",
    )?;
    let samples = first.metrics(Duration::from_secs(60), |s| {
        !metrics::all(s, "node_uname_info").is_empty()
    })?;
    ensure!(
        metrics::nodename(&samples) == Some("mime-node"),
        "the cloud-config part's hostname, not meta-data's: {:?}",
        metrics::all(&samples, "node_uname_info")
    );
    first.reboot_to_exit()?;
    drop(first);

    // Same disk, same instance: the boothook runs again, the script does not.
    let second = boot(&mut fx, &opts)?;
    ensure_line(
        &second,
        r"^\[boothook\.1 count\.sh\] BOOTHOOK instance=iid-mime markers=1$",
    )?;
    ensure_line(
        &second,
        r"runcmd and scripts already ran for instance iid-mime",
    )?;
    ensure!(
        count(&second, r"SCRIPT-RAN")? == 0,
        "the script ran again for the same instance; console:\n{}",
        second.console().tail(80)
    );
    Ok(())
}

/// What the test serves for the seed's `#include`: a multipart as make-mime writes it.
const INCLUDED: &str = "Content-Type: multipart/mixed; boundary=\"==inc==\"\nMIME-Version: 1.0\n\n--==inc==\nContent-Type: text/cloud-config; charset=\"us-ascii\"\nContent-Disposition: attachment; filename=\"included.yaml\"\n\n#cloud-config\nhostname: included-node\n\n--==inc==\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\nContent-Disposition: attachment; filename=\"included.sh\"\n\n#!/bin/sh\necho \"INCLUDED-SCRIPT host=$(cat /proc/sys/kernel/hostname)\"\n\n--==inc==--\n";

#[test]
fn an_include_in_a_seed_is_fetched_over_the_network() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("user_data_include") else {
        return Ok(());
    };
    let (port, hits) = qemu_tests::http::serve("/included", INCLUDED)?;
    let seed = fx.seed(
        "seed",
        &Seed::new(
            "#include\nhttp://10.0.2.100/included\n",
            "iid-include",
            "meta-name",
        ),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(seed);
    opts.guest_forwards = vec![GuestForward {
        guest: 80,
        host: port,
    }];
    let node = boot(&mut fx, &opts)?;
    ensure_line(
        &node,
        r"config: fetched #include http://10\.0\.2\.100/included \(\d+ bytes\)",
    )?;
    ensure_line(
        &node,
        r"^\[script\.1 included\.sh\] INCLUDED-SCRIPT host=included-node$",
    )?;
    ensure!(
        hits.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the included document was never fetched"
    );
    Ok(())
}
