//! The SHA-256 of fetched bytes and the verdict against `plinth.config.sha256=`. Pure.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fetched bytes whose SHA-256 is not the one `plinth.config.sha256=` pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{url}: sha256 mismatch: expected {expected}, got {got} (fix plinth.config.sha256= or the file served)"
)]
pub struct Mismatch {
    /// Where the bytes came from.
    pub url: String,
    /// The pinned sum, lowercase hex.
    pub expected: String,
    /// The sum of what was fetched, lowercase hex.
    pub got: String,
}

/// `Err` naming both sums when `expected` (hex, any case) is given and differs from `got`.
pub fn verify(url: &str, expected: Option<&str>, got: &str) -> Result<(), Mismatch> {
    match expected {
        Some(want) if !want.eq_ignore_ascii_case(got) => Err(Mismatch {
            url: url.to_string(),
            expected: want.to_ascii_lowercase(),
            got: got.to_string(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_verdicts() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        assert_eq!(verify("u", Some(&abc.to_uppercase()), abc), Ok(()));
        assert_eq!(verify("u", None, abc), Ok(()));
        let err = verify("u", Some(&"0".repeat(64)), abc).unwrap_err();
        assert_eq!(err.expected, "0".repeat(64));
        assert!(
            err.to_string()
                .contains(&format!("expected {}, got {abc}", "0".repeat(64))),
            "{err}"
        );
    }
}
