//! `plinthctl cluster`, `plinthctl storage` and `plinthctl compute` (`-o table|json`): each becomes `plinth-agent
//! <area> status` (exec: its output and exit status are plinthctl's). What they report needs what
//! lives in the agent — the cluster's client (kube-rs, TLS, etcd's gateway), the storage agent's
//! last report — so PID 1's static binary stays free of it; plinthctl only names the command.

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use super::args::Format;
use crate::services::net::AGENT;

/// The agent's reports plinthctl hands over to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// `plinth-agent cluster status`: config, etcd, apiserver, Node, labels.
    Cluster,
    /// `plinth-agent storage status`: each configured disk and volume group.
    Storage,
    /// `plinth-agent compute status`: KVM, nested, hugepages, IOMMU, kernel arguments, libvirt.
    Compute,
}

impl Area {
    fn name(self) -> &'static str {
        match self {
            Area::Cluster => "cluster",
            Area::Storage => "storage",
            Area::Compute => "compute",
        }
    }
}

/// The agent's arguments for `area` in `format`.
pub fn status_args(area: Area, format: Format) -> [&'static str; 4] {
    let output = match format {
        Format::Table => "table",
        Format::Json => "json",
    };
    [area.name(), "status", "--output", output]
}

/// Execs the agent; returns only when that failed, with why.
pub fn exec(area: Area, format: Format) -> anyhow::Error {
    let error = Command::new(AGENT).args(status_args(area, format)).exec();
    if error.kind() == std::io::ErrorKind::NotFound {
        anyhow::anyhow!(
            "{AGENT} is missing: this image has no agent, so it cannot report on the {}",
            area.name()
        )
    } else {
        anyhow::anyhow!("cannot run {AGENT}: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_and_the_output_flag_are_passed_on() {
        assert_eq!(
            status_args(Area::Cluster, Format::Table),
            ["cluster", "status", "--output", "table"]
        );
        assert_eq!(
            status_args(Area::Storage, Format::Json),
            ["storage", "status", "--output", "json"]
        );
        assert_eq!(
            status_args(Area::Compute, Format::Json),
            ["compute", "status", "--output", "json"]
        );
    }
}
