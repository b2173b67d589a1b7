//! `cargo xtask lab up|status|down`: the multi-node lab of `configs/examples/lab/` under QEMU,
//! left running in the background.
//!
//! `up` boots node1 (`role: init`), then node2 (`role: server`) and node3 (an agent running an
//! etcd member) once node1's apiserver is up, each PXE-booted as the cluster test boots its node,
//! on one socket segment, with the apiserver (control planes) and the node exporter forwarded
//! from free ports on 127.0.0.1; it writes a kubeconfig
//! for the host, reports each node's progress, and returns when every Node is Ready. `status` asks
//! the VMs and the cluster; `down` ends every VM. Files are in `target/lab/` (`lab.json`,
//! `kubeconfig`, `kubectl`, and per node `<node>/`: console log, QEMU's stderr, pidfile, sockets,
//! state disk and seed).
//!
//! Decisions are pure in [`plan`] and [`status`] (rendering); [`machine`] and [`kube`] hold the
//! effects.

mod kube;
mod machine;
mod plan;
mod status;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::Value;

use plan::{NodeFiles, NodeRecord};

/// `cargo xtask lab …`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Boot the lab's VMs in the background and wait until every Node is Ready.
    Up(up::Args),
    /// Show the VMs, the Kubernetes Nodes, etcd's members and each apiserver's readiness.
    Status {
        /// `table` for people, `json` for scripts.
        #[arg(short = 'o', long, default_value = "table", value_parser = ["table", "json"])]
        output: String,
    },
    /// Stop every lab VM (QMP `quit`, then SIGKILL) and wait until none runs.
    Down,
}

pub fn run(command: Command) -> Result<ExitCode> {
    let lab = Lab::default();
    match command {
        Command::Up(args) => up::up(&lab, &args),
        Command::Status { output } => {
            if !lab.dir.join("lab.json").is_file() {
                eprintln!(
                    "lab: no lab in {}: `cargo xtask lab up` starts one",
                    lab.dir.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let status = status::gather(&lab)?;
            if output == "json" {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status::to_json(&status))?
                );
            } else {
                print!("{}", status::render(&status));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Down => down(&lab),
    }
}

/// The lab directory, `target/lab/`.
pub struct Lab {
    pub dir: PathBuf,
}

impl Default for Lab {
    fn default() -> Self {
        Self {
            dir: qemu_tests::paths::target_dir().join("lab"),
        }
    }
}

impl Lab {
    /// The nodes that have a directory here (with a `node.json` or a pidfile), by name.
    pub fn node_names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let files = NodeFiles::new(&self.dir, &name);
            if files.record().is_file() || files.pidfile().is_file() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The nodes whose QEMU runs, with their pids.
    pub fn running(&self) -> Result<Vec<(String, u32)>> {
        Ok(self
            .node_names()?
            .into_iter()
            .filter_map(|name| {
                let pid = machine::running(&NodeFiles::new(&self.dir, &name), &name)?;
                Some((name, pid))
            })
            .collect())
    }

    pub fn record(&self, files: &NodeFiles) -> Result<NodeRecord> {
        let path = files.record();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        NodeRecord::from_json(&serde_json::from_str(&text)?)
    }

    /// The segment's multicast port, from `lab.json`.
    pub fn segment(&self) -> Result<u16> {
        let path = self.dir.join("lab.json");
        let value: Value = serde_json::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?;
        value["segment_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .with_context(|| format!("{}: no segment_port", path.display()))
    }

    pub fn kubectl(&self) -> kube::Kubectl {
        kube::Kubectl {
            bin: self.dir.join("kubectl"),
            kubeconfig: self.dir.join("kubeconfig"),
        }
    }
}

/// Ends every lab VM, then removes the pidfiles and sockets (console logs stay, to read).
fn down(lab: &Lab) -> Result<ExitCode> {
    let names = lab.node_names()?;
    let mut stopped = 0;
    for name in &names {
        let files = NodeFiles::new(&lab.dir, name);
        if let Some(how) = machine::stop(&files, name)? {
            eprintln!("lab: {name}: stopped ({how})");
            stopped += 1;
        }
        for path in [
            &files.pidfile(),
            &files.qmp,
            &files.serial2,
            &files.state_disk(),
        ] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => eprintln!("lab: could not remove {}: {e}", path.display()),
            }
        }
    }
    for shared in ["pxe-initrd.img", "vmlinuz"] {
        let _ = std::fs::remove_file(lab.dir.join(shared));
    }
    let left = lab.running()?;
    anyhow::ensure!(
        left.is_empty(),
        "still running after down: {left:?}; see `pgrep -a qemu`"
    );
    if stopped == 0 {
        eprintln!("lab: nothing was running");
    } else {
        eprintln!(
            "lab: {stopped} VM(s) stopped; console logs kept in {}/<node>/console.log",
            lab.dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
