//! `cargo xtask load faults [--long] [--targets a,b] [-- load options]`:
//! the faults smoke profile (two kills and a partition while QoS 1 and
//! QoS 2 flow on persistent sessions; with `--long`, the five-minute
//! profile of ten kills and ten partitions) on each broker, its trace
//! checked by the model's checker, and one table of what each broker kept:
//! reports/faults.md (reports/faults-long.md). Brokers that speak 3.1.1
//! only run the profile's 3.1.1 twin. A broker
//! that is not installed gets a row saying so (`cargo xtask brokers
//! install` installs it), not a silent gap.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

/// The brokers of the table, each with the profile of the versions it
/// speaks.
const TARGETS: [(&str, &str); 10] = [
    ("ref", V5),
    ("ref-durable", V5),
    ("mosquitto", V5),
    ("mosquitto-persist", V5),
    ("rmqtt", V5),
    ("rmqtt-persist", V5),
    ("rumqttd-v5", V5),
    ("rumqttd", V3),
    ("aedes", V3),
    ("amqtt", V3),
];
const V5: &str = "scenarios/load/faults-smoke.yaml";
const V3: &str = "scenarios/load/faults-smoke-v3.yaml";
const LONG_V5: &str = "scenarios/load/faults-kill-partition.yaml";
const LONG_V3: &str = "scenarios/load/faults-kill-partition-v3.yaml";

/// Runs the table; `args` may start with `--long`, then `--targets a,b`.
pub(crate) fn run(root: &Path, args: &[String]) -> anyhow::Result<ExitCode> {
    let (long, args) = match args {
        [flag, rest @ ..] if flag == "--long" => (true, rest),
        _ => (false, args),
    };
    let (only, extra): (Option<Vec<String>>, &[String]) = match args {
        [flag, list, rest @ ..] if flag == "--targets" => {
            (Some(list.split(',').map(str::to_owned).collect()), rest)
        }
        _ => (None, args),
    };
    let extra: Vec<&String> = extra.iter().filter(|a| *a != "--").collect();
    crate::workspace::build_release_harness(root)?;
    let harness = || crate::workspace::release_harness(root);
    let reports = root.join("reports");
    let mut rows = Vec::new();
    for (target, profile) in TARGETS {
        let profile = match (long, profile) {
            (false, p) => p,
            (true, V5) => LONG_V5,
            (true, _) => LONG_V3,
        };
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|t| t == target))
        {
            continue;
        }
        eprintln!("faults: {target}");
        let name = Path::new(profile)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("faults-smoke");
        let dir = reports.join(target).join("load");
        let json = dir.join(format!("{name}.json"));
        let trace = dir.join(format!("{name}.trace.jsonl"));
        crate::workspace::remove_stale(&json)?;
        crate::workspace::remove_stale(&trace)?;
        let out = harness()
            .args(["load", "-p", profile, "-t", target, "--quiet", "--trace"])
            .arg(&trace)
            .args(&extra)
            .output()?;
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        let row = match std::fs::read_to_string(&json) {
            Ok(text) => {
                let r: serde_json::Value =
                    serde_json::from_str(&text).with_context(|| json.display().to_string())?;
                let check = harness().arg("check").arg(&trace).output()?;
                Row::of(target, &r, check.status.code())
            }
            Err(_) => {
                let why = said
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("no report")
                    .to_owned();
                eprintln!("faults: {target}: no report: {why}");
                Row::missing(target, why)
            }
        };
        rows.push(row);
    }
    let md = table(&rows, long);
    print!("{md}");
    let out = reports.join(if long { "faults-long.md" } else { "faults.md" });
    std::fs::write(&out, &md).with_context(|| out.display().to_string())?;
    eprintln!("report: {}", out.display());
    Ok(if rows.iter().all(|r| r.why.is_none()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One broker's figures.
struct Row {
    target: &'static str,
    cells: Vec<String>,
    why: Option<String>,
}

impl Row {
    fn of(target: &'static str, r: &serde_json::Value, check: Option<i32>) -> Row {
        let n = |v: &serde_json::Value| v.as_u64().map_or("-".into(), |n| n.to_string());
        let a = &r["accounting"];
        let c = &r["counters"];
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
        let worst = r["faults"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["recovery_s"].as_f64())
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            .map(|s| s * 1000.0);
        let not_done = r["fault_errors"].as_array().map_or(0, Vec::len);
        Row {
            target,
            cells: vec![
                r["version"].as_str().unwrap_or("-").to_owned(),
                format!(
                    "{}{}",
                    r["faults"].as_array().map_or(0, Vec::len),
                    if not_done > 0 {
                        format!(" ({not_done} not carried out)")
                    } else {
                        String::new()
                    }
                ),
                n(&c["sent"]),
                n(&a["qos"][1]["lost"]),
                n(&a["qos"][2]["lost"]),
                n(&a["unconfirmed"]),
                n(&a["qos"][1]["duplicated"]),
                n(&a["qos"][2]["duplicated"]),
                format!(
                    "{} / {}",
                    n(&a["qos"][1]["out_of_order"]),
                    n(&a["qos"][2]["out_of_order"])
                ),
                n(&c["sessions_lost"]),
                n(&c["retransmitted"]),
                ms(r["latency"]["reconnect"]["p99_ms"].as_f64()),
                ms(worst),
                match check {
                    Some(0) => "clean".into(),
                    Some(1) => "violations".into(),
                    _ => "unreadable".into(),
                },
            ],
            why: None,
        }
    }

    fn missing(target: &'static str, why: String) -> Row {
        Row {
            target,
            cells: Vec::new(),
            why: Some(why),
        }
    }
}

const HEADERS: [&str; 14] = [
    "version",
    "faults",
    "sent",
    "acked then lost QoS 1",
    "acked then lost QoS 2",
    "never acked",
    "dup QoS 1 (allowed)",
    "dup QoS 2",
    "out of order QoS 1 / 2",
    "sessions lost",
    "resent with DUP",
    "reconnect p99 (ms)",
    "worst recovery (ms)",
    "checker",
];

fn table(rows: &[Row], long: bool) -> String {
    let what = if long {
        "`cargo xtask load faults --long`: `scenarios/load/faults-kill-partition.yaml` (MQTT 5.0; brokers that \
speak 3.1.1 only run `faults-kill-partition-v3.yaml`): 10 QoS 1 and 10 QoS 2 publishers at 40 msg/s for \
5 minutes, 10 QoS 2 subscribers (one per publisher pair), all on persistent sessions; the broker killed (SIGKILL, \
down 1 s) every 30 s from 15 s, ten times, and 20 % of the clients partitioned for 5 s every 30 s from \
22 s, ten times."
    } else {
        "`cargo xtask load faults`: `scenarios/load/faults-smoke.yaml` (MQTT 5.0; brokers that \
speak 3.1.1 only run `faults-smoke-v3.yaml`): 4 QoS 1 and 4 QoS 2 publishers at 25 msg/s, 2 QoS 2 \
subscribers of everything, all on persistent sessions; the broker killed (SIGKILL, down 1 s) at 4 s \
and 14 s, half the clients partitioned at 8 s for 3 s."
    };
    let mut s = format!(
        "# Faults: what each broker kept\n\nWritten by {what} *Acked then lost*: the broker acknowledged \
(PUBACK, PUBREC) and a subscriber never got it. *Never acked*: sent, never acknowledged (not \
judged). *Sessions lost*: Session Present 0 on a reconnection that should have resumed. *Checker*: \
`mqtt-harness check` on the run's trace (durability judged only where the target claims it). A \
broker without durability is expected to lose sessions and messages to a kill: the table says how \
much, not that it is wrong.\n\n"
    );
    s.push_str("| target | ");
    s.push_str(&HEADERS.join(" | "));
    s.push_str(" |\n|---|");
    s.push_str(&"---|".repeat(HEADERS.len()));
    s.push('\n');
    for r in rows {
        match &r.why {
            None => s.push_str(&format!("| `{}` | {} |\n", r.target, r.cells.join(" | "))),
            Some(why) => s.push_str(&format!(
                "| `{}` | not run: {} |{}\n",
                r.target,
                why.replace('|', "\\|"),
                " |".repeat(HEADERS.len() - 1)
            )),
        }
    }
    s
}
