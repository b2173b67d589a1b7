//! `ca_certs`: extra trusted CAs. Rather than run `update-ca-certificates` (its hashed links and
//! package hooks, every boot), Plinth writes each certificate to
//! `/etc/ssl/certs/plinth-ca-<n>.pem` and puts them in the bundle
//! `/etc/ssl/certs/ca-certificates.crt` (what OpenSSL, curl, Go and Python read) between marker
//! lines: each boot replaces that marked block, so the bundle never grows. `remove_defaults: true`
//! leaves only the config's CAs in the bundle. No hashed symlinks (`c_rehash`) are made.

use std::io;
use std::path::Path;

use plinth_config::cloud_init::CaCerts;

use super::fsutil;

/// The bundle, below the root.
pub const BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
/// The first line of Plinth's block in the bundle.
pub const BEGIN: &str = "# BEGIN plinth ca_certs";
/// The last line of Plinth's block.
pub const END: &str = "# END plinth ca_certs";

/// Whether a text looks like a PEM certificate.
pub fn is_pem(cert: &str) -> bool {
    cert.contains("-----BEGIN CERTIFICATE-----") && cert.contains("-----END CERTIFICATE-----")
}

/// The bundle text: `existing` without a previous Plinth block (or empty with `remove_defaults`),
/// then the block with `certs`.
pub fn bundle(existing: &str, certs: &CaCerts) -> String {
    let mut out = String::new();
    if !certs.remove_defaults {
        let mut inside = false;
        for line in existing.lines() {
            match line.trim() {
                BEGIN => inside = true,
                END => inside = false,
                _ if !inside => {
                    out.push_str(line);
                    out.push('\n');
                }
                _ => {}
            }
        }
    }
    if !certs.trusted.is_empty() {
        out.push_str(BEGIN);
        out.push('\n');
        for cert in &certs.trusted {
            out.push_str(cert.trim());
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
    }
    out
}

/// Writes the certificates and the bundle under `root`; returns what it did. Certificates that are
/// not PEM are refused (named by position).
pub fn apply(root: &Path, certs: &CaCerts) -> io::Result<String> {
    if let Some(bad) = certs.trusted.iter().position(|c| !is_pem(c)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "ca_certs.trusted[{bad}] is not a PEM certificate (-----BEGIN CERTIFICATE-----)"
            ),
        ));
    }
    let dir = root.join("etc/ssl/certs");
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("plinth-ca-") && name.ends_with(".pem") {
            std::fs::remove_file(entry.path())?;
        }
    }
    for (i, cert) in certs.trusted.iter().enumerate() {
        let path = dir.join(format!("plinth-ca-{i}.pem"));
        fsutil::replace(&path, format!("{}\n", cert.trim()).as_bytes(), 0o644)?;
    }
    let path = root.join(BUNDLE);
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    fsutil::replace(&path, bundle(&existing, certs).as_bytes(), 0o644)?;
    Ok(format!(
        "{} CA(s) added to /{BUNDLE}{}",
        certs.trusted.len(),
        if certs.remove_defaults {
            ", the image's CAs removed"
        } else {
            ""
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

    fn certs(trusted: &[&str], remove_defaults: bool) -> CaCerts {
        CaCerts {
            trusted: trusted.iter().map(|s| s.to_string()).collect(),
            remove_defaults,
        }
    }

    #[test]
    fn the_block_is_replaced_not_appended_again() {
        let image = "IMAGE CA\n";
        let once = bundle(image, &certs(&[CERT], false));
        assert!(
            once.starts_with("IMAGE CA\n# BEGIN plinth ca_certs\n-----BEGIN"),
            "{once}"
        );
        assert_eq!(bundle(&once, &certs(&[CERT], false)), once);
        assert_eq!(bundle(&once, &certs(&[], false)), image);
        assert_eq!(
            bundle(&once, &certs(&[CERT], true)),
            format!("{BEGIN}\n{}{END}\n", CERT)
        );
    }

    #[test]
    fn apply_writes_files_and_refuses_non_pem() {
        let root = std::env::temp_dir().join(format!("plinth-ca-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
        std::fs::write(root.join(BUNDLE), "IMAGE CA\n").unwrap();
        apply(&root, &certs(&[CERT, CERT], false)).unwrap();
        apply(&root, &certs(&[CERT], false)).unwrap();
        assert!(root.join("etc/ssl/certs/plinth-ca-0.pem").is_file());
        assert!(!root.join("etc/ssl/certs/plinth-ca-1.pem").exists());
        let text = std::fs::read_to_string(root.join(BUNDLE)).unwrap();
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 1, "{text}");
        let err = apply(&root, &certs(&["nope"], false)).unwrap_err();
        assert!(err.to_string().contains("ca_certs.trusted[0]"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
