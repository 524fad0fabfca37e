//! # mqtt-conform
//!
//! The conformance side of mqtt-harness: scenarios as YAML data, the
//! targets they run against, the runner, verdicts per scenario and per
//! normative statement, and reports.

pub mod app;
pub mod catalog;
pub mod coverage;
pub mod docker;
pub mod fuzz;
pub mod props;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod selftest;
pub mod suite;
pub mod target;
