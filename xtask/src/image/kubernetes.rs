//! The Kubernetes multicall binary, an image input built from the Go module in `image/kubernetes/`:
//! upstream `k8s.io/kubernetes` at the version its go.mod pins, one static, stripped,
//! version-stamped binary holding kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
//! kube-proxy and kubectl.
//!
//! The build is cached in the machine-wide cache ([`crate::cache`]) under a key over its inputs
//! (go.mod, go.sum, the Go sources, the Go version and this file's build recipe), so a Rust-only
//! change, or a fresh clone on the same machine, reuses it. GOMODCACHE and GOCACHE live there too:
//! a cold build downloads about 250 modules and compiles about 2,700 packages (tens of minutes on
//! two cores), a warm one only links. Progress is printed while it runs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use qemu_tests::kubernetes::pinned_version_in;

use super::inputs::hex;
use crate::{cache, cmd};

/// The names the image links to the binary, one component each.
pub const COMPONENTS: [&str; 6] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
];

/// Build tags: upstream's (`selinux`, `notest`) plus `providerless`, which drops what is left of
/// the in-tree cloud providers, as k3s and Canonical's k8s-snap build.
const TAGS: &str = "providerless,selinux,notest";

/// Bump when the way the binary is built changes (flags, stamping), so the cache key changes.
const RECIPE: &str = "plinth-kubernetes-recipe-1";

/// The two packages whose variables `-X` stamps, so components and clients report the version.
const VERSION_PACKAGES: [&str; 2] = [
    "k8s.io/component-base/version",
    "k8s.io/client-go/pkg/version",
];

/// The built binary and what the manifest says of it.
#[derive(Debug, Clone)]
pub struct Kubernetes {
    pub binary: PathBuf,
    /// The pinned upstream version, e.g. `v1.35.4`.
    pub version: String,
    /// `go1.26.8`.
    pub go_version: String,
    pub size: u64,
    pub sha256: String,
}

/// `-ldflags`: strip symbols and DWARF, and stamp `version` (`vMAJOR.MINOR.PATCH`) with its
/// release date into both version packages. The tree state is `clean`: the source is the
/// unmodified module of that tag. The commit is stamped empty (instead of the source's
/// `$Format:%H$` placeholder), as the module proxy does not record it.
pub fn ldflags(version: &str, build_date: &str) -> Result<String> {
    let numbers = version.strip_prefix('v').unwrap_or(version);
    let mut parts = numbers.split('.');
    let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
        bail!("`{version}` is not a vMAJOR.MINOR.PATCH version");
    };
    let mut flags = vec!["-s".to_string(), "-w".to_string()];
    for package in VERSION_PACKAGES {
        for (name, value) in [
            ("gitVersion", version),
            ("gitMajor", major),
            ("gitMinor", minor),
            ("gitTreeState", "clean"),
            ("gitCommit", ""),
            ("buildDate", build_date),
        ] {
            flags.push(format!("-X {package}.{name}={value}"));
        }
    }
    Ok(flags.join(" "))
}

/// The cache key over the module's files (`(name, contents)`, any order) and the Go version.
pub fn input_key(files: &[(String, Vec<u8>)], go_version: &str) -> String {
    let mut files: Vec<&(String, Vec<u8>)> = files.iter().collect();
    files.sort();
    let mut hasher = Sha256::new();
    for part in [RECIPE, TAGS, go_version] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for (name, contents) in files {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(contents);
    }
    hex(&hasher.finalize())
}

/// The Go environment every go command of the build runs with: caches in the machine-wide cache,
/// no cgo (static binaries), no VCS stamping (the module has no repository of its own).
fn go(args: &[&str], module: &Path) -> Command {
    let root = cache::dir().join("go");
    let mut c = Command::new("go");
    c.args(args)
        .current_dir(module)
        .env("GOMODCACHE", root.join("mod"))
        .env("GOCACHE", root.join("build"))
        .env("GOFLAGS", "-buildvcs=false -modcacherw")
        .env("CGO_ENABLED", "0");
    if let Some(toolchain) = crate::prereqs::go_toolchain() {
        c.env("GOTOOLCHAIN", toolchain);
    }
    c
}

/// The binary for the module in `module` (`image/kubernetes`): from the cache when its inputs
/// are unchanged, else built now.
pub fn ensure(module: &Path) -> Result<Kubernetes> {
    let go_version = cmd::output(&mut go(&["env", "GOVERSION"], module))
        .context("no usable Go: run `cargo xtask prereqs`")?
        .trim()
        .to_string();
    let go_mod = std::fs::read_to_string(module.join("go.mod"))
        .with_context(|| format!("reading {}/go.mod", module.display()))?;
    let version = pinned_version_in(&go_mod).with_context(|| {
        format!(
            "{}/go.mod requires no k8s.io/kubernetes version",
            module.display()
        )
    })?;
    let key = input_key(&module_files(module)?, &go_version);
    let out_dir = cache::dir().join("kubernetes").join(&key[..16]);
    let binary = out_dir.join("kubernetes");
    if binary.is_file() {
        eprintln!(
            "image: Kubernetes {version} reused from {} (inputs key {})",
            binary.display(),
            &key[..12]
        );
    } else {
        build(module, &version, &out_dir, &binary)?;
    }
    check_version(&binary, &version)?;
    Ok(Kubernetes {
        size: std::fs::metadata(&binary)?.len(),
        sha256: super::manifest::sha256_file(&binary)?,
        binary,
        version,
        go_version,
    })
}

/// go.mod, go.sum and every `.go` file of the module, by name.
fn module_files(module: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(module)? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "go.mod" || name == "go.sum" || name.ends_with(".go") {
            files.push((name.into_owned(), std::fs::read(&path)?));
        }
    }
    Ok(files)
}

fn build(module: &Path, version: &str, out_dir: &Path, binary: &Path) -> Result<()> {
    let started = Instant::now();
    let elapsed = || format!("{:.0}s", started.elapsed().as_secs_f64());
    eprintln!(
        "image: building Kubernetes {version} from the Go module in {} (inputs changed; a cold build takes 20-40 minutes on two cores, a warm one about a minute)",
        module.display()
    );
    eprintln!(
        "kubernetes: [{}] downloading modules into {}",
        elapsed(),
        cache::dir().join("go/mod").display()
    );
    let deps = cmd::output(&mut go(&["list", "-tags", TAGS, "-deps", "."], module))
        .context("listing the packages to build (downloading the modules)")?;
    let total = deps.lines().count();
    let date = release_date(module, version)?;
    eprintln!(
        "kubernetes: [{}] compiling {total} packages (GOCACHE {})",
        elapsed(),
        cache::dir().join("go/build").display()
    );
    std::fs::create_dir_all(out_dir)?;
    let partial = out_dir.join("kubernetes.partial");
    let flags = ldflags(version, &date)?;
    let mut child = go(
        &[
            "build",
            "-v",
            "-trimpath",
            "-tags",
            TAGS,
            "-ldflags",
            &flags,
            "-o",
            partial.to_str().context("cache path is not UTF-8")?,
            ".",
        ],
        module,
    )
    .stderr(Stdio::piped())
    .spawn()
    .context("could not start `go build`")?;
    let mut compiled = 0usize;
    let mut last_report = Instant::now();
    let mut tail: Vec<String> = Vec::new();
    let stderr = child.stderr.take().context("go build's stderr")?;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        // `-v` names each package as it is compiled; anything with a space is a message.
        if line.contains(' ') || line.starts_with('#') {
            eprintln!("kubernetes: go: {line}");
            tail.push(line);
            continue;
        }
        compiled += 1;
        if last_report.elapsed() >= Duration::from_secs(20) {
            last_report = Instant::now();
            eprintln!(
                "kubernetes: [{}] compiled {compiled} of at most {total} packages ({line})",
                elapsed()
            );
        }
    }
    eprintln!(
        "kubernetes: [{}] compiled {compiled} packages ({} were cached); linking",
        elapsed(),
        total.saturating_sub(compiled)
    );
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "`go build` of Kubernetes {version} failed ({status}) after {}: {}\nIf a module could not be downloaded, check that the Go module proxy is reachable (`go env GOPROXY`).",
            elapsed(),
            tail.join("\n")
        );
    }
    std::fs::rename(&partial, binary)?;
    let size = std::fs::metadata(binary)?.len();
    eprintln!(
        "kubernetes: [{}] built {} ({:.1} MiB) in {} ({} build: {compiled} packages compiled)",
        elapsed(),
        binary.display(),
        size as f64 / (1024.0 * 1024.0),
        elapsed(),
        if compiled * 2 > total { "cold" } else { "warm" }
    );
    Ok(())
}

/// The release date of `version` as the module proxy records it (RFC 3339), used as the build
/// date so the same inputs always give the same binary.
fn release_date(module: &Path, version: &str) -> Result<String> {
    let json = cmd::output(&mut go(
        &[
            "list",
            "-m",
            "-json",
            &format!("k8s.io/kubernetes@{version}"),
        ],
        module,
    ))?;
    let info: serde_json::Value = serde_json::from_str(&json).context("parsing `go list -m`")?;
    info["Time"]
        .as_str()
        .map(str::to_string)
        .context("`go list -m` gave no release time")
}

/// Every component must report the pinned version, not `v0.0.0-master`.
fn check_version(binary: &Path, version: &str) -> Result<()> {
    let out = cmd::output(Command::new(binary).args(["kubelet", "--version"]))?;
    if out.trim() != format!("Kubernetes {version}") {
        bail!(
            "{} reports `{}`, not Kubernetes {version}: delete it and build again",
            binary.display(),
            out.trim()
        );
    }
    Ok(())
}

/// Installs the binary into `tree` as `/usr/bin/kubernetes`, with each component's name a
/// symlink to it.
pub fn install(tree: &Path, k8s: &Kubernetes) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bin = tree.join("usr/bin");
    let to = bin.join("kubernetes");
    let _ = std::fs::remove_file(&to);
    std::fs::copy(&k8s.binary, &to)
        .with_context(|| format!("copying {} into the tree", k8s.binary.display()))?;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755))?;
    for name in COMPONENTS {
        let link = bin.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("kubernetes", &link)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_module_pins_the_1_35_line() {
        let go_mod = include_str!("../../../image/kubernetes/go.mod");
        let version = pinned_version_in(go_mod).unwrap();
        assert!(version.starts_with("v1.35."), "{version}");
        // Every staging module is replaced by its published version of the same minor/patch.
        let staging = version.replacen("v1.", "v0.", 1);
        let replaces: Vec<&str> = go_mod.lines().filter(|l| l.contains(" => ")).collect();
        assert!(replaces.len() >= 30, "{replaces:?}");
        for line in replaces {
            assert!(line.trim_end().ends_with(&staging), "{line}");
        }
    }

    #[test]
    fn both_version_packages_are_stamped() {
        let flags = ldflags("v1.35.4", "2026-04-15T18:01:22Z").unwrap();
        assert!(flags.starts_with("-s -w "));
        for package in VERSION_PACKAGES {
            assert!(flags.contains(&format!("-X {package}.gitVersion=v1.35.4")));
            assert!(flags.contains(&format!("-X {package}.gitMajor=1")));
            assert!(flags.contains(&format!("-X {package}.gitMinor=35")));
            assert!(flags.contains(&format!("-X {package}.buildDate=2026-04-15T18:01:22Z")));
        }
        assert!(ldflags("latest", "x").is_err());
    }

    #[test]
    fn the_key_follows_contents_and_go_but_not_order() {
        let a = ("go.mod".to_string(), b"module m".to_vec());
        let b = ("main.go".to_string(), b"package main".to_vec());
        let key = input_key(&[a.clone(), b.clone()], "go1.26.8");
        assert_eq!(key, input_key(&[b.clone(), a.clone()], "go1.26.8"));
        assert_ne!(key, input_key(&[a.clone(), b.clone()], "go1.25.9"));
        let edited = ("main.go".to_string(), b"package main // x".to_vec());
        assert_ne!(key, input_key(&[a, edited], "go1.26.8"));
    }
}
