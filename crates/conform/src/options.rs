//! What `conform` was asked to do: targets, library, filters, waits,
//! where reports and baselines are, property-test cases and seed.

use std::path::PathBuf;
use std::time::Duration;

use mqtt_targets::VersionTag;

/// What `conform` was asked to do.
#[derive(Debug, Clone)]
pub struct ConformOptions {
    /// Targets to run against, in order (`ref` by default).
    pub targets: Vec<String>,
    /// The scenario library.
    pub scenarios_dir: PathBuf,
    /// Run only these files instead of the library.
    pub scenario_files: Vec<PathBuf>,
    /// Only scenario ids containing this.
    pub filter: Option<String>,
    /// Leave out scenario ids containing any of these (e.g. one that
    /// crashes a broker, so the rest of the run still says something).
    pub exclude: Vec<String>,
    /// Only this version.
    pub version: Option<VersionTag>,
    /// Scenarios run at once.
    pub parallel: usize,
    /// Where reports go (`reports/`).
    pub reports_dir: PathBuf,
    /// Where each target's known failures are read from
    /// (`<target>.yaml`); `None`: `baselines/` under `reports_dir`.
    pub baselines_dir: Option<PathBuf>,
    /// `targets.yaml`.
    pub targets_file: PathBuf,
    /// Default wait of an `expect`.
    pub default_wait: Duration,
    /// Show a progress bar.
    pub progress: bool,
    /// Property-test cases per target (`--props N`); `None`: the default
    /// run's modest number, with the library (none when scenario files or
    /// a filter are given). With `--props` alone the library is skipped.
    pub props: Option<usize>,
    /// The property tests' seed (`--seed S`); a fresh one when absent.
    pub seed: Option<u64>,
}
