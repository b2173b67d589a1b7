//! Where stage 2 gets its machine config, and reading it through `plinth_config::load_path`: the
//! `--config` file, else (on a machine) a NoCloud seed, else the image's embedded default. Also
//! the redacted JSON form that the control API shows (`MachineConfig::redacted`, owned by the
//! config crate).

use std::path::{Path, PathBuf};

use plinth_config::MachineConfig;

use crate::pid1::Mode;

/// A place a config can come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A `#cloud-config` file or a NoCloud seed directory given on the command line.
    File(PathBuf),
    /// A mounted NoCloud seed (`cidata`) directory.
    Seed(PathBuf),
    /// The default embedded in the image.
    Embedded(PathBuf),
    /// Nothing found: the empty config.
    Empty,
}

/// Why no usable config was read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config has errors (each with source, line and column).
    #[error("invalid machine config:\n{0}")]
    Invalid(String),
}

/// A config read and validated.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// Where it came from, for humans.
    pub source: String,
    /// The typed config.
    pub config: MachineConfig,
    /// Warnings, one line each.
    pub warnings: Vec<String>,
    /// The config as JSON with secrets redacted (`MachineConfig::redacted`).
    pub redacted: serde_json::Value,
}

/// Where a NoCloud seed is mounted.
pub const SEED_MOUNT: &str = "/run/plinth/seed";

/// The source to use when no `--config` was given: on a machine, a NoCloud seed (mounted here),
/// else the image's embedded default; in a container, the empty config.
pub fn find(mode: Mode, default_config: &Path) -> Source {
    if !mode.owns_machine() {
        return Source::Empty;
    }
    if let Some(dir) = super::seed::find_and_mount(Path::new(SEED_MOUNT)) {
        return Source::Seed(dir);
    }
    if default_config.exists() {
        Source::Embedded(default_config.to_path_buf())
    } else {
        Source::Empty
    }
}

/// Reads and validates the config of `source`.
pub fn load(source: &Source) -> Result<LoadedConfig, ConfigError> {
    let (path, label) = match source {
        Source::File(p) => (p, format!("file {}", p.display())),
        Source::Seed(p) => (p, format!("NoCloud seed {}", p.display())),
        Source::Embedded(p) => (p, format!("embedded default {}", p.display())),
        Source::Empty => {
            let config = MachineConfig::default();
            return Ok(LoadedConfig {
                source: "no config found: the empty config".into(),
                redacted: config.redacted(),
                config,
                warnings: Vec::new(),
            });
        }
    };
    let parsed = plinth_config::load_path(path).map_err(|d| ConfigError::Invalid(d.to_string()))?;
    Ok(LoadedConfig {
        source: label,
        redacted: parsed.config.redacted(),
        warnings: parsed.warnings.iter().map(ToString::to_string).collect(),
        config: parsed.config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_mode_without_config_uses_the_empty_config() {
        let mode = Mode {
            container: true,
            pid1: true,
        };
        assert_eq!(find(mode, Path::new("/")), Source::Empty);
        let loaded = load(&Source::Empty).unwrap();
        assert!(loaded.config.plinth.services.is_empty());
    }

    #[test]
    fn reads_a_file_and_reports_errors_with_positions() {
        let dir = std::env::temp_dir().join(format!("plinth-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.yaml");
        std::fs::write(
            &good,
            "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [/bin/true]\n",
        )
        .unwrap();
        let loaded = load(&Source::File(good)).unwrap();
        assert_eq!(loaded.config.plinth.services[0].name, "web");
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "#cloud-config\nplinth:\n  services: 7\n").unwrap();
        let err = load(&Source::File(bad)).unwrap_err().to_string();
        assert!(err.contains("bad.yaml"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
