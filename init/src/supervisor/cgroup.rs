//! cgroup v2 per service: `/sys/fs/cgroup/plinth/<name>` when cgroup2 is mounted and writable. A
//! service's processes are moved in before they exec; stop kills the whole cgroup (`cgroup.kill`).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{CGROUP2_SUPER_MAGIC, statfs};

/// The parent cgroup of every service.
#[derive(Clone, Debug)]
pub struct Cgroups {
    root: PathBuf,
}

impl Cgroups {
    /// Uses `root` (e.g. `/sys/fs/cgroup/plinth`) when its parent is a cgroup2 mount and `root` can
    /// be created; `None` otherwise (no cgroup2, read-only, or cgroup v1 only).
    pub fn detect(root: &Path) -> Option<Cgroups> {
        let parent = root.parent()?;
        let fs = statfs(parent).ok()?;
        if fs.filesystem_type() != CGROUP2_SUPER_MAGIC {
            return None;
        }
        fs::create_dir_all(root).ok()?;
        Some(Cgroups {
            root: root.to_path_buf(),
        })
    }

    /// The directory of the parent cgroup.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates (or reuses) the cgroup of service `name`.
    pub fn service(&self, name: &str) -> io::Result<ServiceCgroup> {
        let dir = self.root.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let procs = OpenOptions::new()
            .write(true)
            .open(dir.join("cgroup.procs"))?;
        Ok(ServiceCgroup { dir, procs })
    }
}

/// One service's cgroup.
#[derive(Debug)]
pub struct ServiceCgroup {
    dir: PathBuf,
    procs: File,
}

impl ServiceCgroup {
    /// Its `cgroup.procs`, opened for writing (for the spawner).
    pub fn procs_file(&self) -> &File {
        &self.procs
    }

    /// The pids in it now.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// SIGKILLs everything in it: `cgroup.kill` (Linux 5.14+), else each pid listed.
    pub fn kill_all(&self) {
        if fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        for pid in self.pids() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// Removes the cgroup if it is empty (best effort).
    pub fn remove(self) {
        let _ = fs::remove_dir(&self.dir);
    }
}
