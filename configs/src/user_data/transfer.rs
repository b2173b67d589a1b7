//! `Content-Transfer-Encoding` of MIME parts: base64 (decoded leniently, as Python's email
//! package does) and quoted-printable; `7bit`, `8bit` and `binary` are the bytes as they are.

use crate::yaml::lenient::{Base64Error, decode_lenient};

/// Why a part's body cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// Base64 that cannot be decoded.
    #[error(transparent)]
    Base64(#[from] Base64Error),
    /// An encoding Plinth does not read.
    #[error(
        "unknown Content-Transfer-Encoding `{0}` (base64, quoted-printable, 7bit, 8bit and binary are read)"
    )]
    Unknown(String),
}

/// Decodes `body` by its transfer encoding (`None`: not given).
pub fn decode(encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, TransferError> {
    match encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "7bit" | "8bit" | "binary") => Ok(body.to_vec()),
        Some("base64") => Ok(decode_lenient(&String::from_utf8_lossy(body))?.0),
        Some("quoted-printable") => Ok(quoted_printable(body)),
        Some(other) => Err(TransferError::Unknown(other.to_owned())),
    }
}

/// Decodes quoted-printable: `=XX` is a byte, `=` at the end of a line joins it to the next.
pub fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = body.get(i + 1..).unwrap_or(&[]);
        if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = rest
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            // Not an escape: kept as written, as Python does.
            out.push(b);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(decode(Some("Base64"), b"aGVs\nbG8=\n").unwrap(), b"hello");
        assert_eq!(decode(None, b"as is").unwrap(), b"as is");
        assert_eq!(decode(Some("7bit"), b"x").unwrap(), b"x");
        assert!(
            decode(Some("uuencode"), b"x")
                .unwrap_err()
                .to_string()
                .contains("uuencode")
        );
        assert_eq!(
            decode(Some("uuencode"), b"x"),
            Err(TransferError::Unknown("uuencode".into()))
        );
        assert_eq!(
            decode(Some("base64"), b"aGVsb"),
            Err(TransferError::Base64(Base64Error::Length))
        );
        assert_eq!(
            quoted_printable(b"a=3Db long=\nline =E2=9C=93 =zz\n"),
            "a=b longline \u{2713} =zz\n".as_bytes()
        );
    }
}
