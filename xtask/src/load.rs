//! `cargo xtask load ...`: load runs through `mqtt-harness load`, built in
//! release mode (a debug build generates far less load per CPU-second), and
//! `cargo xtask load schema`, which regenerates
//! scenarios/load/profile.schema.json, and `cargo xtask load persistence`,
//! the cost of persistence in one run: the same QoS 1 profile on `ref`,
//! `ref-durable` (`serve --data`, fsync always), `ref-durable-batch` (group
//! commit), `mosquitto` and `mosquitto-persist`, side by side in
//! reports/persistence.md.

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
    let status = crate::workspace::release_harness(root)
        .arg("load")
        .args(args)
        .status()?;
    Ok(crate::workspace::exit(status))
}

/// The targets of the persistence benchmark: each broker in memory and
/// with its durable state.
const PERSISTENCE_TARGETS: [&str; 5] = [
    "ref",
    "ref-durable",
    "ref-durable-batch",
    "mosquitto",
    "mosquitto-persist",
];

/// The profile it runs.
const PERSISTENCE_PROFILE: &str = "scenarios/load/persistence-qos1.yaml";

/// `cargo xtask load persistence [-- load options]`: the profile on each
/// target, one after the other, then a table of achieved QoS 1 throughput,
/// latency and losses. Exit status: failure when a target gave no report or
/// its run failed (a QoS 1 loss fails `load`).
fn persistence(root: &Path, extra: &[String]) -> anyhow::Result<ExitCode> {
    use anyhow::Context as _;
    let reports = root.join("reports");
    crate::workspace::build_release_harness(root)?;
    let fsyncs = fsync_rate(&reports.join("work"));
    let load = std::fs::read_to_string("/proc/loadavg").ok();
    let mut rows = Vec::new();
    for target in PERSISTENCE_TARGETS {
        eprintln!("persistence: {target}");
        let json = reports
            .join(target)
            .join("load")
            .join("persistence-qos1.json");
        crate::workspace::remove_stale(&json)?;
        let status = crate::workspace::release_harness(root)
            .arg("load")
            .args(["-p", PERSISTENCE_PROFILE, "-t", target, "--quiet"])
            .args(extra)
            .status()?;
        let row = match std::fs::read_to_string(&json) {
            Ok(text) => {
                let r: serde_json::Value =
                    serde_json::from_str(&text).with_context(|| json.display().to_string())?;
                Row::of(target, &r, status.success())
            }
            Err(e) => {
                eprintln!(
                    "persistence: {target}: no report at {} ({e}); exit {status}",
                    json.display()
                );
                Row::missing(target)
            }
        };
        rows.push(row);
    }
    let md = table(&rows, fsyncs, load.as_deref());
    print!("{md}");
    let out = reports.join("persistence.md");
    std::fs::write(&out, &md).with_context(|| out.display().to_string())?;
    eprintln!("report: {}", out.display());
    Ok(if rows.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Percentiles of one latency histogram of a report.
#[derive(Default)]
struct Pcts {
    p50: Option<f64>,
    p99: Option<f64>,
}

impl Pcts {
    fn of(r: &serde_json::Value, tag: &str) -> Pcts {
        let l = &r["latency"][tag];
        Pcts {
            p50: l["p50_ms"].as_f64(),
            p99: l["p99_ms"].as_f64(),
        }
    }
}

/// One target's figures.
#[derive(Default)]
struct Row {
    target: &'static str,
    offered: Option<f64>,
    /// Acknowledged and delivered messages per second over the whole run
    /// (drain included): what a broker that falls behind actually carries.
    acked: Option<f64>,
    delivered: Option<f64>,
    /// The whole run, seconds.
    wall: Option<f64>,
    /// QoS 1 messages owed to subscribers, and of those never delivered.
    expected: Option<u64>,
    lost: Option<u64>,
    duplicated: Option<u64>,
    /// Sent but never acknowledged by the end of the run.
    unconfirmed: Option<u64>,
    puback: Pcts,
    e2e: Pcts,
    raw: Pcts,
    ok: bool,
}

impl Row {
    fn of(target: &'static str, r: &serde_json::Value, ok: bool) -> Row {
        let qos1 = &r["accounting"]["qos"][1];
        let wall = r["wall_s"].as_f64().filter(|w| *w > 0.0);
        let per_s = |n: &serde_json::Value| n.as_f64().zip(wall).map(|(n, w)| n / w);
        Row {
            target,
            offered: r["intended_rate"].as_f64(),
            acked: per_s(&r["counters"]["acked"]),
            delivered: per_s(&r["counters"]["delivered"]),
            wall,
            expected: qos1["expected"].as_u64(),
            lost: qos1["lost"].as_u64(),
            duplicated: qos1["duplicated"].as_u64(),
            unconfirmed: r["accounting"]["unconfirmed"].as_u64(),
            puback: Pcts::of(r, "puback.corrected"),
            e2e: Pcts::of(r, "e2e.corrected.qos1"),
            raw: Pcts::of(r, "e2e.raw.qos1"),
            ok: ok && r["verdict"]["delivery_ok"].as_bool().unwrap_or(false),
        }
    }

    /// A target whose run left no report.
    fn missing(target: &'static str) -> Row {
        Row {
            target,
            ..Row::default()
        }
    }
}

/// fsyncs per second on the disk under `dir` (4 KiB rewritten and
/// `sync_data`'d 200 times): what bounds a broker that syncs each input.
fn fsync_rate(dir: &Path) -> Option<f64> {
    use std::io::{Seek as _, Write as _};
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join("fsync-probe");
    let rate = (|| -> std::io::Result<f64> {
        let mut f = std::fs::File::create(&path)?;
        let block = [0u8; 4096];
        let n = 200;
        let start = std::time::Instant::now();
        for _ in 0..n {
            f.rewind()?;
            f.write_all(&block)?;
            f.sync_data()?;
        }
        Ok(f64::from(n) / start.elapsed().as_secs_f64())
    })();
    let _ = std::fs::remove_file(&path);
    rate.ok()
}

fn table(rows: &[Row], fsyncs: Option<f64>, loadavg: Option<&str>) -> String {
    use std::fmt::Write as _;
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let rate = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    let n = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    let mut s = String::new();
    let _ = writeln!(s, "# Persistence cost: {PERSISTENCE_PROFILE}\n");
    let _ = writeln!(
        s,
        "QoS 1, the same offered rate on each target (`cargo xtask load persistence`, release build). \
         Latency in ms, corrected for coordinated omission (from the intended send time); \
         raw from the actual send. Lost: QoS 1 messages owed to a subscriber and never delivered, \
         of those owed; unacked: sent without a PUBACK by the end of the run. \
         Acked and delivered msg/s are over the whole run (drain included): the publishers are \
         open loop, so a broker that falls behind works through the backlog in the drain, which \
         lasts until every acknowledged message arrived.\n"
    );
    let _ = writeln!(
        s,
        "| target | offered msg/s | acked msg/s | delivered msg/s | run s | PUBACK p50 / p99 | end-to-end p50 / p99 | raw end-to-end p50 / p99 | lost / owed | duplicated | unacked | delivery |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} / {} | {} / {} | {} / {} | {} / {} | {} | {} | {} |",
            r.target,
            rate(r.offered),
            rate(r.acked),
            rate(r.delivered),
            r.wall.map_or("-".to_owned(), |w| format!("{w:.1}")),
            ms(r.puback.p50),
            ms(r.puback.p99),
            ms(r.e2e.p50),
            ms(r.e2e.p99),
            ms(r.raw.p50),
            ms(r.raw.p99),
            n(r.lost),
            n(r.expected),
            n(r.duplicated),
            n(r.unconfirmed),
            if r.ok { "ok" } else { "FAILED" }
        );
    }
    let _ = writeln!(
        s,
        "\nWhat each target writes before its PUBACK: `ref` nothing; `ref-durable` (`serve --data`, \
         fsync always) commits and fsyncs every input (the PUBLISH, then the subscriber's PUBACK) \
         before its outputs, so its rate is bound by the disk's fsyncs; `ref-durable-batch` \
         (`--fsync batch`) commits and fsyncs each batch of inputs the broker took together \
         before any of their outputs: the same promise, one fsync per batch; `mosquitto` nothing; \
         `mosquitto-persist` nothing either: it saves its whole state every second \
         (`autosave_interval 1`) and at a clean stop, so it costs no latency and a SIGKILL loses up \
         to the last second."
    );
    if let Some(l) = loadavg.and_then(|l| l.split_whitespace().next()) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let _ = writeln!(
            s,
            "\nLoad average (1 min) when the runs began: {l}, on {cores} cores: the figures are only as quiet as the machine was."
        );
    }
    if let Some(f) = fsyncs {
        let _ = writeln!(
            s,
            "\nThis disk (reports/work), measured before the runs: {f:.0} fsyncs/s (4 KiB rewritten and synced 200 times)."
        );
    }
    s
}
