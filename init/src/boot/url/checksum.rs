//! The SHA-256 of fetched bytes and the verdict against `plinth.config.sha256=`. Pure.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `Err` naming both sums when `expected` (hex, any case) is given and differs from `got`.
pub fn verify(url: &str, expected: Option<&str>, got: &str) -> Result<(), String> {
    match expected {
        Some(want) if !want.eq_ignore_ascii_case(got) => Err(format!(
            "{url}: sha256 mismatch: expected {}, got {got} (fix plinth.config.sha256= or the file served)",
            want.to_ascii_lowercase()
        )),
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
        assert!(
            err.contains(&format!("expected {}, got {abc}", "0".repeat(64))),
            "{err}"
        );
    }
}
