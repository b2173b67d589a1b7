//! The kernel and host contract on the real image (GENESTACK.md): every Genestack module is loaded
//! (in `/proc/modules`, or built into the kernel), the Genestack sysctls are in effect with the
//! config's own on top (one changed, one switched off, one added), an extra module from the config is
//! loaded and a missing one is a warning naming it, group `kvm` has GID 929292, and `/dev/kvm` is
//! `root:kvm 0660` when the guest has KVM (not under TCG: that check is skipped with a message). With
//! no NTP server configured the `time` phase says so and goes on at once; with a server that never
//! answers it gives up after `plinth.time.boot_timeout` and says so. A `runcmd` script reads it all
//! from inside and prints `hc …` lines to the console.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use plinth_config::kernel::{GENESTACK_MODULES, genestack_sysctls};
use qemu_tests::cmdline::Accel;
use qemu_tests::node::{Fixture, Variant};
use qemu_tests::seed::Seed;

/// The sysctls the seed changes: one default changed, one switched off, one added.
const CHANGED: (&str, &str) = ("vm.swappiness", "7");
const SWITCHED_OFF: &str = "vm.dirty_ratio";
const ADDED: (&str, &str) = ("kernel.pid_max", "123456");

/// The in-guest script: `hc sysctl KEY VALUE`, `hc module NAME loaded|builtin|absent`,
/// `hc kvm-group LINE`, `hc kvm-dev UID:GID:MODE|absent`, `hc nested VALUE` (the KVM vendor
/// module's `nested` parameter; empty without one), then `hc done`.
fn script() -> String {
    let mut keys: Vec<String> = genestack_sysctls().keys().map(|k| k.to_string()).collect();
    keys.push(ADDED.0.to_string());
    let modules: Vec<&str> = GENESTACK_MODULES.iter().copied().chain(["dummy"]).collect();
    format!(
        r#"for k in {keys}; do echo "hc sysctl $k $(cat /proc/sys/$(echo $k | tr . /) 2>/dev/null || echo unreadable)"; done
b=/usr/lib/modules/$(uname -r)/modules.builtin
for m in {modules}; do
  if grep -q "^$m " /proc/modules; then s=loaded
  elif sed 's,.*/,,; s,\.ko.*,,; s,-,_,g' $b | grep -qx "$m"; then s=builtin
  else s=absent; fi
  echo "hc module $m $s"
done
echo "hc kvm-group $(grep ^kvm: /etc/group)"
if [ -e /dev/kvm ]; then echo "hc kvm-dev $(stat -c %u:%g:%a /dev/kvm)"; else echo "hc kvm-dev absent"; fi
echo "hc nested $(cat /sys/module/kvm_amd/parameters/nested /sys/module/kvm_intel/parameters/nested 2>/dev/null || true)"
echo "hc done""#,
        keys = keys.join(" "),
        modules = modules.join(" ")
    )
}

fn user_data() -> String {
    let script: String = script().lines().map(|l| format!("      {l}\n")).collect();
    format!(
        r#"#cloud-config
hostname: hc1
network:
  version: 2
  ethernets:
    all-wired:
      match:
        name: "e*"
      dhcp4: true
      optional: true
plinth:
  # Beside other emulated machines the first lease can take longer than the default 30 s; the
  # check below is that the wait stops at that lease, not how soon it comes.
  time:
    boot_timeout: 180s
  kernel:
    # Off, against the kernel's default (on): the KVM vendor module must be loaded with nested=0.
    nested_virtualization: false
    modules: [dummy, no_such_module]
    sysctls:
      {}: {}
      {SWITCHED_OFF}: null
      {}: {}
runcmd:
  - |
{script}"#,
        CHANGED.0, CHANGED.1, ADDED.0, ADDED.1
    )
}

/// What the script printed: kind → (name → rest).
fn report(lines: &[String]) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in lines {
        let Some(at) = line.find("hc ") else { continue };
        let mut parts = line[at + 3..].splitn(3, ' ');
        let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
            continue;
        };
        let rest = parts.next().unwrap_or("").trim().to_string();
        out.entry(kind.to_string())
            .or_default()
            .insert(name.to_string(), rest);
    }
    out
}

#[test]
fn genestack_modules_sysctls_and_kvm_group_are_in_effect() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("host_contract") else {
        return Ok(());
    };
    let opts = fx.seeded(
        Variant::Bios,
        "disk",
        "seed",
        &Seed::new(&user_data(), "iid-hc", "hc1"),
    )?;
    let (node, _) = fx.boot_ready(&opts)?;
    node.console()
        .wait_for(&regex::Regex::new(r"hc done")?, Duration::from_secs(60))
        .with_context(|| {
            format!(
                "the script did not finish; console:\n{}",
                node.console().tail(60)
            )
        })?;
    let lines: Vec<String> = node.console().lines().into_iter().map(|l| l.text).collect();
    let got = report(&lines);
    let tail = || node.console().tail(80);

    let sysctls = got.get("sysctl").cloned().unwrap_or_default();
    for (key, want) in genestack_sysctls() {
        let want = match key {
            k if k == CHANGED.0 => CHANGED.1,
            _ => want,
        };
        if key == SWITCHED_OFF {
            ensure!(
                sysctls.get(key).map(String::as_str) != Some(want),
                "{key} was switched off in the config but still has the Genestack value {want}"
            );
            continue;
        }
        ensure!(
            sysctls.get(key).map(String::as_str) == Some(want),
            "sysctl {key}: want {want}, got {:?}; console:\n{}",
            sysctls.get(key),
            tail()
        );
    }
    ensure!(
        sysctls.get(ADDED.0).map(String::as_str) == Some(ADDED.1),
        "the config's own sysctl {} is {:?}",
        ADDED.0,
        sysctls.get(ADDED.0)
    );

    let modules = got.get("module").cloned().unwrap_or_default();
    let absent: Vec<&String> = modules
        .iter()
        .filter(|(_, s)| s.as_str() == "absent")
        .map(|(m, _)| m)
        .collect();
    ensure!(
        modules.len() == GENESTACK_MODULES.len() + 1 && absent.is_empty(),
        "modules not in effect: {absent:?} (of {} reported); console:\n{}",
        modules.len(),
        tail()
    );
    ensure!(
        lines
            .iter()
            .any(|l| l.contains("kernel warning: module no_such_module: not found")),
        "no warning naming the missing module; console:\n{}",
        tail()
    );

    let group = got
        .get("kvm-group")
        .and_then(|g| g.keys().next().cloned())
        .unwrap_or_default();
    ensure!(
        group.starts_with("kvm:x:929292:"),
        "/etc/group kvm line: {group:?}"
    );
    let dev = got
        .get("kvm-dev")
        .and_then(|g| g.keys().next().cloned())
        .unwrap_or_default();
    match (dev.as_str(), fx.accel) {
        ("absent", Accel::Tcg) => {
            eprintln!(
                "host_contract: /dev/kvm check skipped: the guest runs under TCG, without KVM"
            )
        }
        ("absent", Accel::Kvm) => {
            eprintln!(
                "host_contract: /dev/kvm check skipped: the guest CPU has no virtualisation extensions"
            )
        }
        (dev, _) => {
            ensure!(
                dev == "0:929292:660",
                "/dev/kvm is {dev}, want 0:929292:660"
            );
            // kvm_amd prints 0/1, kvm_intel N/Y.
            let nested = got
                .get("nested")
                .and_then(|g| g.keys().next().cloned())
                .unwrap_or_default();
            ensure!(
                nested == "0" || nested == "N",
                "KVM's nested parameter is {nested:?}, the config says nested_virtualization: false; console:\n{}",
                tail()
            );
        }
    }

    ensure!(
        lines
            .iter()
            .any(|l| l.contains("phase time: done") && l.contains("no NTP server configured")),
        "the time phase did not say it has no server; console:\n{}",
        tail()
    );
    // The default config's DHCP (QEMU's) names no NTP server: the wait stops at the first lease.
    ensure!(
        lines.iter().any(|l| l.contains("phase time-sync: done")
            && l.contains("the DHCP lease names no NTP server")),
        "the time-sync phase did not stop at a lease without NTP servers; console:\n{}",
        tail()
    );
    Ok(())
}

#[test]
fn time_phase_gives_up_after_boot_timeout_when_no_server_answers() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("host_contract_time") else {
        return Ok(());
    };
    // 192.0.2.1 (TEST-NET-1) never answers, and nothing leaves the machine through QEMU's
    // restricted user networking.
    let user_data = "#cloud-config\nhostname: hc2\nntp:\n  servers: [192.0.2.1]\nplinth:\n  time:\n    boot_timeout: 3s\n";
    let opts = fx.seeded(
        Variant::Bios,
        "disk",
        "seed",
        &Seed::new(user_data, "iid-hc2", "hc2"),
    )?;
    let (node, _) = fx.boot_ready(&opts)?;
    let re = regex::Regex::new(
        r"phase time-sync: done in ([0-9.]+)s: no sync from 1 configured sources within 3s",
    )?;
    let line = node
        .console()
        .lines()
        .into_iter()
        .find(|l| re.is_match(&l.text))
        .with_context(|| {
            format!(
                "no bounded time-sync phase; console:\n{}",
                node.console().tail(60)
            )
        })?;
    let took: f64 = re
        .captures(&line.text)
        .and_then(|c| c[1].parse().ok())
        .context("phase duration")?;
    ensure!(
        (2.5..15.0).contains(&took),
        "the time-sync phase took {took}s for a 3s boot_timeout"
    );
    Ok(())
}
