//! PID 1's Prometheus metrics, written for the node exporter's textfile collector.
//!
//! Format (Prometheus text exposition 0.0.4), one file replaced atomically (temp file + rename):
//!
//! ```text
//! plinth_service_up{service="web"} 1                 # 1 when ready (or a oneshot exited 0)
//! plinth_service_state{service="web",state="ready"} 1  # one series per state, 1 for the current one
//! plinth_service_restarts_total{service="web"} 0
//! plinth_boot_phase_seconds{phase="early"} 0.004
//! plinth_boot_ready_seconds 1.234                    # absent until the boot is ready
//! plinth_init_rss_bytes 2457600
//! ```

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::state::State;

/// One service's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceFigures {
    /// Service name.
    pub name: String,
    /// Current state.
    pub state: State,
    /// Restarts since boot.
    pub restarts: u64,
}

/// Everything the metrics file shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Per service.
    pub services: Vec<ServiceFigures>,
    /// Finished boot phases and their durations in seconds.
    pub phases: Vec<(String, f64)>,
    /// Seconds from PID 1 start to ready, once reached.
    pub ready_seconds: Option<f64>,
    /// PID 1's resident set size.
    pub rss_bytes: u64,
}

/// Renders the figures as Prometheus text.
pub fn render(figures: &Figures) -> String {
    let mut out = String::new();
    let family = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        &mut out,
        "plinth_service_up",
        "gauge",
        "1 when the service is ready (or a oneshot finished well).",
    );
    for s in &figures.services {
        let up = u8::from(s.state.satisfies_dependents());
        let _ = writeln!(
            out,
            "plinth_service_up{{service=\"{}\"}} {up}",
            escape(&s.name)
        );
    }
    family(
        &mut out,
        "plinth_service_state",
        "gauge",
        "1 for the state the service is in, 0 for the others.",
    );
    for s in &figures.services {
        for state in State::ALL {
            let _ = writeln!(
                out,
                "plinth_service_state{{service=\"{}\",state=\"{}\"}} {}",
                escape(&s.name),
                state.as_str(),
                u8::from(state == s.state)
            );
        }
    }
    family(
        &mut out,
        "plinth_service_restarts_total",
        "counter",
        "Restarts of the service since boot.",
    );
    for s in &figures.services {
        let _ = writeln!(
            out,
            "plinth_service_restarts_total{{service=\"{}\"}} {}",
            escape(&s.name),
            s.restarts
        );
    }
    family(
        &mut out,
        "plinth_boot_phase_seconds",
        "gauge",
        "Duration of each finished boot phase.",
    );
    for (phase, secs) in &figures.phases {
        let _ = writeln!(
            out,
            "plinth_boot_phase_seconds{{phase=\"{}\"}} {secs:.6}",
            escape(phase)
        );
    }
    if let Some(secs) = figures.ready_seconds {
        family(
            &mut out,
            "plinth_boot_ready_seconds",
            "gauge",
            "Seconds from PID 1 start to the boot being ready.",
        );
        let _ = writeln!(out, "plinth_boot_ready_seconds {secs:.6}");
    }
    family(
        &mut out,
        "plinth_init_rss_bytes",
        "gauge",
        "Resident set size of PID 1.",
    );
    let _ = writeln!(out, "plinth_init_rss_bytes {}", figures.rss_bytes);
    out
}

/// Label values escaped as the exposition format wants.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `text` to `path` atomically (`crate::atomic_file`), so the collector never reads a
/// half-written file.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    crate::atomic_file::write(path, text.as_bytes(), 0o644)
}

/// PID 1's resident set size, from the `VmRSS` line of `/proc/self/status`.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    vm_rss(&status).unwrap_or(0)
}

/// The `VmRSS` of a `/proc/PID/status` text, in bytes.
pub fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_exact_names() {
        let figures = Figures {
            services: vec![
                ServiceFigures {
                    name: "web".into(),
                    state: State::Ready,
                    restarts: 2,
                },
                ServiceFigures {
                    name: "job".into(),
                    state: State::Backoff,
                    restarts: 7,
                },
            ],
            phases: vec![("early".into(), 0.5)],
            ready_seconds: Some(1.25),
            rss_bytes: 4096,
        };
        let text = render(&figures);
        for line in [
            "plinth_service_up{service=\"web\"} 1",
            "plinth_service_up{service=\"job\"} 0",
            "plinth_service_state{service=\"web\",state=\"ready\"} 1",
            "plinth_service_state{service=\"web\",state=\"backoff\"} 0",
            "plinth_service_state{service=\"job\",state=\"backoff\"} 1",
            "plinth_service_restarts_total{service=\"job\"} 7",
            "plinth_boot_phase_seconds{phase=\"early\"} 0.500000",
            "plinth_boot_ready_seconds 1.250000",
            "plinth_init_rss_bytes 4096",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("plinth_service_state{service=\"web\""))
                .count(),
            8
        );
    }

    #[test]
    fn ready_is_absent_until_reached_and_labels_are_escaped() {
        let figures = Figures {
            services: vec![ServiceFigures {
                name: "a\"b".into(),
                state: State::Waiting,
                restarts: 0,
            }],
            ..Figures::default()
        };
        let text = render(&figures);
        assert!(!text.contains("plinth_boot_ready_seconds"));
        assert!(text.contains("service=\"a\\\"b\""));
    }

    #[test]
    fn writes_atomically_and_reads_rss() {
        let dir = std::env::temp_dir().join(format!("plinth-metrics-{}", std::process::id()));
        let path = dir.join("sub/plinth.prom");
        write_atomically(&path, "x 1\n").unwrap();
        write_atomically(&path, "x 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x 2\n");
        assert!(!dir.join("sub/plinth.prom.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(rss_bytes() > 0);
        assert_eq!(
            vm_rss("Name:\tx\nVmRSS:\t    2048 kB\n"),
            Some(2 * 1024 * 1024)
        );
    }
}
