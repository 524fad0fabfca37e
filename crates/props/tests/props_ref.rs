//! Property tests against the reference server: no divergence on a
//! correct broker, and a seed replays the same cases. (A divergence found
//! through a faulty proxy is the self-check's test, in mqtt-conform.)

use std::path::{Path, PathBuf};

use mqtt_props::{run_props, PropsOptions};
use mqtt_targets::Target;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_server_never_diverges_from_the_model() {
    let target = Target::reference().await.unwrap();
    let o = PropsOptions {
        cases: 200,
        seed: 42,
        ..PropsOptions::default()
    };
    let reports = std::env::temp_dir().join("props-ref-test");
    let r = run_props(&target, &o, &scenarios(), &reports, |_| {}).await;
    target.stop().await;
    assert_eq!(r.cases, 200);
    assert!(r.operations > 200, "{}", r.text());
    assert_eq!((r.diverged, r.errors), (0, 0), "{}", r.text());
    // The fault alphabet ran: resets and stalls through the proxy, and
    // restarts of the in-memory server (which comes back empty).
    for f in ["reset", "stall", "restart"] {
        assert!(
            r.faults.get(f).copied().unwrap_or(0) > 0,
            "no {f}: {}",
            r.text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_durable_reference_server_keeps_its_state_across_restarts_as_the_model_does() {
    let dir = std::env::temp_dir().join(format!("props-ref-durable-{}", std::process::id()));
    let target = Target::reference_durable(&dir).await.unwrap();
    let o = PropsOptions {
        cases: 100,
        seed: 7,
        ..PropsOptions::default()
    };
    let reports = std::env::temp_dir().join("props-ref-durable-test");
    let r = run_props(&target, &o, &scenarios(), &reports, |_| {}).await;
    target.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((r.diverged, r.errors), (0, 0), "{}", r.text());
    assert!(
        r.faults.get("restart").copied().unwrap_or(0) > 0,
        "{}",
        r.text()
    );
}

#[test]
fn a_seed_replays_the_same_cases() {
    let profile = mqtt_props::Profile {
        versions: vec![mqtt_targets::VersionTag::V5],
        capabilities: mqtt_targets::ALL_CAPABILITIES.iter().copied().collect(),
        max_ops: 16,
        links: true,
        restart: Some(mqtt_props::case::RestartKind::KillVolatile),
    };
    let a: Vec<_> = (0..20)
        .map(|i| mqtt_props::generate(&profile, 9, i))
        .collect();
    let b: Vec<_> = (0..20)
        .map(|i| mqtt_props::generate(&profile, 9, i))
        .collect();
    let c: Vec<_> = (0..20)
        .map(|i| mqtt_props::generate(&profile, 10, i))
        .collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}
