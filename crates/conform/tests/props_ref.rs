//! Property tests against the reference server: no divergence on a
//! correct broker, a divergence through a faulty proxy, shrunk and written
//! as a scenario that replays (passes on the reference server, fails
//! through the fault).

use std::path::{Path, PathBuf};

use mqtt_conform::props::{run_props, run_props_at, PropsOptions};
use mqtt_conform::runner::{run_scenario, RunBindings, RunSettings, Verdict};
use mqtt_conform::scenario::load::load_file;
use mqtt_conform::selftest::{Fault, FaultProxy};
use mqtt_conform::target::Target;

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
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_puback_is_found_shrunk_and_replayable() {
    let target = Target::reference().await.unwrap();
    let upstream = target.endpoint.authority().parse().unwrap();
    let proxy = FaultProxy::start(upstream, Some(Fault::LostPuback))
        .await
        .unwrap();
    let o = PropsOptions {
        cases: 40,
        seed: 3,
        exec: mqtt_conform::props::ExecSettings {
            wait: std::time::Duration::from_millis(500),
            ..Default::default()
        },
        ..PropsOptions::default()
    };
    let profile = mqtt_conform::props::profile(&target, &o);
    let reports = std::env::temp_dir().join(format!("props-fault-test-{}", std::process::id()));
    let r = run_props_at(
        "faulty",
        &proxy.endpoint(),
        &profile,
        None,
        &o,
        Some((&scenarios(), &reports)),
        |_| {},
    )
    .await;
    assert!(r.diverged > 0, "{}", r.text());
    let found = r
        .found
        .iter()
        .find(|f| f.rule == "publish-ack")
        .unwrap_or_else(|| panic!("{}", r.text()));
    let (ops, _) = found.shrunk.clone().expect("shrunk");
    assert!(ops <= 3, "shrunk to {ops}: {}", r.text());
    // The counterexample loads, passes against the reference server and
    // fails through the fault.
    let file = found.file.clone().expect("written");
    let known = mqtt_conform::catalog::known_ids(&scenarios()).unwrap();
    let s = load_file(&file, "counterexample".into(), Some(&known)).unwrap();
    let v = s.scenario.versions[0];
    let settings = RunSettings {
        default_wait: std::time::Duration::from_millis(800),
        ..RunSettings::default()
    };
    let ok = run_scenario(&s, v, &target.endpoint, RunBindings::new(1, 99), &settings).await;
    assert_eq!(ok.verdict, Verdict::Pass, "{ok:?}");
    let bad = run_scenario(&s, v, &proxy.endpoint(), RunBindings::new(2, 99), &settings).await;
    assert_eq!(bad.verdict, Verdict::Fail, "{bad:?}");
    proxy.stop().await;
    target.stop().await;
}

#[test]
fn a_seed_replays_the_same_cases() {
    let profile = mqtt_conform::props::Profile {
        versions: vec![mqtt_conform::scenario::VersionTag::V5],
        capabilities: mqtt_conform::target::ALL_CAPABILITIES
            .iter()
            .copied()
            .collect(),
        max_ops: 16,
    };
    let a: Vec<_> = (0..20)
        .map(|i| mqtt_conform::props::generate(&profile, 9, i))
        .collect();
    let b: Vec<_> = (0..20)
        .map(|i| mqtt_conform::props::generate(&profile, 9, i))
        .collect();
    let c: Vec<_> = (0..20)
        .map(|i| mqtt_conform::props::generate(&profile, 10, i))
        .collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}
