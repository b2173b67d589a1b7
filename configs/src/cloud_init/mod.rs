//! The standard cloud-init keys Plinth implements, with cloud-init's meaning. Keys cloud-init knows but
//! Plinth does not implement are reported as warnings by the parser, so existing seeds still boot.

pub mod ca_certs;
pub mod commands;
pub mod etc_hosts;
pub mod ntp;
pub mod scripts;
pub mod users;
pub mod write_files;

pub use ca_certs::CaCerts;
pub use commands::Command;
pub use etc_hosts::ManageEtcHosts;
pub use ntp::Ntp;
pub use scripts::{Frequency, Script, UserScripts};
pub use users::User;
pub use write_files::{Encoding, WriteFile};
