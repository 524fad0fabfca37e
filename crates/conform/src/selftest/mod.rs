//! The self-check (`mqtt-harness conform --selftest`): does the scenario
//! library catch a broken broker?
//!
//! The whole library runs against the plain reference server (the
//! baseline), then through a [`FaultProxy`] without a fault (which must
//! change nothing), then once per [`Fault`] through a proxy that injects
//! it, each route with a fresh reference server behind it. A fault is
//! *detected* when a run that passed in the baseline (and through the
//! transparent proxy) fails or errors through the faulty proxy; the report
//! names, for each fault, the scenarios that caught it, and for the
//! others what a scenario would have to do to catch them.

pub mod faults;
pub mod props;
pub mod proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use faults::{Fault, FaultInfo};
pub use proxy::FaultProxy;

use crate::error::ConformError;
use crate::options::ConformOptions;
use mqtt_scenario::load::LoadedScenario;
use mqtt_scenario::runner::{
    run_scenario, Evidence, RunBindings, RunSettings, ScenarioRun, Verdict,
};
use mqtt_targets::{Target, TargetError};

/// Where a suite's clients connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Straight to the reference server.
    Direct,
    /// Through a proxy injecting this fault (`None`: a transparent one).
    Proxy(Option<Fault>),
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Direct => f.write_str("ref"),
            Route::Proxy(None) => f.write_str("proxy"),
            Route::Proxy(Some(fault)) => write!(f, "proxy+{fault}"),
        }
    }
}

/// The runs of a library over one route.
#[derive(Debug, Clone)]
pub struct RouteRuns {
    /// The route.
    pub route: Route,
    /// Its runs, sorted by scenario id and version.
    pub runs: Vec<ScenarioRun>,
    /// How many times the proxy's fault changed what a side saw.
    pub triggered: u64,
    /// Connections the proxy relayed.
    pub connections: u64,
}

/// A reference server, and the proxy in front of it if any.
struct Stand {
    target: Target,
    proxy: Option<FaultProxy>,
}

fn socket_addr(target: &Target) -> Result<SocketAddr, TargetError> {
    target
        .endpoint
        .authority()
        .parse()
        .map_err(|e| TargetError::Start {
            name: target.name.clone(),
            message: format!("`{}` is not a socket address: {e}", target.endpoint),
        })
}

async fn open(route: Route) -> Result<Stand, TargetError> {
    let target = Target::reference().await?;
    let proxy = match route {
        Route::Direct => None,
        Route::Proxy(fault) => {
            let upstream = socket_addr(&target)?;
            Some(
                FaultProxy::start(upstream, fault)
                    .await
                    .map_err(|e| TargetError::Start {
                        name: route.to_string(),
                        message: format!("the proxy cannot listen: {e}"),
                    })?,
            )
        }
    };
    Ok(Stand { target, proxy })
}

/// How many suites' worth of runs go at once: the runs mostly wait (on
/// the broker, or on a timeout a fault provoked), not compute.
pub const SUITES_AT_ONCE: usize = 4;

/// Runs the whole of `scenarios` once per route, each route against its
/// own fresh reference server (behind its own proxy), at most `parallel`
/// runs at once per route (as [`run_suite`](mqtt_scenario::suite::run_suite)) and
/// `parallel * SUITES_AT_ONCE` over all routes, calling `progress` after
/// each run. Every run is bounded by the runner's per-step timeouts.
pub async fn run_routes(
    scenarios: &[LoadedScenario],
    routes: &[Route],
    settings: &RunSettings,
    parallel: usize,
    mut progress: impl FnMut(&ScenarioRun),
) -> Result<Vec<RouteRuns>, TargetError> {
    let mut stands = Vec::with_capacity(routes.len());
    for &route in routes {
        match open(route).await {
            Ok(s) => stands.push(s),
            Err(e) => {
                for s in stands {
                    close(s).await;
                }
                return Err(e);
            }
        }
    }
    let salt = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let parallel = parallel.max(1);
    let gate = Arc::new(Semaphore::new(parallel * SUITES_AT_ONCE));
    let mut tasks = JoinSet::new();
    let mut runs: Vec<Vec<ScenarioRun>> = vec![Vec::new(); routes.len()];
    let mut run_number = 0u64;
    for (ri, stand) in stands.iter().enumerate() {
        let suite_gate = Arc::new(Semaphore::new(parallel));
        let endpoint = stand
            .proxy
            .as_ref()
            .map_or_else(|| stand.target.endpoint.clone(), FaultProxy::endpoint);
        for s in scenarios {
            for &version in &s.scenario.versions {
                let reason =
                    mqtt_scenario::suite::skip_reason(s, version, &stand.target).or_else(|| {
                        (!s.scenario.lifecycle_verbs().is_empty()).then(|| {
                        "acts on the broker, which the self-check's routes share with their proxy"
                            .to_owned()
                    })
                    });
                if let Some(reason) = reason {
                    let run = mqtt_scenario::suite::skipped(s, version, reason);
                    progress(&run);
                    runs[ri].push(run);
                    continue;
                }
                run_number += 1;
                let bindings = RunBindings::new(run_number, salt);
                let (s, endpoint, settings, gate, suite_gate) = (
                    s.clone(),
                    endpoint.clone(),
                    settings.clone(),
                    gate.clone(),
                    suite_gate.clone(),
                );
                tasks.spawn(async move {
                    let _in_suite = suite_gate.acquire_owned().await;
                    let _permit = gate.acquire_owned().await;
                    (
                        ri,
                        run_scenario(&s, version, &endpoint, bindings, &settings).await,
                    )
                });
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok((ri, run)) => {
                progress(&run);
                runs[ri].push(run);
            }
            Err(e) => tracing::error!("selftest: a runner task failed: {e}"),
        }
    }
    let mut out = Vec::with_capacity(routes.len());
    for ((stand, mut runs), &route) in stands.into_iter().zip(runs).zip(routes) {
        runs.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
        let (triggered, connections) = stand
            .proxy
            .as_ref()
            .map_or((0, 0), |p| (p.triggered(), p.connections()));
        close(stand).await;
        out.push(RouteRuns {
            route,
            runs,
            triggered,
            connections,
        });
    }
    Ok(out)
}

async fn close(stand: Stand) {
    if let Some(p) = stand.proxy {
        p.stop().await;
    }
    stand.target.stop().await;
}

/// `id@version` of a run.
fn key(r: &ScenarioRun) -> (String, String) {
    (r.id.clone(), r.version.clone())
}

/// The runs that passed in every one of `references`.
pub fn passing(references: &[&[ScenarioRun]]) -> BTreeSet<(String, String)> {
    let mut set: Option<BTreeSet<(String, String)>> = None;
    for runs in references {
        let pass: BTreeSet<_> = runs
            .iter()
            .filter(|r| r.verdict == Verdict::Pass)
            .map(key)
            .collect();
        set = Some(match set {
            None => pass,
            Some(s) => s.intersection(&pass).cloned().collect(),
        });
    }
    set.unwrap_or_default()
}

/// The runs among `candidates` that failed or errored in `faulty`: the
/// ones that caught the fault.
pub fn caught_by<'r>(
    candidates: &BTreeSet<(String, String)>,
    faulty: &'r [ScenarioRun],
) -> Vec<&'r ScenarioRun> {
    faulty
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error(_)))
        .filter(|r| candidates.contains(&key(r)))
        .collect()
}

/// Verdict counts of a route.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Warned.
    pub warn: usize,
    /// Skipped.
    pub skip: usize,
    /// Errored.
    pub error: usize,
}

impl Tally {
    fn of(runs: &[ScenarioRun]) -> Tally {
        let mut t = Tally::default();
        for r in runs {
            match r.verdict {
                Verdict::Pass => t.pass += 1,
                Verdict::Fail => t.fail += 1,
                Verdict::Warn => t.warn += 1,
                Verdict::Skip(_) => t.skip += 1,
                Verdict::Error(_) => t.error += 1,
            }
        }
        t
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pass, {} fail, {} warn, {} skip, {} error",
            self.pass, self.fail, self.warn, self.skip, self.error
        )
    }
}

/// One run, named, with the step that decided it.
#[derive(Debug, Clone, Serialize)]
pub struct RunNote {
    /// `scenario id@version`.
    pub run: String,
    /// `fail`, `error`, `warn`...
    pub verdict: String,
    /// The deciding step: what was expected and what was seen.
    pub evidence: Option<Evidence>,
}

impl RunNote {
    fn of(r: &ScenarioRun) -> RunNote {
        RunNote {
            run: format!("{}@{}", r.id, r.version),
            verdict: r.verdict.label().to_owned(),
            evidence: r.evidence.clone(),
        }
    }
}

/// One suite of the self-check.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteSummary {
    /// `ref`, `proxy`, or `proxy+FAULT`.
    pub route: String,
    /// Its verdicts.
    pub tally: Tally,
    /// How many times the proxy's fault changed what a side saw.
    pub triggered: u64,
    /// Connections the proxy relayed.
    pub connections: u64,
    /// Sum of the runs' durations, seconds.
    pub run_seconds: f64,
}

/// What the self-check found for one fault.
#[derive(Debug, Clone, Serialize)]
pub struct FaultResult {
    /// The fault.
    pub fault: Fault,
    /// Its catalogue entry.
    pub info: FaultInfo,
    /// How many times the proxy injected it during the suite.
    pub triggered: u64,
    /// At least one baseline-passing run failed or errored.
    pub detected: bool,
    /// Those runs, with the step that caught the fault.
    pub caught_by: Vec<RunNote>,
    /// Baseline-passing runs that only warned (not counted as detection).
    pub warned_by: Vec<RunNote>,
}

/// The self-check's findings.
#[derive(Debug, Clone, Serialize)]
pub struct SelftestReport {
    /// Scenarios in the library.
    pub scenarios: usize,
    /// Runs per suite (scenario and version pairs).
    pub runs_per_suite: usize,
    /// Runs at once per suite.
    pub parallel: usize,
    /// Verdicts against the plain reference server.
    pub baseline: Tally,
    /// Verdicts through the proxy without a fault.
    pub transparent: Tally,
    /// Runs that did not pass against the plain reference server (they
    /// cannot catch anything).
    pub baseline_not_passing: Vec<RunNote>,
    /// Runs that passed against the plain server but not through the
    /// transparent proxy (the proxy's own fault; excluded from detection).
    pub not_transparent: Vec<RunNote>,
    /// One entry per fault, in catalogue order.
    pub faults: Vec<FaultResult>,
    /// Every suite run, in order.
    pub suites: Vec<SuiteSummary>,
    /// Faults detected.
    pub detected: usize,
    /// Faults injected.
    pub total: usize,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// What `conform --selftest` concluded.
#[derive(Debug)]
pub struct SelftestOutcome {
    /// The findings.
    pub report: SelftestReport,
    /// The printed summary and table.
    pub text: String,
}

/// Builds the report from the routes' runs: the [`Route::Direct`] route is
/// the baseline, the transparent proxy's runs must agree with it, and each
/// fault's route is compared with both.
pub fn build_report(
    scenarios: usize,
    parallel: usize,
    routes: &[RouteRuns],
    seconds: f64,
) -> SelftestReport {
    let runs_of = |route: Route| {
        routes
            .iter()
            .find(|r| r.route == route)
            .map_or(&[][..], |r| &r.runs[..])
    };
    let direct = runs_of(Route::Direct);
    let clean = runs_of(Route::Proxy(None));
    let direct_pass = passing(&[direct]);
    let candidates = passing(&[direct, clean]);
    let not_transparent = clean
        .iter()
        .filter(|r| direct_pass.contains(&key(r)) && !candidates.contains(&key(r)))
        .map(RunNote::of)
        .collect();
    let faults: Vec<FaultResult> = routes
        .iter()
        .filter_map(|r| match r.route {
            Route::Proxy(Some(fault)) => Some((fault, r)),
            _ => None,
        })
        .map(|(fault, r)| {
            let caught: Vec<RunNote> = caught_by(&candidates, &r.runs)
                .into_iter()
                .map(RunNote::of)
                .collect();
            let warned = r
                .runs
                .iter()
                .filter(|x| x.verdict == Verdict::Warn && candidates.contains(&key(x)))
                .map(RunNote::of)
                .collect();
            FaultResult {
                fault,
                info: fault.info(),
                triggered: r.triggered,
                detected: !caught.is_empty(),
                caught_by: caught,
                warned_by: warned,
            }
        })
        .collect();
    let suites = routes
        .iter()
        .map(|r| SuiteSummary {
            route: r.route.to_string(),
            tally: Tally::of(&r.runs),
            triggered: r.triggered,
            connections: r.connections,
            run_seconds: r.runs.iter().map(|x| x.duration.as_secs_f64()).sum(),
        })
        .collect();
    SelftestReport {
        scenarios,
        runs_per_suite: direct.len(),
        parallel,
        baseline: Tally::of(direct),
        transparent: Tally::of(clean),
        baseline_not_passing: direct
            .iter()
            .filter(|r| r.verdict != Verdict::Pass)
            .map(RunNote::of)
            .collect(),
        not_transparent,
        detected: faults.iter().filter(|f| f.detected).count(),
        total: faults.len(),
        faults,
        suites,
        seconds,
    }
}

/// `id@3.1.1`, `id@5.0`, `other@5.0` -> `id [3.1.1, 5.0]`, `other [5.0]`.
fn grouped(runs: &[RunNote]) -> Vec<String> {
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in runs {
        let (id, v) = r.run.rsplit_once('@').unwrap_or((&r.run, ""));
        by_id.entry(id).or_default().push(v);
    }
    by_id
        .into_iter()
        .map(|(id, vs)| format!("{id} [{}]", vs.join(", ")))
        .collect()
}

fn statements(i: &FaultInfo) -> String {
    if i.v311 == i.v5 {
        i.v5.join(", ")
    } else if i.v311.is_empty() {
        format!("5.0: {}", i.v5.join(", "))
    } else {
        format!("3.1.1: {}; 5.0: {}", i.v311.join(", "), i.v5.join(", "))
    }
}

impl SelftestReport {
    /// The summary line: `N of M faults detected`.
    pub fn summary(&self) -> String {
        format!("{} of {} faults detected", self.detected, self.total)
    }

    /// The report as Markdown: summary, table, and what was missed. With
    /// `limit`, each fault lists at most that many catching scenarios.
    pub fn markdown(&self, limit: Option<usize>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# Self-check: does the suite catch a broken broker?\n");
        let _ = writeln!(s, "**{}.**\n", self.summary());
        let _ = writeln!(
            s,
            "The library ({} scenarios, {} runs per suite) ran against the plain reference \
             server, through the proxy without a fault, and once per fault through a \
             fault-injecting proxy in front of a fresh reference server ({} runs at once per \
             suite, {} suites at once, {:.0}s in all). A fault is detected when a run that passes against the plain \
             server (and through the transparent proxy) fails or errors through the faulty one.\n",
            self.scenarios,
            self.runs_per_suite,
            self.parallel,
            SUITES_AT_ONCE,
            self.seconds
        );
        let _ = writeln!(s, "- plain reference server: {}", self.baseline);
        let _ = writeln!(s, "- transparent proxy: {}", self.transparent);
        if !self.baseline_not_passing.is_empty() {
            let _ = writeln!(
                s,
                "- not passing against the plain server (cannot catch anything): {}",
                grouped(&self.baseline_not_passing).join(", ")
            );
        }
        if !self.not_transparent.is_empty() {
            let _ = writeln!(
                s,
                "- **not transparent** (pass directly, not through the proxy; excluded): {}",
                grouped(&self.not_transparent).join(", ")
            );
        }
        let _ = writeln!(
            s,
            "\n| fault | misbehaviour | statements broken | triggered | detected | caught by |"
        );
        let _ = writeln!(s, "|---|---|---|---:|---|---|");
        for f in &self.faults {
            let mut caught = grouped(&f.caught_by);
            if let Some(n) = limit.filter(|&n| caught.len() > n) {
                let more = caught.len() - n;
                caught.truncate(n);
                caught.push(format!("... and {more} more"));
            }
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} |",
                f.info.name,
                f.info.description.replace('|', "\\|"),
                statements(&f.info),
                f.triggered,
                if f.detected { "yes" } else { "**no**" },
                if caught.is_empty() {
                    "-".to_owned()
                } else {
                    caught.join("<br>")
                }
            );
        }
        let missed: Vec<&FaultResult> = self.faults.iter().filter(|f| !f.detected).collect();
        if !missed.is_empty() {
            let _ = writeln!(s, "\n## Not detected\n");
            for f in missed {
                let why = if f.triggered == 0 {
                    "never triggered: no scenario exercises it"
                } else {
                    "triggered, but no scenario checked the result"
                };
                let _ = write!(
                    s,
                    "- `{}` ({why}). To catch it, a scenario would: {} ({}).",
                    f.info.name,
                    f.info.catch_hint,
                    statements(&f.info)
                );
                if !f.warned_by.is_empty() {
                    let _ = write!(s, " Warned: {}.", grouped(&f.warned_by).join(", "));
                }
                s.push('\n');
            }
        }
        s
    }
}

/// Runs the self-check with `conform`'s options (the targets are ignored:
/// the self-check always runs the reference server, in-process) and writes
/// `selftest.md` and `selftest.json` to the reports folder.
pub async fn selftest(o: &ConformOptions) -> Result<SelftestOutcome, ConformError> {
    let (_, scenarios) = crate::library::load_library(o)?;
    let settings = RunSettings {
        default_wait: o.default_wait,
        ..RunSettings::default()
    };
    let mut routes = vec![Route::Direct, Route::Proxy(None)];
    routes.extend(Fault::ALL.iter().map(|&f| Route::Proxy(Some(f))));
    let per_suite: usize = scenarios.iter().map(|s| s.scenario.versions.len()).sum();
    let bar = if o.progress {
        let bar = ProgressBar::new((per_suite * routes.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "selftest [{bar:30}] {pos}/{len} scenario runs over {prefix} suites {elapsed}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(routes.len().to_string());
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let runs = run_routes(&scenarios, &routes, &settings, o.parallel, |_| bar.inc(1)).await?;
    bar.finish_and_clear();
    let report = build_report(
        scenarios.len(),
        o.parallel,
        &runs,
        started.elapsed().as_secs_f64(),
    );
    let markdown = report.markdown(None);
    std::fs::create_dir_all(&o.reports_dir)
        .map_err(|e| ConformError::Write(o.reports_dir.display().to_string(), e))?;
    let md_path = o.reports_dir.join("selftest.md");
    std::fs::write(&md_path, &markdown)
        .map_err(|e| ConformError::Write(md_path.display().to_string(), e))?;
    let json_path = o.reports_dir.join("selftest.json");
    let json = serde_json::to_string_pretty(&report).expect("the report serializes");
    std::fs::write(&json_path, json + "\n")
        .map_err(|e| ConformError::Write(json_path.display().to_string(), e))?;
    let mut text = String::new();
    if o.targets.iter().any(|t| t != "ref") {
        text.push_str("note: --selftest always runs the reference server; --targets is ignored\n");
    }
    text.push_str(&report.markdown(Some(3)));
    let _ = writeln!(
        text,
        "\n{}\nreports: {}, {}",
        report.summary(),
        md_path.display(),
        json_path.display()
    );
    Ok(SelftestOutcome { report, text })
}
