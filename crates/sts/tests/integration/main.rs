//! Integration tests: the STS served on an ephemeral loopback port, driven through
//! `sts::client` and raw HTTP.

mod common;

mod admin;
mod graph;
mod metadata;
mod restart;
mod snapshots;
mod token;
