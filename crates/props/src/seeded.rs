//! Cases from a seed: case `index` of the run with `seed` is always the
//! same (so `--seed S` replays a run, and any case can be regenerated to
//! shrink it), while the names a live run uses are fresh each time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mqtt_scenario::runner::RunBindings;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

use crate::case::Case;
use crate::strategy::{self, Profile};

/// The generator of case `index` of the run with `seed`.
pub fn case_runner(seed: u64, index: usize) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    bytes[16..24].copy_from_slice(b"mqttprop");
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    TestRunner::new_with_rng(RunnerConfig::default(), rng)
}

/// Case `index` of the run with `seed`.
pub fn generate(profile: &Profile, seed: u64, index: usize) -> Option<Case> {
    let mut runner = case_runner(seed, index);
    strategy::case(profile)
        .new_tree(&mut runner)
        .ok()
        .map(|t| t.current())
}

static RUNS: AtomicU64 = AtomicU64::new(1);

/// Fresh names for one live run of a case.
pub fn fresh_bindings() -> RunBindings {
    let salt = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    RunBindings::new(RUNS.fetch_add(1, Ordering::Relaxed), salt ^ 0x5EED)
}
