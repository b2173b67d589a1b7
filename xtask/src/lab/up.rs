//! `cargo xtask lab up`: boot the lab and watch it form.
//!
//! The image is the one `cargo xtask run` boots (the `--dev` build, rebuilt when stale), or, with
//! `--no-build` or `PLINTH_IMAGE_DIR` set, whatever image is there. node1 starts first; node2 and
//! node3 start once node1's console says `service kube-apiserver: ready`: they cannot join before,
//! and on two host cores three emulated VMs booting at once slow node1's control plane, which every
//! join waits for anyway (etcd takes one new member at a time).
//!
//! Progress comes from cheap polls every few seconds: each console log (boot, etcd, apiserver and
//! kubelet ready lines), then, once node1's apiserver is up, the Kubernetes API through node1's
//! forwarded port with the image's kubectl, and node1's `plinthctl cluster -o json` for etcd's
//! members through the root shell on its second serial port.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use qemu_tests::image::{ImageLock, ImageSet};
use qemu_tests::node::concat_initrds;
use qemu_tests::paths::RunDir;
use qemu_tests::seed::{Seed, SeedFormat};
use qemu_tests::{accel, ports};
use serde_json::json;

use super::Lab;
use super::kube::Guest;
use super::machine::{self, StartFailure};
use qemu_tests::lab::LabSeed;

use super::plan::{self, LabNode, Milestone, NodeFiles, NodeRecord, Ports, Shared};
use super::status::{member_rows, node_rows};
use crate::{image, prereqs};

/// How often the consoles are read.
const POLL: Duration = Duration::from_secs(5);
/// How often the Kubernetes API and etcd's member list are asked.
const ASK: Duration = Duration::from_secs(15);
/// How often a summary line is printed while nothing new happens.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// Flags of `cargo xtask lab up`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many nodes of configs/examples/lab/: node1 (init), then node2 (server) and node3 (an
    /// agent running an etcd member).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub nodes: usize,
    /// Give up waiting for every Node to be Ready after this long (`90s`, `30m`, `1h`); the VMs
    /// are left running either way.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Use the image already built (target/image/, or PLINTH_IMAGE_DIR) without checking whether
    /// it is stale.
    #[arg(long)]
    pub no_build: bool,
    /// Guest memory of each VM in MiB (a control-plane node wants 2–3 GiB).
    #[arg(long, default_value_t = qemu_tests::lab::MEMORY_MIB, value_name = "MiB")]
    pub mem: u32,
    /// Virtual CPUs of each VM (with one, the control plane's processes restart under emulation).
    #[arg(long, default_value_t = qemu_tests::lab::CPUS)]
    pub cpus: u32,
    /// Size of each VM's state disk (etcd, containerd, the PKI) in MiB.
    #[arg(long, default_value_t = qemu_tests::lab::STATE_DISK_MIB, value_name = "MiB")]
    pub state_disk: u64,
}

/// `90`, `90s`, `30m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with s, m or h, e.g. 30m"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("{text:?}: the unit is s, m or h")),
    };
    Ok(Duration::from_secs(seconds))
}

/// One started node and what has been seen of it.
struct Started {
    node: LabNode,
    files: NodeFiles,
    ports: Ports,
    at: Instant,
    seen: Vec<Milestone>,
    ready: Option<Duration>,
}

pub fn up(lab: &Lab, args: &Args) -> Result<ExitCode> {
    let running = lab.running()?;
    if !running.is_empty() {
        let names: Vec<String> = running
            .iter()
            .map(|(n, pid)| format!("{n} (pid {pid})"))
            .collect();
        bail!(
            "a lab is already running: {}; `cargo xtask lab status` shows it, `cargo xtask lab down` stops it",
            names.join(", ")
        );
    }
    let seeds = crate::cmd::workspace_root().join("configs/examples/lab");
    let mut nodes = Vec::new();
    for dir in plan::seed_dirs(&seeds, args.nodes)? {
        let lab = LabSeed::read(&dir)?;
        nodes.push((LabNode::from(&lab), lab.seed));
    }
    plan::check_roles(&nodes.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>())?;
    prereqs::ensure(&prereqs::QEMU)?;

    let image_dir = if std::env::var_os("PLINTH_IMAGE_DIR").is_some() || args.no_build {
        let dir = qemu_tests::paths::image_dir();
        eprintln!(
            "lab: using the image in {} as it is ({})",
            dir.display(),
            if args.no_build {
                "--no-build"
            } else {
                "PLINTH_IMAGE_DIR is set"
            }
        );
        dir
    } else {
        eprintln!("lab: the image `cargo xtask run` boots: the --dev build, rebuilt when stale");
        image::ensure_built(true)?.dir
    };
    let image = ImageSet::locate(&image_dir)?;
    let kubectl_bin = image_dir.join("mkosi/out/tree/usr/bin/kubernetes");
    ensure!(
        kubectl_bin.is_file(),
        "{} is missing: the lab runs the image's own kubectl; rebuild with `cargo xtask image --dev`",
        kubectl_bin.display()
    );

    let dir = RunDir::fresh_at(lab.dir.clone())?;
    std::os::unix::fs::symlink(&kubectl_bin, dir.join("kubectl"))?;
    // The VMs boot copies of the PXE set, so a build may rewrite the image while the lab runs;
    // the lock only keeps one from rewriting it while it is copied.
    let (kernel, initrd) = (dir.join("vmlinuz"), dir.join("pxe-initrd.img"));
    {
        let _lock = ImageLock::shared(&image_dir)?;
        let image = ImageSet::locate(&image_dir)?;
        eprintln!(
            "lab: copying the PXE kernel and initrds into {}",
            dir.path().display()
        );
        std::fs::copy(&image.kernel, &kernel)
            .with_context(|| format!("copying {}", image.kernel.display()))?;
        concat_initrds(&[&image.initrd, &image.rootfs], &initrd)
            .with_context(|| format!("writing {}", initrd.display()))?;
    }
    let accel = accel::choose(Some(&kernel));
    let shared = Shared {
        kernel,
        initrd,
        cmdline: image.cmdline.clone(),
        accel,
        segment: ports::free_port()?,
        memory_mib: args.mem,
        cpus: args.cpus,
    };
    std::fs::write(
        dir.join("lab.json"),
        serde_json::to_string_pretty(&json!({
            "segment_port": shared.segment,
            "nodes": nodes.iter().map(|(n, _)| n.name.clone()).collect::<Vec<_>>(),
            "image": image_dir,
        }))?,
    )?;
    eprintln!(
        "lab: {} node(s), {} MiB and {} vCPU each, {}; segment mcast 230.0.0.1:{}; files in {}",
        nodes.len(),
        args.mem,
        args.cpus,
        match accel {
            qemu_tests::cmdline::Accel::Kvm => "KVM",
            qemu_tests::cmdline::Accel::Tcg =>
                "TCG (software emulation: several VMs on few host cores are slow)",
        },
        shared.segment,
        lab.dir.display()
    );
    eprintln!(
        "lab: the VMs run in the background: ctrl-c stops this wait, not them; `cargo xtask lab down` stops them"
    );

    let t0 = Instant::now();
    let mut started: Vec<Started> = Vec::new();
    let (first, first_seed) = &nodes[0];
    started.push(start(lab, first, first_seed, &shared, args.state_disk, t0)?);
    let mut guest: Option<Guest> = None;
    let kubectl = lab.kubectl();
    let mut have_kubeconfig = false;
    let mut etcd_voting = 0;
    let mut etcd_all: Option<Duration> = None;
    let mut last_ask: Option<Instant> = None;
    let mut last_news = Instant::now();
    loop {
        let mut news = false;
        for s in &mut started {
            let console = std::fs::read(s.files.console()).unwrap_or_default();
            for (milestone, line) in plan::milestones(&String::from_utf8_lossy(&console)) {
                if s.seen.contains(&milestone) {
                    continue;
                }
                s.seen.push(milestone);
                news = true;
                eprintln!(
                    "lab: {:<6} +{:>6.1}s  {}",
                    s.node.name,
                    s.at.elapsed().as_secs_f64(),
                    match milestone {
                        Milestone::NotApplied | Milestone::Hopeless =>
                            format!("{}: {line}", milestone.describe()),
                        _ => milestone.describe().to_owned(),
                    }
                );
                if milestone == Milestone::Hopeless && s.node.init {
                    bail!(
                        "{} will not get further; its console is {}; `cargo xtask lab down` stops the lab",
                        s.node.name,
                        s.files.console().display()
                    );
                }
            }
            if machine::running(&s.files, &s.node.name).is_none() {
                bail!(
                    "{}'s QEMU has exited; see {} and {}; `cargo xtask lab down` stops the others",
                    s.node.name,
                    s.files.console().display(),
                    s.files.qemu_log().display()
                );
            }
        }
        let apiserver_up = started[0].seen.contains(&Milestone::ApiserverReady);
        if apiserver_up && started.len() < nodes.len() {
            for (node, seed) in &nodes[started.len()..] {
                started.push(start(lab, node, seed, &shared, args.state_disk, t0)?);
            }
            news = true;
        }
        if apiserver_up && !have_kubeconfig {
            match fetch_kubeconfig(&mut guest, &started[0], &kubectl.kubeconfig) {
                Ok(()) => {
                    have_kubeconfig = true;
                    news = true;
                    eprintln!(
                        "lab: kubeconfig for the host: {}\n     export KUBECONFIG={}\n     kubectl: {}",
                        kubectl.kubeconfig.display(),
                        kubectl.kubeconfig.display(),
                        kubectl.bin.display()
                    );
                }
                Err(e) => eprintln!("lab: no kubeconfig from node1 yet: {e:#}"),
            }
        }
        if have_kubeconfig && last_ask.is_none_or(|t| t.elapsed() >= ASK) {
            last_ask = Some(Instant::now());
            match kubectl.nodes() {
                Ok(list) => {
                    for row in node_rows(&list) {
                        let Some(s) = started.iter_mut().find(|s| s.node.name == row.name) else {
                            continue;
                        };
                        if row.ready == "True" && s.ready.is_none() {
                            let took = s.at.elapsed();
                            s.ready = Some(took);
                            news = true;
                            eprintln!(
                                "lab: {:<6} +{:>6.1}s  Node Ready",
                                s.node.name,
                                took.as_secs_f64()
                            );
                        }
                    }
                }
                Err(e) => eprintln!("lab: asking the Kubernetes API: {e:#}"),
            }
            if etcd_all.is_none()
                && let Some(g) = guest.as_mut()
            {
                match g.cluster_report() {
                    Ok(report) => {
                        let members = member_rows(&report);
                        let voting = members.iter().filter(|m| m.voting()).count();
                        if voting != etcd_voting {
                            etcd_voting = voting;
                            news = true;
                            eprintln!(
                                "lab: etcd  +{:>6.1}s  {voting} voting of {} member(s)",
                                t0.elapsed().as_secs_f64(),
                                members.len()
                            );
                        }
                        if voting == nodes.len() {
                            etcd_all = Some(t0.elapsed());
                        }
                    }
                    Err(e) => eprintln!("lab: asking node1 for etcd's members: {e:#}"),
                }
            }
        }
        if started.len() == nodes.len() && started.iter().all(|s| s.ready.is_some()) {
            break;
        }
        if t0.elapsed() >= args.timeout {
            let not_ready: Vec<&str> = nodes
                .iter()
                .map(|(n, _)| n.name.as_str())
                .filter(|n| {
                    !started
                        .iter()
                        .any(|s| s.node.name == *n && s.ready.is_some())
                })
                .collect();
            bail!(
                "not every Node is Ready after {}s (still waiting for {}); the VMs keep running: \
                 `cargo xtask lab status` shows them, their consoles are {}/<node>/console.log, \
                 `cargo xtask lab down` stops them",
                args.timeout.as_secs(),
                not_ready.join(", "),
                lab.dir.display()
            );
        }
        if news {
            last_news = Instant::now();
        } else if last_news.elapsed() >= HEARTBEAT {
            last_news = Instant::now();
            eprintln!(
                "lab: +{:.0}s  {}",
                t0.elapsed().as_secs_f64(),
                summary(&started)
            );
        }
        std::thread::sleep(POLL);
    }

    eprintln!(
        "lab: every Node Ready after {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    for s in &started {
        eprintln!(
            "lab: {:<6} Node Ready {:.1}s after its QEMU started (started at +{:.1}s); apiserver https://127.0.0.1:{}, node exporter http://127.0.0.1:{}/metrics",
            s.node.name,
            s.ready.unwrap_or_default().as_secs_f64(),
            s.at.duration_since(t0).as_secs_f64(),
            s.ports.apiserver,
            s.ports.exporter
        );
    }
    match etcd_all {
        Some(at) => eprintln!(
            "lab: etcd had {} voting members at +{:.1}s",
            nodes.len(),
            at.as_secs_f64()
        ),
        None => eprintln!(
            "lab: etcd: {etcd_voting} voting member(s) when last asked (`cargo xtask lab status` asks again)"
        ),
    }
    eprintln!(
        "lab: export KUBECONFIG={}   (kubectl: {})\nlab: `cargo xtask lab status` shows it, `cargo xtask lab down` stops it",
        kubectl.kubeconfig.display(),
        kubectl.bin.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// One line of where every started node is.
fn summary(started: &[Started]) -> String {
    started
        .iter()
        .map(|s| {
            let last = if s.ready.is_some() {
                "Node Ready"
            } else {
                s.seen
                    .iter()
                    .filter(|m| **m < Milestone::NotApplied)
                    .max()
                    .map_or("booting", |m| m.describe())
            };
            format!("{}: {last}", s.node.name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Makes one node's seed and state disk, starts its QEMU (other ports when a forward's was
/// taken meanwhile) and records it in `node.json`.
fn start(
    lab: &Lab,
    node: &LabNode,
    seed: &Seed,
    shared: &Shared,
    state_mib: u64,
    t0: Instant,
) -> Result<Started> {
    let files = NodeFiles::new(&lab.dir, &node.name);
    std::fs::create_dir_all(&files.dir)?;
    seed.write(SeedFormat::Vfat, &files.seed())?;
    machine::state_disk(&files.state_disk(), state_mib)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let ports = Ports {
            apiserver: ports::free_port()?,
            exporter: ports::free_port()?,
        };
        let spec = plan::machine(node, &files, shared, ports);
        let at = Instant::now();
        match machine::start(&spec, &files) {
            Ok(pid) => {
                let record = NodeRecord {
                    name: node.name.clone(),
                    ports,
                    qmp: files.qmp.clone(),
                    serial2: files.serial2.clone(),
                    started_unix: machine::now_unix(),
                    apiserver: node.apiserver,
                };
                std::fs::write(
                    files.record(),
                    serde_json::to_string_pretty(&record.to_json())?,
                )?;
                eprintln!(
                    "lab: {:<6} +{:>6.1}s  QEMU started (pid {pid}); apiserver 127.0.0.1:{}, node exporter 127.0.0.1:{}; console {}",
                    node.name,
                    at.duration_since(t0).as_secs_f64(),
                    ports.apiserver,
                    ports.exporter,
                    files.console().display()
                );
                return Ok(Started {
                    node: node.clone(),
                    files,
                    ports,
                    at,
                    seen: Vec::new(),
                    ready: None,
                });
            }
            Err(StartFailure::PortTaken) if attempts < 5 => continue,
            Err(StartFailure::PortTaken) => bail!("no free host ports for {}", node.name),
            Err(StartFailure::Other(e)) => {
                return Err(e.context(format!("starting {}", node.name)));
            }
        }
    }
}

/// Asks node1's shell for the admin kubeconfig pointing at its forwarded port; writes it 0600.
fn fetch_kubeconfig(guest: &mut Option<Guest>, node1: &Started, path: &Path) -> Result<()> {
    if guest.is_none() {
        *guest = Some(Guest::connect(
            &node1.files.serial2,
            Duration::from_secs(60),
        )?);
    }
    let shell = guest.as_mut().expect("connected above");
    let text = shell.kubeconfig(node1.ports.apiserver)?;
    let _ = std::fs::remove_file(path);
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn three_nodes_half_an_hour_by_default() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let args = <Cli as clap::Parser>::parse_from(["up"]).args;
        assert_eq!(args.nodes, 3);
        assert_eq!(args.timeout, Duration::from_secs(1800));
        assert_eq!((args.mem, args.cpus, args.state_disk), (3072, 2, 4096));
        assert!(!args.no_build);
    }
}
