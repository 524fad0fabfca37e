//! # mqtt-conform
//!
//! The conformance job: the scenario library (`mqtt-scenario`) and the
//! property tests (`mqtt-props`) run against each target (`mqtt-targets`),
//! verdicts per scenario and per normative statement, statement coverage,
//! reports (terminal, JSON, JUnit, Markdown matrix), baselines that gate
//! CI, and the self-check: the whole suite through a fault-injecting proxy
//! (`mqtt-netfault`) in front of the reference server, counting what it
//! detects.

pub mod app;
pub mod coverage;
pub mod error;
pub mod library;
pub mod options;
pub mod props_run;
pub mod report;
pub mod selftest;

pub use app::{conform, ConformOutcome};
pub use error::ConformError;
pub use options::ConformOptions;
