//! Local accounts as text: /etc/passwd, /etc/shadow and /etc/group edited by pure functions (no
//! useradd in the image). A new user gets the next free uid from 1000, a private group with the same
//! id when free, a home under /home, the config's shell (default /bin/sh) and supplementary groups
//! (created when missing). An existing user keeps its ids; the config's shell, password and groups
//! are applied to it. No password unless the config gives a hash: the shadow field is `!`, and
//! `lock_passwd` (default true) prefixes a given hash with `!`.

use plinth_config::cloud_init::User;

/// The three account files' text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Databases {
    /// /etc/passwd.
    pub passwd: String,
    /// /etc/shadow.
    pub shadow: String,
    /// /etc/group.
    pub group: String,
}

/// One account as it ends up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// Why a user cannot be created.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    /// The name would break the files' format or is not a usual login name.
    #[error(
        "user name {0:?} is not a valid login name (letters, digits, `_`, `-`, `.`; not starting with `-`)"
    )]
    BadName(String),
    /// No id left.
    #[error("no free id from 1000 for {0}")]
    NoFreeId(String),
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn fields(line: &str) -> Vec<&str> {
    line.split(':').collect()
}

fn find<'a>(text: &'a str, name: &str) -> Option<Vec<&'a str>> {
    text.lines().map(fields).find(|f| f.first() == Some(&name))
}

fn ids(text: &str, column: usize) -> Vec<u32> {
    text.lines()
        .filter_map(|l| fields(l).get(column).and_then(|v| v.parse().ok()))
        .collect()
}

fn next_free(used: &[u32]) -> Option<u32> {
    (1000..60000).find(|id| !used.contains(id))
}

/// Replaces the line of `name` (first field) with `line`, or appends it.
fn upsert(text: &str, name: &str, line: &str) -> String {
    let mut out = String::new();
    let mut found = false;
    for l in text.lines() {
        if !found && fields(l).first() == Some(&name) {
            out.push_str(line);
            found = true;
        } else {
            out.push_str(l);
        }
        out.push('\n');
    }
    if !found {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The numeric id of `name` in a passwd or group text.
pub fn id_of(text: &str, name: &str) -> Option<u32> {
    find(text, name).and_then(|f| f.get(2).and_then(|v| v.parse().ok()))
}

/// The primary group id of user `name` in a passwd text.
pub fn primary_gid(passwd: &str, name: &str) -> Option<u32> {
    find(passwd, name).and_then(|f| f.get(3).and_then(|v| v.parse().ok()))
}

/// The shadow password field for `user`.
pub fn password_field(user: &User) -> String {
    let lock = user.lock_passwd.unwrap_or(true);
    match user.password_hash() {
        Some(hash) if lock => format!("!{hash}"),
        Some(hash) => hash.to_owned(),
        None => "!".to_owned(),
    }
}

/// Adds or updates `user` in `db`; `days` is today in days since the epoch (shadow's last change).
pub fn upsert_user(db: &mut Databases, user: &User, days: u64) -> Result<Account, AccountError> {
    let name = user.name.as_str();
    if !valid_name(name) {
        return Err(AccountError::BadName(name.to_owned()));
    }
    let (uid, gid, gecos, home, shell) = match find(&db.passwd, name).as_deref() {
        Some([_, _, uid, gid, gecos, home, shell, ..]) => (
            uid.parse().unwrap_or(0),
            gid.parse().unwrap_or(0),
            (*gecos).to_owned(),
            (*home).to_owned(),
            user.shell.clone().unwrap_or_else(|| (*shell).to_owned()),
        ),
        _ => {
            let mut used = ids(&db.passwd, 2);
            used.extend(ids(&db.group, 2));
            let uid = next_free(&ids(&db.passwd, 2))
                .ok_or_else(|| AccountError::NoFreeId(name.to_owned()))?;
            let gid = match id_of(&db.group, name) {
                Some(gid) => gid,
                None if !ids(&db.group, 2).contains(&uid) => uid,
                None => next_free(&used).ok_or_else(|| AccountError::NoFreeId(name.to_owned()))?,
            };
            let home = if name == "root" {
                "/root".to_owned()
            } else {
                format!("/home/{name}")
            };
            let shell = user.shell.clone().unwrap_or_else(|| "/bin/sh".to_owned());
            (uid, gid, String::new(), home, shell)
        }
    };
    if find(&db.group, name).is_none() && !ids(&db.group, 2).contains(&gid) {
        db.group = upsert(&db.group, name, &format!("{name}:x:{gid}:"));
    }
    db.passwd = upsert(
        &db.passwd,
        name,
        &format!("{name}:x:{uid}:{gid}:{gecos}:{home}:{shell}"),
    );
    let password = match (find(&db.shadow, name), user.password_hash()) {
        // An existing account keeps its password unless the config gives one.
        (Some(f), None) if user.lock_passwd.is_none() => f.get(1).unwrap_or(&"!").to_string(),
        _ => password_field(user),
    };
    db.shadow = upsert(
        &db.shadow,
        name,
        &format!("{name}:{password}:{days}:0:99999:7:::"),
    );
    for group in &user.groups.0 {
        add_member(db, group, name)?;
    }
    Ok(Account {
        name: name.to_owned(),
        uid,
        gid,
        home,
    })
}

/// Adds `member` to `group`, creating the group (next free gid from 1000) when missing.
fn add_member(db: &mut Databases, group: &str, member: &str) -> Result<(), AccountError> {
    if !valid_name(group) {
        return Err(AccountError::BadName(group.to_owned()));
    }
    let line = match find(&db.group, group).as_deref() {
        Some([name, password, gid, listed, ..]) => {
            let mut members: Vec<&str> = listed.split(',').filter(|m| !m.is_empty()).collect();
            if members.contains(&member) {
                return Ok(());
            }
            members.push(member);
            format!("{name}:{password}:{gid}:{}", members.join(","))
        }
        _ => {
            let gid = next_free(&ids(&db.group, 2))
                .ok_or_else(|| AccountError::NoFreeId(group.to_owned()))?;
            format!("{group}:x:{gid}:{member}")
        }
    };
    db.group = upsert(&db.group, group, &line);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    fn base() -> Databases {
        Databases {
            passwd: "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".into(),
            shadow: "root:*:19000:0:99999:7:::\n".into(),
            group: "root:x:0:\nsudo:x:27:\nkvm:x:929292:\n".into(),
        }
    }

    fn user(yaml: &str) -> User {
        config(&format!("users:\n{yaml}")).users.remove(0)
    }

    #[test]
    fn a_new_user_gets_1000_a_private_group_a_home_and_a_locked_password() {
        let mut db = base();
        let a = upsert_user(
            &mut db,
            &user("  - name: ops\n    groups: [sudo, docker]\n    shell: /bin/bash\n"),
            20000,
        )
        .unwrap();
        assert_eq!((a.uid, a.gid, a.home.as_str()), (1000, 1000, "/home/ops"));
        assert!(
            db.passwd.contains("ops:x:1000:1000::/home/ops:/bin/bash\n"),
            "{}",
            db.passwd
        );
        assert!(
            db.shadow.contains("ops:!:20000:0:99999:7:::\n"),
            "{}",
            db.shadow
        );
        assert!(db.group.contains("ops:x:1000:\n"), "{}", db.group);
        assert!(db.group.contains("sudo:x:27:ops\n"), "{}", db.group);
        assert!(db.group.contains("docker:x:1001:ops\n"), "{}", db.group);
        // Twice changes nothing.
        let again = db.clone();
        upsert_user(
            &mut db,
            &user("  - name: ops\n    groups: [sudo, docker]\n    shell: /bin/bash\n"),
            20000,
        )
        .unwrap();
        assert_eq!(db, again);
    }

    #[test]
    fn passwords_only_from_a_hash_and_locked_unless_told_otherwise() {
        let hashed = user("  - name: a\n    hashed_passwd: $6$s$h\n");
        assert_eq!(password_field(&hashed), "!$6$s$h");
        let open = user("  - name: a\n    passwd: $6$s$h\n    lock_passwd: false\n");
        assert_eq!(password_field(&open), "$6$s$h");
        let none = user("  - name: a\n    lock_passwd: false\n");
        assert_eq!(password_field(&none), "!");
    }

    #[test]
    fn root_keeps_its_ids_and_password_and_gets_the_groups() {
        let mut db = base();
        let a = upsert_user(&mut db, &user("  - name: root\n    groups: kvm\n"), 1).unwrap();
        assert_eq!((a.uid, a.gid, a.home.as_str()), (0, 0, "/root"));
        assert!(
            db.passwd.starts_with("root:x:0:0:root:/root:/bin/bash\n"),
            "{}",
            db.passwd
        );
        assert!(db.shadow.starts_with("root:*:1:"), "{}", db.shadow);
        assert!(db.group.contains("kvm:x:929292:root\n"));
    }

    #[test]
    fn bad_names_are_refused() {
        let mut db = base();
        let u = User {
            name: "a:b".into(),
            ..User::default()
        };
        assert_eq!(
            upsert_user(&mut db, &u, 1),
            Err(AccountError::BadName("a:b".into()))
        );
        assert_eq!(db, base());
    }

    #[test]
    fn ids_skip_those_taken() {
        let mut db = base();
        db.passwd.push_str("x:x:1000:1000::/home/x:/bin/sh\n");
        db.group.push_str("x:x:1000:\ny:x:1001:\n");
        let a = upsert_user(&mut db, &user("  - name: z\n"), 1).unwrap();
        assert_eq!((a.uid, a.gid), (1001, 1002));
    }
}
