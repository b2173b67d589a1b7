//! Applying `users` and `ssh_authorized_keys` under a root directory: the account files rewritten
//! through [`super::accounts`], home directories created and owned by their user, and each user's
//! keys in `~/.ssh/authorized_keys` (0600, `.ssh` 0700, owned by the user). Plinth has no distro
//! default user, so the top-level `ssh_authorized_keys` go to root, as the config reference says.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plinth_config::MachineConfig;
use plinth_config::cloud_init::User;

use super::accounts::{self, Account, AccountError, Databases};
use super::fsutil;

/// Why users could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// A user the config names cannot exist.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> UsersError + '_ {
    move |source| UsersError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The users to set up: the config's, plus root when top-level keys are given (their keys added to
/// root's own entry when the config lists root too).
pub fn wanted(config: &MachineConfig) -> Vec<User> {
    let mut users = config.users.clone();
    if !config.ssh_authorized_keys.is_empty() {
        match users.iter_mut().find(|u| u.name == "root") {
            Some(root) => root
                .ssh_authorized_keys
                .extend(config.ssh_authorized_keys.iter().cloned()),
            None => users.push(User {
                name: "root".into(),
                ssh_authorized_keys: config.ssh_authorized_keys.clone(),
                ..User::default()
            }),
        }
    }
    users
}

/// Whether any user gets an SSH key (sshd runs only then).
pub fn any_keys(config: &MachineConfig) -> bool {
    wanted(config)
        .iter()
        .any(|u| !u.ssh_authorized_keys.is_empty())
}

/// The authorized_keys text of `user`.
pub fn authorized_keys(user: &User) -> String {
    user.ssh_authorized_keys
        .iter()
        .map(|k| format!("{}\n", k.trim()))
        .collect()
}

/// Creates or updates `users` in `<root>/etc/{passwd,shadow,group}`, their homes and keys. Returns
/// one line per user.
pub fn apply(root: &Path, users: &[User]) -> Result<Vec<String>, UsersError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let etc = root.join("etc");
    let read = |name: &str| {
        let path = etc.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(io_at(&path)(e)),
        }
    };
    let mut db = Databases {
        passwd: read("passwd")?,
        shadow: read("shadow")?,
        group: read("group")?,
    };
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    let mut accounts = Vec::new();
    for user in users {
        accounts.push((accounts::upsert_user(&mut db, user, days)?, user));
    }
    std::fs::create_dir_all(&etc).map_err(io_at(&etc))?;
    for (name, text, mode) in [
        ("passwd", &db.passwd, 0o644),
        ("group", &db.group, 0o644),
        ("shadow", &db.shadow, 0o640),
    ] {
        let path = etc.join(name);
        fsutil::replace(&path, text.as_bytes(), mode).map_err(io_at(&path))?;
    }
    let mut lines = Vec::new();
    for (account, user) in accounts {
        home_and_keys(root, &account, user)?;
        lines.push(format!(
            "user {} (uid {}, home {}, {} ssh key(s){})",
            account.name,
            account.uid,
            account.home,
            user.ssh_authorized_keys.len(),
            if user.password_hash().is_some() {
                ", password hash"
            } else {
                ""
            }
        ));
    }
    Ok(lines)
}

/// The home directory (created 0700 when missing) and `~/.ssh/authorized_keys`, owned by the user.
fn home_and_keys(root: &Path, account: &Account, user: &User) -> Result<(), UsersError> {
    let home = root.join(account.home.trim_start_matches('/'));
    let owner = |path: &Path| {
        std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid)).map_err(io_at(path))
    };
    if !home.exists() {
        std::fs::create_dir_all(&home).map_err(io_at(&home))?;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))
            .map_err(io_at(&home))?;
        owner(&home)?;
    }
    if user.ssh_authorized_keys.is_empty() {
        return Ok(());
    }
    let ssh = home.join(".ssh");
    std::fs::create_dir_all(&ssh).map_err(io_at(&ssh))?;
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o700)).map_err(io_at(&ssh))?;
    owner(&ssh)?;
    let keys = ssh.join("authorized_keys");
    fsutil::replace(&keys, authorized_keys(user).as_bytes(), 0o600).map_err(io_at(&keys))?;
    owner(&keys)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::test_config::config;

    #[test]
    fn top_level_keys_go_to_root() {
        let c = config("ssh_authorized_keys: [ssh-ed25519 AAAA a]\n");
        let users = wanted(&c);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "root");
        assert!(any_keys(&c));
        assert!(!any_keys(&config("users: [{name: ops}]\n")));
        let c = config(
            "ssh_authorized_keys: [k1]\nusers:\n  - name: root\n    ssh_authorized_keys: [k0]\n",
        );
        assert_eq!(wanted(&c)[0].ssh_authorized_keys, ["k0", "k1"]);
    }

    /// Root only: chown to another uid needs CAP_CHOWN.
    #[test]
    fn apply_writes_accounts_homes_and_keys_under_a_root() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: needs root (chown)");
            return;
        }
        let dir = std::env::temp_dir().join(format!("plinth-users-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
        let c =
            config("users:\n  - name: ops\n    ssh_authorized_keys: [ssh-ed25519 AAAA ops@x]\n");
        let lines = apply(&dir, &wanted(&c)).unwrap();
        assert!(lines[0].starts_with("user ops (uid 1000"), "{lines:?}");
        let keys = dir.join("home/ops/.ssh/authorized_keys");
        assert_eq!(
            std::fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 AAAA ops@x\n"
        );
        let meta = std::fs::metadata(&keys).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (1000, 1000, 0o600)
        );
        let shadow = std::fs::metadata(dir.join("etc/shadow")).unwrap();
        assert_eq!(shadow.mode() & 0o777, 0o640);
        assert!(
            std::fs::read_to_string(dir.join("etc/shadow"))
                .unwrap()
                .starts_with("ops:!:")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
