//! `write_files`: each entry's decoded content written (or appended) with its permissions and owner.
//! Paths must be absolute and must not lie on the read-only root (/usr, /bin, /lib, …): those are
//! refused with an error naming the file, found by statvfs `ST_RDONLY` before writing or by `EROFS`
//! when writing. Entries with `defer: true` are written in a second pass, after users exist, so
//! they may be owned by a configured user.

use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use plinth_config::cloud_init::WriteFile;

use super::accounts;
use super::fsutil;

/// Why a file was not written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    /// A relative path.
    #[error("write_files: {0}: the path must be absolute")]
    Relative(String),
    /// The path is on the read-only root.
    #[error(
        "write_files: {0}: refused, it is on the read-only root (only /etc, /var, /opt, /usr/local, /root, /home, /run and /tmp are writable)"
    )]
    ReadOnly(String),
    /// The content cannot be decoded.
    #[error("write_files: {path}: cannot decode the content: {why}")]
    Decode {
        /// The file.
        path: String,
        /// What is wrong.
        why: String,
    },
    /// `owner` names an unknown user or group.
    #[error("write_files: {path}: unknown owner {owner:?}")]
    Owner {
        /// The file.
        path: String,
        /// The owner as written.
        owner: String,
    },
    /// The write itself failed.
    #[error("write_files: {path}: {why}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        why: String,
    },
}

/// The entries of one pass: `deferred` false for the early pass, true for the one after users.
pub fn pass(files: &[WriteFile], deferred: bool) -> impl Iterator<Item = &WriteFile> {
    files.iter().filter(move |f| f.defer == deferred)
}

/// `user[:group]` to ids through the passwd and group texts; the group defaults to the user's
/// primary group (cloud-init's default owner is `root:root`).
pub fn owner_ids(owner: Option<&str>, passwd: &str, group: &str) -> Option<(u32, u32)> {
    let owner = owner.unwrap_or("root:root");
    let (user, grp) = match owner.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (owner, None),
    };
    let id = |text: &str, name: &str| {
        accounts::id_of(text, name)
            .or_else(|| name.parse().ok())
            .or_else(|| (name == "root").then_some(0))
    };
    let uid = id(passwd, user)?;
    let gid = match grp {
        Some(g) => id(group, g)?,
        None => accounts::primary_gid(passwd, user).unwrap_or(uid),
    };
    Some((uid, gid))
}

/// Where `file` lands under `root`, or why it may not.
pub fn target(root: &Path, file: &WriteFile) -> Result<PathBuf, FileError> {
    let path = Path::new(&file.path);
    if !path.is_absolute() {
        return Err(FileError::Relative(file.path.clone()));
    }
    let target = root.join(path.strip_prefix("/").unwrap_or(path));
    if fsutil::on_read_only_fs(&target) {
        return Err(FileError::ReadOnly(file.path.clone()));
    }
    Ok(target)
}

/// Writes one entry under `root`; returns a line saying what was written.
pub fn write(root: &Path, file: &WriteFile) -> Result<String, FileError> {
    let io_err = |e: io::Error| {
        if e.raw_os_error() == Some(libc::EROFS) {
            FileError::ReadOnly(file.path.clone())
        } else {
            FileError::Io {
                path: file.path.clone(),
                why: e.to_string(),
            }
        }
    };
    let target = target(root, file)?;
    let bytes = file.decoded().map_err(|e| FileError::Decode {
        path: file.path.clone(),
        why: e.to_string(),
    })?;
    let read =
        |name: &str| std::fs::read_to_string(root.join("etc").join(name)).unwrap_or_default();
    let (uid, gid) =
        owner_ids(file.owner.as_deref(), &read("passwd"), &read("group")).ok_or_else(|| {
            FileError::Owner {
                path: file.path.clone(),
                owner: file.owner.clone().unwrap_or_else(|| "root:root".into()),
            }
        })?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let mode = file.mode();
    if file.append {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(mode)
            .open(&target)
            .map_err(io_err)?;
        f.write_all(&bytes).map_err(io_err)?;
    } else {
        fsutil::replace(&target, &bytes, mode).map_err(io_err)?;
    }
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).map_err(io_err)?;
    std::os::unix::fs::chown(&target, Some(uid), Some(gid)).map_err(io_err)?;
    Ok(format!(
        "wrote {} ({} bytes{}, {:04o}, {uid}:{gid})",
        file.path,
        bytes.len(),
        if file.append { ", appended" } else { "" },
        mode
    ))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::test_config::config;

    fn files(yaml: &str) -> Vec<WriteFile> {
        config(&format!("write_files:\n{yaml}")).write_files
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-wf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        dir
    }

    #[test]
    fn owners_resolve_by_name_or_number_with_the_primary_group_by_default() {
        let passwd = "root:x:0:0::/root:/bin/sh\nops:x:1000:1001::/home/ops:/bin/sh\n";
        let group = "root:x:0:\nops:x:1001:\nadm:x:4:\n";
        assert_eq!(owner_ids(None, passwd, group), Some((0, 0)));
        assert_eq!(owner_ids(Some("ops"), passwd, group), Some((1000, 1001)));
        assert_eq!(owner_ids(Some("ops:adm"), passwd, group), Some((1000, 4)));
        assert_eq!(owner_ids(Some("7:8"), passwd, group), Some((7, 8)));
        assert_eq!(owner_ids(Some("ghost"), passwd, group), None);
    }

    #[test]
    fn deferred_entries_are_a_second_pass() {
        let f = files("  - {path: /etc/a}\n  - {path: /etc/b, defer: true}\n");
        assert_eq!(
            pass(&f, false).map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["/etc/a"]
        );
        assert_eq!(
            pass(&f, true).map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ["/etc/b"]
        );
    }

    #[test]
    fn writes_decoded_content_with_mode_and_appends() {
        let root = scratch("write");
        let f = files(
            "  - path: /etc/plinth/x.conf\n    content: aGVsbG8K\n    encoding: b64\n    permissions: '0600'\n\
             \x20 - path: /etc/plinth/x.conf\n    content: \"more\\n\"\n    append: true\n    permissions: '0600'\n",
        );
        write(&root, &f[0]).unwrap();
        let line = write(&root, &f[1]).unwrap();
        assert!(line.contains("appended"), "{line}");
        let target = root.join("etc/plinth/x.conf");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "hello\nmore\n");
        assert_eq!(std::fs::metadata(&target).unwrap().mode() & 0o7777, 0o600);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn relative_paths_and_unknown_owners_are_refused_naming_the_file() {
        let root = scratch("refuse");
        let mut f = files("  - {path: /etc/x}\n  - {path: /etc/y, owner: 'ghost:ghost'}\n");
        // The config's validation refuses relative paths already; the writer does too.
        f[0].path = "etc/x".into();
        assert_eq!(
            write(&root, &f[0]),
            Err(FileError::Relative("etc/x".into()))
        );
        let err = write(&root, &f[1]).unwrap_err().to_string();
        assert!(err.contains("/etc/y") && err.contains("ghost"), "{err}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Root only: a read-only bind mount stands for the image's read-only root.
    #[test]
    fn paths_on_a_read_only_filesystem_are_refused_naming_the_file() {
        use nix::mount::{MsFlags, mount, umount};
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (mount)");
            return;
        }
        let root = scratch("ro");
        let usr = root.join("usr");
        std::fs::create_dir_all(&usr).unwrap();
        let none: Option<&str> = None;
        if let Err(e) = mount(Some(&usr), &usr, none, MsFlags::MS_BIND, none).and_then(|()| {
            mount(
                none,
                &usr,
                none,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                none,
            )
        }) {
            eprintln!("skipped: cannot bind-mount read-only here: {e}");
            let _ = umount(&usr);
            return;
        }
        let f = files("  - {path: /usr/bin/evil, content: x}\n");
        let result = write(&root, &f[0]);
        umount(&usr).unwrap();
        let err = result.unwrap_err();
        assert_eq!(err, FileError::ReadOnly("/usr/bin/evil".into()));
        assert!(err.to_string().contains("/usr/bin/evil"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
