//! Decoding what configs carry encoded: base64 and gzip (write_files content, gzip-compressed
//! user-data), with a cap on the decompressed size so a gzip bomb is refused, not inflated.

use std::io::Read;

use base64::Engine;

/// The most bytes a decompressed payload may have.
pub const MAX_DECODED_BYTES: usize = 16 * 1024 * 1024;

/// Why a payload could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not base64.
    #[error("not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not gzip.
    #[error("not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// Decompresses to more than [`MAX_DECODED_BYTES`].
    #[error("decompresses to more than {MAX_DECODED_BYTES} bytes")]
    TooLarge,
}

/// Decodes base64, ignoring whitespace and line breaks (as cloud-init does).
pub fn base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    Ok(base64::engine::general_purpose::STANDARD.decode(compact)?)
}

/// Whether `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses gzip, refusing output beyond [`MAX_DECODED_BYTES`].
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    let limit = u64::try_from(MAX_DECODED_BYTES).unwrap_or(u64::MAX) + 1;
    flate2::read::GzDecoder::new(bytes)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(DecodeError::Gzip)?;
    if out.len() > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn base64_and_gzip() {
        assert_eq!(base64("aGVs\nbG8K").unwrap(), b"hello\n");
        assert!(matches!(base64("not base64!"), Err(DecodeError::Base64(_))));
        let packed = gzip(b"#cloud-config\n");
        assert!(is_gzip(&packed));
        assert_eq!(gunzip(&packed).unwrap(), b"#cloud-config\n");
        assert!(matches!(gunzip(b"plain"), Err(DecodeError::Gzip(_))));
    }

    #[test]
    fn gzip_bombs_are_refused() {
        let bomb = gzip(&vec![0u8; MAX_DECODED_BYTES + 1]);
        assert!(bomb.len() < 64 * 1024, "a bomb is small: {}", bomb.len());
        assert!(matches!(gunzip(&bomb), Err(DecodeError::TooLarge)));
    }
}
