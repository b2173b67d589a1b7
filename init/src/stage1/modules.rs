//! Loading kernel modules: `finit_module` on each compressed `.ko.xz` file, which the kernel
//! decompresses itself (`MODULE_INIT_COMPRESSED_FILE`). Which files, in what order, is decided by
//! `plinth_kmod` from `modules.dep`; stage 1 and stage 2's `kernel` phase both load through here.

use std::ffi::CString;
use std::fs::File;
use std::path::Path;

use nix::errno::Errno;
use nix::kmod::{ModuleInitFlags, finit_module};

/// `finit_module` flag: the file is compressed and the kernel decompresses it.
const MODULE_INIT_COMPRESSED_FILE: u32 = 4;

/// What happened to one module.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    Loaded,
    AlreadyThere,
    /// The kernel refused it (for example no such hardware feature); stage 1 goes on.
    Refused(Errno),
}

/// Why a module file could not even be handed to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("opening module {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
}

/// Loads one module file.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    load_with(path, "")
}

/// Loads one module file with `params` (`nested=1`, space-separated as modprobe passes them).
pub fn load_with(path: &Path, params: &str) -> Result<Loaded, LoadError> {
    let file = File::open(path).map_err(|source| LoadError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let compressed = path
        .extension()
        .is_some_and(|e| e == "xz" || e == "zst" || e == "gz");
    let flags = if compressed {
        ModuleInitFlags::from_bits_retain(MODULE_INIT_COMPRESSED_FILE)
    } else {
        ModuleInitFlags::empty()
    };
    // A parameter string never holds a NUL: it comes from the config crate's `key=value` words.
    let params = CString::new(params).unwrap_or_default();
    Ok(match finit_module(&file, &params, flags) {
        Ok(()) => Loaded::Loaded,
        Err(Errno::EEXIST) => Loaded::AlreadyThere,
        Err(errno) => Loaded::Refused(errno),
    })
}
