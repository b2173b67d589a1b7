//! The bodies of the boot phases, one file each, named as in `sequence::SEQUENCE`.

pub mod config;
pub mod early;
pub mod identity;
pub mod kernel;
pub mod network;
pub mod ready;
pub mod runcmd;
pub mod services;
pub mod storage;
pub mod time;
pub mod time_sync;
