//! `mqtt-harness conform`: the scenario library against one or more targets.

use std::path::PathBuf;
use std::time::Duration;

use mqtt_conform::{conform, ConformOptions};
use mqtt_targets::VersionTag;

/// Arguments of `conform`.
#[derive(Debug, clap::Args)]
pub(crate) struct ConformArgs {
    /// Targets, comma separated: `ref` (the reference server, in-process),
    /// an address (tcp://, ws://, mqtts://), or names from targets.yaml.
    #[arg(long, short, value_delimiter = ',', default_value = "ref")]
    targets: Vec<String>,
    /// Run these scenario files only.
    #[arg(long = "scenario")]
    scenarios: Vec<PathBuf>,
    /// Only scenarios whose id contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Leave out scenarios whose id contains this (repeatable).
    #[arg(long)]
    exclude: Vec<String>,
    /// Only this version (3.1.1 or 5.0).
    #[arg(long, value_parser = parse_version)]
    version: Option<VersionTag>,
    /// Scenario runs at once.
    #[arg(long, default_value_t = 16)]
    parallel: usize,
    /// The scenario library.
    #[arg(long, default_value = "scenarios")]
    library: PathBuf,
    /// Where reports go.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Where the targets' baselines (known failures) are read from
    /// [default: baselines/ under --reports].
    #[arg(long)]
    baselines: Option<PathBuf>,
    /// Named targets.
    #[arg(long, default_value = "targets.yaml")]
    targets_file: PathBuf,
    /// Seconds an expect waits when a scenario gives no `within`.
    #[arg(long, default_value_t = 5.0)]
    wait: f64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Self-check: run the library through a fault-injecting proxy in front
    /// of the reference server, once per broker fault, and report which
    /// faults the suite detects (reports/selftest.md and .json).
    #[arg(long)]
    selftest: bool,
    /// Property-based differential tests: N random operation sequences per
    /// target, run against the target and the model side by side; a
    /// divergence is shrunk and saved as a scenario under
    /// reports/<target>/counterexamples/. Alone, it skips the scenario
    /// library; a default run adds 50 cases. With --selftest: the props
    /// through the fault-injecting proxy (reports/props-selftest.md).
    #[arg(long, value_name = "N")]
    props: Option<usize>,
    /// Seed of the property tests (printed by every run; replays it exactly).
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
}

fn parse_version(s: &str) -> Result<VersionTag, String> {
    match s {
        "3.1.1" | "3" | "4" => Ok(VersionTag::V311),
        "5.0" | "5" => Ok(VersionTag::V5),
        _ => Err(format!("`{s}`: use 3.1.1 or 5.0")),
    }
}

pub(crate) async fn run(a: ConformArgs) -> anyhow::Result<()> {
    let options = ConformOptions {
        targets: a.targets,
        scenarios_dir: a.library,
        scenario_files: a.scenarios,
        filter: a.filter,
        exclude: a.exclude,
        version: a.version,
        parallel: a.parallel,
        reports_dir: a.reports,
        baselines_dir: a.baselines,
        targets_file: a.targets_file,
        default_wait: Duration::from_secs_f64(a.wait.clamp(0.1, 600.0)),
        progress: !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        props: a.props,
        seed: a.seed,
    };
    if a.selftest && a.props.is_some() {
        let p = mqtt_conform::props_run::options(&options, "ref");
        eprintln!(
            "props self-check: {} cases per route, seed {}",
            p.cases, p.seed
        );
        let (report, _) =
            mqtt_conform::selftest::props::props_selftest(&p, &options.reports_dir, |r| {
                eprintln!("  {r} done")
            })
            .await?;
        print!("{}", mqtt_conform::selftest::props::markdown(&report));
        println!(
            "reports: {}",
            options.reports_dir.join("props-selftest.md").display()
        );
        return Ok(());
    }
    if a.selftest {
        let outcome = mqtt_conform::selftest::selftest(&options).await?;
        print!("{}", outcome.text);
        return Ok(());
    }
    let outcome = conform(&options).await?;
    print!("{}", outcome.text);
    if outcome.regressions > 0 {
        anyhow::bail!("{} failure(s) not in the baseline", outcome.regressions);
    }
    Ok(())
}

/// Arguments of `coverage`.
#[derive(Debug, clap::Args)]
pub(crate) struct CoverageArgs {
    /// The scenario library.
    #[arg(long, default_value = "scenarios")]
    library: PathBuf,
}

pub(crate) fn coverage(a: CoverageArgs) -> anyhow::Result<()> {
    match mqtt_conform::coverage::coverage(&a.library) {
        Ok((rows, summary)) => {
            println!("{}", mqtt_conform::coverage::render(&rows));
            print!("{summary}");
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            anyhow::bail!("{} scenario file(s) failed to load", errors.len())
        }
    }
}
