//! The kernel command line: `plinth.config=URL` (with an optional `plinth.config.sha256=HEX`) for PXE,
//! and cloud-init's `ds=nocloud;s=URL` / `ds=nocloud-net;...` seed selection.

use thiserror::Error;

/// What the kernel command line says about the config source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CmdlineSource {
    /// `plinth.config=URL`: fetch the config from here.
    pub config_url: Option<String>,
    /// `plinth.config.sha256=HEX`: the fetched config must have this SHA-256 (lowercase hex).
    pub config_sha256: Option<String>,
    /// `ds=nocloud...`: cloud-init's NoCloud selection.
    pub nocloud: Option<NoCloudSeed>,
}

/// cloud-init's `ds=nocloud;...` argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoCloudSeed {
    /// `nocloud-net` (network seed) rather than `nocloud`.
    pub net: bool,
    /// `s=` / `seedfrom=`: where the seed files are (URL or local directory).
    pub seed_from: Option<String>,
    /// `h=` / `local-hostname=`.
    pub local_hostname: Option<String>,
    /// `i=` / `instance-id=`.
    pub instance_id: Option<String>,
}

/// Why the command line's config arguments are unusable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CmdlineError {
    /// `plinth.config=` has a scheme Plinth cannot fetch.
    #[error("plinth.config=`{0}`: expected an http://, https:// or file:// URL")]
    BadUrl(String),
    /// The checksum is not 64 hex digits.
    #[error("plinth.config.sha256=`{0}`: expected 64 hexadecimal digits")]
    BadSha256(String),
    /// A checksum without a URL.
    #[error("plinth.config.sha256= is given without plinth.config=")]
    Sha256WithoutUrl,
    /// An unterminated double quote.
    #[error("unterminated double quote in the kernel command line")]
    Unterminated,
    /// A `ds=nocloud` seed URL Plinth cannot use.
    #[error(
        "ds=nocloud seed `{0}`: expected an http://, https:// or file:// URL, or an absolute path"
    )]
    BadSeed(String),
}

/// Splits a command line into arguments as the kernel does: on spaces, with double quotes grouping.
pub fn split(cmdline: &str) -> Result<Vec<String>, CmdlineError> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut has_token = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                has_token = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if has_token {
                    args.push(std::mem::take(&mut current));
                    has_token = false;
                }
            }
            c => {
                current.push(c);
                has_token = true;
            }
        }
    }
    if in_quotes {
        return Err(CmdlineError::Unterminated);
    }
    if has_token {
        args.push(current);
    }
    Ok(args)
}

fn fetchable(url: &str) -> bool {
    ["http://", "https://", "file://"]
        .iter()
        .any(|s| url.starts_with(s) && url.len() > s.len())
}

/// Parses the config-related arguments of a kernel command line (`/proc/cmdline`). Later arguments win.
pub fn parse(cmdline: &str) -> Result<CmdlineSource, CmdlineError> {
    let mut out = CmdlineSource::default();
    for arg in split(cmdline)? {
        if let Some(url) = arg.strip_prefix("plinth.config=") {
            if !fetchable(url) {
                return Err(CmdlineError::BadUrl(url.to_owned()));
            }
            out.config_url = Some(url.to_owned());
        } else if let Some(hex) = arg.strip_prefix("plinth.config.sha256=") {
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(CmdlineError::BadSha256(hex.to_owned()));
            }
            out.config_sha256 = Some(hex.to_ascii_lowercase());
        } else if let Some(ds) = arg.strip_prefix("ds=") {
            out.nocloud = parse_ds(ds)?.or(out.nocloud);
        }
    }
    if out.config_sha256.is_some() && out.config_url.is_none() {
        return Err(CmdlineError::Sha256WithoutUrl);
    }
    Ok(out)
}

/// `nocloud;s=URL;h=HOST` → a seed; other data sources → `None`.
fn parse_ds(ds: &str) -> Result<Option<NoCloudSeed>, CmdlineError> {
    let mut parts = ds.split(';');
    let net = match parts.next() {
        Some("nocloud" | "NoCloud") => false,
        Some("nocloud-net" | "NoCloud-Net" | "nocloud_net") => true,
        _ => return Ok(None),
    };
    let mut seed = NoCloudSeed {
        net,
        ..NoCloudSeed::default()
    };
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key {
            "s" | "seedfrom" => {
                if !(fetchable(value) || value.starts_with('/')) {
                    return Err(CmdlineError::BadSeed(value.to_owned()));
                }
                seed.seed_from = Some(value.to_owned());
            }
            "h" | "local-hostname" => seed.local_hostname = Some(value.to_owned()),
            "i" | "instance-id" => seed.instance_id = Some(value.to_owned()),
            _ => {}
        }
    }
    Ok(Some(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plinth_config_url_and_checksum() {
        let hex = "a".repeat(64);
        let c = parse(&format!(
            "console=ttyS0 plinth.config=http://10.0.0.1/n1.yaml plinth.config.sha256={hex} quiet"
        ))
        .unwrap();
        assert_eq!(c.config_url.as_deref(), Some("http://10.0.0.1/n1.yaml"));
        assert_eq!(c.config_sha256, Some(hex));
        assert_eq!(c.nocloud, None);
        assert_eq!(parse("root=/dev/sda1").unwrap(), CmdlineSource::default());
    }

    #[test]
    fn refuses_bad_arguments() {
        assert_eq!(
            parse("plinth.config=ftp://x/y").unwrap_err(),
            CmdlineError::BadUrl("ftp://x/y".into())
        );
        assert!(matches!(
            parse("plinth.config=http://x plinth.config.sha256=abc"),
            Err(CmdlineError::BadSha256(_))
        ));
        assert_eq!(
            parse(&format!("plinth.config.sha256={}", "0".repeat(64))).unwrap_err(),
            CmdlineError::Sha256WithoutUrl
        );
        assert_eq!(parse("a=\"b c").unwrap_err(), CmdlineError::Unterminated);
        assert!(matches!(
            parse("ds=nocloud;s=relative/path"),
            Err(CmdlineError::BadSeed(_))
        ));
    }

    #[test]
    fn cloud_init_nocloud() {
        let c = parse("ds=nocloud;s=http://10.0.0.1/seeds/node1/;h=node1").unwrap();
        let seed = c.nocloud.unwrap();
        assert!(!seed.net);
        assert_eq!(
            seed.seed_from.as_deref(),
            Some("http://10.0.0.1/seeds/node1/")
        );
        assert_eq!(seed.local_hostname.as_deref(), Some("node1"));
        let c = parse("\"ds=nocloud-net;seedfrom=https://seed.example/n2/;i=iid-2\"").unwrap();
        let seed = c.nocloud.unwrap();
        assert!(seed.net);
        assert_eq!(seed.instance_id.as_deref(), Some("iid-2"));
        assert_eq!(parse("ds=ec2").unwrap().nocloud, None);
        assert_eq!(split("a \"b c\" d").unwrap(), vec!["a", "b c", "d"]);
    }
}
