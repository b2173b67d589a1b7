//! The harness against a real QEMU, without needing Plinth to boot: QMP answers and `quit` ends
//! QEMU, dropping a VM kills it, a taken host port is reported, and the console of a real kernel is
//! captured line by line with timestamps.

use std::net::TcpListener;
use std::time::Duration;

use qemu_tests::cmdline::{Accel, Boot, Forward, MachineSpec};
use qemu_tests::image::ImageSet;
use qemu_tests::paths::RunDir;
use qemu_tests::vm::{StartError, Vm};
use regex::Regex;

fn qemu_installed() -> bool {
    let found = std::process::Command::new(qemu_tests::cmdline::QEMU)
        .arg("--version")
        .output()
        .is_ok();
    if !found {
        qemu_tests::skip::unavailable(
            "harness",
            "qemu-system-x86_64 is not installed (cargo xtask prereqs)",
        );
    }
    found
}

/// A machine with no disk: SeaBIOS finds nothing to boot and QEMU idles until told to stop.
fn idle_machine(dir: &RunDir, name: &str) -> MachineSpec {
    let mut spec = MachineSpec::new(name, Accel::Tcg, Boot::Bios);
    spec.memory_mib = 128;
    spec.qmp = Some(dir.join(&format!("{name}.qmp")));
    spec
}

#[test]
fn qmp_reports_status_and_quit_ends_qemu() {
    if !qemu_installed() {
        return;
    }
    let dir = RunDir::fresh("harness-qmp").unwrap();
    let spec = idle_machine(&dir, "idle");
    let mut vm = Vm::start(&spec, &dir.join("idle"), false).unwrap();
    let mut qmp = vm.qmp().unwrap();
    let status = qmp
        .execute("query-status", &serde_json::Value::Null)
        .unwrap();
    assert_eq!(status["status"], "running", "{status}");
    let err = qmp
        .execute("no-such-command", &serde_json::Value::Null)
        .unwrap_err();
    assert!(err.to_string().contains("CommandNotFound"), "{err}");
    qmp.quit().unwrap();
    let exit = vm.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(exit.success(), "{exit}");
}

#[test]
fn dropping_a_vm_kills_its_qemu() {
    if !qemu_installed() {
        return;
    }
    let dir = RunDir::fresh("harness-drop").unwrap();
    let vm = Vm::start(&idle_machine(&dir, "dropped"), &dir.join("dropped"), false).unwrap();
    let pid = vm.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(vm);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU {pid} still exists after drop"
    );
}

#[test]
fn a_taken_host_port_is_reported() {
    if !qemu_installed() {
        return;
    }
    let dir = RunDir::fresh("harness-port").unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut spec = idle_machine(&dir, "port");
    spec.forwards = vec![Forward {
        host: taken.local_addr().unwrap().port(),
        guest: 9100,
    }];
    match Vm::start(&spec, &dir.join("port"), false) {
        Err(StartError::PortTaken(msg)) => assert!(msg.contains("forwarding"), "{msg}"),
        Err(other) => panic!("expected PortTaken, got {other}"),
        Ok(_) => panic!("QEMU started although the forwarded port is taken"),
    }
}

/// The image's kernel without any initrd: it prints its banner and panics for want of a root,
/// and with `panic=-1` plus `-no-reboot` QEMU exits, closing the console.
#[test]
fn a_real_kernel_console_is_captured_with_timestamps() {
    if !qemu_installed() {
        return;
    }
    let Some(image) = ImageSet::for_test("a_real_kernel_console_is_captured_with_timestamps")
    else {
        return;
    };
    let dir = RunDir::fresh("harness-console").unwrap();
    let accel = qemu_tests::accel::choose(Some(&image.kernel));
    let mut spec = MachineSpec::new(
        "kernel",
        accel,
        Boot::Kernel {
            kernel: image.kernel.clone(),
            initrd: None,
            append: "console=ttyS0 panic=-1".into(),
        },
    );
    spec.memory_mib = 256;
    spec.no_reboot = true;
    let mut vm = Vm::start(&spec, &dir.join("kernel"), false).unwrap();
    let banner = vm
        .console()
        .wait_for(
            &Regex::new(r"Linux version \d+\.\d+").unwrap(),
            Duration::from_secs(60),
        )
        .unwrap();
    let panic = vm
        .console()
        .wait_for(
            &Regex::new("Kernel panic").unwrap(),
            Duration::from_secs(120),
        )
        .unwrap();
    assert!(panic.index > banner.index);
    assert!(panic.at >= banner.at, "{panic:?} before {banner:?}");
    vm.wait_exit(Duration::from_secs(30)).unwrap();
    let log = std::fs::read_to_string(dir.join("kernel.console.log")).unwrap();
    assert!(
        Regex::new(r"(?m)^\[\s+\d+\.\d{3}\] .*Kernel panic")
            .unwrap()
            .is_match(&log),
        "{log}"
    );
}
