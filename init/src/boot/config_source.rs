//! Where stage 2 gets its machine config. With `--config` it reads that file or seed directory.
//! On a machine it follows DESIGN.md's order through the config crate's
//! `sources::select::candidates`: the kernel command line, a NoCloud seed (`cidata`), an OpenStack
//! config drive (`config-2`), the copy persisted on the state partition after the last successful
//! boot, and the image's embedded default; what the config leaves out is filled from the image's
//! default (`sources::merge::with_defaults`). In a container without `--config`, the empty config.
//!
//! A seed that an applied config replaced is skipped while it is unchanged (`super::superseded`).
//! When no seed is on the devices stage 1 brought up, the controllers it leaves out are loaded and
//! the search runs again (`super::media_drivers`).
//!
//! Discovery (reading /proc/cmdline, mounting labelled filesystems) is the effect here; the order and
//! the parsing are the config crate's. The redacted JSON the control API shows is
//! `MachineConfig::redacted`.

use std::path::Path;

use plinth_config::MachineConfig;
use plinth_config::sources::cmdline::{self, CmdlineSource};
use plinth_config::sources::merge;
use plinth_config::sources::select::{Candidate, Discovered, candidates};

use super::superseded;
use super::url::include::{Network, read_with_includes};
use super::url::retry;
use super::url::source::{self, Outcome, SourceError};
use crate::console;
use crate::pid1::Mode;
use crate::pid1::reaper::Reaper;

/// Where labelled config filesystems are mounted: `<this>/<label>`.
pub const MEDIA_DIR: &str = "/run/plinth/media";
/// The copy of the last config that booted to ready.
pub const PERSISTED: &str = "/var/lib/plinth/config.yaml";

/// Why no usable config was read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config has errors (each with source, line and column).
    #[error("invalid machine config:\n{0}")]
    Invalid(String),
    /// The image's own default does not parse (a broken build).
    #[error("the image's default config is invalid:\n{0}")]
    ImageDefault(String),
    /// A URL source answered with something unusable (wrong checksum, refused for good).
    #[error("{0}")]
    Fetch(String),
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
    /// Whether to keep it on the state partition once the boot is ready: not for the image's own
    /// default, which every boot has anyway (and a newer image may change).
    pub persist: bool,
    /// The instance-id the source gives (`crate::cloud_init::instance::of_source`), if any.
    pub instance_id: Option<String>,
    /// When it came from a seed or config drive: that seed's fingerprint (`super::superseded`).
    pub seed: Option<String>,
}

/// A seed or config drive that decided a boot's config (whether valid or not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedId {
    /// What it is and where it is mounted, for humans.
    pub label: String,
    /// `super::superseded::fingerprint` of it.
    pub fingerprint: String,
}

/// What [`discover_and_load`] found: the config or why there is none, and the seed that decided
/// it, if a seed did (kept when a config is applied, so the next boots skip that seed).
#[derive(Debug)]
pub struct Discovery {
    pub loaded: Result<LoadedConfig, ConfigError>,
    pub seed: Option<SeedId>,
}

impl LoadedConfig {
    pub(crate) fn new(
        source: String,
        config: MachineConfig,
        warnings: Vec<String>,
    ) -> LoadedConfig {
        LoadedConfig {
            source,
            redacted: config.redacted(),
            config,
            warnings,
            persist: true,
            instance_id: None,
            seed: None,
        }
    }

    fn with_instance_id(self, instance_id: Option<String>) -> LoadedConfig {
        LoadedConfig {
            instance_id,
            ..self
        }
    }

    fn not_persisted(self) -> LoadedConfig {
        LoadedConfig {
            persist: false,
            ..self
        }
    }
}

/// Reads `--config PATH` (a file, a NoCloud seed or a config drive directory) as given.
pub fn load_given(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let parsed = plinth_config::load_path(path).map_err(|d| ConfigError::Invalid(d.to_string()))?;
    let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
    Ok(
        LoadedConfig::new(format!("file {}", path.display()), parsed.config, warnings)
            .with_instance_id(
                path.is_dir()
                    .then(|| crate::cloud_init::instance::of_source(path))
                    .flatten(),
            ),
    )
}

/// The config of this node when no `--config` was given. URL sources (first on the kernel command
/// line) are fetched first, with the network brought up for them; one that cannot be reached gives
/// way to the next source.
pub async fn discover_and_load(mode: Mode, default_config: &Path, reaper: &Reaper) -> Discovery {
    if !mode.owns_machine() {
        let empty = LoadedConfig::new(
            "no --config: the empty config".into(),
            MachineConfig::default(),
            Vec::new(),
        );
        return Discovery {
            loaded: Ok(empty.not_persisted()),
            seed: None,
        };
    }
    let cmdline_text = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    let cmdline = cmdline::parse(&cmdline_text).unwrap_or_else(|e| {
        console::say(&format!(
            "ignoring the config arguments of the kernel command line: {e}"
        ));
        CmdlineSource::default()
    });
    let media = || super::media::mount_labelled(Path::new(MEDIA_DIR), &["cidata", "config-2"]);
    let mut labelled = media();
    if labelled.is_empty()
        && let Some(said) = super::media_drivers::load_if_present()
    {
        console::say(&format!("config: {said}"));
        labelled = media();
    }
    let kept = Path::new(PERSISTED);
    // A corrupt kept copy is no source, and the seed it superseded is read again.
    let kept_checked = kept
        .is_file()
        .then(|| super::kept_config::read_checked(kept));
    if let Some(Err(why)) = &kept_checked {
        console::say(&corrupt_line(kept, why));
    }
    let kept_ok = matches!(kept_checked, Some(Ok(())));
    let found = Discovered {
        labelled,
        persisted: kept_ok.then(|| kept.to_path_buf()),
    };
    let (remote, local): (Vec<Candidate>, Vec<Candidate>) = candidates(&cmdline, &found)
        .into_iter()
        .partition(|c| matches!(c, Candidate::Url { .. } | Candidate::NoCloudUrl { .. }));
    let mut net = Network::down(reaper);
    if !remote.is_empty() {
        super::url::early_dhcp::bring_up(reaper).await;
        net = Network::up();
    }
    if let Some(loaded) = load_remote(&remote, default_config).await {
        return Discovery { loaded, seed: None };
    }
    let marker = kept_ok
        .then(|| superseded::read_marker(&superseded::marker_path(kept)))
        .flatten();
    let (local, skipped) =
        superseded::skip_superseded(local, marker.as_deref(), superseded::fingerprint);
    for candidate in &skipped {
        console::say(&format!(
            "{} is unchanged since `plinthctl config apply` replaced it: skipping it for the applied config (change the seed to have it read again)",
            describe(candidate)
        ));
    }
    let seed = local
        .iter()
        .find(|c| matches!(c, Candidate::NoCloudDir(_) | Candidate::ConfigDrive(_)))
        .and_then(|c| {
            superseded::fingerprint(c).map(|fingerprint| SeedId {
                label: describe(c),
                fingerprint,
            })
        });
    Discovery {
        loaded: resolve(&local, default_config, &mut net).await,
        seed,
    }
}

/// How a local candidate is named on the console.
fn describe(candidate: &Candidate) -> String {
    match candidate {
        Candidate::NoCloudDir(dir) => format!("{SEED_LABEL} {}", dir.display()),
        Candidate::ConfigDrive(dir) => format!("{DRIVE_LABEL} {}", dir.display()),
        Candidate::Persisted(file) => format!("persisted copy {}", file.display()),
        other => format!("{other:?}"),
    }
}

const SEED_LABEL: &str = "NoCloud seed";
const DRIVE_LABEL: &str = "config drive";

/// Fetches the URL sources in turn: the first that answers decides; `None` when none answered.
async fn load_remote(
    remote: &[Candidate],
    default_config: &Path,
) -> Option<Result<LoadedConfig, ConfigError>> {
    for candidate in remote {
        let outcome = match candidate {
            Candidate::Url { url, sha256 } => {
                source::config_url(url, sha256.as_deref(), retry::BUDGET).await
            }
            Candidate::NoCloudUrl {
                seed_from,
                local_hostname,
            } => source::nocloud_url(seed_from, local_hostname.as_deref(), retry::BUDGET).await,
            _ => continue,
        };
        match outcome {
            Ok(Outcome::Parsed {
                label,
                parsed,
                instance_id,
            }) => {
                let defaults = match image_default(default_config) {
                    Ok(d) => d,
                    Err(e) => return Some(Err(e)),
                };
                let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
                let config = merge::with_defaults(parsed.config, &defaults.1.config);
                return Some(Ok(
                    LoadedConfig::new(label, config, warnings).with_instance_id(instance_id)
                ));
            }
            Ok(Outcome::Unreachable) => {}
            Err(SourceError::Invalid(d)) => return Some(Err(ConfigError::Invalid(d))),
            Err(e) => return Some(Err(ConfigError::Fetch(e.to_string()))),
        }
    }
    None
}

/// Tries `candidates` in order: the first that exists decides (an invalid one is an error, not a
/// reason to fall back silently); then the image default fills what it leaves out. Its user-data's
/// `#include` URLs are fetched, the network brought up for them through `net`.
pub async fn resolve(
    candidates: &[Candidate],
    default_config: &Path,
    net: &mut Network<'_>,
) -> Result<LoadedConfig, ConfigError> {
    let defaults = image_default(default_config)?;
    for candidate in candidates {
        let (label, path) = match candidate {
            // Fetched by `discover_and_load` before the local sources are tried.
            Candidate::Url { .. } | Candidate::NoCloudUrl { .. } => continue,
            Candidate::NoCloudDir(dir) => (SEED_LABEL, dir),
            Candidate::ConfigDrive(dir) => (DRIVE_LABEL, dir),
            Candidate::Persisted(file) => {
                if let Err(why) = super::kept_config::read_checked(file) {
                    console::say(&corrupt_line(file, &why));
                    continue;
                }
                ("persisted copy", file)
            }
            Candidate::ImageDefault => {
                let (source, parsed) = defaults;
                let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
                return Ok(LoadedConfig::new(source, parsed.config, warnings).not_persisted());
            }
        };
        let parsed = read_with_includes(|inc| plinth_config::load_path_with(path, inc), net)
            .await
            .map_err(|d| ConfigError::Invalid(d.to_string()))?;
        let warnings = parsed.warnings.iter().map(ToString::to_string).collect();
        let config = merge::with_defaults(parsed.config, &defaults.1.config);
        return Ok(LoadedConfig {
            seed: superseded::fingerprint(candidate),
            ..LoadedConfig::new(format!("{label} {}", path.display()), config, warnings)
                .with_instance_id(crate::cloud_init::instance::of_source(path))
        });
    }
    let (source, parsed) = defaults;
    Ok(LoadedConfig::new(source, parsed.config, Vec::new()).not_persisted())
}

/// The image's default: the embedded file when the image has one, else the config crate's copy.
pub(crate) fn image_default(path: &Path) -> Result<(String, plinth_config::Parsed), ConfigError> {
    if path.is_file() {
        let parsed =
            plinth_config::load_path(path).map_err(|d| ConfigError::ImageDefault(d.to_string()))?;
        return Ok((format!("embedded default {}", path.display()), parsed));
    }
    let parsed = merge::image_default().map_err(|d| ConfigError::ImageDefault(d.to_string()))?;
    Ok(("built-in default".into(), parsed))
}

/// Keeps `config` on the state partition for the next boots (written once the boot is ready): its
/// YAML, or a MIME multipart with its scripts when it has any (`MachineConfig::to_user_data`),
/// sealed (`super::kept_config`) so a copy cut short is never taken for a config.
pub fn persist(config: &MachineConfig, path: &Path) -> std::io::Result<()> {
    let sealed = super::kept_config::seal(&config.to_user_data());
    crate::atomic_file::write(path, sealed.as_bytes(), 0o600)
}

/// The console line for a kept copy at `path` that is not used because of `why`.
fn corrupt_line(path: &Path, why: &super::kept_config::Unusable) -> String {
    format!(
        "config: the persisted copy {} is corrupt ({why}): ignoring it, and the seed it replaced is read again",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-cfg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn container_mode_without_config_uses_the_empty_config() {
        let mode = Mode {
            container: true,
            pid1: true,
        };
        let reaper = Reaper::start().unwrap();
        let discovery = discover_and_load(mode, Path::new("/nonexistent"), &reaper).await;
        assert_eq!(discovery.seed, None);
        let loaded = discovery.loaded.unwrap();
        assert_eq!(loaded.config, MachineConfig::default());
    }

    #[test]
    fn reads_a_file_and_reports_errors_with_positions() {
        let dir = scratch("file");
        let good = dir.join("good.yaml");
        std::fs::write(
            &good,
            "#cloud-config\nplinth:\n  services:\n    - name: web\n      exec: [/bin/true]\n",
        )
        .unwrap();
        assert_eq!(
            load_given(&good).unwrap().config.plinth.services[0].name,
            "web"
        );
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "#cloud-config\nplinth:\n  services: 7\n").unwrap();
        let err = load_given(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.yaml"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn the_first_candidate_found_wins_and_defaults_fill_the_rest() {
        let dir = scratch("resolve");
        let seed = dir.join("cidata");
        std::fs::create_dir_all(&seed).unwrap();
        std::fs::write(
            seed.join("user-data"),
            "#cloud-config\nhostname: from-seed\n",
        )
        .unwrap();
        std::fs::write(seed.join("meta-data"), "instance-id: i-1\n").unwrap();
        let persisted = dir.join("config.yaml");
        std::fs::write(
            &persisted,
            super::super::kept_config::seal("#cloud-config\nhostname: from-state\n"),
        )
        .unwrap();
        let none = Path::new("/nonexistent/default.yaml");

        let order = [
            Candidate::Url {
                url: "http://10.0.0.1/x.yaml".into(),
                sha256: None,
            },
            Candidate::NoCloudDir(seed.clone()),
            Candidate::Persisted(persisted.clone()),
            Candidate::ImageDefault,
        ];
        let loaded = resolve(&order, none, &mut Network::none()).await.unwrap();
        assert_eq!(loaded.config.hostname.as_deref(), Some("from-seed"));
        assert!(
            loaded.source.starts_with("NoCloud seed"),
            "{}",
            loaded.source
        );
        assert!(
            loaded.config.network.is_some(),
            "the image default's network fills a config without one"
        );

        let loaded = resolve(&order[2..], none, &mut Network::none())
            .await
            .unwrap();
        assert_eq!(loaded.config.hostname.as_deref(), Some("from-state"));

        let loaded = resolve(&[Candidate::ImageDefault], none, &mut Network::none())
            .await
            .unwrap();
        assert_eq!(loaded.source, "built-in default");
        assert!(!loaded.persist, "the image default is not worth keeping");
        assert!(
            resolve(&order, none, &mut Network::none())
                .await
                .unwrap()
                .persist
        );

        std::fs::write(
            seed.join("user-data"),
            "#cloud-config\nplinth: [not, a, map]\n",
        )
        .unwrap();
        assert!(
            resolve(&order, none, &mut Network::none()).await.is_err(),
            "an invalid seed must not fall back silently"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn an_empty_or_truncated_kept_config_is_corrupt_and_the_next_source_decides() {
        let dir = scratch("kept-corrupt");
        let kept = dir.join("config.yaml");
        let none = Path::new("/nonexistent/default.yaml");
        let order = [Candidate::Persisted(kept.clone()), Candidate::ImageDefault];
        let config = plinth_config::parse("t", "#cloud-config\nhostname: kept-node\n")
            .unwrap()
            .config;
        persist(&config, &kept).unwrap();
        let loaded = resolve(&order, none, &mut Network::none()).await.unwrap();
        assert_eq!(loaded.config.hostname.as_deref(), Some("kept-node"));

        std::fs::write(&kept, "").unwrap();
        let loaded = resolve(&order, none, &mut Network::none()).await.unwrap();
        assert_eq!(loaded.source, "built-in default", "an empty kept copy");

        persist(&config, &kept).unwrap();
        let whole = std::fs::read(&kept).unwrap();
        std::fs::write(&kept, &whole[..whole.len() / 2]).unwrap();
        let loaded = resolve(&order, none, &mut Network::none()).await.unwrap();
        assert_eq!(loaded.source, "built-in default", "a truncated kept copy");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn persists_a_config_that_reads_back_equal() {
        let dir = scratch("persist");
        let path = dir.join("lib/plinth/config.yaml");
        let config = plinth_config::parse(
            "t",
            "#cloud-config\nhostname: n1\nplinth:\n  cluster:\n    token: abcdef.0123456789abcdef\n",
        )
        .unwrap()
        .config;
        persist(&config, &path).unwrap();
        assert_eq!(load_given(&path).unwrap().config, config);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "the persisted copy holds secrets");

        // The user-data's scripts are kept too (as MIME parts), so they still run from the copy.
        let with_scripts = plinth_config::parse(
            "t",
            "#cloud-config-archive\n- 'hostname: n2'\n- |\n  #!/bin/sh\n  echo hi\n- |\n  #cloud-boothook\n  echo early\n",
        )
        .unwrap()
        .config;
        assert_eq!(with_scripts.user_scripts.scripts.len(), 1);
        persist(&with_scripts, &path).unwrap();
        assert_eq!(load_given(&path).unwrap().config, with_scripts);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
