//! Shrinking a divergence against the live target: the case's value tree
//! (regenerated from the run's seed and the case's index) is simplified
//! step by step, each candidate run live; a candidate that still diverges
//! by the same rule is kept, one that does not is made less simple, as
//! proptest's runner does.

use mqtt_client::Endpoint;
use proptest::strategy::{Strategy, ValueTree};

use crate::case::Case;
use crate::exec::{run_case, CaseRun, ExecSettings};
use crate::seeded::{case_runner, fresh_bindings};
use crate::strategy::{self, Profile};
use crate::want::Rule;

/// What shrinking gave.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The original case diverged again (by the same rule).
    pub reproduced: bool,
    /// Live runs spent.
    pub runs: usize,
    /// The smallest case that still diverges, and its run.
    pub best: Option<(Case, CaseRun)>,
}

fn diverges(run: &CaseRun, rule: Rule) -> bool {
    run.divergence.as_ref().is_some_and(|d| d.rule == rule)
}

/// The most time spent shrinking one divergence (each run of a divergent
/// case may wait out a missing packet).
pub const SHRINK_TIME: std::time::Duration = std::time::Duration::from_secs(60);

/// Shrinks case `index` of the run with `seed`, which diverged by `rule`,
/// spending at most `max_runs` live runs and [`SHRINK_TIME`]; `lifecycle`
/// restarts the broker for the cases that do.
#[allow(clippy::too_many_arguments)]
pub async fn shrink(
    profile: &Profile,
    seed: u64,
    index: usize,
    rule: Rule,
    endpoint: &Endpoint,
    exec: &ExecSettings,
    max_runs: usize,
    lifecycle: Option<&mqtt_targets::Target>,
) -> Shrunk {
    let mut runner = case_runner(seed, index);
    let Ok(mut tree) = strategy::case(profile).new_tree(&mut runner) else {
        return Shrunk {
            reproduced: false,
            runs: 0,
            best: None,
        };
    };
    let original = tree.current();
    let first = run_case(&original, endpoint, fresh_bindings(), exec, lifecycle).await;
    let mut runs = 1;
    if !diverges(&first, rule) {
        return Shrunk {
            reproduced: false,
            runs,
            best: None,
        };
    }
    let mut best = (original, first);
    let started = std::time::Instant::now();
    if tree.simplify() {
        while runs < max_runs && started.elapsed() < SHRINK_TIME {
            let candidate = tree.current();
            let run = run_case(&candidate, endpoint, fresh_bindings(), exec, lifecycle).await;
            runs += 1;
            if diverges(&run, rule) {
                if candidate.ops.len() <= best.0.ops.len() {
                    best = (candidate, run);
                }
                if !tree.simplify() {
                    break;
                }
            } else if !tree.complicate() {
                break;
            }
        }
    }
    Shrunk {
        reproduced: true,
        runs,
        best: Some(best),
    }
}
