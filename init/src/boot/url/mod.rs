//! Configs fetched over the network (`plinth.config=URL`, `ds=nocloud;s=URL`): `http` is the pure
//! HTTP/1.1 GET (URL, request, response parsing), `retry` the backoff schedule, `checksum` the
//! SHA-256 verdict, `client` the socket side with retries, `network` DHCP before the fetch,
//! `include` the user-data's `#include` URLs, and
//! `source` the two kinds of URL source as the `config` phase uses them.

pub mod checksum;
pub mod client;
pub mod http;
pub mod include;
pub mod network;
pub mod retry;
pub mod source;
