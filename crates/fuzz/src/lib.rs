//! A stable-Rust, coverage-free mutational fuzzer for OpenHybrid's parsers (cargo-fuzz and
//! libFuzzer need nightly; this runs on the workspace's stable toolchain, in CI, for a bounded
//! time).
//!
//! * [`targets`] — the nine targets (`token`, `metadata`, `principal`, `xml`, `ews_request`,
//!   `send_notification`, `shell`, `inspect`, `har`), each one parser call plus what its caller
//!   does right after.
//! * [`mutate`] — byte-level mutations (bit flips, insert/delete/duplicate, splice, interesting
//!   values, dictionaries) and structure-aware ones (JWT segment decode → JSON mutate →
//!   re-encode, XML tag/attribute duplication and deep nesting, PowerShell token swaps).
//! * [`runner`] — execution under `catch_unwind` with time and allocation measured, the fuzz
//!   loop, minimisation, the watchdog.
//! * [`alloc`] — the counting global allocator the binary installs (the crate's only `unsafe`).
//! * [`seeds`] — regenerates the signed part of the seed corpus.
//!
//! Corpora live in `corpus/<target>/`, inputs that once misbehaved in `regressions/<target>/`;
//! `cargo test -p openhybrid-fuzz` replays both through every target.
#![deny(unsafe_code)]

pub mod alloc;
pub mod mutate;
pub mod runner;
pub mod seeds;
pub mod targets;

pub use targets::{TARGETS, Target, target};
