//! The container runtime of a cluster node, on a real boot: a config with a `plinth.cluster` has
//! plinth-init start Debian's containerd as a built-in service (ready on its socket, `ctr version`
//! answers as client and server) and import the image's own pause image into the CRI's `k8s.io`
//! namespace, under exactly the name containerd's `sandbox_image` says, with no registry anywhere.
//! A container of that image then runs (as user 65535, PID 1 of its own PID namespace) and exits 0
//! on SIGTERM, as a pod sandbox's pause must. The Kubernetes components are in the image too and
//! report the pinned version.
//!
//! PXE boot with a state disk (containerd's data is under `/var`), a root shell on ttyS1.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::node::{BootOptions, Fixture, Variant};
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::session::Session;
use regex::Regex;

/// An agent: containerd runs on every cluster node, and an agent (whose join is not built yet)
/// runs no control plane beside it, which this test does not need (`cluster.rs` boots one).
const CONFIG: &str = "#cloud-config
hostname: ctr-node
plinth:
  cluster:
    name: ctr-lab
    role: agent
    endpoint: https://10.0.2.2:6443
    token: ctrlab.0123456789abcdef
";

/// The sandbox image, as containerd's config names it.
const PAUSE: &str = "localhost/plinth/pause:1";

#[test]
fn containerd_runs_the_local_pause_image_with_no_registry() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("containerd") else {
        return Ok(());
    };
    let seed = fx.seed(
        "seed",
        &Seed::new(CONFIG, "iid-containerd", "ctr-node"),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.seed = Some(seed);
    opts.disk = Some(fx.state_disk("state", 1024)?);
    // The PXE root lives in RAM, and containerd with a container needs some besides.
    opts.memory_mib = 2048;
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());
    let (node, _) = fx.boot_ready(&opts)?;
    node.console()
        .wait_for(
            &Regex::new(r"service containerd: ready")?,
            Duration::from_secs(120),
        )
        .with_context(|| {
            format!(
                "containerd never ready; console:\n{}",
                node.console().tail(40)
            )
        })?;
    let mut sh = Session::open(&node, Duration::from_secs(120))?;

    // containerd answers as a server, and is a built-in service of PID 1.
    let version = sh.run("ctr version")?;
    ensure!(
        version.status == 0 && version.text.contains("Server:") && version.text.contains("1.7"),
        "ctr version: {version:?}"
    );
    let status = sh.run("plinthctl status containerd -o json")?;
    ensure!(
        status.text.contains(r#""state": "ready""#) || status.text.contains(r#""state":"ready""#),
        "containerd is not a ready service: {status:?}"
    );

    // The pause image is imported under the sandbox image's name, and nothing was pulled.
    sh.run_until(
        "plinthctl status containerd-images -o json",
        "exited",
        Duration::from_secs(120),
    )?;
    let images = sh.run("ctr -n k8s.io images ls -q")?;
    ensure!(
        images.text.lines().any(|l| l.trim() == PAUSE),
        "{PAUSE} is not in containerd's k8s.io namespace: {images:?}"
    );
    let config = sh.run("grep -c 'sandbox_image = \"localhost/plinth/pause:1\"' /usr/lib/plinth/containerd/config.toml",
    )?;
    ensure!(config.text.trim() == "1", "sandbox_image: {config:?}");

    // A container of it runs, as 65535 and PID 1 of its namespace, and exits 0 on SIGTERM.
    // `--null-io` and no stdin: `ctr run` would otherwise copy this shell's terminal into the
    // container and swallow the commands that follow.
    let started = sh.run(&format!(
        "ctr -n k8s.io run --null-io -d {PAUSE} pause-test </dev/null && echo started"
    ))?;
    ensure!(
        started.status == 0 && started.text.contains("started"),
        "ctr run: {started:?}"
    );
    sh.run_until("ctr -n k8s.io task ls", "RUNNING", Duration::from_secs(60))?;
    let inside = sh.run("pid=$(ctr -n k8s.io task ls | awk '$1 == \"pause-test\" {print $2}'); \
         awk '/^Uid:/ {print $2}' /proc/$pid/status; awk '/^NSpid:/ {print $NF}' /proc/$pid/status; \
         readlink /proc/$pid/exe",
    )?;
    let lines: Vec<&str> = inside.text.lines().map(str::trim).collect();
    ensure!(
        lines.len() >= 3 && lines[0] == "65535" && lines[1] == "1" && lines[2].ends_with("/pause"),
        "the pause process should run as 65535, PID 1 of its namespace, from /pause: {inside:?}"
    );
    let killed = sh.run("ctr -n k8s.io task kill -s SIGTERM pause-test")?;
    ensure!(killed.status == 0, "ctr task kill: {killed:?}");
    let stopped = sh.run_until("ctr -n k8s.io task ls", "STOPPED", Duration::from_secs(60))?;
    ensure!(
        stopped.text.contains("pause-test"),
        "the task is gone: {stopped:?}"
    );
    let exit = sh.run("ctr -n k8s.io task delete pause-test; echo status=$?; ctr -n k8s.io containers rm pause-test",
    )?;
    ensure!(
        exit.text.contains("status=0") && !exit.text.contains("exit status 2"),
        "the pause process did not exit 0 on SIGTERM: {exit:?}"
    );

    // The Kubernetes components are in the image, at the pinned version.
    let pinned = qemu_tests::kubernetes::pinned_version()?;
    for component in ["kubelet", "kube-proxy", "kube-apiserver"] {
        let out = sh.run(&format!("{component} --version"))?;
        ensure!(
            out.status == 0 && out.text.trim() == format!("Kubernetes {pinned}"),
            "{component} --version: {out:?}"
        );
    }
    Ok(())
}
