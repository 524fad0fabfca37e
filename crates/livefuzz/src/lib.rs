//! # mqtt-livefuzz
//!
//! Live-broker fuzzing campaigns (`mqtt-harness fuzz`, `cargo xtask fuzz
//! live`): valid session prefixes from the scenario library, mutated
//! grammar-, sequence- and transport-aware, sent on several connections at
//! once; judged by the strict codec and the protocol's rules of context,
//! with liveness, hang and resource oracles; findings confirmed alone,
//! minimised and written as replayable scenarios under
//! `reports/fuzz/<target>/`. With several targets the same cases go to
//! each and answers that differ, with no oracle finding, are reported for
//! a person to judge.

pub mod campaign;
pub mod case;
pub mod error;
pub mod exec;
pub mod health;
pub mod janitor;
pub mod judge;
pub mod latency;
mod live;
pub mod minimise;
pub mod mutate;
pub mod options;
pub mod oracle;
pub mod replay;
pub mod report;
pub mod rng;
pub mod seeds;
mod shared;
mod supervisor;

pub use campaign::run;
pub use error::FuzzError;
pub use options::CampaignOptions;
pub use report::CampaignReport;
