//! `cargo xtask fuzz codec`: runs the codec's cargo-fuzz targets, each for a
//! bounded time, with the seed corpus and the dictionary, and summarises
//! libFuzzer's final statistics and the findings.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The in-process fuzz targets (the `[[bin]]`s of `fuzz/Cargo.toml`): the
/// codec's, the broker model's and the server's connection handler's.
pub(crate) const CODEC_TARGETS: &[&str] = &[
    "decode_v311",
    "decode_v5",
    "roundtrip",
    "model",
    "server_conn",
];

/// `cargo xtask fuzz live`: a live campaign through `mqtt-harness fuzz`
/// (release build), against `target` for `minutes`; `extra` passes through.
pub(crate) fn live(root: &Path, target: &str, minutes: f64, extra: &[String]) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            "mqtt-harness",
            "--",
            "fuzz",
            "--target",
            target,
        ])
        .arg("--minutes")
        .arg(minutes.to_string())
        .args(extra)
        .current_dir(root)
        .status()
        .context("running mqtt-harness fuzz")?;
    if !status.success() {
        bail!("mqtt-harness fuzz: {status} (findings, if any, are in reports/fuzz/)");
    }
    Ok(())
}

/// Per-input time limit in seconds: decoding a few kilobytes takes
/// microseconds, so an input that takes this long is a hang.
const INPUT_TIMEOUT_SECS: u64 = 10;

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Seconds per target (libFuzzer's `-max_total_time`).
    pub(crate) seconds: u64,
    /// Only this target; all when `None`.
    pub(crate) target: Option<String>,
    /// cargo-fuzz sanitizer (`none` or `address`).
    pub(crate) sanitizer: String,
}

/// The summary of one target's run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Fuzz target.
    pub(crate) target: String,
    /// Seconds libFuzzer ran.
    pub(crate) seconds: Option<u64>,
    /// Inputs executed.
    pub(crate) executions: Option<u64>,
    /// Average executions per second.
    pub(crate) execs_per_sec: Option<u64>,
    /// Inputs in the corpus at the end.
    pub(crate) corpus: Option<u64>,
    /// Crash, timeout, OOM and leak artifacts this run wrote.
    pub(crate) findings: Vec<PathBuf>,
    /// libFuzzer's exit status, when it failed without writing an artifact.
    pub(crate) failure: Option<String>,
}

/// Runs the codec fuzz targets (all, or `opts.target`) and prints a summary
/// table. Fails if a target found something or could not run.
pub(crate) fn codec(root: &Path, opts: &Options) -> Result<()> {
    let targets: Vec<&str> = match &opts.target {
        Some(t) => vec![CODEC_TARGETS
            .iter()
            .copied()
            .find(|c| c == t)
            .with_context(|| {
                format!("unknown target {t}; the codec targets are {CODEC_TARGETS:?}")
            })?],
        None => CODEC_TARGETS.to_vec(),
    };
    check_tools()?;
    build(root, opts)?;
    let mut all = Vec::new();
    for target in targets {
        all.push(run_target(root, target, opts)?);
    }
    print!("{}", table(&all));
    let findings: Vec<&PathBuf> = all.iter().flat_map(|s| &s.findings).collect();
    let failures: Vec<String> = all
        .iter()
        .filter_map(|s| s.failure.as_ref().map(|f| format!("{}: {f}", s.target)))
        .collect();
    for f in &findings {
        println!("finding: {}", f.display());
    }
    if !findings.is_empty() {
        bail!(
            "{} finding(s); reproduce one with `cargo +nightly fuzz run <target> <file>` \
             and minimise it with `cargo +nightly fuzz tmin <target> <file>`",
            findings.len()
        );
    }
    if !failures.is_empty() {
        bail!("fuzzing failed: {}", failures.join("; "));
    }
    Ok(())
}

/// `cargo +nightly ...`, immune to the toolchain this xtask runs under.
fn nightly_cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTUP_TOOLCHAIN_SOURCE")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    cmd
}

/// Fails with install instructions when nightly or cargo-fuzz is missing.
fn check_tools() -> Result<()> {
    let ok = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(nightly_cargo().arg("--version")) {
        bail!(
            "the nightly Rust toolchain is missing (cargo-fuzz needs it); install it with \
             `rustup toolchain install nightly --profile minimal`"
        );
    }
    if !ok(nightly_cargo().args(["fuzz", "--version"])) {
        bail!("cargo-fuzz is missing; install it with `cargo install cargo-fuzz --locked`");
    }
    Ok(())
}

/// Arguments shared by `cargo fuzz build` and `cargo fuzz run`, so that run
/// finds the build up to date.
fn common_args(root: &Path, opts: &Options) -> Vec<String> {
    vec![
        "--fuzz-dir".into(),
        root.join("fuzz").display().to_string(),
        "--sanitizer".into(),
        opts.sanitizer.clone(),
    ]
}

/// Builds every target once, before any of the timed runs.
fn build(root: &Path, opts: &Options) -> Result<()> {
    let status = nightly_cargo()
        .args(["fuzz", "build"])
        .args(common_args(root, opts))
        .current_dir(root)
        .status()
        .context("running cargo +nightly fuzz build")?;
    if !status.success() {
        bail!("cargo +nightly fuzz build failed ({status})");
    }
    Ok(())
}

/// Files in `dir` (none if it does not exist).
fn files(dir: &Path) -> Result<BTreeSet<PathBuf>> {
    if !dir.exists() {
        return Ok(BTreeSet::new());
    }
    let mut out = BTreeSet::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() {
            out.insert(path);
        }
    }
    Ok(out)
}

/// True for an artifact libFuzzer writes when it finds something.
fn is_finding(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    name.is_some_and(|n| {
        ["crash-", "timeout-", "oom-", "leak-"]
            .iter()
            .any(|p| n.starts_with(p))
    })
}

/// Copies the checked-in seeds into the working corpus (keeping what the
/// corpus already holds).
fn seed_corpus(root: &Path, target: &str) -> Result<PathBuf> {
    let corpus = root.join("fuzz/corpus").join(target);
    fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    for seed in files(&root.join("fuzz/seeds").join(target))? {
        let to = corpus.join(seed.file_name().expect("a file has a name"));
        if !to.exists() {
            fs::copy(&seed, &to).with_context(|| format!("copying {}", seed.display()))?;
        }
    }
    Ok(corpus)
}

/// True for libFuzzer's per-input progress lines, its recommended
/// dictionary and the sanitizer hooks it misses without a sanitizer: they
/// go to the log only.
fn is_noise(line: &str) -> bool {
    let progress = line.starts_with('#')
        && [
            " NEW ",
            " REDUCE ",
            " pulse ",
            "\tNEW ",
            "\tREDUCE ",
            "\tpulse ",
        ]
        .iter()
        .any(|w| line.contains(w));
    progress
        || line.starts_with('"')
        || line.starts_with("\tNEW_FUNC")
        || line.starts_with("WARNING: Failed to find function \"__sanitizer")
}

/// Runs one target for `opts.seconds` seconds.
fn run_target(root: &Path, target: &str, opts: &Options) -> Result<Stats> {
    let corpus = seed_corpus(root, target)?;
    let artifacts = root.join("fuzz/artifacts").join(target);
    let before = files(&artifacts)?;
    let logs = root.join("fuzz/target/xtask-logs");
    fs::create_dir_all(&logs)?;
    let log_path = logs.join(format!("{target}.log"));
    let mut log =
        fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
    println!(
        "== fuzzing {target} for {}s (full log: {})",
        opts.seconds,
        log_path.strip_prefix(root).unwrap_or(&log_path).display()
    );

    let mut child = nightly_cargo()
        .args(["fuzz", "run", target])
        .args(common_args(root, opts))
        .arg(&corpus)
        .arg("--")
        .arg(format!("-max_total_time={}", opts.seconds))
        .arg(format!("-dict={}", root.join("fuzz/mqtt.dict").display()))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECS}"))
        .arg("-print_final_stats=1")
        .current_dir(root)
        .stderr(Stdio::piped())
        .spawn()
        .context("running cargo +nightly fuzz run")?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading libFuzzer's output")?;
        writeln!(log, "{line}")?;
        if !is_noise(&line) {
            eprintln!("{line}");
        }
        lines.push(line);
    }
    let status = child.wait()?;

    let findings: Vec<PathBuf> = files(&artifacts)?
        .difference(&before)
        .filter(|p| is_finding(p))
        .cloned()
        .collect();
    let mut stats = parse_stats(target, &lines);
    stats.failure = (!status.success() && findings.is_empty()).then(|| {
        format!(
            "cargo fuzz run exited with {status}; see {}",
            log_path.display()
        )
    });
    stats.findings = findings;
    Ok(stats)
}

/// The number after `key` in `line`, up to the first non-digit.
fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Reads libFuzzer's final statistics (`-print_final_stats=1`), its `Done`
/// line and its last status line (`#N ... corp: N/...`).
pub(crate) fn parse_stats(target: &str, lines: &[String]) -> Stats {
    let mut stats = Stats {
        target: target.to_owned(),
        ..Stats::default()
    };
    let mut last_status_execs = None;
    for line in lines {
        if let Some(n) = number_after(line, "stat::number_of_executed_units:") {
            stats.executions = Some(n);
        } else if let Some(n) = number_after(line, "stat::average_exec_per_sec:") {
            stats.execs_per_sec = Some(n);
        } else if line.starts_with("Done ") {
            stats.seconds = number_after(line, " runs in ");
            stats.executions = stats.executions.or(number_after(line, "Done "));
        } else if line.starts_with('#') {
            if let Some(n) = number_after(line, "corp:") {
                stats.corpus = Some(n);
            }
            last_status_execs = number_after(line, "#");
        }
    }
    stats.executions = stats.executions.or(last_status_execs);
    stats
}

/// Formats an optional number.
fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "-".to_owned(), |n| n.to_string())
}

/// The summary table.
pub(crate) fn table(all: &[Stats]) -> String {
    let header = [
        "target",
        "seconds",
        "executions",
        "exec/s",
        "corpus",
        "findings",
    ];
    let rows: Vec<[String; 6]> = all
        .iter()
        .map(|s| {
            [
                s.target.clone(),
                opt(s.seconds),
                opt(s.executions),
                opt(s.execs_per_sec),
                opt(s.corpus),
                if s.failure.is_some() {
                    "failed".to_owned()
                } else {
                    s.findings.len().to_string()
                },
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].len())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{c:<w$}", w = widths[0]));
            } else {
                out.push_str(&format!("  {c:>w$}", w = widths[i]));
            }
        }
        out.push('\n');
    };
    line(&header);
    for r in &rows {
        line(&r.each_ref().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_final_stats() {
        let out: Vec<String> = [
            "INFO: Seed: 1234",
            "#2\tINITED cov: 10 ft: 11 corp: 5/120b exec/s: 0 rss: 30Mb",
            "#1024\tNEW    cov: 99 ft: 150 corp: 40/1200b lim: 4 exec/s: 512 rss: 40Mb L: 3/4 MS: 1",
            "#283751\tDONE   cov: 1234 ft: 2345 corp: 1284/52Kb lim: 4096 exec/s: 25795 rss: 464Mb",
            "Done 283751 runs in 11 second(s)",
            "stat::number_of_executed_units: 283751",
            "stat::average_exec_per_sec:     25795",
            "stat::new_units_added:          1284",
        ]
        .map(String::from)
        .to_vec();
        let s = parse_stats("decode_v5", &out);
        assert_eq!(s.seconds, Some(11));
        assert_eq!(s.executions, Some(283_751));
        assert_eq!(s.execs_per_sec, Some(25_795));
        assert_eq!(s.corpus, Some(1284));
    }

    #[test]
    fn falls_back_to_the_last_status_line_after_a_crash() {
        let out: Vec<String> = [
            "#4096\tpulse  cov: 50 ft: 60 corp: 30/900b lim: 43 exec/s: 2048 rss: 40Mb",
            "==1== ERROR: libFuzzer: deadly signal",
        ]
        .map(String::from)
        .to_vec();
        let s = parse_stats("roundtrip", &out);
        assert_eq!(
            (s.executions, s.corpus, s.seconds),
            (Some(4096), Some(30), None)
        );
    }

    #[test]
    fn the_table_lines_up() {
        let t = table(&[Stats {
            target: "decode_v311".into(),
            seconds: Some(60),
            executions: Some(1_000_000),
            execs_per_sec: Some(16_666),
            corpus: Some(900),
            ..Stats::default()
        }]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), lines[1].len());
        assert!(lines[1].ends_with(" 0"));
    }

    #[test]
    fn artifacts_that_count_as_findings() {
        assert!(is_finding(Path::new("fuzz/artifacts/x/crash-abc")));
        assert!(is_finding(Path::new("timeout-1")));
        assert!(!is_finding(Path::new("slow-unit-1")));
    }

    #[test]
    fn the_target_list_matches_fuzz_cargo_toml() {
        let manifest =
            fs::read_to_string(crate::workspace::root().join("fuzz/Cargo.toml")).unwrap();
        let bins: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "mqtt-codec-fuzz")
            .collect();
        assert_eq!(bins, CODEC_TARGETS);
        for t in CODEC_TARGETS {
            assert!(
                crate::workspace::root().join("fuzz/seeds").join(t).is_dir(),
                "{t}"
            );
        }
    }
}
