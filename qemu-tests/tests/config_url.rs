//! A PXE-style boot whose machine config comes from a URL: a tiny HTTP server in the test serves it
//! on the host's loopback, the guest reaches it at `10.0.2.100:80` through a QEMU `guestfwd` relay
//! (the guest stays `restrict=on`), and `plinth.config=URL plinth.config.sha256=HEX` is appended to
//! the image's kernel command line. With the right checksum the node says what it fetched and gets
//! ready with the config's hostname; with a wrong one it stays in maintenance mode saying expected
//! and got.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::cmdline::GuestForward;
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, Variant};
use regex::Regex;
use sha2::{Digest, Sha256};

const CONFIG: &str = "#cloud-config\nhostname: from-url\n";

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn options(fx: &Fixture, port: u16, sha256: &str) -> Result<BootOptions> {
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.guest_forwards = vec![GuestForward {
        guest: 80,
        host: port,
    }];
    opts.pxe_override = Some((
        fx.pxe_initrd()?,
        format!(
            "{} plinth.config=http://10.0.2.100/cfg plinth.config.sha256={sha256}",
            fx.image.cmdline
        ),
    ));
    Ok(opts)
}

#[test]
fn a_config_url_boots_with_the_right_sha256_and_not_with_a_wrong_one() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("config_url") else {
        return Ok(());
    };
    if std::process::Command::new("busybox")
        .arg("true")
        .status()
        .is_err()
    {
        qemu_tests::skip::unavailable(
            "config_url",
            "the guestfwd relay needs busybox (nc) on the host (cargo xtask prereqs)",
        );
        return Ok(());
    }
    let (port, hits) = qemu_tests::http::serve("/cfg", CONFIG)?;
    let sum = sha256_hex(CONFIG.as_bytes());

    let (node, _) = fx.boot_ready(&options(&fx, port, &sum)?)?;
    let fetched = Regex::new(&format!(
        r"config: fetched http://10\.0\.2\.100/cfg \({} bytes, sha256 {sum}",
        CONFIG.len()
    ))?;
    ensure!(
        node.console()
            .lines()
            .iter()
            .any(|l| fetched.is_match(&l.text)),
        "no `fetched` line; console:\n{}",
        node.console().tail(80)
    );
    let source = Regex::new(r"phase config: done .*plinth\.config=http://10\.0\.2\.100/cfg")?;
    ensure!(
        node.console()
            .lines()
            .iter()
            .any(|l| source.is_match(&l.text)),
        "the config phase did not use the URL; console:\n{}",
        node.console().tail(80)
    );
    ensure!(hits.load(Ordering::SeqCst) >= 1, "the server saw no GET");
    drop(node);

    let wrong = "0".repeat(64);
    let node = fx.boot(&options(&fx, port, &wrong)?)?;
    let mismatch = Regex::new(&format!("sha256 mismatch: expected {wrong}, got {sum}"))?;
    node.console()
        .wait_for(&mismatch, READY_TIMEOUT)
        .with_context(|| format!("no mismatch line; console:\n{}", node.console().tail(60)))?;
    node.console()
        .wait_for(
            &Regex::new("MAINTENANCE MODE: phase `config` failed")?,
            Duration::from_secs(60),
        )
        .with_context(|| format!("no maintenance; console:\n{}", node.console().tail(60)))?;
    ensure!(
        !node
            .console()
            .lines()
            .iter()
            .any(|l| l.text.contains("plinth: ready in")),
        "a wrong checksum must not boot to ready"
    );
    Ok(())
}
