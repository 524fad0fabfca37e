//! A short live fuzzing campaign against the reference server: it runs,
//! exercises the packet types of the library, and the oracles find nothing
//! in a broker that keeps the specification (a finding here is either a
//! reference-server bug or an oracle that rules out legal behaviour).

use std::time::Duration;

use mqtt_livefuzz::{run, CampaignOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_campaign_against_ref_finds_nothing() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::temp_dir().join(format!("mqtt-fuzz-test-{}", std::process::id()));
    let opts = CampaignOptions {
        targets: vec!["ref".into()],
        duration: Duration::from_secs(4),
        max_cases: Some(2_000),
        seed: 7,
        concurrency: 16,
        scenarios: root.join("scenarios"),
        targets_file: root.join("targets.yaml"),
        work: out.join("work"),
        out: out.clone(),
        ..CampaignOptions::default()
    };
    let report = run(&opts).await.expect("the campaign runs");
    assert!(report.cases > 50, "only {} cases", report.cases);
    for t in ["Connect", "Subscribe", "Publish"] {
        assert!(
            report.sent.contains_key(t),
            "no {t} sent: {:?}",
            report.sent
        );
    }
    assert!(
        report.received.contains_key("ConnAck"),
        "{:?}",
        report.received
    );
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(out.join("ref/report.md").is_file());
    let _ = std::fs::remove_dir_all(&out);
}
