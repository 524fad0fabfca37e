//! Running scenarios against a target: isolation (fresh names per run),
//! parallelism with per-step timeouts, verdicts with evidence.

pub mod bindings;
pub mod execute;
pub mod verdict;

pub use bindings::RunBindings;
pub use execute::{run_scenario, run_scenario_on, RunSettings};
pub use verdict::{Evidence, ScenarioRun, Verdict, VerdictClass};
