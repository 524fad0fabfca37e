//! The conformance job as the command line runs it: load the library, open
//! each target, run, show progress, print the table, write the reports,
//! and decide the exit status from the baseline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::Catalog;
use crate::report::{matrix, Baseline, ConformanceReport};
use crate::runner::{RunSettings, ScenarioRun, Verdict};
use crate::scenario::load::{load_dir, load_file, KnownIds, LoadedScenario};
use crate::scenario::VersionTag;
use crate::suite::run_suite;
use crate::target::{Target, TargetsFile};

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

/// What a run concluded.
#[derive(Debug)]
pub struct ConformOutcome {
    /// Failures (and errors) not in the targets' baselines.
    pub regressions: usize,
    /// The printed table and notes.
    pub text: String,
}

/// Why the job could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ConformError {
    /// Scenario files failed to load.
    #[error("{} scenario file(s) failed to load:\n{}", .0.len(), .0.join("\n"))]
    Load(Vec<String>),
    /// A catalog failed to load.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// A target could not be opened.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// A baseline is malformed.
    #[error("baseline: {0}")]
    Baseline(String),
    /// Reports could not be written.
    #[error("writing reports to {0}: {1}")]
    Write(String, std::io::Error),
    /// Nothing to run.
    #[error("no scenario matched (library {0})")]
    Empty(String),
}

/// Runs the job.
pub async fn conform(o: &ConformOptions) -> Result<ConformOutcome, ConformError> {
    let props_only = o.props.is_some() && o.scenario_files.is_empty() && o.filter.is_none();
    let (catalogs, scenarios) = if props_only {
        (Vec::new(), Vec::new())
    } else {
        load_library(o)?
    };
    let targets_file = TargetsFile::load(&o.targets_file)?;
    let settings = RunSettings {
        default_wait: o.default_wait,
        ..RunSettings::default()
    };
    let runs_per_target: usize = scenarios.iter().map(|s| s.scenario.versions.len()).sum();
    let mut text = String::new();
    let mut regressions = 0;
    let mut all: Vec<(String, Vec<ScenarioRun>)> = Vec::new();
    for spec in &o.targets {
        let target = Target::open(spec, &targets_file, &o.reports_dir.join("work")).await?;
        regressions += crate::props::app::run_for_target(o, &target, &mut text).await?;
        if props_only {
            target.stop().await;
            continue;
        }
        let bar = progress_bar(o.progress, runs_per_target as u64, &target.name);
        let started = Instant::now();
        let runs = run_suite(&scenarios, &target, &settings, o.parallel, |r| {
            bar.inc(1);
            if matches!(r.verdict, Verdict::Fail | Verdict::Error(_)) {
                bar.println(format!(
                    "{} {} [{}]",
                    r.verdict.label().to_uppercase(),
                    r.id,
                    r.version
                ));
            }
        })
        .await;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        let name = target.name.clone();
        target.stop().await;
        let report = ConformanceReport::build(&name, &runs, &catalogs, seconds);
        let dir = o.reports_dir.join(sanitize(&name));
        report
            .write(&dir, &runs)
            .map_err(|e| ConformError::Write(dir.display().to_string(), e))?;
        text.push_str(&report.table(&runs));
        let baseline_path = o
            .baselines_dir
            .clone()
            .unwrap_or_else(|| o.reports_dir.join("baselines"))
            .join(format!("{}.yaml", sanitize(&name)));
        let baseline = Baseline::load(&baseline_path).map_err(ConformError::Baseline)?;
        let new = baseline.regressions(&runs);
        if !new.is_empty() {
            text.push_str(&format!(
                "\n{} failure(s) against {name} are not in {}:\n",
                new.len(),
                baseline_path.display()
            ));
            for r in &new {
                text.push_str(&format!("  - {}@{}\n", r.id, r.version));
            }
        }
        regressions += new.len();
        text.push_str(&format!("reports: {}\n", dir.display()));
        all.push((name, runs));
    }
    if all.len() > 1 && !props_only {
        let path = o.reports_dir.join("matrix.md");
        std::fs::write(&path, matrix(&all))
            .map_err(|e| ConformError::Write(path.display().to_string(), e))?;
        text.push_str(&format!("matrix: {}\n", path.display()));
    }
    Ok(ConformOutcome { regressions, text })
}

/// The catalogs of both versions and the scenarios `o` selects (library or
/// files, filter, exclusions, version), every citation checked against the
/// catalogs. Shared by the conformance run and the self-check.
pub(crate) fn load_library(
    o: &ConformOptions,
) -> Result<(Vec<Catalog>, Vec<LoadedScenario>), ConformError> {
    let catalogs = vec![
        Catalog::load(&o.scenarios_dir, VersionTag::V311)?,
        Catalog::load(&o.scenarios_dir, VersionTag::V5)?,
    ];
    let known: KnownIds = [
        (VersionTag::V311, catalogs[0].ids()),
        (VersionTag::V5, catalogs[1].ids()),
    ]
    .into();
    let mut scenarios = load_scenarios(o, &known)?;
    if let Some(v) = o.version {
        for s in &mut scenarios {
            s.scenario.versions.retain(|x| *x == v);
        }
        scenarios.retain(|s| !s.scenario.versions.is_empty());
    }
    if scenarios.is_empty() {
        return Err(ConformError::Empty(o.scenarios_dir.display().to_string()));
    }
    Ok((catalogs, scenarios))
}

fn load_scenarios(
    o: &ConformOptions,
    known: &KnownIds,
) -> Result<Vec<LoadedScenario>, ConformError> {
    let (mut ok, errors) = if o.scenario_files.is_empty() {
        load_dir(&o.scenarios_dir, Some(known))
    } else {
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for f in &o.scenario_files {
            let id = f.with_extension("").to_string_lossy().replace('\\', "/");
            match load_file(f, id, Some(known)) {
                Ok(s) => ok.push(s),
                Err(e) => errors.push(e),
            }
        }
        (ok, errors)
    };
    if !errors.is_empty() {
        return Err(ConformError::Load(
            errors.iter().map(ToString::to_string).collect(),
        ));
    }
    if let Some(f) = &o.filter {
        ok.retain(|s| s.id.contains(f.as_str()));
    }
    ok.retain(|s| !o.exclude.iter().any(|x| s.id.contains(x.as_str())));
    Ok(ok)
}

fn progress_bar(show: bool, len: u64, target: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} scenario runs {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(target.to_owned());
    bar
}

/// A target name usable as a folder name.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
