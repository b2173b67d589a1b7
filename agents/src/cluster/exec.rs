//! `plinth-agent cluster exec NAME`: becomes the process `prep` prepared for service NAME (the
//! argv in `<run dir>/NAME.argv`, a JSON list), so PID 1 supervises etcd or the kubelet itself,
//! not a wrapper: exec replaces this process, keeping its pid, cgroup and output.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;

use anyhow::Context as _;

use super::prep::argv_file;

/// Replaces this process with service `name`'s argv; returns only on failure.
pub fn run(run_dir: &Path, name: &str) -> anyhow::Result<()> {
    let argv = read(run_dir, name)?;
    let error = Command::new(&argv[0]).args(&argv[1..]).exec();
    Err(error).with_context(|| format!("executing {}", argv[0]))
}

/// Service `name`'s argv as `prep` wrote it.
pub fn read(run_dir: &Path, name: &str) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(
        !name.is_empty() && !name.contains(['/', '.']),
        "{name:?} is not a service name"
    );
    let path = run_dir.join(argv_file(name));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (written by `plinth-agent cluster prep`: has it run?)",
            path.display()
        )
    })?;
    let argv: Vec<String> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(!argv.is_empty(), "{} holds an empty argv", path.display());
    Ok(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_prep_wrote_and_refuses_paths() {
        let dir = std::env::temp_dir().join(format!("plinth-exec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("etcd.argv"), "[\"/usr/bin/etcd\",\"--name=n1\"]\n").unwrap();
        assert_eq!(read(&dir, "etcd").unwrap(), ["/usr/bin/etcd", "--name=n1"]);
        assert!(read(&dir, "../etc/passwd").is_err());
        let missing = read(&dir, "kubelet").unwrap_err().to_string();
        assert!(missing.contains("cluster prep"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
