//! Disks for test machines, made and inspected from the host without mounting anything:
//! copy-on-write qcow2 overlays over the pristine `disk.raw`, sparse raw copies, the GPT as
//! `sfdisk --json` reports it, appending a partition, hashing a byte range, and reading an ext4
//! superblock (label, clean flag, journal recovery flag) straight from the disk bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use sha2::{Digest, Sha256};

const GIB: u64 = 1024 * 1024 * 1024;

/// Why a disk operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not run {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} failed: {stderr}")]
    Tool { command: String, stderr: String },
    #[error("sfdisk --json output not understood: {0}")]
    Table(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DiskError + '_ {
    move |source| DiskError::Io {
        path: path.into(),
        source,
    }
}

fn run(cmd: &mut Command) -> Result<String, DiskError> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|source| DiskError::Spawn {
        command: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(DiskError::Tool {
            command: shown,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The virtual size of an overlay: the requested GiB, but never smaller than its backing file.
pub fn overlay_size(backing_bytes: u64, requested_gib: Option<u64>) -> u64 {
    requested_gib
        .map(|g| g * GIB)
        .unwrap_or(0)
        .max(backing_bytes)
}

/// Creates `out`, a qcow2 whose reads fall through to the raw `backing` (which is never written),
/// of `requested_gib` GiB (at least the backing size). Returns the virtual size in bytes.
pub fn create_overlay(
    backing: &Path,
    out: &Path,
    requested_gib: Option<u64>,
) -> Result<u64, DiskError> {
    let backing = std::path::absolute(backing).map_err(io(backing))?;
    let backing_bytes = std::fs::metadata(&backing).map_err(io(&backing))?.len();
    let size = overlay_size(backing_bytes, requested_gib);
    let _ = std::fs::remove_file(out);
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "raw", "-b"])
        .arg(&backing)
        .arg(out)
        .arg(size.to_string()))?;
    Ok(size)
}

/// Writes the full contents of a qcow2 (with its backing chain) to the sparse raw file `out`.
pub fn qcow2_to_raw(qcow2: &Path, out: &Path) -> Result<(), DiskError> {
    run(Command::new("qemu-img")
        .args(["convert", "-q", "-f", "qcow2", "-O", "raw"])
        .arg(qcow2)
        .arg(out))?;
    Ok(())
}

/// Copies `src` to `dst` keeping holes, so a mostly empty disk costs little.
pub fn sparse_copy(src: &Path, dst: &Path) -> Result<(), DiskError> {
    run(Command::new("cp").arg("--sparse=always").arg(src).arg(dst))?;
    Ok(())
}

/// Grows the raw disk `raw` to `bytes` and moves the backup GPT to its new end.
pub fn grow(raw: &Path, bytes: u64) -> Result<(), DiskError> {
    let file = File::options().write(true).open(raw).map_err(io(raw))?;
    file.set_len(bytes).map_err(io(raw))?;
    drop(file);
    run(Command::new("sfdisk")
        .args(["-q", "--relocate", "gpt-bak-std"])
        .arg(raw))?;
    Ok(())
}

/// One partition, in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub number: usize,
    pub start: u64,
    pub size: u64,
    pub type_guid: String,
    pub uuid: String,
    pub name: Option<String>,
}

/// A GPT as `sfdisk --json` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub label: String,
    /// The last usable byte + 1.
    pub usable_end: u64,
    pub partitions: Vec<Partition>,
}

impl Table {
    pub fn by_name(&self, name: &str) -> Option<&Partition> {
        self.partitions
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
    }
}

#[derive(Deserialize)]
struct SfdiskJson {
    partitiontable: SfdiskTable,
}

#[derive(Deserialize)]
struct SfdiskTable {
    label: String,
    lastlba: Option<u64>,
    sectorsize: Option<u64>,
    #[serde(default)]
    partitions: Vec<SfdiskPartition>,
}

#[derive(Deserialize)]
struct SfdiskPartition {
    node: String,
    start: u64,
    size: u64,
    #[serde(rename = "type")]
    type_guid: String,
    #[serde(default)]
    uuid: String,
    name: Option<String>,
}

/// Parses `sfdisk --json` output; sizes become bytes.
pub fn parse_sfdisk_json(text: &str) -> Result<Table, DiskError> {
    let json: SfdiskJson =
        serde_json::from_str(text).map_err(|e| DiskError::Table(e.to_string()))?;
    let t = json.partitiontable;
    let sector = t.sectorsize.unwrap_or(512);
    let partitions = t
        .partitions
        .into_iter()
        .map(|p| {
            let digits = p.node.len() - p.node.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            let number = p.node[p.node.len() - digits..].parse().unwrap_or(0);
            Partition {
                number,
                start: p.start * sector,
                size: p.size * sector,
                type_guid: p.type_guid,
                uuid: p.uuid,
                name: p.name,
            }
        })
        .collect();
    Ok(Table {
        label: t.label,
        usable_end: t.lastlba.map(|l| (l + 1) * sector).unwrap_or(0),
        partitions,
    })
}

/// The partition table of a raw disk.
pub fn table(raw: &Path) -> Result<Table, DiskError> {
    parse_sfdisk_json(&run(Command::new("sfdisk").arg("--json").arg(raw))?)
}

/// Appends a Linux partition named `name` filling all free space after the last partition.
pub fn append_partition_filling_rest(raw: &Path, name: &str) -> Result<Partition, DiskError> {
    let mut child = Command::new("sfdisk")
        .args(["-q", "--no-reread", "--no-tell-kernel", "--append"])
        .arg(raw)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|source| DiskError::Spawn {
            command: "sfdisk --append".into(),
            source,
        })?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(format!("size=+, type=L, name={name}\n").as_bytes())
        .map_err(io(raw))?;
    let out = child.wait_with_output().map_err(io(raw))?;
    if !out.status.success() {
        return Err(DiskError::Tool {
            command: format!("sfdisk --append {}", raw.display()),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    table(raw)?
        .by_name(name)
        .cloned()
        .ok_or_else(|| DiskError::Table(format!("partition {name} not found after appending it")))
}

/// Writes `data` at byte `offset` of `path`.
pub fn write_at(path: &Path, offset: u64, data: &[u8]) -> Result<(), DiskError> {
    let mut file = File::options().write(true).open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    file.write_all(data).map_err(io(path))
}

/// Reads `len` bytes at `offset` of `path`.
pub fn read_at(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, DiskError> {
    let mut file = File::open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf).map_err(io(path))?;
    Ok(buf)
}

/// SHA-256 of `len` bytes at `offset` of `path`, as hex.
pub fn hash_range(path: &Path, offset: u64, len: u64) -> Result<String, DiskError> {
    let file = File::open(path).map_err(io(path))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    reader.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    let mut limited = reader.take(len);
    let mut hasher = Sha256::new();
    let copied = std::io::copy(&mut limited, &mut hasher).map_err(io(path))?;
    if copied != len {
        return Err(DiskError::Io {
            path: path.into(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("wanted {len} bytes at {offset}, got {copied}"),
            ),
        });
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What an ext4 superblock says about the filesystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ext4 {
    pub label: String,
    pub uuid: String,
    /// `s_state` has "cleanly unmounted" and not "errors detected".
    pub valid: bool,
    /// The journal must be replayed: the filesystem was not unmounted.
    pub needs_recovery: bool,
    pub mount_count: u16,
}

impl Ext4 {
    /// Unmounted cleanly: valid state and nothing to replay.
    pub fn clean(&self) -> bool {
        self.valid && !self.needs_recovery
    }
}

/// Parses the 1024-byte ext2/3/4 superblock (found 1024 bytes into the filesystem).
pub fn parse_ext4_superblock(sb: &[u8]) -> Option<Ext4> {
    if sb.len() < 0x88 {
        return None;
    }
    let u16_at = |o: usize| u16::from_le_bytes([sb[o], sb[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes([sb[o], sb[o + 1], sb[o + 2], sb[o + 3]]);
    if u16_at(0x38) != 0xEF53 {
        return None;
    }
    let state = u16_at(0x3A);
    let incompat = u32_at(0x60);
    let uuid = &sb[0x68..0x78];
    let uuid = format!(
        "{}-{}-{}-{}-{}",
        hex(&uuid[0..4]),
        hex(&uuid[4..6]),
        hex(&uuid[6..8]),
        hex(&uuid[8..10]),
        hex(&uuid[10..16])
    );
    let label = String::from_utf8_lossy(&sb[0x78..0x88])
        .trim_end_matches('\0')
        .to_string();
    Some(Ext4 {
        label,
        uuid,
        valid: state & 1 == 1 && state & 2 == 0,
        needs_recovery: incompat & 0x4 != 0,
        mount_count: u16_at(0x34),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ext4 superblock of a partition of a raw disk, if it holds one.
pub fn ext4_of(raw: &Path, part: &Partition) -> Result<Option<Ext4>, DiskError> {
    Ok(parse_ext4_superblock(&read_at(
        raw,
        part.start + 1024,
        1024,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-disk")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn have(tool: &str) -> bool {
        Command::new(tool).arg("--version").output().is_ok()
    }

    #[test]
    fn overlay_is_never_smaller_than_its_backing() {
        assert_eq!(overlay_size(3 * GIB, Some(8)), 8 * GIB);
        assert_eq!(overlay_size(3 * GIB + 1, Some(2)), 3 * GIB + 1);
        assert_eq!(overlay_size(5, None), 5);
    }

    #[test]
    fn sfdisk_json_becomes_bytes_and_numbers() {
        let text = r#"{"partitiontable": {"label": "gpt", "id": "X", "device": "d.raw", "unit": "sectors",
            "firstlba": 2048, "lastlba": 131038, "sectorsize": 512, "partitions": [
            {"node": "d.raw1", "start": 2048, "size": 16384, "type": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "uuid": "U1", "name": "esp"},
            {"node": "d.raw12", "start": 18432, "size": 32768, "type": "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "uuid": "U2"}]}}"#;
        let t = parse_sfdisk_json(text).unwrap();
        assert_eq!(t.label, "gpt");
        assert_eq!(t.usable_end, 131039 * 512);
        assert_eq!(t.partitions[0].start, 2048 * 512);
        assert_eq!(t.partitions[0].size, 16384 * 512);
        assert_eq!(t.partitions[1].number, 12);
        assert_eq!(t.partitions[1].name, None);
        assert_eq!(t.by_name("esp").unwrap().number, 1);
        assert!(parse_sfdisk_json("{}").is_err());
    }

    #[test]
    fn non_ext_superblocks_are_not_ext4() {
        assert_eq!(parse_ext4_superblock(&[0u8; 1024]), None);
        assert_eq!(parse_ext4_superblock(&[0u8; 10]), None);
    }

    /// A real GPT disk grown, appended to and an ext4 made inside it, all read back from bytes.
    #[test]
    fn partitions_and_ext4_are_read_from_a_real_disk_file() {
        if !have("sfdisk") || !have("mkfs.ext4") {
            crate::skip::unavailable("partitions_and_ext4", "sfdisk or mkfs.ext4 not installed");
            return;
        }
        let dir = scratch("real");
        let raw = dir.join("d.raw");
        File::create(&raw).unwrap().set_len(64 << 20).unwrap();
        let mut child = Command::new("sfdisk")
            .arg("-q")
            .arg(&raw)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"label: gpt\nsize=8MiB, type=uefi, name=esp\nsize=16MiB, type=linux, name=plinth-root-a\n")
            .unwrap();
        assert!(child.wait().unwrap().success());
        grow(&raw, 96 << 20).unwrap();
        let data = append_partition_filling_rest(&raw, "precious").unwrap();
        let t = table(&raw).unwrap();
        assert_eq!(t.partitions.len(), 3);
        assert_eq!(data.number, 3);
        assert!(data.start + data.size <= t.usable_end);
        assert!(t.usable_end > (95 << 20), "backup GPT moved to the new end");

        let before = hash_range(&raw, data.start, data.size).unwrap();
        write_at(&raw, data.start + 4096, b"plinth test data").unwrap();
        assert_eq!(
            read_at(&raw, data.start + 4096, 16).unwrap(),
            b"plinth test data"
        );
        assert_ne!(hash_range(&raw, data.start, data.size).unwrap(), before);

        let status = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "PLINTH_STATE", "-E"])
            .arg(format!("offset={}", data.start))
            .arg(&raw)
            .arg(format!("{}k", data.size / 1024))
            .status()
            .unwrap();
        assert!(status.success());
        let ext4 = ext4_of(&raw, &data).unwrap().unwrap();
        assert_eq!(ext4.label, "PLINTH_STATE");
        assert!(ext4.clean(), "{ext4:?}");
        assert_eq!(ext4.uuid.len(), 36);
        assert!(ext4_of(&raw, &t.partitions[0]).unwrap().is_none());

        let overlay = dir.join("o.qcow2");
        if have("qemu-img") {
            let size = create_overlay(&raw, &overlay, Some(1)).unwrap();
            assert_eq!(size, GIB);
            let flat = dir.join("flat.raw");
            qcow2_to_raw(&overlay, &flat).unwrap();
            assert_eq!(std::fs::metadata(&flat).unwrap().len(), GIB);
            assert_eq!(
                ext4_of(&flat, &data).unwrap().unwrap().label,
                "PLINTH_STATE"
            );
        }
    }
}
