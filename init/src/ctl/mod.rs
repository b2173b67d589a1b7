//! `plinthctl`, the client of the control API: systemctl/talosctl-like verbs over the peer-to-peer
//! D-Bus socket. `args` declares the verbs, `connect` opens the socket with clear errors, `output`
//! formats what comes back (pure), and this module runs one verb. Four verbs need no PID 1 and
//! run before any connection: `kubeconfig` (prints the node's admin kubeconfig), and `cluster`,
//! `storage` and `compute` (become `plinth-agent cluster|storage|compute status`, [`agent_status`]).

pub mod agent_status;
pub mod args;
pub mod connect;
pub mod kubeconfig;
pub mod output;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use self::args::{Cli, ConfigAction, Format, Verb};
use crate::api::interface::ControlProxy;

/// The entry point of `plinthctl`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = local(&cli.verb) {
        return code;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("plinthctl: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plinthctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a verb that needs no PID 1 (the node's files, the agent); `None` for the others.
fn local(verb: &Verb) -> Option<ExitCode> {
    let result = match verb {
        Verb::Kubeconfig { server, root } => kubeconfig::kubeconfig(root, server.as_deref())
            .map_err(anyhow::Error::from)
            .and_then(|text| {
                std::io::stdout()
                    .write_all(text.as_bytes())
                    .context("writing the kubeconfig")
            }),
        Verb::Cluster { output } => Err(agent_status::exec(agent_status::Area::Cluster, *output)),
        Verb::Storage { output } => Err(agent_status::exec(agent_status::Area::Storage, *output)),
        Verb::Compute { output } => Err(agent_status::exec(agent_status::Area::Compute, *output)),
        _ => return None,
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plinthctl: {e:#}");
            ExitCode::FAILURE
        }
    })
}

async fn run(cli: Cli) -> Result<()> {
    if let Verb::Version = cli.verb {
        println!("plinthctl {}", env!("CARGO_PKG_VERSION"));
    }
    let connection = connect::open(&cli.socket).await?;
    let proxy = ControlProxy::new(&connection)
        .await
        .context("cannot set up the control API proxy")?;
    match cli.verb {
        Verb::Services { output } => {
            let services = proxy.list_services().await?;
            match output {
                Format::Json => println!("{}", output::services_json(&services)),
                Format::Table => print!("{}", output::services_table(&services)),
            }
        }
        Verb::Status { name, output } => {
            let service = proxy.status(&name).await?;
            match output {
                Format::Json => println!("{}", output::service_json(&service)),
                Format::Table => print!("{}", output::service_text(&service)),
            }
        }
        Verb::Logs { name, tail, follow } => {
            let mut last = 0;
            let lines = proxy.logs(&name, 0, tail).await?;
            for line in &lines {
                println!("{}", output::log_line(line));
                last = line.seq;
            }
            if follow {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    for line in proxy.logs(&name, last, 0).await? {
                        println!("{}", output::log_line(&line));
                        last = line.seq;
                    }
                }
            }
        }
        Verb::Start { name } => proxy.start(&name).await?,
        Verb::Stop { name } => proxy.stop(&name).await?,
        Verb::Restart { name } => proxy.restart(&name).await?,
        Verb::Timeline { output } => {
            let timeline = proxy.timeline().await?;
            match output {
                Format::Json => println!("{}", output::timeline_json(&timeline)),
                Format::Table => print!("{}", output::timeline_table(&timeline)),
            }
        }
        Verb::Config { action: None }
        | Verb::Config {
            action: Some(ConfigAction::Show),
        } => {
            println!("{}", proxy.config().await?);
        }
        Verb::Config {
            action: Some(ConfigAction::Apply { file }),
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let source = file.display().to_string();
            match proxy.apply_config(&source, &text).await {
                Ok(summary) => println!("{summary}"),
                Err(zbus::fdo::Error::InvalidArgs(diagnostics)) => {
                    anyhow::bail!("{source} is not applied:\n{}", diagnostics.trim_end())
                }
                Err(zbus::fdo::Error::Failed(why)) => {
                    anyhow::bail!("{source} is not applied: {why}")
                }
                Err(e) => return Err(e.into()),
            }
        }
        // Run by `local`, before any connection.
        Verb::Kubeconfig { .. }
        | Verb::Cluster { .. }
        | Verb::Storage { .. }
        | Verb::Compute { .. } => {}
        Verb::Reboot => proxy.reboot().await?,
        Verb::Poweroff => proxy.poweroff().await?,
        Verb::Version => println!("plinth-init {}", proxy.version().await?),
    }
    Ok(())
}
