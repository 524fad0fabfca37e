//! Property-based differential testing of live brokers (`conform --props
//! N [--seed S]`).
//!
//! proptest generates operation sequences ([`case`]) over one to four
//! clients; each case runs against the live target and the model
//! (`mqtt-model`) side by side ([`exec`]), every step compared with the
//! latitude the specifications allow and no more ([`want`]). A divergence
//! is confirmed by running its case again, shrunk against the live target
//! to the shortest sequence that still shows it ([`shrink`]), and written
//! as a YAML scenario under `reports/<target>/counterexamples/` with the
//! seed, the expected and the observed packets ([`save`]); `conform
//! --scenario FILE` replays it.
//!
//! Every case derives its own random generator from the run's seed and its
//! index, so `--seed S` replays a run exactly (with the same target
//! capabilities and options) and any one case can be regenerated to shrink
//! it. Cases use fresh client ids and a fresh topic root, so they run
//! concurrently against one broker.
//!
//! Beyond sessions, subscriptions and messages, cases refuse CONNECTs
//! (bad protocol level, reserved flag, empty client id with Clean Session
//! 0), send malformed packets after CONNECT, let a Message Expiry Interval
//! of 1 s pass (5.0) and a keep alive of 1 s lapse; the last two sleep
//! (2.5 s, up to 3 s) and are rare. What the generator leaves out, and why
//! (each would make a correct broker look wrong, or a run slow): Will
//! Delay Interval (all delays 0); takeover of a connected client id (the
//! fate of the old connection's will is left open, alternatives
//! `takeover-will`); shared subscriptions other than QoS 0 by clients
//! whose session ends with the connection (which member gets a message is
//! the only latitude, 4.8.2); `$` topics (MQTT-4.7.2-1 leaves their use to
//! the broker).

pub mod case;
pub mod exec;
pub mod save;
pub mod script;
pub mod seeded;
pub mod shrink;
pub mod strategy;
pub mod want;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mqtt_client::Endpoint;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use case::Case;
pub use exec::{run_case, CaseRun, Divergence, ExecSettings};
pub use seeded::{case_runner, fresh_bindings, generate};
pub use strategy::Profile;

use case::RestartKind;
use mqtt_targets::{Capability, Lifecycle, Target, VersionTag};

/// The number of cases a default conformance run adds.
pub const DEFAULT_CASES: usize = 50;

/// How a property run goes.
#[derive(Debug, Clone)]
pub struct PropsOptions {
    /// Cases to run.
    pub cases: usize,
    /// The seed (printed; the same seed replays the run).
    pub seed: u64,
    /// Cases at once (a target's `parallel` lowers it).
    pub parallel: usize,
    /// Most operations per case after the initial connects.
    pub max_ops: usize,
    /// Only this version.
    pub version: Option<VersionTag>,
    /// Per-step waits.
    pub exec: ExecSettings,
    /// Most live runs spent shrinking one divergence.
    pub shrink_runs: usize,
    /// Most divergences (of different rules) shrunk and saved.
    pub max_saved: usize,
    /// Stop at the first divergence (the self-check).
    pub stop_at_first: bool,
    /// Also write every divergent case as run, unshrunk, under
    /// `counterexamples/unshrunk/` (to judge each class, not only the
    /// first of each rule).
    pub save_unshrunk: bool,
    /// The fault alphabet: link resets and stalls where the target is
    /// reached over plain TCP or WebSocket, broker restarts where the
    /// harness started it ([`case::Op::Reset`], [`case::Op::Stall`],
    /// [`case::Op::Restart`]).
    pub faults: bool,
}

impl Default for PropsOptions {
    fn default() -> Self {
        PropsOptions {
            cases: DEFAULT_CASES,
            seed: 0,
            parallel: 16,
            max_ops: 16,
            version: None,
            exec: ExecSettings::default(),
            shrink_runs: 300,
            max_saved: 3,
            stop_at_first: false,
            save_unshrunk: true,
            faults: true,
        }
    }
}

/// A seed from the clock, for runs without `--seed`.
pub fn fresh_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        & 0xFFFF_FFFF_FFFF
}

/// The profile a target allows.
pub fn profile(target: &Target, o: &PropsOptions) -> Profile {
    let mut versions: Vec<VersionTag> = target.versions.clone();
    if let Some(v) = o.version {
        versions.retain(|x| *x == v);
    }
    let faults = o.faults;
    let links = faults && !target.endpoint.scheme.is_tls();
    let restart = (faults && target.lifecycle_unsupported(Lifecycle::Kill).is_none())
        .then(|| RestartKind::of(&target.capabilities));
    Profile {
        versions,
        capabilities: target.capabilities.clone(),
        max_ops: o.max_ops,
        links,
        restart,
    }
}

/// One divergence found, and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// The case's index in the run.
    pub case: usize,
    /// The case's version.
    pub version: String,
    /// The divergence as first seen.
    pub first: String,
    /// The rule.
    pub rule: String,
    /// Operations in the case as generated.
    pub ops: usize,
    /// Whether running the case again showed it again.
    pub reproduced: bool,
    /// Operations of the shrunk case, and its divergence.
    pub shrunk: Option<(usize, String)>,
    /// Live runs spent shrinking.
    pub shrink_runs: usize,
    /// The counterexample scenario written.
    pub file: Option<PathBuf>,
}

/// One divergent case as first seen.
#[derive(Debug, Clone, Serialize)]
pub struct Seen {
    /// The case's index in the run.
    pub case: usize,
    /// The case's version.
    pub version: String,
    /// The rule.
    pub rule: String,
    /// The divergence.
    pub text: String,
}

/// What a property run found against one target.
#[derive(Debug, Clone, Serialize)]
pub struct PropsReport {
    /// The target.
    pub target: String,
    /// The seed.
    pub seed: u64,
    /// Cases run.
    pub cases: usize,
    /// Cases that diverged.
    pub diverged: usize,
    /// Cases the harness or target could not run, with the first reasons.
    pub errors: usize,
    /// Up to five error messages.
    pub error_samples: Vec<String>,
    /// Operations executed in all.
    pub operations: usize,
    /// Divergences by rule (first case of each), shrunk and saved.
    pub found: Vec<Found>,
    /// Every divergence as first seen (case, version, rule, text), so that
    /// each class can be judged, not only the first of each rule.
    pub all: Vec<Seen>,
    /// Latitudes the target used that the model does not take (legal
    /// choices), by name, with how many times.
    pub allowances: BTreeMap<String, usize>,
    /// Faults of the fault alphabet executed, by kind (`reset`, `stall`,
    /// `restart`), with how many times.
    pub faults: BTreeMap<String, usize>,
    /// Wall time of the cases (without shrinking), seconds.
    pub seconds: f64,
    /// Cases per second.
    pub cases_per_second: f64,
}

impl PropsReport {
    /// The summary lines printed after a run.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "props against {}: {} cases (seed {}), {} operations, {} diverged, {} errors, {:.1}s ({:.0} cases/s)",
            self.target,
            self.cases,
            self.seed,
            self.operations,
            self.diverged,
            self.errors,
            self.seconds,
            self.cases_per_second
        );
        if !self.faults.is_empty() {
            let f: Vec<String> = self
                .faults
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = writeln!(s, "  faults injected: {}", f.join(", "));
        }
        for e in &self.error_samples {
            let _ = writeln!(s, "  error: {e}");
        }
        for (k, n) in &self.allowances {
            let _ = writeln!(
                s,
                "  legal choice [{k}]: {n} times (allowed, not a divergence)"
            );
        }
        for f in &self.found {
            let _ = writeln!(
                s,
                "  divergence [{}] case {} ({}, {} ops{}): {}",
                f.rule,
                f.case,
                f.version,
                f.ops,
                match &f.shrunk {
                    Some((n, _)) => format!(", shrunk to {n}"),
                    None if !f.reproduced => ", did not reproduce".to_owned(),
                    None => String::new(),
                },
                f.shrunk.as_ref().map_or(&f.first, |(_, d)| d)
            );
            if let Some(file) = &f.file {
                let _ = writeln!(s, "    counterexample: {}", file.display());
            }
        }
        let _ = writeln!(s, "  replay: --props {} --seed {}", self.cases, self.seed);
        s
    }
}

/// Runs `o.cases` cases against `target`, shrinks and saves what diverges
/// (under `reports_dir/<target>/counterexamples/`, citing statements of
/// the catalogs in `scenarios_dir`).
pub async fn run_props(
    target: &Target,
    o: &PropsOptions,
    scenarios_dir: &Path,
    reports_dir: &Path,
    progress: impl Fn(usize) + Send + Sync + 'static,
) -> PropsReport {
    let endpoint = target.endpoint.clone();
    run_props_with(
        &target.name,
        &endpoint,
        &profile(target, o),
        target.parallel,
        o,
        Some((scenarios_dir, reports_dir)),
        Some(target),
        progress,
    )
    .await
}

/// [`run_props`] against an endpoint with a given profile; `save` gives the
/// catalogs' folder and the reports folder when counterexamples are wanted.
pub async fn run_props_at(
    name: &str,
    endpoint: &Endpoint,
    profile: &Profile,
    limit: Option<usize>,
    o: &PropsOptions,
    save: Option<(&Path, &Path)>,
    progress: impl Fn(usize) + Send + Sync + 'static,
) -> PropsReport {
    let mut profile = profile.clone();
    // No lifecycle here: no restarts.
    profile.restart = None;
    run_props_with(name, endpoint, &profile, limit, o, save, None, progress).await
}

/// [`run_props_at`] with the target's lifecycle for restarts: a case that
/// restarts the broker runs alone, after the cases before it ended.
#[allow(clippy::too_many_arguments)]
async fn run_props_with(
    name: &str,
    endpoint: &Endpoint,
    profile: &Profile,
    limit: Option<usize>,
    o: &PropsOptions,
    save: Option<(&Path, &Path)>,
    lifecycle: Option<&Target>,
    progress: impl Fn(usize) + Send + Sync + 'static,
) -> PropsReport {
    let mut exec = o.exec.clone();
    exec.capabilities = profile.capabilities.clone();
    exec.model.maximum_qos =
        mqtt_codec::QoS::from_bits(profile.max_qos()).unwrap_or(mqtt_codec::QoS::AtMostOnce);
    let exec = Arc::new(exec);
    let parallel = limit.map_or(o.parallel, |l| l.min(o.parallel)).max(1);
    let gate = Arc::new(Semaphore::new(parallel));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let progress = Arc::new(progress);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let mut results: Vec<(usize, Case, CaseRun)> = Vec::new();
    let mut index = 0usize;
    let mut spawned = 0usize;
    while spawned < o.cases || !tasks.is_empty() {
        // Keep at most `parallel` cases alive (and generate lazily).
        while spawned < o.cases && tasks.len() < parallel && !stop.load(Ordering::Relaxed) {
            let Some(case) = generate(profile, o.seed, index) else {
                index += 1;
                spawned += 1;
                continue;
            };
            if case.restarts() && lifecycle.is_some() {
                // Alone: the restart ends every connection to the broker.
                while let Some(done) = tasks.join_next().await {
                    if let Ok(r) = done {
                        finished(r, &mut results, &stop, o, &*progress);
                    }
                }
                let run = run_case(&case, endpoint, fresh_bindings(), &exec, lifecycle).await;
                finished((index, case, run), &mut results, &stop, o, &*progress);
                index += 1;
                spawned += 1;
                continue;
            }
            let (endpoint, exec, gate, i) = (endpoint.clone(), exec.clone(), gate.clone(), index);
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let run = run_case(&case, &endpoint, fresh_bindings(), &exec, None).await;
                (i, case, run)
            });
            index += 1;
            spawned += 1;
        }
        if stop.load(Ordering::Relaxed) && tasks.is_empty() {
            break;
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        if let Ok(r) = done {
            finished(r, &mut results, &stop, o, &*progress);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    results.sort_by_key(|(i, _, _)| *i);
    let mut report = PropsReport {
        target: name.to_owned(),
        seed: o.seed,
        cases: results.len(),
        diverged: results.iter().filter(|r| r.2.divergence.is_some()).count(),
        errors: results.iter().filter(|r| r.2.error.is_some()).count(),
        error_samples: results
            .iter()
            .filter_map(|r| r.2.error.as_ref().map(|e| format!("case {}: {e}", r.0)))
            .take(5)
            .collect(),
        operations: results.iter().map(|r| r.2.executed).sum(),
        found: Vec::new(),
        all: results
            .iter()
            .filter_map(|(i, case, run)| {
                run.divergence.as_ref().map(|d| Seen {
                    case: *i,
                    version: case.version.as_str().to_owned(),
                    rule: d.rule.name().to_owned(),
                    text: d.to_string(),
                })
            })
            .collect(),
        allowances: BTreeMap::new(),
        faults: BTreeMap::new(),
        seconds,
        cases_per_second: results.len() as f64 / seconds.max(1e-9),
    };
    for (_, _, run) in &results {
        for (k, n) in &run.allowances {
            *report.allowances.entry((*k).to_owned()).or_insert(0) += n;
        }
        for (k, n) in &run.faults {
            *report.faults.entry((*k).to_owned()).or_insert(0) += n;
        }
    }
    let saver = save.map(|(scenarios_dir, reports_dir)| save::Saver {
        scenarios_dir,
        reports_dir,
        target: name,
        seed: o.seed,
    });
    if let Some(saver) = saver.filter(|_| o.save_unshrunk) {
        for (i, case, run) in &results {
            if let Some(d) = &run.divergence {
                let _ = saver.write(save::Form::Unshrunk, *i, case, run, d);
            }
        }
    }
    let mut rules_seen = BTreeSet::new();
    for (i, case, run) in &results {
        let Some(d) = &run.divergence else { continue };
        if !rules_seen.insert(d.rule.name()) || report.found.len() >= o.max_saved {
            continue;
        }
        let mut found = Found {
            case: *i,
            version: case.version.as_str().to_owned(),
            first: d.to_string(),
            rule: d.rule.name().to_owned(),
            ops: case.ops.len(),
            reproduced: false,
            shrunk: None,
            shrink_runs: 0,
            file: None,
        };
        if o.shrink_runs > 0 {
            let s = shrink::shrink(
                profile,
                o.seed,
                *i,
                d.rule,
                endpoint,
                &exec,
                o.shrink_runs,
                lifecycle,
            )
            .await;
            found.reproduced = s.reproduced;
            found.shrink_runs = s.runs;
            if let Some((case, run)) = s.best {
                let div = run.divergence.clone().unwrap_or_else(|| d.clone());
                found.shrunk = Some((case.ops.len(), div.to_string()));
                if let Some(saver) = saver {
                    found.file = saver.write(save::Form::Shrunk, *i, &case, &run, &div).ok();
                }
            } else if let Some(saver) = saver {
                found.file = saver.write(save::Form::Shrunk, *i, case, run, d).ok();
            }
        }
        report.found.push(found);
    }
    report
}

/// Takes a case's run into the results.
fn finished(
    (i, case, mut run): (usize, Case, CaseRun),
    results: &mut Vec<(usize, Case, CaseRun)>,
    stop: &std::sync::atomic::AtomicBool,
    o: &PropsOptions,
    progress: &(impl Fn(usize) + ?Sized),
) {
    progress(1);
    if run.divergence.is_none() {
        // Only a divergence's steps are written out.
        run.script = script::Script::default();
    }
    if run.divergence.is_some() && o.stop_at_first {
        stop.store(true, Ordering::Relaxed);
    }
    results.push((i, case, run));
}

/// Capabilities as text, for reports.
pub fn capabilities_text(c: &BTreeSet<Capability>) -> String {
    c.iter()
        .map(|x| format!("{x:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The wait a target needs: brokers other than the in-process reference
/// get more time per expected packet and a longer quiet window.
pub fn waits_for(target: &str) -> (Duration, Duration) {
    if target == "ref" {
        (Duration::from_secs(3), Duration::from_millis(30))
    } else {
        (Duration::from_secs(5), Duration::from_millis(150))
    }
}
