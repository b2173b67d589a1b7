//! The stage-1 initramfs: only what stage 1 needs — `plinth-init` as `/init`, the marker that
//! tells it it is stage 1, the modules of `modules::INITRAMFS` with their dependencies, a
//! `modules.dep` and a `modules.alias` listing just those, and the directories it mounts on.
//! The modules stay `.ko.xz` (stage 1 has the kernel decompress them; storing them decompressed
//! tripled the initramfs and saved no measurable boot time under TCG), and the cpio itself is
//! uncompressed.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};

use plinth_kmod::ModulesDep;

use super::cpio::CpioWriter;
use super::modules;

/// Writes the initramfs to `out` from the tree's modules and the `init` binary; returns the
/// number of module files it holds.
pub fn build(out: &Path, tree: &Path, kernel_release: &str, init: &Path) -> Result<usize> {
    let moddir = tree.join("usr/lib/modules").join(kernel_release);
    let dep_text = std::fs::read_to_string(moddir.join("modules.dep"))
        .with_context(|| format!("reading {}/modules.dep", moddir.display()))?;
    let deps = ModulesDep::parse(&dep_text);
    let builtin = plinth_kmod::parse_builtin(
        &std::fs::read_to_string(moddir.join("modules.builtin")).unwrap_or_default(),
    );
    let files = modules::closure(&deps, &builtin, modules::INITRAMFS)?;
    let included: BTreeSet<&String> = files.iter().collect();
    let dep_subset: String = deps
        .paths()
        .filter(|path| included.contains(&path.to_string()))
        .map(|path| format!("{path}: {}\n", deps.needs(path).join(" ")).replace(": \n", ":\n"))
        .collect();

    let mut w = CpioWriter::new(BufWriter::new(
        File::create(out).with_context(|| format!("creating {}", out.display()))?,
    ));
    for dir in [
        "dev",
        "proc",
        "sys",
        "run",
        "sysroot",
        "usr",
        "usr/lib",
        "usr/lib/plinth",
    ] {
        w.dir(dir, 0o755)?;
    }
    w.char_dev("dev/console", 0o600, 5, 1)?;
    w.file_from("init", 0o755, init)?;
    w.file_bytes("plinth-initrd", 0o644, b"Plinth stage-1 initramfs\n")?;
    let list: String = modules::INITRAMFS
        .iter()
        .filter(|m| !builtin.contains(**m))
        .map(|m| {
            let mark = if modules::FALLBACK_ONLY.contains(m) {
                "?"
            } else {
                ""
            };
            format!("{mark}{m}\n")
        })
        .collect();
    w.file_bytes("usr/lib/plinth/stage1-modules", 0o644, list.as_bytes())?;
    let base = format!("usr/lib/modules/{kernel_release}");
    let mut made = BTreeSet::new();
    let mut mkdirs = |w: &mut CpioWriter<_>, rel: &str| -> Result<()> {
        let mut at = String::new();
        for part in rel.split('/') {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            if made.insert(at.clone()) {
                w.dir(&at, 0o755)?;
            }
        }
        Ok(())
    };
    mkdirs(&mut w, &format!("usr/lib/modules/{kernel_release}"))?;
    w.file_bytes(&format!("{base}/modules.dep"), 0o644, dep_subset.as_bytes())?;
    let names: BTreeSet<String> = files.iter().map(|f| plinth_kmod::module_name(f)).collect();
    let aliases = modules::alias_subset(
        &std::fs::read_to_string(moddir.join("modules.alias")).unwrap_or_default(),
        &names,
    );
    w.file_bytes(&format!("{base}/modules.alias"), 0o644, aliases.as_bytes())?;
    for file in &files {
        if let Some((dir, _)) = file.rsplit_once('/') {
            mkdirs(&mut w, &format!("{base}/{dir}"))?;
        }
        w.file_from(&format!("{base}/{file}"), 0o644, &moddir.join(file))?;
    }
    w.finish()?;
    Ok(files.len())
}
