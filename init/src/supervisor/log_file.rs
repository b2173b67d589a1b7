//! Service logs on disk: `/var/log/plinth/<name>.log`, rotated to `<name>.log.1` when it reaches its
//! size limit, so a chatty service never fills `/var`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An append-only log file with one rotated generation.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    file: Option<File>,
    written: u64,
}

impl RotatingFile {
    /// Opens (or creates) `dir/<name>.log`; `None` when the directory is not writable.
    pub fn open(dir: &Path, name: &str, max_bytes: u64) -> Option<RotatingFile> {
        fs::create_dir_all(dir).ok()?;
        let path = dir.join(format!("{name}.log"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok()?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        Some(RotatingFile {
            path,
            max_bytes: max_bytes.max(1),
            file: Some(file),
            written,
        })
    }

    /// Appends one line, rotating first when it would pass the limit. Write errors close the file:
    /// logging to disk is best effort and must never stop the service or PID 1.
    pub fn write_line(&mut self, line: &str) {
        let len = line.len() as u64 + 1;
        if self.written > 0 && self.written + len > self.max_bytes {
            self.rotate();
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        if file.write_all(&buf).is_ok() {
            self.written += len;
        } else {
            self.file = None;
        }
    }

    fn rotate(&mut self) {
        self.file = None;
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        let _ = fs::rename(&self.path, &old);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .ok();
        self.written = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_at_the_limit_and_keeps_one_generation() {
        let dir = std::env::temp_dir().join(format!("plinth-logfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mut f = RotatingFile::open(&dir, "svc", 100).unwrap();
        for i in 0..50 {
            f.write_line(&format!("line number {i:03}"));
        }
        let current = fs::metadata(dir.join("svc.log")).unwrap().len();
        let rotated = fs::read_to_string(dir.join("svc.log.1")).unwrap();
        assert!(current <= 100, "{current}");
        assert!(rotated.len() <= 100);
        assert!(
            fs::read_to_string(dir.join("svc.log"))
                .unwrap()
                .ends_with("line number 049\n")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
