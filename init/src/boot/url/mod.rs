//! Configs fetched over the network (`plinth.config=URL`, `ds=nocloud;s=URL`), through PID 1's
//! one HTTP client (`crate::http`): `retry` the backoff schedule, `checksum` the SHA-256 verdict,
//! `client` the fetch with redirects and retries, `early_dhcp` DHCP before the fetch,
//! `include` the user-data's `#include` URLs, and
//! `source` the two kinds of URL source as the `config` phase uses them.

pub mod checksum;
pub mod client;
pub mod early_dhcp;
pub mod include;
pub mod retry;
pub mod source;
