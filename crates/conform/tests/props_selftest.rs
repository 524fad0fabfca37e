//! The property tests' self-check: a divergence through a faulty proxy
//! (a lost PUBACK) is found, shrunk and written as a scenario that replays
//! (passes on the reference server, fails through the fault).

use std::path::{Path, PathBuf};

use mqtt_conform::selftest::{Fault, FaultProxy};
use mqtt_props::{run_props_at, PropsOptions};
use mqtt_scenario::load::load_file;
use mqtt_scenario::runner::{run_scenario, RunBindings, RunSettings, Verdict};
use mqtt_targets::Target;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
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
        // The proxy's lost PUBACK is the fault under test. With the link
        // faults of the alphabet on, every shrink run also waits out stalls
        // and reconnects, and in CI the shrinker's time budget ended at 5
        // ops: what this test measures is the shrinker, so keep it to the
        // fault under test.
        faults: false,
        exec: mqtt_props::ExecSettings {
            wait: std::time::Duration::from_millis(500),
            ..Default::default()
        },
        ..PropsOptions::default()
    };
    let profile = mqtt_props::profile(&target, &o);
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
    let known = mqtt_scenario::catalog::known_ids(&scenarios()).unwrap();
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
