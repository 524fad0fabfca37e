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
pub mod exec;
pub mod health;
pub mod janitor;
pub mod latency;
pub mod minimise;
pub mod mutate;
pub mod oracle;
pub mod replay;
pub mod report;
pub mod rng;
pub mod seeds;
mod supervisor;

pub use campaign::{run, CampaignOptions};
pub use report::CampaignReport;

/// Why a campaign could not run.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The target could not be opened, resolved or restarted.
    #[error("target: {0}")]
    Target(String),
    /// No seeds.
    #[error("seeds: {0}")]
    Seeds(String),
    /// A report or finding could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
