//! `mqtt-harness check`: the exit codes (0 clean, 1 violations, 2
//! malformed or unreadable) and both report forms, on the real binary.

use std::path::Path;
use std::process::{Command, Output};

use mqtt_testkit::TempDir;

const HEADER: &str = r#"{"ev":"meta","format":"mqtt-harness-trace/1","version":"5.0","target":"ref","durable":false}"#;

fn trace(received: bool) -> String {
    let mut lines = vec![
        HEADER.to_owned(),
        r#"{"t_ms":0,"ev":"connack","client":"s","clean_start":false,"session_expiry":60,"session_present":false}"#.to_owned(),
        r#"{"t_ms":1,"ev":"subscribed","client":"s","filter":"t/#","qos":1}"#.to_owned(),
        r#"{"t_ms":2,"ev":"connack","client":"p","clean_start":true,"session_expiry":0,"session_present":false}"#.to_owned(),
        r#"{"t_ms":3,"ev":"publish","client":"p","msg":"p/0","topic":"t/a","qos":1,"dup":false}"#.to_owned(),
        r#"{"t_ms":4,"ev":"acked","client":"p","msg":"p/0","qos":1}"#.to_owned(),
    ];
    if received {
        lines.push(
            r#"{"t_ms":5,"ev":"received","client":"s","msg":"p/0","topic":"t/a","qos":1,"dup":false}"#
                .to_owned(),
        );
    }
    lines.push(r#"{"t_ms":9,"ev":"end"}"#.to_owned());
    lines.join("\n") + "\n"
}

fn run(path: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mqtt-harness"))
        .arg("check")
        .arg(path)
        .args(extra)
        .output()
        .expect("the binary runs")
}

#[test]
fn exit_codes_and_reports() {
    let dir = TempDir::new("check-cli");
    let clean = dir.path().join("clean.jsonl");
    let lost = dir.path().join("lost.jsonl");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&clean, trace(true)).unwrap();
    std::fs::write(&lost, trace(false)).unwrap();
    std::fs::write(&bad, format!("{HEADER}\n{{\"t_ms\":1,\"ev\":\"nope\"}}\n")).unwrap();

    let out = run(&clean, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("no violations"));

    let out = run(&lost, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL acked-then-lost"), "{text}");
    // The excerpt, with its line numbers and text.
    assert!(
        text.contains("       6 | {\"t_ms\":4,\"ev\":\"acked\""),
        "{text}"
    );

    let out = run(&lost, &["--json", "--durable"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"schema\": \"check/1\""), "{text}");
    assert!(text.contains("\"rule\": \"acked-then-lost\""), "{text}");
    assert!(text.contains("\"durable\": true"), "{text}");

    let out = run(&bad, &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{out:?}"
    );

    let out = run(&dir.path().join("absent.jsonl"), &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
