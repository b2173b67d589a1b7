//! A writer for the `newc` cpio format, the only archive format the kernel unpacks as an initramfs.
//!
//! It owns the byte layout (110-byte ASCII header, name and data padded to 4 bytes, the
//! `TRAILER!!!` entry) and nothing else: which files go in is decided by `initramfs` and `pxe`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// File-type bits of `st_mode` as cpio stores them.
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;

/// Streams entries into a `newc` archive.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            next_ino: 1,
            written: 0,
        }
    }

    /// A directory owned by root.
    pub fn dir(&mut self, name: &str, perm: u32) -> io::Result<()> {
        self.entry(name, S_IFDIR | perm, 2, (0, 0), &mut io::empty(), 0)
    }

    /// A regular file with the given contents.
    pub fn file_bytes(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(
            name,
            S_IFREG | perm,
            1,
            (0, 0),
            &mut &data[..],
            data.len() as u64,
        )
    }

    /// A regular file streamed from `path` on the host.
    pub fn file_from(&mut self, name: &str, perm: u32, path: &Path) -> io::Result<()> {
        let mut file = File::open(path)?;
        let size = file.metadata()?.len();
        self.entry(name, S_IFREG | perm, 1, (0, 0), &mut file, size)
    }

    /// A character device node.
    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(name, S_IFCHR | perm, 1, (major, minor), &mut io::empty(), 0)
    }

    /// Writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &mut io::empty(), 0)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        (rmajor, rminor): (u32, u32),
        data: &mut dyn Read,
        size: u64,
    ) -> io::Result<()> {
        let size32 = u32::try_from(size).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: {size} bytes is too large for a newc cpio entry (4 GiB)"),
            )
        })?;
        let ino = if name == "TRAILER!!!" {
            0
        } else {
            self.next_ino
        };
        self.next_ino += 1;
        let namesize = name.len() + 1;
        let header = format!(
            "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size32:08x}\
             {dmaj:08x}{dmin:08x}{rmajor:08x}{rminor:08x}{namesize:08x}{check:08x}",
            uid = 0,
            gid = 0,
            mtime = 0,
            dmaj = 0,
            dmin = 0,
            check = 0,
        );
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        let copied = io::copy(&mut data.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name}: expected {size} bytes, read {copied}"),
            ));
        }
        self.written += copied;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let fill = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..fill])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses an archive back into (name, mode, data) triples, checking alignment on the way.
    fn parse(mut bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
        let total = bytes.len();
        let mut out = Vec::new();
        loop {
            let offset = total - bytes.len();
            assert_eq!(offset % 4, 0, "header at {offset} is not 4-byte aligned");
            assert_eq!(&bytes[..6], b"070701");
            let field = |i: usize| {
                u32::from_str_radix(
                    std::str::from_utf8(&bytes[6 + i * 8..14 + i * 8]).unwrap(),
                    16,
                )
                .unwrap()
            };
            let (mode, size, namesize) = (field(1), field(6) as usize, field(11) as usize);
            let name = std::str::from_utf8(&bytes[110..110 + namesize - 1])
                .unwrap()
                .to_string();
            let data_at = (110 + namesize).div_ceil(4) * 4;
            let data = bytes[data_at..data_at + size].to_vec();
            bytes = &bytes[(data_at + size).div_ceil(4) * 4..];
            if name == "TRAILER!!!" {
                assert!(bytes.is_empty());
                return out;
            }
            out.push((name, mode, data));
        }
    }

    #[test]
    fn round_trips_every_entry_kind() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("dev", 0o755).unwrap();
        w.char_dev("dev/console", 0o600, 5, 1).unwrap();
        w.file_bytes("init", 0o755, b"odd-sized!").unwrap();
        let archive = w.finish().unwrap();
        let entries = parse(&archive);
        let names: Vec<_> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "init"]);
        assert_eq!(entries[0].1, S_IFDIR | 0o755);
        assert_eq!(entries[1].1, S_IFCHR | 0o600);
        assert_eq!(entries[2].2, b"odd-sized!");
    }

    #[test]
    fn file_shorter_than_announced_fails() {
        let mut w = CpioWriter::new(Vec::new());
        let err = w
            .entry("x", S_IFREG, 1, (0, 0), &mut &b"ab"[..], 5)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
