//! `mqtt-harness check TRACE.jsonl`: a fault run's trace checked against
//! the model's session and QoS rules (`mqtt_model::checker`). Exit 0: no
//! violation of severity fail; 1: some; 2: the trace is unreadable or
//! malformed.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mqtt_model::checker::{CheckOptions, Checker, Report, TraceError};

/// Violations printed per rule in the human report (the JSON lists up to
/// the checker's own limit).
const SHOWN_PER_RULE: usize = 20;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The trace (JSONL, `mqtt-harness-trace/1`) a fault run wrote.
    trace: PathBuf,
    /// Check durability whatever the header's `durable` says: sessions and
    /// messages lost across a broker restart fail (durability class).
    #[arg(long)]
    durable: bool,
    /// The report as JSON (`"schema": "check/1"`) on stdout.
    #[arg(long)]
    json: bool,
}

/// Why the trace could not be checked (exit 2).
#[derive(Debug)]
enum Unreadable {
    Io(String),
    Trace(TraceError),
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Io(s) => f.write_str(s),
            Unreadable::Trace(e) => write!(f, "{e}"),
        }
    }
}

/// Calls `each(line number, text)` for every line of `path`, until it
/// answers `false`.
fn for_each_line(
    path: &Path,
    mut each: impl FnMut(usize, &str) -> Result<bool, Unreadable>,
) -> Result<(), Unreadable> {
    let file = File::open(path).map_err(|e| Unreadable::Io(format!("{}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut n = 0usize;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Unreadable::Io(format!("{}: {e}", path.display())))?;
        if read == 0 {
            return Ok(());
        }
        n += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| {
            Unreadable::Trace(TraceError {
                line: n,
                what: format!("not UTF-8: {e}"),
            })
        })?;
        if !each(n, text.trim_end_matches(['\n', '\r']))? {
            return Ok(());
        }
    }
}

/// Two passes over the file: the check, then the text of the excerpts'
/// lines (memory stays proportional to messages, not to the file).
fn check(args: &CheckArgs) -> Result<Report, Unreadable> {
    let opts = CheckOptions {
        durable: args.durable.then_some(true),
        ..CheckOptions::default()
    };
    let mut checker = Checker::new(opts);
    for_each_line(&args.trace, |_, text| {
        checker.push_line(text).map_err(Unreadable::Trace)?;
        Ok(true)
    })?;
    let mut report = checker.finish().map_err(Unreadable::Trace)?;
    let wanted = report.excerpt_lines();
    if !wanted.is_empty() {
        let mut texts: Vec<(usize, String)> = Vec::with_capacity(wanted.len());
        let last = wanted.iter().next_back().copied().unwrap_or(0);
        // The file was read once already; stop after the last line wanted.
        for_each_line(&args.trace, |n, text| {
            if wanted.contains(&n) {
                texts.push((n, text.to_owned()));
            }
            Ok(n < last)
        })?;
        report.fill_text(texts.iter().map(|(n, t)| (*n, t.as_str())));
    }
    Ok(report)
}

pub(crate) fn run(args: CheckArgs) -> ExitCode {
    match check(&args) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text(SHOWN_PER_RULE));
            }
            if report.has_failures() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("mqtt-harness check: {}: {e}", args.trace.display());
            ExitCode::from(2)
        }
    }
}
