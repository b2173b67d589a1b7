//! The image's Kubernetes binaries run for real on this host (issue 9): the image's etcd and
//! kube-apiserver on loopback with certificates the test makes, `/readyz`, a ConfigMap created and
//! read back with the built kubectl, kube-controller-manager and kube-scheduler reporting healthy;
//! and every component printing the version pinned in `image/kubernetes/go.mod`.
//!
//! The binaries come from the image tree (`target/image/mkosi/out/tree`, or under
//! `PLINTH_IMAGE_DIR`), whose lock is held while they run: `usr/bin/etcd` and the multicall
//! `usr/bin/kubernetes`. `PLINTH_ETCD_BIN` and `PLINTH_KUBERNETES_BIN` name other builds to use
//! instead (then the image is neither needed nor locked). Without them the tests are skipped with
//! a `SKIPPED` line, or fail when `CI=true`; `cargo xtask image --dev` builds the tree. The health
//! probes need `curl`.
//!
//! Everything is kept for reading after a run in `target/kubernetes-binaries/`: `control-plane/`
//! (PKI, kubeconfigs, etcd data, one log per component) and `versions/`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use qemu_tests::paths::{RunDir, target_dir};
use serde_json::Value;
use support::control_plane::{Binary, ControlPlane};

/// The components the multicall binary runs besides kubectl; each prints `Kubernetes <version>`.
const COMPONENTS: [&str; 5] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
];

#[test]
fn control_plane_serves_and_its_components_report_healthy() {
    const TEST: &str = "control_plane_serves_and_its_components_report_healthy";
    let start = Instant::now();
    let Some(mut plane) = ControlPlane::for_test(TEST, "kubernetes-binaries/control-plane") else {
        return;
    };

    plane
        .kubectl(&[
            "create",
            "configmap",
            "plinth-test",
            "--from-literal=answer=42",
            "--namespace=default",
        ])
        .unwrap_or_else(|e| panic!("creating the ConfigMap: {e}"));
    let answer = plane
        .kubectl(&[
            "get",
            "configmap",
            "plinth-test",
            "--namespace=default",
            "--output=jsonpath={.data.answer}",
        ])
        .unwrap_or_else(|e| panic!("reading the ConfigMap back: {e}"));
    assert_eq!(answer.trim(), "42", "the ConfigMap read back");

    // etcd's metrics port, plain HTTP as Genestack scrapes it on `<InternalIP>:2381`.
    let metrics = support::control_plane::curl(&[&format!(
        "http://127.0.0.1:{}/metrics",
        plane.ports.etcd_metrics
    )])
    .unwrap_or_else(|e| panic!("etcd's metrics: {e}"));
    assert!(
        metrics.lines().any(|l| l == "etcd_server_has_leader 1"),
        "etcd's metrics do not say it has a leader"
    );

    plane.start_controller_manager();
    plane.start_scheduler();
    let (kcm_port, scheduler_port) = (plane.ports.controller_manager, plane.ports.scheduler);
    let took = plane.wait_healthz("kube-controller-manager", kcm_port);
    eprintln!(
        "kube-controller-manager /healthz ok after {:.1} s",
        took.as_secs_f64()
    );
    let took = plane.wait_healthz("kube-scheduler", scheduler_port);
    eprintln!(
        "kube-scheduler /healthz ok after {:.1} s",
        took.as_secs_f64()
    );
    eprintln!(
        "the control plane test took {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn every_component_prints_the_pinned_version() {
    const TEST: &str = "every_component_prints_the_pinned_version";
    let Some(kubernetes) = Binary::kubernetes(TEST) else {
        return;
    };
    let version = qemu_tests::kubernetes::pinned_version().expect("reading the pinned version");
    // The image links each component's name to the binary, which runs the one named by argv[0].
    let dir = RunDir::fresh_at(target_dir().join("kubernetes-binaries/versions"))
        .expect("emptying the versions directory");
    let link = |name: &str| {
        let path = dir.join(name);
        std::os::unix::fs::symlink(&kubernetes.path, &path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    };

    for component in COMPONENTS {
        let out = run(&link(component), &["--version"]);
        assert_eq!(
            out.trim(),
            format!("Kubernetes {version}"),
            "{component} --version"
        );
    }

    let out = run(&link("kubectl"), &["version", "--client", "--output=json"]);
    let json: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl version: {e}:\n{out}"));
    assert_eq!(
        json["clientVersion"]["gitVersion"].as_str(),
        Some(version.as_str()),
        "kubectl version --client:\n{out}"
    );

    // The first-argument form the tests and services also use.
    let out = run(&kubernetes.path, &["kubelet", "--version"]);
    assert_eq!(
        out.trim(),
        format!("Kubernetes {version}"),
        "kubernetes kubelet --version"
    );
}

/// Runs `program args…` to success; its stdout.
fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {}: {}\n{}{}",
        program.display(),
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
