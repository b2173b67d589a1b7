//! Maintenance mode as an operator meets it, on a real PXE boot: a NoCloud seed whose user-data has
//! two errors puts the node in maintenance mode, and the console says so with each error as
//! `SOURCE:LINE:COL`. `plinth.autologin=ttyS1` gives a root shell on the second serial port (said
//! once on the console); from that shell, `plinthctl config apply` of a still-invalid file is
//! refused with its line and column, and a good one brings the node to ready — new hostname (also in
//! the node exporter's `node_uname_info`), its `write_files` written — without killing the shell
//! it was typed in. `exit` gives a new shell. A bad `plinth.autologin` value beside the good one is
//! refused on the console by name, and the boot goes on.
//!
//! The node has a state disk (an ext4 labelled `PLINTH_STATE`, made on the host), so the applied
//! config is kept: rebooting with the same invalid seed still attached comes up with the applied
//! config (the console says the unchanged seed is skipped), and a changed seed is read again.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use qemu_tests::metrics;
use qemu_tests::node::{BootOptions, Fixture, Node, READY_TIMEOUT, Variant};
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::shell::{Output, Shell};
use regex::Regex;

/// Two errors: `plinth.services` at 4:13 is not a list, `write_files[0]` at 6:5 has no `path`.
const BROKEN: &str = "#cloud-config
hostname: broken-node
plinth:
  services: 7
write_files:
  - pth: /etc/x
";

/// Still wrong: the service at 5:7 has no `name` (`nme`).
const STILL_BROKEN: &str = "#cloud-config
hostname: fixed-node
plinth:
  services:
    - nme: x
";

/// The fix: a hostname, a file, DHCP on the ethernets.
const GOOD: &str = r#"#cloud-config
hostname: fixed-node
write_files:
  - path: /etc/plinth-test/fixed.txt
    content: "fixed by config apply"
network:
  version: 2
  ethernets:
    all:
      match:
        name: "e*"
      dhcp4: true
"#;

/// The seed that replaces the broken one for the last boot.
const NEW_SEED: &str = "#cloud-config
hostname: seed-node
";

const COMMAND: Duration = Duration::from_secs(60);

/// Waits for the node exporter to report `nodename`.
fn wait_nodename(node: &Node, nodename: &str) -> Result<()> {
    node.metrics(Duration::from_secs(90), |s| {
        metrics::nodename(s) == Some(nodename)
    })
    .with_context(|| {
        format!(
            "node_uname_info never said nodename={nodename}; console:\n{}",
            node.console().tail(30)
        )
    })?;
    Ok(())
}

fn wait_line(node: &Node, pattern: &str, timeout: Duration) -> Result<()> {
    let re = Regex::new(pattern)?;
    node.console()
        .wait_for(&re, timeout)
        .with_context(|| format!("no `{pattern}`; console:\n{}", node.console().tail(60)))?;
    Ok(())
}

fn count_lines(node: &Node, pattern: &str) -> Result<usize> {
    Ok(node.console().matching(&Regex::new(pattern)?).len())
}

/// Runs `command` in the shell and fails with the console's tail when the shell does not answer.
fn run(node: &Node, shell: &mut Shell, command: &str) -> Result<Output> {
    shell.run(command, COMMAND).with_context(|| {
        format!(
            "`{command}` did not finish; console:\n{}",
            node.console().tail(40)
        )
    })
}

/// Writes `text` to `path` in the guest through a quoted here-document.
fn write_file(node: &Node, shell: &mut Shell, path: &str, text: &str) -> Result<()> {
    let out = run(node, shell, &format!("cat > {path} <<'EOF'\n{text}EOF"))?;
    ensure!(out.status == 0, "writing {path}: {out:?}");
    Ok(())
}

#[test]
fn an_invalid_seed_is_fixed_from_the_autologin_shell_with_config_apply() -> Result<()> {
    let Some(mut fx) = Fixture::for_test("maintenance") else {
        return Ok(());
    };
    let seed = fx.seed(
        "seed",
        &Seed::new(BROKEN, "iid-maintenance", "broken-node"),
        SeedFormat::Vfat,
    )?;
    let mut opts = BootOptions::new(Variant::Pxe);
    opts.seed = Some(seed);
    opts.disk = Some(fx.state_disk("state", 64)?);
    opts.no_reboot = true;
    opts.serial2 = true;
    opts.extra_cmdline = Some("plinth.autologin=ttyS1 plinth.autologin=../x".into());
    let mut node = fx.boot(&opts)?;

    // The console: maintenance mode, both errors with line and column, the way out.
    wait_line(
        &node,
        r"MAINTENANCE MODE: phase `config` failed",
        READY_TIMEOUT,
    )?;
    wait_line(&node, r"plinthctl config apply FILE", COMMAND)?;
    wait_line(
        &node,
        r"\S*user-data:4:13: error: expected a list, found integer `7` \(at plinth\.services\)",
        Duration::ZERO,
    )?;
    wait_line(
        &node,
        r"\S*user-data:6:5: error: missing required key `path` \(at write_files\[0\]\)",
        Duration::ZERO,
    )?;
    wait_line(&node, r"service autologin-ttyS1: ready", COMMAND)?;
    wait_line(
        &node,
        r"plinth\.autologin: ignored `plinth\.autologin=\.\./x`: `\.\./x` is not a terminal name",
        Duration::ZERO,
    )?;

    // The shell on ttyS1: root, on that terminal as its controlling terminal, HOME=/root.
    let mut shell = node
        .shell(Duration::from_secs(120))
        .with_context(|| format!("no shell on ttyS1; console:\n{}", node.console().tail(40)))?;
    // /dev/tty opens only for a process with a controlling terminal.
    let who = run(
        &node,
        &mut shell,
        "id -u; tty; echo \"$HOME\"; (: </dev/tty) && echo ctty; echo $$",
    )?;
    let lines: Vec<&str> = who.text.lines().map(str::trim).collect();
    ensure!(
        who.status == 0 && lines.len() == 5 && lines[..4] == ["0", "/dev/ttyS1", "/root", "ctty"],
        "expected root on /dev/ttyS1 (its controlling terminal) with HOME=/root: {who:?}"
    );
    let shell_pid = lines[4].to_string();

    // A still-invalid config is refused with its line and column, and changes nothing.
    write_file(&node, &mut shell, "/run/still-bad.yaml", STILL_BROKEN)?;
    let refused = run(
        &node,
        &mut shell,
        "plinthctl config apply /run/still-bad.yaml",
    )?;
    ensure!(
        refused.status != 0 && refused.text.contains("/run/still-bad.yaml:5:7: error"),
        "a still-invalid config must be refused with its line:column: {refused:?}"
    );

    // A good one brings the node to ready, from the shell it was typed in.
    write_file(&node, &mut shell, "/run/good.yaml", GOOD)?;
    let from = node.console().mark();
    let accepted = run(&node, &mut shell, "plinthctl config apply /run/good.yaml")?;
    ensure!(
        accepted.status == 0 && accepted.text.contains("accepted"),
        "the good config must be accepted: {accepted:?}"
    );
    let ready = node
        .wait_ready_after(from, READY_TIMEOUT)
        .with_context(|| {
            format!(
                "not ready after config apply; console:\n{}",
                node.console().tail(60)
            )
        })?;
    eprintln!("ready after config apply: {}", ready.line.text);

    let after = run(
        &node,
        &mut shell,
        "hostname; cat /etc/plinth-test/fixed.txt; echo; echo $$",
    )?;
    let lines: Vec<&str> = after
        .text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    ensure!(
        after.status == 0 && lines == ["fixed-node", "fixed by config apply", shell_pid.as_str()],
        "hostname, write_files, and the same shell (pid {shell_pid}) after the apply: {after:?}"
    );
    wait_nodename(&node, "fixed-node")?;

    // Said once, although the built-ins were planned twice (maintenance mode, then the fix).
    let warnings = count_lines(
        &node,
        r"WARNING: a root shell WITHOUT PASSWORD is offered on ttyS1 because of plinth\.autologin",
    )?;
    ensure!(
        warnings == 1,
        "the autologin warning was said {warnings} times"
    );

    // `exit` ends the session; the supervisor starts a new shell on the same terminal.
    let from = node.console().mark();
    // No marker comes back from a shell that exited (or it comes from the next one): either is fine.
    let _ = shell.run("exit", Duration::from_secs(5));
    drop(shell);
    let started = Regex::new(r"service autologin-ttyS1: starting")?;
    node.console()
        .wait_for_after(from, &started, COMMAND)
        .with_context(|| {
            format!(
                "no new shell after exit; console:\n{}",
                node.console().tail(30)
            )
        })?;
    let mut shell = node.shell(Duration::from_secs(60))?;
    let again = run(&node, &mut shell, "id -u; echo $$")?;
    let lines: Vec<&str> = again.text.lines().map(str::trim).collect();
    ensure!(
        again.status == 0 && lines.len() == 2 && lines[0] == "0" && lines[1] != shell_pid,
        "a new root shell (not pid {shell_pid}) after exit: {again:?}"
    );
    drop(shell);

    // Reboot with the same broken seed attached: the applied config, kept on the state disk,
    // replaces that seed while it is unchanged.
    node.reboot_to_exit()?;
    drop(node);
    let node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT).with_context(|| {
        format!(
            "the applied config did not outlive the reboot; console:\n{}",
            node.console().tail(40)
        )
    })?;
    wait_line(
        &node,
        r"NoCloud seed \S+ is unchanged since `plinthctl config apply` replaced it: skipping it",
        Duration::ZERO,
    )?;
    wait_nodename(&node, "fixed-node")?;
    drop(node);

    // A changed seed is read again (the node was killed after ready: the config was kept already).
    opts.seed = Some(fx.seed(
        "new-seed",
        &Seed::new(NEW_SEED, "iid-maintenance-2", "seed-node"),
        SeedFormat::Vfat,
    )?);
    let node = fx.boot(&opts)?;
    node.wait_ready(READY_TIMEOUT).with_context(|| {
        format!(
            "not ready from the changed seed; console:\n{}",
            node.console().tail(40)
        )
    })?;
    wait_nodename(&node, "seed-node")?;
    ensure!(
        count_lines(&node, r"is unchanged since `plinthctl config apply`")? == 0,
        "a changed seed must not be skipped"
    );
    Ok(())
}
