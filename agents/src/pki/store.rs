//! The set on disk, crash-safe. A first run writes the whole set into the staging directory
//! `<root>/.pki-staging/` (`pki/` and `kubernetes/` inside), fsyncs every file and directory, and
//! commits by renaming `.pki-staging/pki` to `<root>/pki` (then fsyncing the root): `pki/` exists
//! only complete. The kubeconfigs then move one by one into `<root>/kubernetes/` (which other
//! components share, so it is never replaced whole) and the staging directory goes.
//!
//! After a power cut, [`recover`] finishes or undoes that: a staging directory still holding `pki/`
//! never committed and is removed (the next run starts again from nothing); one without it
//! committed, and its remaining kubeconfigs are moved into place. Later changes replace one file
//! at a time: a temporary `.<name>.plinth-tmp` beside it, fsync, rename, fsync the directory;
//! temporaries a crash left are removed. Files get their mode at creation (0600 for secrets, so a
//! key is never readable by others, not even for a moment); directories this agent makes are 0700.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::plan::{KUBECONFIG_DIR, PKI_DIR};

/// The staging directory of a first run, under the root.
pub const STAGING: &str = ".pki-staging";
/// The suffix of a file being replaced.
const TMP_SUFFIX: &str = ".plinth-tmp";
/// Directories this agent makes.
pub const DIR_MODE: u32 = 0o700;

/// An I/O error and the path it happened on.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct StoreError {
    /// The path.
    pub path: PathBuf,
    /// The error.
    #[source]
    pub source: io::Error,
}

fn at(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError {
        path: path.to_path_buf(),
        source,
    }
}

/// What [`recover`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovered {
    /// An uncommitted staging directory was removed.
    RemovedStaging,
    /// A committed first run's kubeconfig was moved into place (its path under the root).
    Moved(PathBuf),
    /// A temporary file of an interrupted replacement was removed (its path under the root).
    RemovedTemporary(PathBuf),
}

/// A directory the set is read from and written to: the root itself, or the staging directory
/// of a first run (written with [`write_new`], synced by [`sync_tree`], committed by [`commit`]).
#[derive(Clone, Debug)]
pub struct Tree {
    /// The directory `pki/` and `kubernetes/` are in.
    pub base: PathBuf,
    /// Whether this is a staging directory (files are new) rather than the live set (files are
    /// replaced atomically).
    pub staged: bool,
}

impl Tree {
    /// The file `rel` (`pki/ca.crt`), or `None` when there is none.
    pub fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.base.join(rel);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(at(&path)(e)),
        }
    }

    /// Writes `rel` with `mode`, making its directories (0700) as needed.
    pub fn write(&self, rel: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
        let path = self.base.join(rel);
        if let Some(dir) = path.parent() {
            make_dirs(&self.base, dir)?;
        }
        if self.staged {
            write_new(&path, bytes, mode)
        } else {
            replace(&path, bytes, mode)
        }
    }

    /// Sets `rel`'s mode to `mode` when it differs; the mode it had, then.
    pub fn ensure_mode(&self, rel: &Path, mode: u32) -> Result<Option<u32>, StoreError> {
        ensure_mode(&self.base.join(rel), mode)
    }
}

/// Sets the mode of `path` when it differs; the mode it had, then.
pub fn ensure_mode(path: &Path, mode: u32) -> Result<Option<u32>, StoreError> {
    let old = fs::metadata(path).map_err(at(path))?.permissions().mode() & 0o7777;
    if old == mode {
        return Ok(None);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(at(path))?;
    Ok(Some(old))
}

/// Makes `dir` and its parents up to `base` (which must exist), each new one 0700.
fn make_dirs(base: &Path, dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    if dir != base
        && let Some(parent) = dir.parent()
    {
        make_dirs(base, parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(at(dir)(e)),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE)).map_err(at(dir))?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    Ok(())
}

/// Makes the root of the set and its parents when missing (mode left to the umask: the root is
/// not this agent's alone).
pub fn make_root(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(at(dir))
}

/// Creates `path` (it must not exist) with `mode`, writes `bytes` and fsyncs it.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(at(path))?;
    fill(&mut file, path, bytes, mode)
}

/// Replaces `path` atomically: a temporary beside it with `mode`, fsync, rename, fsync the
/// directory. Readers see the old file or the new, never half.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    let tmp = temporary(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(at(&tmp))?;
    fill(&mut file, &tmp, bytes, mode)?;
    fs::rename(&tmp, path).map_err(at(path))?;
    fsync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Sets the mode (the one given at creation is masked by the umask, and a leftover keeps its
/// own), writes, fsyncs.
fn fill(file: &mut File, path: &Path, bytes: &[u8], mode: u32) -> Result<(), StoreError> {
    file.set_permissions(fs::Permissions::from_mode(mode))
        .and_then(|()| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .map_err(at(path))
}

/// `dir/.<name>.plinth-tmp` for `dir/<name>`.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}{TMP_SUFFIX}"))
}

/// fsyncs a directory, so the names in it (a rename, a new file) survive a power cut.
pub fn fsync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}

/// fsyncs `dir` and every directory below it (the files were synced as they were written).
pub fn sync_tree(dir: &Path) -> Result<(), StoreError> {
    for entry in fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        if entry.file_type().map_err(at(dir))?.is_dir() {
            sync_tree(&entry.path())?;
        }
    }
    fsync_dir(dir)
}

/// Whether `dir` holds no file at any depth (only empty directories, or nothing).
pub fn holds_no_file(dir: &Path) -> Result<bool, StoreError> {
    for entry in fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        if !entry.file_type().map_err(at(dir))?.is_dir() || !holds_no_file(&entry.path())? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Removes `dir` and everything in it, then fsyncs its parent.
pub fn remove_tree(dir: &Path) -> Result<(), StoreError> {
    fs::remove_dir_all(dir).map_err(at(dir))?;
    fsync_dir(dir.parent().unwrap_or(Path::new(".")))
}

/// Commits the staging directory `<root>/.pki-staging`: `pki/` into place (the commit), then each
/// kubeconfig, then the staging directory goes.
pub fn commit(root: &Path) -> Result<Vec<Recovered>, StoreError> {
    let staging = root.join(STAGING);
    let from = staging.join(PKI_DIR);
    let to = root.join(PKI_DIR);
    fs::rename(&from, &to).map_err(at(&to))?;
    fsync_dir(root)?;
    finish(root)
}

/// Moves the kubeconfigs of a committed staging directory into `<root>/kubernetes/` and removes
/// the staging directory.
fn finish(root: &Path) -> Result<Vec<Recovered>, StoreError> {
    let staging = root.join(STAGING);
    let from = staging.join(KUBECONFIG_DIR);
    let to = root.join(KUBECONFIG_DIR);
    let mut moved = Vec::new();
    if from.is_dir() {
        make_dirs(root, &to)?;
        let mut names: Vec<_> = fs::read_dir(&from)
            .map_err(at(&from))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(at(&from))?;
        names.sort();
        for name in names {
            fs::rename(from.join(&name), to.join(&name)).map_err(at(&to.join(&name)))?;
            moved.push(Recovered::Moved(Path::new(KUBECONFIG_DIR).join(&name)));
        }
        fsync_dir(&to)?;
    }
    remove_tree(&staging)?;
    Ok(moved)
}

/// Finishes or undoes what a power cut interrupted (see the module doc).
pub fn recover(root: &Path) -> Result<Vec<Recovered>, StoreError> {
    let mut done = Vec::new();
    let staging = root.join(STAGING);
    if staging.exists() {
        if staging.join(PKI_DIR).exists() || !root.join(PKI_DIR).is_dir() {
            remove_tree(&staging)?;
            done.push(Recovered::RemovedStaging);
        } else {
            done.extend(finish(root)?);
        }
    }
    for dir in [
        PathBuf::from(PKI_DIR),
        Path::new(PKI_DIR).join("etcd"),
        PathBuf::from(KUBECONFIG_DIR),
    ] {
        let Ok(entries) = fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(TMP_SUFFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(at(&path))?;
                done.push(Recovered::RemovedTemporary(dir.join(&name)));
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plinth-pki-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn files_get_their_mode_directories_0700_and_replacing_leaves_no_temporary() {
        let root = scratch("modes");
        let tree = Tree {
            base: root.clone(),
            staged: false,
        };
        tree.write(Path::new("pki/etcd/ca.key"), b"k", 0o600)
            .unwrap();
        tree.write(Path::new("pki/etcd/ca.crt"), b"c", 0o644)
            .unwrap();
        assert_eq!(mode(&root.join("pki/etcd/ca.key")), 0o600);
        assert_eq!(mode(&root.join("pki/etcd/ca.crt")), 0o644);
        assert_eq!(mode(&root.join("pki")), 0o700);
        assert_eq!(mode(&root.join("pki/etcd")), 0o700);
        tree.write(Path::new("pki/etcd/ca.crt"), b"c2", 0o644)
            .unwrap();
        assert_eq!(fs::read(root.join("pki/etcd/ca.crt")).unwrap(), b"c2");
        let names: Vec<_> = fs::read_dir(root.join("pki/etcd"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        fs::set_permissions(
            root.join("pki/etcd/ca.key"),
            fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(
            tree.ensure_mode(Path::new("pki/etcd/ca.key"), 0o600)
                .unwrap(),
            Some(0o644)
        );
        assert_eq!(
            tree.ensure_mode(Path::new("pki/etcd/ca.key"), 0o600)
                .unwrap(),
            None
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_uncommitted_staging_directory_is_removed_a_committed_one_finished() {
        let root = scratch("recover");
        // Uncommitted: pki/ still inside the staging directory.
        fs::create_dir_all(root.join(".pki-staging/pki")).unwrap();
        fs::write(root.join(".pki-staging/pki/ca.crt"), "half").unwrap();
        assert_eq!(recover(&root).unwrap(), [Recovered::RemovedStaging]);
        assert!(!root.join(".pki-staging").exists());
        assert!(!root.join("pki").exists());

        // Committed: pki/ in place, one kubeconfig left to move.
        fs::create_dir_all(root.join("pki")).unwrap();
        fs::create_dir_all(root.join(".pki-staging/kubernetes")).unwrap();
        fs::write(root.join(".pki-staging/kubernetes/admin.conf"), "a").unwrap();
        fs::write(root.join("pki/.ca.crt.plinth-tmp"), "t").unwrap();
        assert_eq!(
            recover(&root).unwrap(),
            [
                Recovered::Moved("kubernetes/admin.conf".into()),
                Recovered::RemovedTemporary("pki/.ca.crt.plinth-tmp".into()),
            ]
        );
        assert_eq!(
            fs::read_to_string(root.join("kubernetes/admin.conf")).unwrap(),
            "a"
        );
        assert!(!root.join(".pki-staging").exists());
        assert_eq!(recover(&root).unwrap(), []);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_commit_puts_pki_in_place_then_the_kubeconfigs() {
        let root = scratch("commit");
        let tree = Tree {
            base: root.join(STAGING),
            staged: true,
        };
        fs::create_dir(&tree.base).unwrap();
        tree.write(Path::new("pki/ca.crt"), b"c", 0o644).unwrap();
        tree.write(Path::new("kubernetes/admin.conf"), b"a", 0o600)
            .unwrap();
        assert!(
            tree.write(Path::new("pki/ca.crt"), b"again", 0o644)
                .is_err(),
            "staged files are new"
        );
        sync_tree(&tree.base).unwrap();
        fs::create_dir(root.join("kubernetes")).unwrap();
        fs::write(root.join("kubernetes/other.conf"), "kept").unwrap();
        commit(&root).unwrap();
        assert_eq!(fs::read(root.join("pki/ca.crt")).unwrap(), b"c");
        assert_eq!(fs::read(root.join("kubernetes/admin.conf")).unwrap(), b"a");
        assert_eq!(
            fs::read(root.join("kubernetes/other.conf")).unwrap(),
            b"kept"
        );
        assert!(!root.join(STAGING).exists());
        assert!(holds_no_file(&root.join(STAGING)).is_err());
        fs::create_dir_all(root.join("empty/a/b")).unwrap();
        assert!(holds_no_file(&root.join("empty")).unwrap());
        assert!(!holds_no_file(&root.join("pki")).unwrap());
        fs::remove_dir_all(&root).unwrap();
    }
}
