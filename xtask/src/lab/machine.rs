//! A lab node's QEMU as a process of its own: started detached (its own session, so neither
//! ctrl-c nor the end of `cargo xtask lab up` reaches it), found again by its pidfile, and ended
//! through QMP, or by signal when QMP does not answer.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use qemu_tests::cmdline::{MachineSpec, QEMU, qemu_args};
use qemu_tests::qmp::Qmp;
use qemu_tests::vm::shell_quote;

use super::plan::{self, NodeFiles};

/// How long a VM may take to go once QMP's `quit` was sent (QEMU ends at once; the rest is the
/// kernel tearing down a few GiB of guest memory).
const QUIT_WAIT: Duration = Duration::from_secs(20);

/// Why a start failed.
pub enum StartFailure {
    /// A forwarded host port was taken between choosing it and QEMU binding it: try other ports.
    PortTaken,
    Other(anyhow::Error),
}

/// Starts QEMU for `spec` detached from this process: console (QEMU's stdout) to `console.log`,
/// stderr to `qemu.log`, the command in `cmdline`, the pid in `qemu.pid`. Returns the pid once QEMU
/// has run a moment without exiting (a bad option or a taken port ends it at once).
pub fn start(spec: &MachineSpec, files: &NodeFiles) -> Result<u32, StartFailure> {
    let other = |e: anyhow::Error| StartFailure::Other(e);
    let args = qemu_args(spec);
    let shown = std::iter::once(QEMU.to_string())
        .chain(args.iter().map(|a| shell_quote(&a.to_string_lossy())))
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(files.dir.join("cmdline"), format!("{shown}\n"))
        .context("writing the command line")
        .map_err(other)?;
    for socket in [&files.qmp, &files.serial2] {
        let _ = std::fs::remove_file(socket);
    }
    let console = std::fs::File::create(files.console())
        .with_context(|| format!("creating {}", files.console().display()))
        .map_err(other)?;
    let log = std::fs::File::create(files.qemu_log())
        .with_context(|| format!("creating {}", files.qemu_log().display()))
        .map_err(other)?;
    let mut cmd = Command::new(QEMU);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(console)
        .stderr(log);
    // SAFETY: the closure runs between fork and exec and only calls setsid(2), which is
    // async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {QEMU}: try `cargo xtask prereqs`"))
        .map_err(other)?;
    let pid = child.id();
    std::fs::write(files.pidfile(), format!("{pid}\n"))
        .context("writing the pidfile")
        .map_err(other)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(files.pidfile());
            let stderr = std::fs::read_to_string(files.qemu_log()).unwrap_or_default();
            if stderr.contains("host forwarding") {
                return Err(StartFailure::PortTaken);
            }
            return Err(other(anyhow::anyhow!(
                "QEMU exited at once ({status}): {}",
                stderr.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Not waited for: QEMU outlives this process, and whoever inherits it reaps it.
    drop(child);
    Ok(pid)
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The pid of the node's QEMU when it runs: the pidfile names a live process that is the lab's
/// QEMU for this node.
pub fn running(files: &NodeFiles, node: &str) -> Option<u32> {
    let pid = plan::parse_pidfile(&std::fs::read_to_string(files.pidfile()).ok()?)?;
    alive(pid, node).then_some(pid)
}

fn alive(pid: u32, node: &str) -> bool {
    let proc = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(proc.join("stat")).unwrap_or_default();
    let cmdline = std::fs::read(proc.join("cmdline")).unwrap_or_default();
    plan::alive_from_stat(&stat) && plan::is_lab_qemu(&cmdline, &format!("lab-{node}"))
}

/// Ends the node's QEMU: QMP `quit`, then SIGKILL when it has not gone after [`QUIT_WAIT`]; waits
/// until it is gone. Returns how it ended, or `None` when it was not running.
pub fn stop(files: &NodeFiles, node: &str) -> Result<Option<&'static str>> {
    let Some(pid) = running(files, node) else {
        return Ok(None);
    };
    let quit = Qmp::connect(&files.qmp, Duration::from_secs(5)).and_then(|mut q| q.quit());
    if quit.is_ok() && wait_gone(pid, node, QUIT_WAIT) {
        return Ok(Some("quit through QMP"));
    }
    if let Err(e) = &quit {
        eprintln!("lab: {node}: QMP quit failed ({e}); killing pid {pid}");
    } else {
        eprintln!(
            "lab: {node}: still running {}s after QMP quit; killing pid {pid}",
            QUIT_WAIT.as_secs()
        );
    }
    let target = rustix::process::Pid::from_raw(pid as i32).context("pid 0")?;
    match rustix::process::kill_process(target, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => bail!("killing {node}'s QEMU (pid {pid}): {e}"),
    }
    if !wait_gone(pid, node, Duration::from_secs(10)) {
        bail!("{node}'s QEMU (pid {pid}) survived SIGKILL: see `ps -p {pid}`");
    }
    Ok(Some("killed"))
}

fn wait_gone(pid: u32, node: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !alive(pid, node) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    !alive(pid, node)
}

/// A raw disk of `size_mib` MiB holding an empty ext4 labelled `PLINTH_STATE`, as the cluster test
/// gives its PXE node: a PXE-booted node keeps its state (etcd, containerd, the PKI) there.
pub fn state_disk(path: &Path, size_mib: u64) -> Result<()> {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(size_mib << 20))
        .with_context(|| format!("creating {}", path.display()))?;
    crate::cmd::output(crate::cmd::cmd("mkfs.ext4", ["-q", "-F", "-L", "PLINTH_STATE"]).arg(path))
        .context("making the state disk (mkfs.ext4, from e2fsprogs)")?;
    Ok(())
}
