//! What only the guest can see, reported by the probe service of the test's seed: `/` is mounted
//! read-only and refuses writes, and PID 1 is plinth-init (`/sbin/init` resolves to it).

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, Variant};

#[test]
fn root_is_read_only_and_pid_1_is_plinth_init() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("inside") else {
        return Ok(());
    };
    let mut opts = BootOptions::new(Variant::Bios);
    opts.disk = Some(fx.overlay("disk", 4)?);
    opts.seed = Some(fx.probe_seed("inside")?);
    let node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT)?;
    // The probe is a oneshot service, so it has finished by ready; a little slack for the console.
    let report = node
        .probe_report(Duration::from_secs(30))
        .with_context(|| {
            let config = node
                .console()
                .lines()
                .into_iter()
                .filter(|l| l.text.contains("phase config"))
                .map(|l| l.text)
                .collect::<Vec<_>>()
                .join("\n");
            format!(
                "the probe service of the seed did not report; the config phase said:\n{config}"
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
