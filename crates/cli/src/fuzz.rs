//! `mqtt-harness fuzz`: a bounded live fuzzing campaign against one target,
//! or a differential one against several; findings are written as
//! replayable scenarios under `reports/fuzz/<target>/`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use mqtt_livefuzz::{self as fuzz, CampaignOptions};

/// Arguments of `fuzz`.
#[derive(Debug, clap::Args)]
pub(crate) struct FuzzArgs {
    /// Target: `ref` (in-process), a tcp:// address on loopback, or a name
    /// from targets.yaml (started by the harness). Several, comma
    /// separated: differential mode.
    #[arg(long, short, value_delimiter = ',', default_value = "ref")]
    target: Vec<String>,
    /// Minutes to run.
    #[arg(long, default_value_t = 1.0, conflicts_with = "seconds")]
    minutes: f64,
    /// Seconds to run (instead of minutes).
    #[arg(long)]
    seconds: Option<f64>,
    /// At most this many cases.
    #[arg(long)]
    cases: Option<u64>,
    /// Generator seed (a run is reproducible from it, up to the broker's timing).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Cases in flight at once (a target's `parallel` in targets.yaml caps it).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds a valid connection may take to answer the final PINGREQ, at
    /// least: the bound grows with the target's measured answer latency
    /// (100 times its 99.9th percentile, up to 12 times this floor).
    #[arg(long, default_value_t = 5.0)]
    hang: f64,
    /// A broker holding more than this many MiB after the run is a finding.
    #[arg(long, default_value_t = 2048)]
    max_rss_mib: u64,
    /// Keep findings as found (no minimisation).
    #[arg(long)]
    no_minimise: bool,
    /// The scenario library (the seeds).
    #[arg(long, default_value = "scenarios")]
    library: PathBuf,
    /// Named targets.
    #[arg(long, default_value = "targets.yaml")]
    targets_file: PathBuf,
    /// Where findings and reports go.
    #[arg(long, default_value = "reports/fuzz")]
    out: PathBuf,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

/// Runs the campaign and prints its summary; fails when it found something.
pub(crate) async fn run(a: FuzzArgs) -> anyhow::Result<()> {
    let seconds = a.seconds.unwrap_or(a.minutes * 60.0);
    if !(seconds > 0.0 && seconds <= 7.0 * 24.0 * 3600.0) {
        bail!("--minutes/--seconds must be positive and at most a week, got {seconds} s");
    }
    if !(a.hang > 0.0 && a.hang <= 600.0) {
        bail!("--hang must be between 0 and 600 seconds, got {}", a.hang);
    }
    let mut opts = CampaignOptions {
        targets: a.target.clone(),
        duration: Duration::from_secs_f64(seconds),
        max_cases: a.cases,
        seed: a.seed,
        concurrency: a.concurrency.max(1),
        scenarios: a.library,
        targets_file: a.targets_file,
        work: "reports/work".into(),
        out: a.out,
        max_rss_mib: a.max_rss_mib,
        minimise: !a.no_minimise,
        progress: !a.quiet,
        ..CampaignOptions::default()
    };
    opts.bounds.hang = Duration::from_secs_f64(a.hang);
    let report = fuzz::run(&opts).await?;
    println!(
        "fuzz {}: {} cases in {:.1} s ({:.0} cases/s), {} connections, {} finding(s), {} unconfirmed candidate(s); report in {}/",
        report.targets.join(" vs "),
        report.cases,
        report.seconds,
        report.cases_per_second,
        report.connections,
        report.findings.len(),
        report.unconfirmed,
        opts.out.join(report.targets.join("-vs-").replace(['/', ':'], "_")).display()
    );
    for f in &report.findings {
        println!(
            "  {} {}: {} ({})",
            f.kind,
            f.key,
            f.detail,
            f.scenario
                .as_ref()
                .map_or("-".into(), |p| p.display().to_string())
        );
    }
    if report.findings.is_empty() {
        Ok(())
    } else {
        bail!("{} finding(s)", report.findings.len())
    }
}
