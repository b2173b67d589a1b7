//! The kept config (`plinthctl config apply`'s copy on the state partition) ends with a seal line,
//! `# plinth-kept sha256:HEX`, the checksum of everything before it, so that a copy a power cut
//! left empty or cut short is told from a good one: YAML that was cut short often still parses,
//! and an empty document is a valid, empty config. A copy that fails the check is corrupt; the boot
//! says so and falls back to the next source. A copy without a seal (written by a Plinth before
//! this one) is corrupt too: it cannot be told from a truncated one.
#![deny(clippy::arithmetic_side_effects)]

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// What the seal line starts with.
const SEAL: &str = "# plinth-kept sha256:";

/// Why a kept copy is not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Corrupt {
    /// Nothing (or only blanks) in it.
    #[error("it is empty")]
    Empty,
    /// No seal line at its end.
    #[error("it is truncated (no seal line at its end)")]
    Truncated,
    /// A seal whose checksum does not match.
    #[error("its checksum does not match its seal line")]
    Checksum,
}

/// `yaml` with its seal line appended.
pub fn seal(yaml: &str) -> String {
    let mut text = yaml.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let sum = hex(&Sha256::digest(text.as_bytes()));
    let _ = writeln!(text, "{SEAL}{sum}");
    text
}

/// Whether `text` is a whole, sealed kept copy.
pub fn check(text: &str) -> Result<(), Corrupt> {
    if text.trim().is_empty() {
        return Err(Corrupt::Empty);
    }
    let body_end = text
        .trim_end_matches('\n')
        .rfind('\n')
        .map_or(0, |i| i.saturating_add(1));
    let (body, last) = text.split_at(body_end);
    // The seal line ends with its newline: without it, the copy may have been cut short.
    let Some(sum) = last.strip_suffix('\n').and_then(|l| l.strip_prefix(SEAL)) else {
        return Err(Corrupt::Truncated);
    };
    if hex(&Sha256::digest(body.as_bytes())) == sum {
        Ok(())
    } else {
        Err(Corrupt::Checksum)
    }
}

/// Why the kept copy on disk is not used.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// It cannot be read.
    #[error(transparent)]
    Unreadable(#[from] std::io::Error),
    /// It was read and is not whole.
    #[error(transparent)]
    Corrupt(#[from] Corrupt),
}

/// Reads the kept copy at `path` and checks it.
pub fn read_checked(path: &std::path::Path) -> Result<(), Unusable> {
    let text = std::fs::read_to_string(path)?;
    Ok(check(&text)?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "#cloud-config\nhostname: n1\nplinth:\n  services: []\n";

    #[test]
    fn a_sealed_copy_checks_and_every_cut_of_it_does_not() {
        let sealed = seal(YAML);
        assert!(sealed.starts_with(YAML));
        assert_eq!(check(&sealed), Ok(()));
        for cut in 0..sealed.len() - 1 {
            assert!(
                check(&sealed[..cut]).is_err(),
                "cut at {cut} passed: {:?}",
                &sealed[..cut]
            );
        }
        assert_eq!(check(""), Err(Corrupt::Empty));
        assert_eq!(check(" \n\n"), Err(Corrupt::Empty));
        assert_eq!(check(YAML), Err(Corrupt::Truncated));
        let altered = sealed.replace("n1", "n2");
        assert_eq!(check(&altered), Err(Corrupt::Checksum));
    }

    #[test]
    fn a_copy_without_a_final_newline_is_sealed_whole() {
        let sealed = seal("#cloud-config\nhostname: n1");
        assert_eq!(check(&sealed), Ok(()));
        assert!(sealed.contains("hostname: n1\n# plinth-kept sha256:"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            /// Whatever the text, a sealed copy checks, and any shorter prefix of it or any
            /// changed byte does not.
            #[test]
            fn only_the_whole_sealed_text_checks(
                yaml in "[\\PC\n]{0,300}",
                cut in any::<prop::sample::Index>(),
                flip in any::<prop::sample::Index>(),
            ) {
                let sealed = seal(&yaml);
                prop_assert_eq!(check(&sealed), Ok(()));
                let at = cut.index(sealed.len());
                if let Some(prefix) = sealed.get(..at) {
                    prop_assert!(check(prefix).is_err());
                }
                let mut bytes = sealed.clone().into_bytes();
                let i = flip.index(bytes.len());
                if let Some(b) = bytes.get_mut(i) {
                    *b = if *b == b'x' { b'y' } else { b'x' };
                }
                if let Ok(changed) = String::from_utf8(bytes)
                    && changed != sealed
                {
                    prop_assert!(check(&changed).is_err(), "{:?}", changed);
                }
            }

            /// Any text at all: an answer, no panic.
            #[test]
            fn any_text_checks_without_a_panic(text in "[\\PC\n]{0,300}") {
                let _ = check(&text);
            }
        }
    }
}
