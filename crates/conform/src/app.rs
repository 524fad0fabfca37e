//! The conformance job as the command line runs it: load the library, open
//! each target, run, show progress, print the table, write the reports,
//! and decide the exit status from the baseline.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use mqtt_scenario::runner::{RunSettings, ScenarioRun, Verdict};
use mqtt_scenario::suite::run_suite;
use mqtt_targets::{sanitize, Target, TargetsFile};

use crate::error::ConformError;
use crate::library::load_library;
use crate::options::ConformOptions;
use crate::report::{matrix, Baseline, ConformanceReport};

/// What a run concluded.
#[derive(Debug)]
pub struct ConformOutcome {
    /// Failures (and errors) not in the targets' baselines.
    pub regressions: usize,
    /// The printed table and notes.
    pub text: String,
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
        regressions += crate::props_run::run_for_target(o, &target, &mut text).await?;
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
