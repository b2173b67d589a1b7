//! The cloud-init keys: user names, files to write (paths, owners, encoded content), the time zone.

use super::{Finding, root};
use crate::config::MachineConfig;

fn is_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
}

pub(super) fn check(config: &MachineConfig, out: &mut Vec<Finding>) {
    for (i, user) in config.users.iter().enumerate() {
        if !is_account_name(&user.name) {
            out.push(Finding::error(
                root("users").index(i).key("name"),
                format!("`{}` is not a valid user name: use lowercase letters, digits, `_` and `-`, at most 32", user.name),
            ));
        }
    }
    for (i, file) in config.write_files.iter().enumerate() {
        let at = root("write_files").index(i);
        if !file.path.starts_with('/') || file.path.split('/').any(|c| c == "..") {
            out.push(Finding::error(
                at.key("path"),
                format!("`{}` must be an absolute path without `..`", file.path),
            ));
        }
        if let Err(problem) = file.decoded() {
            out.push(Finding::error(
                at.key("content"),
                format!("the content does not decode as `encoding` says: {problem}"),
            ));
        }
        if let Some(owner) = &file.owner {
            let mut parts = owner.splitn(2, ':');
            let user_ok = parts.next().is_some_and(is_account_name);
            let group_ok = parts.next().is_none_or(is_account_name);
            if !user_ok || !group_ok {
                out.push(Finding::error(
                    at.key("owner"),
                    format!("`{owner}` is not USER or USER:GROUP"),
                ));
            }
        }
    }
    if let Some(tz) = &config.timezone {
        let ok = !tz.is_empty()
            && !tz.starts_with('/')
            && !tz.split('/').any(|c| c.is_empty() || c == "..")
            && tz
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
        if !ok {
            out.push(Finding::error(
                root("timezone"),
                format!("`{tz}` is not a time zone name such as Etc/UTC or Europe/Paris"),
            ));
        }
    }
}
