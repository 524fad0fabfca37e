//! Every scenario of the library passes against the reference server, in
//! every version it applies to: a scenario the reference broker disagrees
//! with is caught the day it is written. The durability scenarios pass on
//! the reference server with durable state, and fail on one without it.

use std::path::Path;
use std::time::Duration;

use mqtt_scenario::load::LoadedScenario;
use mqtt_scenario::runner::{RunSettings, ScenarioRun, Verdict};
use mqtt_scenario::suite::run_suite;
use mqtt_targets::{Capability, Target};

/// Why the in-process reference server may skip a scenario: it cannot be
/// frozen, and without `--data` it claims no durability.
const REF_SKIPS: &[&str] = &["cannot be frozen", "lacks durable"];

fn library() -> Vec<LoadedScenario> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    mqtt_scenario::library::load_checked(&root).unwrap_or_else(|e| panic!("{e}"))
}

fn settings() -> RunSettings {
    RunSettings {
        default_wait: Duration::from_secs(10),
        ..RunSettings::default()
    }
}

fn describe(r: &ScenarioRun) -> String {
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
}

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_passes_against_the_reference_server() {
    let scenarios = library();
    let target = Target::reference().await.unwrap();
    let runs = run_suite(&scenarios, &target, &settings(), 16, |_| {}).await;
    target.stop().await;
    let bad: Vec<String> = runs
        .iter()
        .filter(|r| match &r.verdict {
            Verdict::Pass => false,
            Verdict::Skip(why) => !REF_SKIPS.iter().any(|s| why.contains(s)),
            _ => true,
        })
        .map(describe)
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} runs did not pass against ref:\n{}",
        bad.len(),
        runs.len(),
        bad.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn durability_holds_with_data_and_its_loss_shows_without() {
    let scenarios: Vec<LoadedScenario> = library()
        .into_iter()
        .filter(|s| s.id.starts_with("faults/durability/"))
        .collect();
    assert!(
        scenarios.len() >= 4,
        "{} durability scenarios",
        scenarios.len()
    );
    let dir = std::env::temp_dir().join(format!("ref-durable-library-{}", std::process::id()));
    let durable = Target::reference_durable(&dir).await.unwrap();
    let runs = run_suite(&scenarios, &durable, &settings(), 4, |_| {}).await;
    durable.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let bad: Vec<String> = runs
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .map(describe)
        .collect();
    assert!(bad.is_empty(), "on ref-durable:\n{}", bad.join("\n"));

    // The same broker in memory, claiming durability it does not have:
    // every durability scenario must see the loss.
    let mut memory = Target::reference().await.unwrap();
    memory.capabilities.insert(Capability::Durable);
    memory.capabilities.insert(Capability::DurableStop);
    let runs = run_suite(&scenarios, &memory, &settings(), 4, |_| {}).await;
    memory.stop().await;
    let kept: Vec<String> = runs
        .iter()
        .filter(|r| r.verdict != Verdict::Fail)
        .map(describe)
        .collect();
    assert!(
        kept.is_empty(),
        "no loss seen in memory:\n{}",
        kept.join("\n")
    );
}
