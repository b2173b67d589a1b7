//! `/etc/machine-id`: kept when the (persistent) `/etc` already has one, generated once from the
//! kernel's random source otherwise, in the systemd format (32 lowercase hex digits).

use std::path::Path;

/// Whether `contents` is a usable machine id.
pub fn is_valid(contents: &str) -> bool {
    let id = contents.trim();
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && id != "0".repeat(32)
}

/// A machine id from 16 random bytes, as a version-4 UUID without dashes (like systemd).
pub fn format_id(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the id was kept or made now.
#[derive(Debug, PartialEq, Eq)]
pub enum MachineId {
    Kept(String),
    Generated(String),
}

/// Keeps or writes `path` (the new root's `/etc/machine-id`, on the writable overlay).
pub fn ensure(path: &Path) -> std::io::Result<MachineId> {
    if let Ok(current) = std::fs::read_to_string(path)
        && is_valid(&current)
    {
        return Ok(MachineId::Kept(current.trim().to_string()));
    }
    let bytes = random_bytes()?;
    let id = format_id(bytes);
    // The image may ship it as a symlink or an empty file; replace whatever is there.
    let _ = std::fs::remove_file(path);
    write_durably(path, &format!("{id}\n"))?;
    Ok(MachineId::Generated(id))
}

/// Writes `contents` to `path` and flushes it to the disk before returning: an id that a power
/// cut turns into an empty file (ext4's delayed allocation) would be generated again.
pub fn write_durably(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// 16 random bytes without waiting for the kernel's entropy pool (`GRND_INSECURE`): early in
/// boot under emulation that wait is about a second, and an id need not be a secret. Raw libc,
/// as nix has no getrandom (see ARCHITECTURE.md's system-call policy).
pub fn random_bytes() -> std::io::Result<[u8; 16]> {
    const GRND_INSECURE: libc::c_uint = 0x0004;
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while let Some(rest) = bytes.get_mut(filled..).filter(|r| !r.is_empty()) {
        // SAFETY: getrandom writes at most `rest.len()` bytes into the exclusively borrowed `rest`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), GRND_INSECURE) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        filled += n as usize;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_uuid4() {
        let id = format_id([0xff; 16]);
        assert!(is_valid(&id), "{id}");
        assert_eq!(&id[12..13], "4");
    }

    #[test]
    fn empty_uninitialized_and_zero_ids_are_replaced() {
        assert!(!is_valid(""));
        assert!(!is_valid("uninitialized\n"));
        assert!(!is_valid(&"0".repeat(32)));
        assert!(is_valid("0123456789abcdef0123456789abcdef\n"));
        assert!(!is_valid("0123456789ABCDEF0123456789ABCDEF"));
    }

    #[test]
    fn ensure_keeps_an_existing_id_and_writes_a_missing_one() {
        let dir = std::env::temp_dir().join(format!("plinth-mid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("machine-id");
        std::fs::write(&path, "").unwrap();
        let MachineId::Generated(id) = ensure(&path).unwrap() else {
            panic!("an empty file must be replaced");
        };
        assert_eq!(ensure(&path).unwrap(), MachineId::Kept(id));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
