//! Every scenario of the library passes against the reference server, in
//! every version it applies to: a scenario the reference broker disagrees
//! with is caught the day it is written.

use std::path::Path;
use std::time::Duration;

use mqtt_scenario::runner::{RunSettings, Verdict};
use mqtt_scenario::suite::run_suite;
use mqtt_targets::Target;

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_passes_against_the_reference_server() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let scenarios = mqtt_scenario::library::load_checked(&root).unwrap_or_else(|e| panic!("{e}"));
    let target = Target::reference().await.unwrap();
    let settings = RunSettings {
        default_wait: Duration::from_secs(10),
        ..RunSettings::default()
    };
    let runs = run_suite(&scenarios, &target, &settings, 16, |_| {}).await;
    target.stop().await;
    let bad: Vec<String> = runs
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(|r| {
            let e = r.evidence.as_ref().map_or(String::new(), |e| {
                format!(
                    "\n    step {} {}: expected {}\n    seen {}",
                    e.step, e.keyword, e.expected, e.seen
                )
            });
            format!(
                "  {} [{}] {:?}{e}\n{}",
                r.id,
                r.version,
                r.verdict,
                r.trace.clone().unwrap_or_default()
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} runs did not pass against ref:\n{}",
        bad.len(),
        runs.len(),
        bad.join("\n")
    );
}
