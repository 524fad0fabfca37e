//! # mqtt-scenario
//!
//! The scenario suite: scenarios as YAML data (the format, its JSON Schema,
//! the loader with file-and-line errors), the matcher of packet fields, the
//! runner that plays a scenario against a target with race-free waits, the
//! verdicts per scenario and per normative statement, and the statement
//! catalogs a scenario's citations are checked against.
//!
//! The format is documented in `scenarios/README.md`.

pub mod catalog;
pub mod format;
pub mod library;
pub mod load;
pub mod matcher;
pub mod packet;
pub mod runner;
pub mod suite;

pub use format::*;
