//! The command line of `plinth-init` in stage 2. The kernel passes unknown boot parameters to init
//! as arguments, so as a real PID 1 a command line that does not parse is reported and ignored
//! rather than fatal.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Plinth's PID 1 (stage 2).
#[derive(Debug, Parser)]
#[command(name = "plinth-init", version)]
pub struct Args {
    /// Run in a container or PID namespace: no host-wide effects (mounts, hostname, modules,
    /// network, disks, reboot(2)); exit 0 on shutdown. Built-in services are skipped.
    #[arg(long)]
    pub container: bool,
    /// The machine config (a #cloud-config file or a NoCloud seed directory), instead of looking for one.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The embedded default config, used on a machine when no other source is found.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/usr/lib/plinth/default-config.yaml"
    )]
    pub default_config: PathBuf,
    /// Where `plinthctl config apply` keeps the config it accepted, read back on the next boots
    /// [default: /var/lib/plinth/config.yaml, none with --container].
    #[arg(long, value_name = "PATH")]
    pub persisted_config: Option<PathBuf>,
    /// Where to serve the control API.
    #[arg(long, value_name = "PATH", default_value = crate::api::DEFAULT_SOCKET)]
    pub control_socket: PathBuf,
    /// The Prometheus textfile to write [default: /opt/node_exporter/textfile_collector/plinth.prom,
    /// none with --container].
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,
    /// Directory of the per-service log files [default: /var/log/plinth, none with --container].
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Size at which a service's log file is rotated.
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub log_max_bytes: u64,
    /// Lines kept in memory per service.
    #[arg(long, value_name = "LINES", default_value_t = 1000)]
    pub log_ring_lines: usize,
    /// Do not mirror service output to the console.
    #[arg(long)]
    pub quiet_services: bool,
    /// The parent cgroup of the services [default: /sys/fs/cgroup/plinth, none with --container].
    #[arg(long, value_name = "DIR")]
    pub cgroup_root: Option<PathBuf>,
    /// Plan the built-in services even with --container.
    #[arg(long)]
    pub builtins: bool,
    /// First restart delay.
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = duration)]
    pub backoff_min: Duration,
    /// Largest restart delay.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub backoff_max: Duration,
    /// A run this long resets the restart delay.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub backoff_reset: Duration,
    /// How long a readiness probe (or a oneshot's run) may take.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration)]
    pub ready_timeout: Duration,
    /// How long phase `ready` waits for every service to come to rest before the boot ends in
    /// maintenance mode naming those that did not (a crash loop never comes to rest).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = duration)]
    pub settle_timeout: Duration,
}

fn duration(text: &str) -> Result<Duration, plinth_config::DurationError> {
    plinth_config::Duration::parse(text).map(|d| d.get())
}

/// Parses the command line. As PID 1 outside a container, a bad command line falls back to the
/// defaults (with a console line) instead of exiting, which would panic the kernel.
pub fn parse() -> Args {
    match Args::try_parse() {
        Ok(args) => args,
        Err(e) if std::process::id() == 1 && !std::env::args().any(|a| a == "--container") => {
            crate::console::say(&format!(
                "ignoring the command line: {}",
                e.to_string().trim()
            ));
            Args::parse_from(["plinth-init"])
        }
        Err(e) => e.exit(),
    }
}

impl Args {
    /// The metrics file, after mode defaults.
    pub fn metrics_file(&self) -> Option<PathBuf> {
        self.metrics_file.clone().or_else(|| {
            (!self.container).then(|| "/opt/node_exporter/textfile_collector/plinth.prom".into())
        })
    }

    /// The persisted config, after mode defaults.
    pub fn persisted_config(&self) -> Option<PathBuf> {
        self.persisted_config
            .clone()
            .or_else(|| (!self.container).then(|| crate::boot::config_source::PERSISTED.into()))
    }

    /// The log directory, after mode defaults.
    pub fn log_dir(&self) -> Option<PathBuf> {
        self.log_dir
            .clone()
            .or_else(|| (!self.container).then(|| "/var/log/plinth".into()))
    }

    /// The cgroup root, after mode defaults.
    pub fn cgroup_root(&self) -> Option<PathBuf> {
        self.cgroup_root
            .clone()
            .or_else(|| (!self.container).then(|| "/sys/fs/cgroup/plinth".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_mode_has_no_host_paths_by_default() {
        let args = Args::parse_from(["plinth-init", "--container"]);
        assert_eq!(args.metrics_file(), None);
        assert_eq!(args.log_dir(), None);
        assert_eq!(args.cgroup_root(), None);
        assert_eq!(args.persisted_config(), None);
        let machine = Args::parse_from(["plinth-init"]);
        assert_eq!(
            machine.metrics_file().unwrap(),
            PathBuf::from("/opt/node_exporter/textfile_collector/plinth.prom")
        );
        assert_eq!(
            machine.control_socket,
            PathBuf::from("/run/plinth/control.sock")
        );
    }

    #[test]
    fn durations_use_the_config_syntax() {
        let args = Args::parse_from(["plinth-init", "--backoff-min", "5ms", "--backoff-max", "2s"]);
        assert_eq!(args.backoff_min, Duration::from_millis(5));
        assert_eq!(args.backoff_max, Duration::from_secs(2));
        assert!(Args::try_parse_from(["plinth-init", "--backoff-min", "soon"]).is_err());
    }
}
