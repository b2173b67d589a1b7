//! `cargo xtask bench supervisor`: the supervisor's figures, measured on the release (static musl)
//! `plinth-init` running as PID 1 in a fresh PID and mount namespace (`--container`):
//!
//! - time from PID 1 start to the first service spawned (from PID 1's own console timestamps);
//! - time from PID 1 start to 200 services ready, as a chain (each `after` the previous) and as a
//!   wide fan-out (199 `after` one root);
//! - PID 1's resident set size while a crash-looping service is restarted 10,000 times with a zero
//!   backoff, sampled along the way to show it stays flat.
//!
//! Needs root (namespaces), `unshare` and `nsenter`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cmd, prereqs};

/// Flags of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Boot the image N times in QEMU: firmware, kernel → PID 1, PID 1 → ready, PID 1's RSS.
    Boot(crate::boot_bench::BootArgs),
    /// PID 1 start to first spawn, to 200 services ready (chain and fan-out), RSS over 10,000 restarts.
    Supervisor {
        /// Services in the chain and in the fan-out.
        #[arg(long, default_value_t = 200)]
        services: usize,
        /// Restarts of the crash-looping service.
        #[arg(long, default_value_t = 10_000)]
        restarts: u64,
    },
}

const TARGET: &str = "x86_64-unknown-linux-musl";

pub fn run(args: &Args) -> Result<std::process::ExitCode> {
    let (services, restarts) = match &args.what {
        What::Boot(boot) => return crate::boot_bench::run(boot),
        What::Supervisor { services, restarts } => (*services, *restarts),
    };
    if !rustix::process::geteuid().is_root() {
        bail!("the bench runs plinth-init as PID 1 in new namespaces: run it as root");
    }
    prereqs::ensure(&prereqs::TEST)?;
    cmd::run(&mut cmd::cmd(
        "cargo",
        [
            "build",
            "-p",
            "plinth-init",
            "--release",
            "--target",
            TARGET,
        ],
    ))?;
    let bin = cmd::workspace_root()
        .join("target")
        .join(TARGET)
        .join("release");
    let work = std::env::temp_dir().join(format!("plinth-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    let mut report = String::new();
    let size = std::fs::metadata(bin.join("plinth-init"))?.len();
    writeln!(
        report,
        "plinth-init (release, {TARGET}): {:.2} MiB on disk",
        mib(size)
    )?;

    let single = Pid1::start(&bin, &work, "first", &config(&[("first", &[])]), &[])?;
    single.wait_ready(Duration::from_secs(60))?;
    let first = single
        .console_offset("service first: starting")
        .context("no spawn line")?;
    let idle = single.rss()?;
    drop(single);
    writeln!(
        report,
        "first service spawned:     {:>8.1} ms after PID 1 start (target < 20 ms)",
        first * 1e3
    )?;
    writeln!(report, "idle RSS, one service:     {:>8.2} MiB", mib(idle))?;

    let names: Vec<String> = (0..services).map(|i| format!("s{i:03}")).collect();
    let chain: Vec<(&str, Vec<&str>)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.as_str(),
                if i == 0 {
                    vec![]
                } else {
                    vec![names[i - 1].as_str()]
                },
            )
        })
        .collect();
    let fan: Vec<(&str, Vec<&str>)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            (
                n.as_str(),
                if i == 0 {
                    vec![]
                } else {
                    vec![names[0].as_str()]
                },
            )
        })
        .collect();
    for (label, graph) in [("chain", chain), ("fan-out", fan)] {
        let deps: Vec<(&str, &[&str])> = graph.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        let node = Pid1::start(&bin, &work, label, &config(&deps), &["--quiet-services"])?;
        node.wait_ready(Duration::from_secs(300))?;
        let ready = node.ready_ms()?;
        let rss = node.rss()?;
        writeln!(
            report,
            "{services} services ready ({label:<7}): {:>6} ms after PID 1 start, RSS {:.2} MiB",
            ready,
            mib(rss)
        )?;
    }

    let crash = "#cloud-config\nplinth:\n  services:\n    - name: crasher\n      exec: [false]\n";
    let node = Pid1::start(
        &bin,
        &work,
        "crash",
        crash,
        &[
            "--quiet-services",
            "--backoff-min",
            "0ms",
            "--backoff-max",
            "0ms",
        ],
    )?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let checkpoints: Vec<u64> = [restarts / 10, restarts / 2, restarts]
        .into_iter()
        .filter(|c| *c > 0)
        .collect();
    for checkpoint in checkpoints {
        loop {
            let done = node.restarts("crasher")?;
            if done >= checkpoint {
                samples.push((done, node.rss()?));
                break;
            }
            if started.elapsed() > Duration::from_secs(600) {
                bail!("only {done} restarts after 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let took = started.elapsed();
    let line: Vec<String> = samples
        .iter()
        .map(|(n, rss)| format!("{:.2} MiB after {n}", mib(*rss)))
        .collect();
    writeln!(
        report,
        "crash loop RSS:            {} (target < 4 MiB, flat)",
        line.join(", ")
    )?;
    if let Some((n, _)) = samples.last() {
        writeln!(
            report,
            "crash loop speed:          {n} restarts in {:.1} s ({:.2} ms each)",
            took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / *n as f64
        )?;
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&work);
    println!("\n{report}");
    Ok(std::process::ExitCode::SUCCESS)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A config of `sleep infinity` services with the given `after` lists.
fn config(services: &[(&str, &[&str])]) -> String {
    let mut out = String::from("#cloud-config\nplinth:\n  services:\n");
    for (name, after) in services {
        let _ = writeln!(
            out,
            "    - name: {name}\n      exec: [sleep, infinity]\n      after: [{}]",
            after.join(", ")
        );
    }
    out
}

/// plinth-init as PID 1 of a new PID namespace; killed (with its namespace) when dropped.
struct Pid1 {
    unshare: Child,
    host_pid: i32,
    socket: PathBuf,
    console: PathBuf,
    plinthctl: PathBuf,
}

impl Pid1 {
    fn start(bin: &Path, work: &Path, name: &str, config: &str, extra: &[&str]) -> Result<Pid1> {
        let config_path = work.join(format!("{name}.yaml"));
        std::fs::write(&config_path, config)?;
        let socket = work.join(format!("{name}.sock"));
        let console = work.join(format!("{name}.console"));
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--mount", "--mount-proc"])
            .arg(bin.join("plinth-init"))
            .args(["--container", "--config"])
            .arg(&config_path)
            .arg("--control-socket")
            .arg(&socket)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&console)?)
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run unshare")?;
        let started = Instant::now();
        let host_pid = loop {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id()))
                    .unwrap_or_default();
            if let Some(pid) = children
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
            {
                break pid;
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("unshare did not start PID 1");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(Pid1 {
            unshare,
            host_pid,
            socket,
            console,
            plinthctl: bin.join("plinthctl"),
        })
    }

    fn console(&self) -> String {
        std::fs::read_to_string(&self.console).unwrap_or_default()
    }

    /// The PID-1 timestamp (seconds) of the first console line containing `needle`.
    fn console_offset(&self, needle: &str) -> Option<f64> {
        let console = self.console();
        let line = console.lines().find(|l| l.contains(needle))?;
        let stamp = line.split('[').nth(1)?.split(']').next()?;
        stamp.trim().parse().ok()
    }

    fn wait_ready(&self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while !self.console().contains("plinth: ready in ") {
            if started.elapsed() > limit {
                bail!("PID 1 not ready after {limit:?}:\n{}", self.console());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn ctl(&self, args: &[&str]) -> Result<serde_json::Value> {
        let out = Command::new("nsenter")
            .args(["--target", &self.host_pid.to_string(), "--pid", "--"])
            .arg(&self.plinthctl)
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()?;
        if !out.status.success() {
            bail!(
                "plinthctl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    fn ready_ms(&self) -> Result<u64> {
        self.ctl(&["timeline", "-o", "json"])?["ready_ms"]
            .as_u64()
            .context("not ready")
    }

    fn restarts(&self, name: &str) -> Result<u64> {
        self.ctl(&["status", name, "-o", "json"])?["restarts"]
            .as_u64()
            .context("no restarts field")
    }

    fn rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.host_pid))?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmRSS")?;
        Ok(kib * 1024)
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}
