//! `plinthctl storage [-o table|json]`: becomes `plinth-agent storage status` (exec: its output
//! and exit status are plinthctl's), which reads the storage agent's last report: each configured
//! disk prepared, refused (with why) or missing, and each volume group's size and free space.

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
    ["storage", "status", "--output", output]
}

/// Execs the agent; returns only when that failed, with why.
pub fn exec(format: Format) -> anyhow::Error {
    let error = Command::new(AGENT).args(status_args(format)).exec();
    anyhow::anyhow!("cannot run {AGENT}: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_flag_is_passed_on() {
        assert_eq!(
            status_args(Format::Json),
            ["storage", "status", "--output", "json"]
        );
    }
}
