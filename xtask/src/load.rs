//! `cargo xtask load ...`: load runs through `mqtt-harness load`, built in
//! release mode (a debug build generates far less load per CPU-second), and
//! `cargo xtask load schema`, which regenerates
//! scenarios/load/profile.schema.json, and `cargo xtask load persistence`,
//! the cost of persistence in one run: the same QoS 1 profile on `ref` and
//! `ref-durable` (`serve --data`, fsync always), `mosquitto` and
//! `mosquitto-persist`, side by side in reports/persistence.md.

use std::path::Path;
use std::process::ExitCode;

/// Runs `mqtt-harness load <args>` in release mode, or regenerates the
/// profile schema for `schema`.
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<ExitCode> {
    if args.first().map(String::as_str) == Some("schema") {
        let status = std::process::Command::new(crate::workspace::cargo())
            .args([
                "run",
                "-q",
                "-p",
                "mqtt-swarm",
                "--example",
                "write_load_schema",
            ])
            .current_dir(root)
            .status()?;
        return Ok(crate::workspace::exit(status));
    }
    if args.first().map(String::as_str) == Some("persistence") {
        return persistence(root, &args[1..]);
    }
    let status = std::process::Command::new(crate::workspace::cargo())
        .args(["run", "-q", "--release", "-p", "mqtt-harness", "--", "load"])
        .args(args)
        .current_dir(root)
        .status()?;
    Ok(crate::workspace::exit(status))
}

/// The targets of the persistence benchmark: each broker in memory and
/// with its durable state.
const PERSISTENCE_TARGETS: [&str; 4] = ["ref", "ref-durable", "mosquitto", "mosquitto-persist"];

/// The profile it runs.
const PERSISTENCE_PROFILE: &str = "scenarios/load/persistence-qos1.yaml";

/// `cargo xtask load persistence [-- load options]`: the profile on each
/// target, one after the other, then a table of achieved QoS 1 throughput
/// and latency.
fn persistence(root: &Path, extra: &[String]) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let reports = root.join("reports");
    let mut rows = Vec::new();
    for target in PERSISTENCE_TARGETS {
        eprintln!("persistence: {target}");
        let status = std::process::Command::new(crate::workspace::cargo())
            .args(["run", "-q", "--release", "-p", "mqtt-harness", "--", "load"])
            .args(["-p", PERSISTENCE_PROFILE, "-t", target, "--quiet"])
            .args(extra)
            .current_dir(root)
            .status()?;
        let json = reports
            .join(target)
            .join("load")
            .join("persistence-qos1.json");
        let text = std::fs::read_to_string(&json)
            .with_context(|| format!("{target}: no report at {}", json.display()))?;
        let r: serde_json::Value =
            serde_json::from_str(&text).with_context(|| json.display().to_string())?;
        rows.push(Row::of(target, &r, status.success()));
    }
    let md = table(&rows);
    print!("{md}");
    let out = reports.join("persistence.md");
    std::fs::write(&out, &md).with_context(|| out.display().to_string())?;
    eprintln!("report: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// One target's figures.
struct Row {
    target: &'static str,
    offered: f64,
    sent: f64,
    delivered: f64,
    puback_p99: Option<f64>,
    e2e_p99: Option<f64>,
    raw_p99: Option<f64>,
    ok: bool,
}

impl Row {
    fn of(target: &'static str, r: &serde_json::Value, ok: bool) -> Row {
        let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
        let p99 = |tag: &str| r["latency"][tag]["p99_ms"].as_f64();
        Row {
            target,
            offered: f(&r["intended_rate"]),
            sent: f(&r["sent_per_s"]),
            delivered: f(&r["delivered_per_s"]),
            puback_p99: p99("puback.corrected"),
            e2e_p99: p99("e2e.corrected.qos1"),
            raw_p99: p99("e2e.raw.qos1"),
            ok: ok && r["verdict"]["delivery_ok"].as_bool().unwrap_or(false),
        }
    }
}

fn table(rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let mut s = String::new();
    let _ = writeln!(s, "# Persistence cost: {PERSISTENCE_PROFILE}\n");
    let _ = writeln!(
        s,
        "QoS 1, the same offered rate on each target; latency corrected for coordinated omission (from the intended send time), raw from the actual send.\n"
    );
    let _ = writeln!(
        s,
        "| target | offered msg/s | sent msg/s | delivered msg/s | PUBACK p99 ms | end-to-end p99 ms | raw end-to-end p99 ms | delivery |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} |",
            r.target,
            r.offered,
            r.sent,
            r.delivered,
            ms(r.puback_p99),
            ms(r.e2e_p99),
            ms(r.raw_p99),
            if r.ok { "ok" } else { "FAILED" }
        );
    }
    s
}
