//! The node exporter of a node booted with the image's embedded default config answers on the
//! forwarded port with Plinth's own metrics: `plinth_boot_ready_seconds` and the node exporter's
//! own service reported up.

use std::time::Duration;

use anyhow::{Result, ensure};
use qemu_tests::metrics;
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, Variant};

#[test]
fn node_exporter_serves_plinth_metrics_on_the_forwarded_port() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("metrics") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Uefi);
    opts.disk = Some(fx.overlay("disk", 4)?);
    let node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    let samples = node.metrics(Duration::from_secs(90), |s| {
        metrics::find(s, "plinth_boot_ready_seconds", &[]).is_some()
            && metrics::find(s, "plinth_service_up", &[("service", "node-exporter")]) == Some(1.0)
    })?;
    let ready = metrics::find(&samples, "plinth_boot_ready_seconds", &[]).unwrap_or(f64::NAN);
    ensure!(
        ready > 0.0 && ready < READY_TIMEOUT.as_secs_f64(),
        "plinth_boot_ready_seconds is {ready}"
    );
    Ok(())
}
