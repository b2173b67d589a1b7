//! `plinth-init` is Plinth's PID 1: stage 1 in the initramfs and stage 2 (the supervisor) in the real
//! root, plus `plinthctl`, the client of its control API.
//!
//! Stage 2 is organised by concern: `pid1` (mounts, reaper, signals, shutdown, panics), `boot` (the
//! phase sequence and timeline), `supervisor` (planning and running services), `services` (the
//! built-in services), `api` (the D-Bus control API) and `ctl` (plinthctl). Pure decisions live apart
//! from effects so they are unit-tested without root.
//!
//! PID 1 must not panic: outside tests, `unwrap`, `expect`, indexing and `panic!` are denied, and
//! the few sites that need one say why in an `#[allow(..., reason = "...")]`.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        reason = "a failing test panics"
    )
)]

/// The D-Bus control API served by PID 1.
pub mod api;
/// Replacing a file atomically.
pub mod atomic_file;
/// The boot phases of stage 2.
pub mod boot;
/// The node's identity and cloud-init steps: hostname, users, write_files, commands, CAs, time zone.
pub mod cloud_init;
/// Console output of PID 1.
pub mod console;
/// plinthctl, the control API's client.
pub mod ctl;
/// The kernel and host contract: modules, sysctls, kvm group, host paths, chrony config.
pub mod host_contract;
/// PID 1's one HTTP client: `http://` URLs, the GET request, response parsing, one exchange.
pub mod http;
/// PID-1 duties.
pub mod pid1;
/// Built-in services.
pub mod services;
/// Stage 1: PID 1 inside the initramfs, up to the exec of stage 2 in the real root.
pub mod stage1;
/// Stage 2: PID 1 in the real root.
pub mod stage2;
/// The service supervisor.
pub mod supervisor;
#[cfg(test)]
mod test_config;
