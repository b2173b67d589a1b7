//! A one-node cluster from the image's embedded default config (`configs/examples/single-node.yaml`:
//! `role: init`, `cni: bridge`, ordinary pods on the control plane, hyperconverged), booted with no
//! seed at all, as `cargo xtask run` boots it: etcd, the apiserver, the controller-manager, the
//! scheduler, the kubelet and kube-proxy come up as PID 1's services; the Node becomes Ready with
//! the Genestack labels of its roles and without the control-plane taint; a pod of the image's own
//! pause image (nothing is ever pulled) runs and gets an address on the bridge; `plinthctl
//! cluster` reports every check passing; and the admin kubeconfig `plinthctl kubeconfig` prints
//! works from the host with the image's own kubectl, through a forwarded port. After a reboot the
//! PKI is kept (nothing made again) and the same Node, by uid, is Ready again with its pod.
//!
//! PXE boot (for `plinth.autologin=ttyS1` on the kernel line) with a state disk for etcd,
//! containerd and the PKI; 3 GiB and two vCPUs, of which the PXE root takes about 350 MiB. Prints
//! how long each step took under emulation, the node's memory in use and each component's RSS.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use qemu_tests::kubernetes::{first_json, in_cidr, run_pause_pod};
use qemu_tests::node::{BootOptions, Fixture, READY_TIMEOUT, Variant};
use qemu_tests::session::{SINCE_BOOT, Session};

/// The apiserver's port, forwarded from the host.
const APISERVER: u16 = 6443;

/// Under TCG the first boot makes the PKI, starts etcd and waits minutes for the apiserver.
const CONTROL_PLANE: Duration = Duration::from_secs(900);

/// Where the PKI keeps the admin kubeconfig on the node.
const ADMIN: &str = "/var/lib/plinth/kubernetes/admin.conf";

#[test]
fn the_default_config_boots_a_ready_cluster_that_runs_a_pod() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("cluster") else {
        return Ok(());
    };
    let default = plinth_config::load_path(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/examples/single-node.yaml"),
    )?
    .config;
    let (labels, _) = plinth_config::genestack::labels_and_annotations(&default.plinth.genestack);
    ensure!(!labels.is_empty(), "the default config asks for no labels");

    let mut opts = BootOptions::new(Variant::Pxe);
    opts.disk = Some(fx.state_disk("state", 4096)?);
    opts.memory_mib = 3072;
    // The apiserver's start is CPU-bound: a second vCPU (a second host thread) halves it.
    opts.cpus = 2;
    opts.guest_ports.push(APISERVER);
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1".into());
    // The reboot at the end ends QEMU, and the test boots the same state disk again.
    opts.no_reboot = true;
    let started = Instant::now();
    let mut node = fx.boot(&opts)?;
    let ready = node.wait_ready(READY_TIMEOUT)?;
    let etcd = node
        .console()
        .arrival(r"service etcd: ready", CONTROL_PLANE)?;
    let apiserver = node
        .console()
        .arrival(r"service kube-apiserver: ready", CONTROL_PLANE)?;
    let kubelet = node
        .console()
        .arrival(r"service kubelet: ready", CONTROL_PLANE)?;
    let mut sh = Session::open(&node, Duration::from_secs(120))?;
    let kubectl = format!("kubectl --kubeconfig {ADMIN}");

    // The Node is Ready: the bridge CNI was written for its podCIDR.
    sh.run_until(
        &format!(
            "{kubectl} get nodes -o jsonpath='{{range .items[*]}}{{.metadata.name}} {{.status.conditions[?(@.type==\"Ready\")].status}}{{\"\\n\"}}{{end}}'"
        ),
        " True",
        CONTROL_PLANE,
    )?;
    let node_ready = started.elapsed();

    // With the Genestack labels of its roles, and schedulable.
    let shown = sh.run_until(
        &format!("{kubectl} get nodes -o json"),
        "openstack-",
        Duration::from_secs(300),
    )?;
    let nodes: serde_json::Value =
        first_json(&shown.text).with_context(|| format!("kubectl get nodes -o json: {shown:?}"))?;
    let item = &nodes["items"][0];
    for (key, value) in &labels {
        ensure!(
            item["metadata"]["labels"][key] == value.as_str(),
            "label {key}={value} missing: {}",
            item["metadata"]["labels"]
        );
    }
    let taints = item["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    ensure!(
        !taints
            .iter()
            .any(|t| t["key"] == "node-role.kubernetes.io/control-plane"),
        "the control-plane taint is still on a node that schedules pods: {taints:?}"
    );

    // A pod of the local pause image runs and has an address from the node's podCIDR.
    let pod_ip = run_pause_pod(&mut sh, &kubectl, "pause", None, Duration::from_secs(300))?;
    let cidr = item["spec"]["podCIDR"].as_str().unwrap_or_default();
    ensure!(
        in_cidr(&pod_ip, cidr),
        "pod address {pod_ip:?} is outside the node's podCIDR {cidr}"
    );
    let pod_running = started.elapsed();

    // plinthctl cluster says the same: every check of a healthy init node passes.
    let status = sh.run_until(
        "plinthctl cluster -o json",
        "\"healthy\"",
        Duration::from_secs(120),
    )?;
    let report: serde_json::Value = first_json(&status.text)
        .with_context(|| format!("plinthctl cluster -o json: {status:?}"))?;
    ensure!(
        status.status == 0 && report["healthy"] == true,
        "plinthctl cluster: not healthy: {status:?}"
    );
    ensure!(
        report["etcd_members"].as_array().map(Vec::len) == Some(1),
        "one etcd member expected: {}",
        report["etcd_members"]
    );

    // The admin kubeconfig works from the host, with the image's own kubectl.
    let forwarded = node
        .forwarded(APISERVER)
        .context("the apiserver port is not forwarded")?;
    let printed = sh.run(&format!(
        "plinthctl kubeconfig --server https://127.0.0.1:{}",
        forwarded.port()
    ))?;
    ensure!(printed.status == 0, "plinthctl kubeconfig: {printed:?}");
    let kubeconfig = fx.dir.join("admin.conf");
    std::fs::write(&kubeconfig, &printed.text)?;
    std::fs::set_permissions(&kubeconfig, std::fs::Permissions::from_mode(0o600))?;
    let host_kubectl = fx.dir.join("kubectl");
    let _ = std::fs::remove_file(&host_kubectl);
    std::os::unix::fs::symlink(
        qemu_tests::paths::image_tree().join("usr/bin/kubernetes"),
        &host_kubectl,
    )?;
    let out = Command::new(&host_kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "pod", "pause", "-o", "jsonpath={.status.phase}"])
        .output()
        .context("running the image's kubectl on the host")?;
    ensure!(
        out.status.success() && String::from_utf8_lossy(&out.stdout) == "Running",
        "kubectl from the host: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The figures.
    eprintln!(
        "cluster under {:?}: ready {:.1}s (PID 1 says {:.1}s); etcd ready at {:.1}s, \
         kube-apiserver at {:.1}s, kubelet at {:.1}s, Node Ready by {:.1}s, pod running by {:.1}s \
         (QEMU time)",
        fx.accel,
        ready.line.at.as_secs_f64(),
        ready.seconds,
        etcd.as_secs_f64(),
        apiserver.as_secs_f64(),
        kubelet.as_secs_f64(),
        node_ready.as_secs_f64(),
        pod_running.as_secs_f64()
    );
    let memory = sh.run("free -m | awk '/^Mem:/ {print $3 \" MiB used of \" $2}'")?;
    eprintln!("memory: {}", memory.text.trim());
    let rss = sh.run(
        "for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy containerd plinth-init; do \
         for p in $(pidof $n); do echo \"$n $(awk '/^VmRSS/ {print $2}' /proc/$p/status) KiB\"; done; done",
    )?;
    for line in rss.text.lines().filter(|l| l.ends_with("KiB")) {
        eprintln!("rss: {line}");
    }
    if rss.text.lines().filter(|l| l.ends_with("KiB")).count() < 6 {
        bail!("not every component is running: {rss:?}");
    }

    // A reboot keeps the cluster: the same PKI (nothing made again), etcd's data, the same
    // Node (same uid) reported Ready again by the rebooted kubelet, and the pod started again.
    let uid = item["metadata"]["uid"]
        .as_str()
        .context("the Node has no uid")?
        .to_owned();
    drop(sh);
    node.reboot_to_exit()?;
    let rebooted = Instant::now();
    let again = fx.boot(&opts)?;
    again.wait_ready(READY_TIMEOUT)?;
    again
        .console()
        .arrival(r"cluster prep: PKI: 0 files made, \d+ kept", CONTROL_PLANE)?;
    let mut sh = Session::open(&again, Duration::from_secs(120))?;
    let ready_condition = r#"{.items[0].status.conditions[?(@.type=="Ready")]"#;
    sh.run_until(
        &format!(
            "t=$({kubectl} get nodes -o jsonpath='{ready_condition}.lastHeartbeatTime}}') && {SINCE_BOOT} && \
             {kubectl} get nodes -o jsonpath='{{.items[0].metadata.uid}} {ready_condition}.status}}'"
        ),
        &format!("{uid} True"),
        CONTROL_PLANE,
    )?;
    let ready_again = rebooted.elapsed();
    sh.run_until(
        &format!(
            "t=$({kubectl} get pod pause -o jsonpath='{{.status.containerStatuses[0].state.running.startedAt}}') && \
             {SINCE_BOOT} && {kubectl} get pod pause -o jsonpath='{{.status.phase}}'"
        ),
        "Running",
        Duration::from_secs(300),
    )?;
    let pod_again = rebooted.elapsed();
    eprintln!(
        "after a reboot: the same Node Ready again {:.1}s and the pod started again {:.1}s after QEMU ended",
        ready_again.as_secs_f64(),
        pod_again.as_secs_f64()
    );
    Ok(())
}
