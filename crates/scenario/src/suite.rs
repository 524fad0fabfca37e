//! Runs a scenario library against one target: every scenario in every
//! version both speak, in parallel, skipping (with the reason) what the
//! target cannot do. Scenarios that act on the broker (kill, restart,
//! pause) run last, one at a time, with nothing else in flight.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::load::LoadedScenario;
use crate::runner::{
    run_scenario, run_scenario_on, RunBindings, RunSettings, ScenarioRun, Verdict,
};
use mqtt_targets::Target;

/// Runs `scenarios` against `target`, at most `parallel` at once, calling
/// `progress` after each run. Results are sorted by scenario id and version.
pub async fn run_suite(
    scenarios: &[LoadedScenario],
    target: &Target,
    settings: &RunSettings,
    parallel: usize,
    mut progress: impl FnMut(&ScenarioRun),
) -> Vec<ScenarioRun> {
    let salt = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let parallel = target.parallel.map_or(parallel, |p| p.min(parallel));
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    let mut results = Vec::new();
    let mut run_number = 0u64;
    let mut on_broker = Vec::new();
    for s in scenarios {
        for &version in &s.scenario.versions {
            if let Some(reason) = skip_reason(s, version, target) {
                let run = skipped(s, version, reason);
                progress(&run);
                results.push(run);
                continue;
            }
            run_number += 1;
            if !s.scenario.lifecycle_verbs().is_empty() {
                on_broker.push((s, version, run_number));
                continue;
            }
            let bindings = RunBindings::new(run_number, salt);
            let (s, endpoint, settings, gate) = (
                s.clone(),
                target.endpoint.clone(),
                settings.clone(),
                gate.clone(),
            );
            // An exclusive run takes every permit: it starts once the runs
            // before it are done, and the runs after it wait for it.
            let permits = if s.scenario.exclusive {
                parallel.max(1)
            } else {
                1
            };
            tasks.spawn(async move {
                let _permit = gate.acquire_many_owned(permits as u32).await;
                run_scenario(&s, version, &endpoint, bindings, &settings).await
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        let run = match done {
            Ok(run) => run,
            Err(e) => ScenarioRun {
                id: "?".into(),
                name: "?".into(),
                version: "?".into(),
                statements: vec![],
                class: Default::default(),
                verdict: Verdict::Error(format!("the runner task failed: {e}")),
                evidence: None,
                duration: Duration::ZERO,
                trace: None,
            },
        };
        progress(&run);
        results.push(run);
    }
    for (s, version, n) in on_broker {
        let run = run_scenario_on(s, version, target, RunBindings::new(n, salt), settings).await;
        progress(&run);
        results.push(run);
    }
    results.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
    results
}

/// Why `s` is not run in `version` on `target`, if it is not: a version
/// or capability the target lacks, or a lifecycle verb it cannot take.
pub fn skip_reason(
    s: &LoadedScenario,
    version: crate::format::VersionTag,
    target: &Target,
) -> Option<String> {
    if !target.versions.contains(&version) {
        return Some(format!("target does not speak MQTT {}", version.as_str()));
    }
    let missing: Vec<String> = s
        .scenario
        .requires
        .iter()
        .filter(|c| !target.capabilities.contains(c))
        .map(|c| c.name().to_owned())
        .collect();
    if !missing.is_empty() {
        return Some(format!("target lacks {}", missing.join(", ")));
    }
    s.scenario
        .lifecycle_verbs()
        .into_iter()
        .find_map(|verb| target.lifecycle_unsupported(verb))
}

/// The run of a scenario skipped for `reason` (a capability the target
/// lacks, say).
pub fn skipped(
    s: &LoadedScenario,
    version: crate::format::VersionTag,
    reason: String,
) -> ScenarioRun {
    ScenarioRun {
        id: s.id.clone(),
        name: s.scenario.name.clone(),
        version: version.as_str().to_owned(),
        statements: s.scenario.statements.for_version(version).to_vec(),
        class: s.scenario.class(),
        verdict: Verdict::Skip(reason),
        evidence: None,
        duration: Duration::ZERO,
        trace: None,
    }
}
