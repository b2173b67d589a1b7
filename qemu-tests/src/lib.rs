//! The qemu-tests harness: everything needed to boot the real Plinth image under QEMU and look at it
//! from the outside, shared by the tests in `tests/` and by `cargo xtask qemu|run`.
//!
//! It owns: finding the built image ([`image`]), making NoCloud seeds ([`seed`]) and copy-on-write
//! disks ([`disk`]), choosing the accelerator ([`accel`]), building the QEMU command line
//! ([`cmdline`], pure), what a lab seed says ([`lab`]), running QEMU with its serial console captured and timestamped ([`vm`],
//! [`console`]), QMP ([`qmp`]), host ports ([`ports`]), polling the guest over forwarded ports
//! ([`http`], [`metrics`]), a probe service for test seeds ([`probe`]), a shell on the guest's
//! second serial port ([`shell`]), boot timing from the
//! console ([`timeline`]), the per-test fixture that ties them together ([`fixture`]) and the nodes
//! it boots ([`node`]).
//! It does not build the image (that is `cargo xtask image`) and never lets a QEMU process outlive
//! the value that owns it.

/// The regex type the console waits take, re-exported for callers.
pub use regex::Regex;

pub mod accel;
pub mod cmdline;
pub mod console;
pub mod disk;
pub mod fixture;
pub mod http;
pub mod image;
pub mod kubernetes;
pub mod lab;
pub mod metrics;
pub mod node;
pub mod paths;
pub mod ports;
pub mod probe;
pub mod qmp;
pub mod seed;
pub mod session;
pub mod shell;
pub mod skip;
pub mod timeline;
pub mod vm;
