//! `mqtt-harness load` with a `faults:` schedule, on the real binary: the
//! smoke profile (two kills, one partition) on the durable reference server
//! loses nothing and duplicates no QoS 2 message, and its trace checks
//! clean with durability on; on the in-memory reference server the kills
//! lose every persistent session, which the report says and the checker
//! finds once durability is asked for.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mqtt_testkit::TempDir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(target: &str, reports: &Path, trace: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-harness"))
        .current_dir(root())
        .args(["load", "--profile", "scenarios/load/faults-smoke.yaml"])
        .args(["--target", target, "--quiet", "--reports"])
        .arg(reports)
        .arg("--trace")
        .arg(trace)
        .output()
        .expect("the binary runs")
}

fn check(trace: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-harness"))
        .arg("check")
        .arg(trace)
        .args(extra)
        .output()
        .expect("the binary runs")
}

fn report(reports: &Path, target: &str) -> serde_json::Value {
    let path = reports.join(target).join("load").join("faults-smoke.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_durable_broker_keeps_every_acknowledged_message_through_kills_and_a_partition() {
    let dir = TempDir::new("load-faults-durable");
    let trace = dir.path().join("trace.jsonl");
    let out = load("ref-durable", dir.path(), &trace);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let r = report(dir.path(), "ref-durable");
    // Every fault of the schedule carried out: two kills, one partition.
    let faults = r["faults"].as_array().unwrap();
    let actions: Vec<&str> = faults
        .iter()
        .map(|f| f["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["kill_restart", "partition", "kill_restart"],
        "{said}"
    );
    assert!(faults.iter().all(|f| f["end_s"].is_number()), "{said}");
    assert_eq!(r["fault_errors"].as_array().unwrap().len(), 0, "{said}");
    // The faults were felt: connections lost and made again.
    assert!(
        r["counters"]["connections_lost"].as_u64().unwrap() > 0,
        "{said}"
    );
    assert!(r["counters"]["reconnects"].as_u64().unwrap() > 0, "{said}");
    // And nothing acknowledged was lost, no QoS 2 message came twice, no
    // session was forgotten.
    let qos = &r["accounting"]["qos"];
    assert!(qos[1]["expected"].as_u64().unwrap() > 0, "{said}");
    assert!(qos[2]["expected"].as_u64().unwrap() > 0, "{said}");
    assert_eq!(qos[1]["lost"], 0, "{said}");
    assert_eq!(qos[2]["lost"], 0, "{said}");
    assert_eq!(qos[2]["duplicated"], 0, "{said}");
    assert_eq!(r["counters"]["sessions_lost"], 0, "{said}");
    assert_eq!(r["verdict"]["delivery_ok"], true, "{said}");
    // What was in flight at each loss was sent again on the resumed
    // session (MQTT-4.4.0-1) and acknowledged in the end: nothing stays
    // unconfirmed.
    assert!(
        r["counters"]["retransmitted"].as_u64().unwrap() > 0,
        "{said}"
    );
    assert_eq!(r["accounting"]["unconfirmed"], 0, "{said}");
    // The trace says the same to the model's checker.
    let c = check(&trace, &["--durable"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    assert!(text(&c).contains("6 faults"), "{}", text(&c));
}

#[test]
fn an_in_memory_broker_loses_its_sessions_and_the_report_and_checker_say_so() {
    let dir = TempDir::new("load-faults-memory");
    let trace = dir.path().join("trace.jsonl");
    let out = load("ref", dir.path(), &trace);
    let said = text(&out);
    let r = report(dir.path(), "ref");
    // Ten clients on persistent sessions, two kills: the broker forgot them.
    let lost_sessions = r["counters"]["sessions_lost"].as_u64().unwrap();
    assert!(lost_sessions >= 10, "{said}");
    let notes = r["verdict"]["notes"].to_string();
    assert!(notes.contains("session(s) lost"), "{notes}");
    assert!(said.contains("sessions lost"), "{said}");
    // ref claims no durability: its trace checks clean as it is, and fails
    // once durability is asked for.
    let c = check(&trace, &[]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    let c = check(&trace, &["--durable"]);
    assert_eq!(c.status.code(), Some(1), "{}", text(&c));
    assert!(text(&c).contains("session-lost"), "{}", text(&c));
}
