//! The Prometheus node exporter (`node-exporter`), on `plinth.exporters.node_exporter.listen`
//! (`:9100` by default) with the textfile collector reading PID 1's own metrics; ready when its
//! port accepts connections.

use plinth_config::MachineConfig;

use super::builtin::daemon;
use super::facts::Facts;
use crate::supervisor::spec::{Probe, ServiceSpec};

/// The exporter's binary.
pub const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// The exporter, unless the config turns it off.
pub fn plan(config: &MachineConfig, _: &Facts) -> Vec<ServiceSpec> {
    let settings = &config.plinth.exporters.node_exporter;
    if !settings.enabled {
        return Vec::new();
    }
    let listen = format!("--web.listen-address={}", settings.listen);
    let textfile = format!("--collector.textfile.directory={}", settings.textfile_dir);
    let probe = Probe::Tcp(port_of(&settings.listen).unwrap_or(9100));
    vec![daemon(
        "node-exporter",
        &[NODE_EXPORTER, &listen, &textfile],
        probe,
        &[],
    )]
}

/// The port of a `[HOST]:PORT` listen address.
fn port_of(listen: &str) -> Option<u16> {
    listen.rsplit_once(':')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_9100_with_the_textfile_collector() {
        let specs = plan(&MachineConfig::default(), &Facts::default());
        assert_eq!(specs[0].name, "node-exporter");
        assert_eq!(
            specs[0].exec,
            [
                NODE_EXPORTER,
                "--web.listen-address=:9100",
                "--collector.textfile.directory=/opt/node_exporter/textfile_collector"
            ]
        );
        assert_eq!(specs[0].probe, Probe::Tcp(9100));
    }

    #[test]
    fn follows_the_config() {
        let mut config = MachineConfig::default();
        config.plinth.exporters.node_exporter.listen = "127.0.0.1:9200".into();
        assert_eq!(plan(&config, &Facts::default())[0].probe, Probe::Tcp(9200));
        config.plinth.exporters.node_exporter.enabled = false;
        assert!(plan(&config, &Facts::default()).is_empty());
        assert_eq!(port_of("[::1]:9300"), Some(9300));
    }
}
