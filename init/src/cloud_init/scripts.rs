//! The user-data's scripts and boothooks (`plinth_config::cloud_init::UserScripts`), run as
//! cloud-init runs them: each written to a file of its own under the state partition and executed
//! (by its `#!` line, else with `sh`), its output on the console and in `cloud-init.log` as
//! `[script.1 NAME] …`, a failing one reported and the next still run.
//!
//! - boothooks: early in every boot, before `bootcmd`, with `INSTANCE_ID` in their environment
//!   (cloud-init's `cloud-boothook` handler);
//! - scripts (`#!`, `text/x-shellscript`): once per instance, after `runcmd` (cloud-init's
//!   `scripts-user`); `text/x-shellscript-per-boot` ones every boot, after those.
//!
//! [`plan`] is the pure part: file names and argv.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plinth_config::cloud_init::Script;

use super::commands::{self, Outcome};
use crate::pid1::reaper::Reaper;

/// Where scripts are written, below the root: `<this>/<kind>/NNN-NAME`.
pub const DIR: &str = "var/lib/plinth/scripts";

/// One script ready to write and run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// `script.1 NAME`, `boothook.1 NAME`: the console and log label.
    pub label: String,
    /// Its file.
    pub path: PathBuf,
    /// What runs it.
    pub argv: Vec<String>,
}

/// The files and argv of `scripts` of `kind` (`script`, `boothook`) under `root`'s [`DIR`];
/// `env` is set in their environment (through `env`, as `INSTANCE_ID` is for boothooks).
pub fn plan(root: &Path, kind: &str, scripts: &[&Script], env: &[(&str, &str)]) -> Vec<Planned> {
    let dir = root.join(DIR).join(kind);
    scripts
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let path = dir.join(format!("{:03}-{}", i + 1, file_name(&s.name)));
            let mut argv: Vec<String> = Vec::new();
            if !env.is_empty() {
                argv.push("env".to_owned());
                argv.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
            }
            if !s.body.starts_with("#!") {
                // What a shell does with a script it cannot exec: run it with sh.
                argv.push("sh".to_owned());
            }
            argv.push(path.display().to_string());
            Planned {
                label: format!("{}.{} {}", kind, i + 1, file_name(&s.name)),
                path,
                argv,
            }
        })
        .collect()
}

/// A part's filename made a safe file name: no directories, no dot files, printable.
fn file_name(name: &str) -> String {
    let base = name.rsplit('/').next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').to_owned();
    if cleaned.is_empty() {
        "part".to_owned()
    } else {
        cleaned
    }
}

/// Writes and runs `scripts` of `kind` in order; the kind's directory is emptied first, so it holds
/// what this boot ran.
pub async fn run(
    reaper: &Reaper,
    root: &Path,
    kind: &str,
    scripts: &[&Script],
    env: &[(&str, &str)],
    log: Option<&Path>,
) -> Vec<Outcome> {
    let planned = plan(root, kind, scripts, env);
    let dir = root.join(DIR).join(kind);
    let _ = std::fs::remove_dir_all(&dir);
    let mut outcomes = Vec::new();
    for (p, script) in planned.into_iter().zip(scripts) {
        if let Err(e) = write(&p.path, &script.body) {
            let result = Err(format!("writing {}: {e}", p.path.display()));
            crate::console::say(&format!("{}: writing {}: {e}", p.label, p.path.display()));
            outcomes.push(Outcome {
                label: p.label,
                result,
            });
            continue;
        }
        outcomes.push(commands::run_labelled(reaper, p.label, &p.argv, log).await);
    }
    outcomes
}

fn write(path: &Path, body: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    crate::atomic_file::write(path, body.as_bytes(), 0o700)
}

#[cfg(test)]
mod tests {

    use plinth_config::cloud_init::Frequency;

    use super::*;

    fn script(name: &str, body: &str) -> Script {
        Script {
            name: name.into(),
            frequency: Frequency::Instance,
            body: body.into(),
        }
    }

    #[test]
    fn files_are_numbered_safe_names_and_run_by_their_shebang() {
        let a = script("../../etc/passwd", "#!/bin/bash\necho a\n");
        let b = script(".hidden sh", "echo b\n");
        let planned = plan(Path::new("/r"), "script", &[&a, &b], &[]);
        assert_eq!(
            planned[0].path,
            Path::new("/r/var/lib/plinth/scripts/script/001-passwd")
        );
        assert_eq!(
            planned[0].argv,
            ["/r/var/lib/plinth/scripts/script/001-passwd"]
        );
        assert_eq!(planned[0].label, "script.1 passwd");
        assert_eq!(
            planned[1].path,
            Path::new("/r/var/lib/plinth/scripts/script/002-hidden_sh")
        );
        assert_eq!(
            planned[1].argv,
            ["sh", "/r/var/lib/plinth/scripts/script/002-hidden_sh"]
        );
        let hooks = plan(Path::new("/"), "boothook", &[&a], &[("INSTANCE_ID", "i-1")]);
        assert_eq!(
            hooks[0].argv,
            [
                "env",
                "INSTANCE_ID=i-1",
                "/var/lib/plinth/scripts/boothook/001-passwd"
            ]
        );
    }

    /// Writes and runs real scripts through the reaper (no root needed).
    #[tokio::test]
    async fn scripts_run_in_order_with_output_logged() {
        let polled = crate::pid1::reaper::Polled::start();
        let reaper = &polled.reaper;
        let root = std::env::temp_dir().join(format!("plinth-scripts-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let log = commands::log_path(&root.join("log"));
        let marker = root.join("marker");
        let first = script(
            "first.sh",
            &format!(
                "#!/bin/sh\necho \"$INSTANCE_ID\" >> {}\necho said\n",
                marker.display()
            ),
        );
        let second = script(
            "second",
            &format!("echo two >> {}\nexit 3\n", marker.display()),
        );
        let outcomes = run(
            reaper,
            &root,
            "boothook",
            &[&first, &second],
            &[("INSTANCE_ID", "iid-7")],
            Some(&log),
        )
        .await;
        assert!(outcomes[0].succeeded(), "{outcomes:?}");
        assert!(!outcomes[1].succeeded());
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "iid-7\ntwo\n");
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("[boothook.1 first.sh] said\n"), "{text}");
        assert!(text.contains("[boothook.2 second] exit 3\n"), "{text}");
        let mode = std::fs::metadata(root.join(DIR).join("boothook/001-first.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
