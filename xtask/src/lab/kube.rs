//! Asking the lab's cluster: the image's own kubectl on the host, through a node's forwarded
//! apiserver port with the lab's kubeconfig, and the root shell on a node's second serial port
//! (`plinthctl kubeconfig`, `plinthctl cluster -o json`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use qemu_tests::shell::Shell;
use serde_json::Value;

/// How long one kubectl request may take (a busy TCG apiserver answers in a second or two).
const REQUEST_TIMEOUT: &str = "--request-timeout=15s";

/// The image's kubectl with the lab's kubeconfig.
pub struct Kubectl {
    /// `target/lab/kubectl`, a link to the image tree's Kubernetes multicall binary.
    pub bin: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Kubectl {
    /// Runs kubectl with `args`, through host port `server` instead of the kubeconfig's when
    /// given; its stdout, or an error with its stderr.
    pub fn run(&self, server: Option<u16>, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg(REQUEST_TIMEOUT);
        if let Some(port) = server {
            cmd.arg(format!("--server=https://127.0.0.1:{port}"));
        }
        cmd.args(args);
        crate::cmd::output(&mut cmd).map_err(|e| {
            // The whole command line is noise here; the error text is what says why.
            anyhow::anyhow!(
                "kubectl {}: {}",
                args.join(" "),
                e.to_string()
                    .rsplit_once("): ")
                    .map_or(e.to_string(), |(_, why)| why.into())
            )
        })
    }

    /// `kubectl get nodes -o json`.
    pub fn nodes(&self) -> Result<Value> {
        let text = self.run(None, &["get", "nodes", "-o", "json"])?;
        serde_json::from_str(&text).context("kubectl get nodes -o json: not JSON")
    }

    /// The apiserver's `/readyz` through host port `port`: `ok` when ready.
    pub fn readyz(&self, port: u16) -> Result<String> {
        Ok(self
            .run(Some(port), &["get", "--raw", "/readyz"])?
            .trim()
            .to_owned())
    }
}

/// A root shell on a node's ttyS1 (the lab boots every node with `plinth.autologin=ttyS1`).
pub struct Guest {
    shell: Shell,
}

impl Guest {
    /// Connects to the shell on the serial socket `serial2`, waiting up to `timeout` for it to answer.
    pub fn connect(serial2: &Path, timeout: Duration) -> Result<Self> {
        let shell = Shell::connect(serial2, timeout).with_context(|| {
            format!(
                "no shell on {} (another `cargo xtask lab` may hold it)",
                serial2.display()
            )
        })?;
        Ok(Self { shell })
    }

    /// Runs `command`; its output when it exits 0.
    pub fn run(&mut self, command: &str, timeout: Duration) -> Result<String> {
        let out = self.shell.run(command, timeout)?;
        if out.status != 0 {
            bail!(
                "`{command}` on the node exited {}: {}",
                out.status,
                out.text.trim()
            );
        }
        Ok(out.text)
    }

    /// `plinthctl kubeconfig --server https://127.0.0.1:<port>`: the admin kubeconfig for the host.
    pub fn kubeconfig(&mut self, port: u16) -> Result<String> {
        let text = self.run(
            &format!("plinthctl kubeconfig --server https://127.0.0.1:{port}"),
            Duration::from_secs(60),
        )?;
        let start = text
            .find("apiVersion")
            .context("plinthctl kubeconfig printed no kubeconfig")?;
        let start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        Ok(text[start..].to_owned())
    }

    /// `plinthctl cluster -o json`: the node's cluster report (etcd's members among it).
    pub fn cluster_report(&mut self) -> Result<Value> {
        // A failing check makes it exit non-zero with the report still printed.
        let out = self
            .shell
            .run("plinthctl cluster -o json", Duration::from_secs(90))?;
        let json = out
            .text
            .find('{')
            .map(|i| &out.text[i..])
            .with_context(|| {
                format!(
                    "plinthctl cluster -o json printed no JSON: {}",
                    out.text.trim()
                )
            })?;
        // The report, then (when a check fails) a line on stderr after it: read one value.
        serde_json::Deserializer::from_str(json)
            .into_iter::<Value>()
            .next()
            .context("plinthctl cluster -o json printed no JSON")?
            .context("plinthctl cluster -o json: not JSON")
    }
}
