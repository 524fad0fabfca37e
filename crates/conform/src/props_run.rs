//! The property tests as `conform` runs them: how many cases, which seed
//! (always printed), the waits for the target, the report files
//! (`reports/<target>/props.json`, counterexamples beside it) and what
//! counts against the exit status (a divergence from the reference server
//! is a regression; against a third-party broker it is a finding, listed,
//! not gated).

use mqtt_props::{fresh_seed, run_props, waits_for, PropsOptions, DEFAULT_CASES};
use mqtt_targets::{sanitize, Target};

use crate::error::ConformError;
use crate::options::ConformOptions;

/// The number of cases `o` asks for.
pub fn cases(o: &ConformOptions) -> usize {
    o.props
        .unwrap_or(if o.scenario_files.is_empty() && o.filter.is_none() {
            DEFAULT_CASES
        } else {
            0
        })
}

/// The property options `o` gives against `target`.
pub fn options(o: &ConformOptions, target: &str) -> PropsOptions {
    let (wait, quiet) = waits_for(target);
    // Against the in-process reference a few cases in fifteen sleep (the
    // expiry and keep-alive operations): more of them at once keep the
    // cores busy meanwhile.
    let parallel = if target == "ref" {
        o.parallel.max(1) * 4
    } else {
        o.parallel.max(1)
    };
    let mut p = PropsOptions {
        cases: cases(o),
        seed: o.seed.unwrap_or_else(fresh_seed),
        parallel,
        version: o.version,
        ..PropsOptions::default()
    };
    p.exec.wait = wait;
    p.exec.quiet = quiet;
    p
}

/// Runs the property tests against `target` (when `o` asks for any),
/// appends the summary to `text`, writes `props.json`; returns how many
/// divergences count as regressions.
pub async fn run_for_target(
    o: &ConformOptions,
    target: &Target,
    text: &mut String,
) -> Result<usize, ConformError> {
    let p = options(o, &target.name);
    if p.cases == 0 {
        return Ok(0);
    }
    eprintln!(
        "props against {}: {} cases, seed {}",
        target.name, p.cases, p.seed
    );
    let report = run_props(target, &p, &o.scenarios_dir, &o.reports_dir, |_| {}).await;
    text.push_str(&report.text());
    let dir = o.reports_dir.join(sanitize(&target.name));
    std::fs::create_dir_all(&dir).map_err(|e| ConformError::Write(dir.display().to_string(), e))?;
    let path = dir.join("props.json");
    let json = serde_json::to_string_pretty(&report).unwrap_or_default();
    std::fs::write(&path, json + "\n")
        .map_err(|e| ConformError::Write(path.display().to_string(), e))?;
    Ok(if target.name == "ref" {
        report.diverged + report.errors
    } else {
        0
    })
}
