//! What a campaign is asked to do: targets, bounds of time and count,
//! concurrency, where seeds come from and reports go.

use std::path::PathBuf;
use std::time::Duration;

use crate::exec::Bounds;

/// What to run.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// Target specs: one, or several for differential mode.
    pub targets: Vec<String>,
    /// How long to run.
    pub duration: Duration,
    /// At most this many cases (none: until the time is up).
    pub max_cases: Option<u64>,
    /// Generator seed.
    pub seed: u64,
    /// Cases in flight at once (capped by a target's `parallel`).
    pub concurrency: usize,
    /// Waits of one case.
    pub bounds: Bounds,
    /// The scenario library (seeds).
    pub scenarios: PathBuf,
    /// targets.yaml.
    pub targets_file: PathBuf,
    /// Where started brokers keep configs and logs.
    pub work: PathBuf,
    /// Where findings and reports go (`<out>/<target>/`).
    pub out: PathBuf,
    /// A broker's RSS above this many MiB is a finding.
    pub max_rss_mib: u64,
    /// Minimise findings before writing them.
    pub minimise: bool,
    /// Print progress.
    pub progress: bool,
}

impl Default for CampaignOptions {
    fn default() -> Self {
        CampaignOptions {
            targets: vec!["ref".into()],
            duration: Duration::from_secs(10),
            max_cases: None,
            seed: 1,
            concurrency: 32,
            bounds: Bounds::default(),
            scenarios: "scenarios".into(),
            targets_file: "targets.yaml".into(),
            work: "reports/work".into(),
            out: "reports/fuzz".into(),
            max_rss_mib: 2048,
            minimise: true,
            progress: false,
        }
    }
}
