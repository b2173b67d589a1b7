//! Whether KVM is usable: open `/dev/kvm` and ask `KVM_GET_API_VERSION`, which every kernel since
//! 2.6.22 answers with 12 (the stable API); anything else, or no device, means no KVM guests.
#![allow(unsafe_code)]

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The device.
pub const DEVICE: &str = "/dev/kvm";
/// The only API version a usable KVM answers.
pub const API_VERSION: i32 = 12;

// KVM_GET_API_VERSION is _IO(KVMIO = 0xAE, 0x00): the version is the return value. Its argument
// must be 0 — KVM answers EINVAL to any other — so it is passed explicitly (`ioctl_none!` passes
// none, leaving whatever the register held: EINVAL on a real /dev/kvm, as measured).
nix::ioctl_write_int_bad!(kvm_get_api_version, nix::request_code_none!(0xAE, 0x00));

/// Why KVM cannot be asked its API version.
#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    /// The device cannot be opened (no KVM module, or no permission).
    #[error("cannot open {}: {source}", device.display())]
    Open {
        /// The device.
        device: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The device refused the ioctl: it is not KVM.
    #[error("KVM_GET_API_VERSION on {}: {source}", device.display())]
    Ioctl {
        /// The device.
        device: PathBuf,
        /// The kernel's answer.
        source: nix::errno::Errno,
    },
}

/// The API version `device` answers, or why it cannot be asked.
pub fn api_version(device: &Path) -> Result<i32, KvmError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(|source| KvmError::Open {
            device: device.to_owned(),
            source,
        })?;
    // SAFETY: KVM_GET_API_VERSION's argument is an integer (0), not a pointer, so no memory of
    // ours is read or written; the fd is open for the whole call (`file` lives to the end).
    unsafe { kvm_get_api_version(file.as_raw_fd(), 0) }.map_err(|source| KvmError::Ioctl {
        device: device.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_kvm_answers_version_12() {
        let device = Path::new(DEVICE);
        if !device.exists() {
            plinth_test_support::unavailable("kvm", "no /dev/kvm on this machine");
            return;
        }
        let answer = api_version(device);
        assert!(matches!(answer, Ok(API_VERSION)), "{answer:?}");
    }

    #[test]
    fn a_device_that_is_not_kvm_is_refused_with_why() {
        let e = api_version(Path::new("/dev/null")).unwrap_err();
        assert!(matches!(e, KvmError::Ioctl { .. }), "{e:?}");
        assert!(
            e.to_string().contains("KVM_GET_API_VERSION on /dev/null"),
            "{e}"
        );
        let e = api_version(Path::new("/nonexistent/kvm")).unwrap_err();
        assert!(
            matches!(&e, KvmError::Open { device, source }
                if device == Path::new("/nonexistent/kvm") && source.raw_os_error() == Some(2)),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "cannot open /nonexistent/kvm: No such file or directory (os error 2)"
        );
    }
}
