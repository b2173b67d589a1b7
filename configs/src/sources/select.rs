//! Which sources to try, in DESIGN.md's order: the kernel command line (`plinth.config=URL`, or a
//! `ds=nocloud;s=...` seed), a NoCloud seed filesystem (`cidata`), an OpenStack config drive
//! (`config-2`), the copy persisted on the state partition, and the image's default. The first that
//! yields a config wins. Pure: the boot code discovers filesystems and fetches; this only orders.

use std::path::PathBuf;

use super::cmdline::CmdlineSource;

/// One place a config may come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// `plinth.config=URL`: fetch one `#cloud-config` document; check its SHA-256 when given.
    Url {
        /// What to fetch (`http://`, `https://` or `file://`).
        url: String,
        /// Expected SHA-256, lowercase hex.
        sha256: Option<String>,
    },
    /// `ds=nocloud;s=URL`: fetch `user-data`, `meta-data` (and `network-config`, `vendor-data` if
    /// present) under this URL, then read them with [`super::nocloud::from_files`].
    NoCloudUrl {
        /// The seed URL, ending in `/`.
        seed_from: String,
        /// `h=`: the hostname meta-data would give.
        local_hostname: Option<String>,
    },
    /// A NoCloud seed directory (a mounted `cidata` filesystem, or `ds=nocloud;s=/path`).
    NoCloudDir(PathBuf),
    /// A mounted config drive.
    ConfigDrive(PathBuf),
    /// The config persisted on the state partition after the last successful boot.
    Persisted(PathBuf),
    /// The default embedded in the image.
    ImageDefault,
}

/// What the boot found on the machine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Mounted filesystems with a label: (label, mount point).
    pub labelled: Vec<(String, PathBuf)>,
    /// The persisted config on the state partition, if there is one.
    pub persisted: Option<PathBuf>,
}

/// The candidates in the order to try them.
pub fn candidates(cmdline: &CmdlineSource, found: &Discovered) -> Vec<Candidate> {
    let mut out = Vec::new();
    if let Some(url) = &cmdline.config_url {
        out.push(Candidate::Url {
            url: url.clone(),
            sha256: cmdline.config_sha256.clone(),
        });
    }
    if let Some(seed) = &cmdline.nocloud
        && let Some(from) = &seed.seed_from
    {
        let local = match from.strip_prefix("file://") {
            Some(path) => Some(path),
            None => from.starts_with('/').then_some(from.as_str()),
        };
        if let Some(dir) = local {
            out.push(Candidate::NoCloudDir(PathBuf::from(dir)));
        } else {
            let seed_from = if from.ends_with('/') {
                from.clone()
            } else {
                format!("{from}/")
            };
            out.push(Candidate::NoCloudUrl {
                seed_from,
                local_hostname: seed.local_hostname.clone(),
            });
        }
    }
    for (label, mount) in &found.labelled {
        if label.eq_ignore_ascii_case("cidata") {
            out.push(Candidate::NoCloudDir(mount.clone()));
        }
    }
    for (label, mount) in &found.labelled {
        if label.eq_ignore_ascii_case("config-2") {
            out.push(Candidate::ConfigDrive(mount.clone()));
        }
    }
    if let Some(path) = &found.persisted {
        out.push(Candidate::Persisted(path.clone()));
    }
    out.push(Candidate::ImageDefault);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::cmdline;

    #[test]
    fn command_line_first_image_default_last() {
        let cmd = cmdline::parse(&format!(
            "plinth.config=http://10.0.0.1/n1.yaml plinth.config.sha256={}",
            "ab".repeat(32)
        ))
        .unwrap();
        let found = Discovered {
            labelled: vec![
                ("config-2".into(), "/run/plinth/config-2".into()),
                ("CIDATA".into(), "/run/plinth/cidata".into()),
                ("PLINTH_STATE".into(), "/var".into()),
            ],
            persisted: Some("/var/lib/plinth/config.yaml".into()),
        };
        assert_eq!(
            candidates(&cmd, &found),
            vec![
                Candidate::Url {
                    url: "http://10.0.0.1/n1.yaml".into(),
                    sha256: Some("ab".repeat(32))
                },
                Candidate::NoCloudDir("/run/plinth/cidata".into()),
                Candidate::ConfigDrive("/run/plinth/config-2".into()),
                Candidate::Persisted("/var/lib/plinth/config.yaml".into()),
                Candidate::ImageDefault,
            ]
        );
        assert_eq!(
            candidates(&CmdlineSource::default(), &Discovered::default()),
            vec![Candidate::ImageDefault]
        );
    }

    #[test]
    fn nocloud_seeds_from_the_command_line() {
        let net = cmdline::parse("ds=nocloud-net;s=http://10.0.0.1/seeds/n1;h=n1").unwrap();
        assert_eq!(
            candidates(&net, &Discovered::default())[0],
            Candidate::NoCloudUrl {
                seed_from: "http://10.0.0.1/seeds/n1/".into(),
                local_hostname: Some("n1".into())
            }
        );
        let local = cmdline::parse("ds=nocloud;s=/opt/seed/").unwrap();
        assert_eq!(
            candidates(&local, &Discovered::default())[0],
            Candidate::NoCloudDir("/opt/seed/".into())
        );
        let file = cmdline::parse("ds=nocloud;s=file:///opt/seed/").unwrap();
        assert_eq!(
            candidates(&file, &Discovered::default())[0],
            Candidate::NoCloudDir("/opt/seed/".into())
        );
    }
}
