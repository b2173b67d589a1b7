//! `plinthctl cluster [-o table|json]`: becomes `plinth-agent cluster status` (exec: its output
//! and exit status are plinthctl's). The cluster's client (kube-rs, TLS, etcd's gateway) lives in
//! the agent, so PID 1's static binary stays free of it; plinthctl only names the command.

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use super::args::Format;
use crate::services::net::AGENT;

/// The agent's arguments for `format`.
pub fn status_args(format: Format) -> [&'static str; 4] {
    let output = match format {
        Format::Table => "table",
        Format::Json => "json",
    };
    ["cluster", "status", "--output", output]
}

/// Execs the agent; returns only when that failed, with why.
pub fn exec(format: Format) -> anyhow::Error {
    let error = Command::new(AGENT).args(status_args(format)).exec();
    if error.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "{AGENT} is missing: this image has no cluster agent, so it cannot report on a cluster"
        )
    } else {
        anyhow::anyhow!("cannot run {AGENT}: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_flag_is_passed_on() {
        assert_eq!(
            status_args(Format::Table),
            ["cluster", "status", "--output", "table"]
        );
        assert_eq!(
            status_args(Format::Json),
            ["cluster", "status", "--output", "json"]
        );
    }
}
