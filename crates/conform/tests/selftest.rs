//! The self-check's fault-injecting proxy: without a fault it changes
//! nothing (every run that passes against the reference server passes
//! through it), and with a fault the scenarios written for the broken rule
//! catch it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mqtt_conform::selftest::{passing, run_routes, Fault, Route};
use mqtt_scenario::load::{load_file, KnownIds, LoadedScenario};
use mqtt_scenario::runner::{RunSettings, ScenarioRun, Verdict};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn known() -> KnownIds {
    let root = root();
    mqtt_scenario::catalog::known_ids(&root).unwrap()
}

fn describe(r: &ScenarioRun) -> String {
    let e = r.evidence.as_ref().map_or(String::new(), |e| {
        format!(
            "\n    step {} {}: expected {}\n    seen {}",
            e.step, e.keyword, e.expected, e.seen
        )
    });
    format!("  {} [{}] {:?}{e}", r.id, r.version, r.verdict)
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_fault_the_proxy_is_transparent() {
    let scenarios = mqtt_scenario::library::load_checked(&root()).unwrap_or_else(|e| panic!("{e}"));
    let settings = RunSettings {
        default_wait: Duration::from_secs(10),
        ..RunSettings::default()
    };
    let routes = run_routes(
        &scenarios,
        &[Route::Direct, Route::Proxy(None)],
        &settings,
        16,
        |_| {},
    )
    .await
    .unwrap();
    let (direct, proxied) = (&routes[0], &routes[1]);
    assert_eq!(direct.runs.len(), proxied.runs.len());
    assert!(
        proxied.connections > 0,
        "no connection went through the proxy"
    );
    assert_eq!(
        proxied.triggered, 0,
        "the transparent proxy changed something"
    );
    let passed = passing(&[&direct.runs]);
    assert!(
        !passed.is_empty(),
        "nothing passes against the reference server"
    );
    let broken: Vec<String> = proxied
        .runs
        .iter()
        .filter(|r| r.verdict != Verdict::Pass)
        .filter(|r| passed.contains(&(r.id.clone(), r.version.clone())))
        .map(|r| format!("{}\n{}", describe(r), r.trace.clone().unwrap_or_default()))
        .collect();
    assert!(
        broken.is_empty(),
        "{} of {} runs that pass against the reference server do not pass through the proxy:\n{}",
        broken.len(),
        passed.len(),
        broken.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_are_caught_by_the_scenarios_for_their_rules() {
    // (fault, scenario id that must catch it in every version it runs in)
    let cases = [
        (Fault::LostPuback, "both/3.3-publish/qos1-delivery"),
        (Fault::SubackWrongId, "both/3.3-publish/qos1-delivery"),
        (
            Fault::MalformedSwallowed,
            "v3/3.3-publish/qos3-is-malformed",
        ),
        (
            Fault::MalformedSwallowed,
            "v5/3.3-publish/qos3-is-malformed",
        ),
        // The fault-aware faults the rest of the library misses.
        (
            Fault::RetransmittedPubrelDropped,
            "faults/v3/4.4-redelivery/pubrel-resent-by-client-after-reset-answered",
        ),
        (
            Fault::RetransmittedPubrelDropped,
            "faults/v5/4.4-redelivery/pubrel-resent-by-client-after-reset-answered",
        ),
        (
            Fault::WillAfterCleanDisconnect,
            "faults/both/3.1-connect/returning-client-will-discarded-by-disconnect",
        ),
        (
            Fault::StallAnsweredAsLive,
            "faults/both/3.1-connect/stalled-subscriber-timed-out-while-receiving",
        ),
    ];
    let known = known();
    let mut scenarios: Vec<LoadedScenario> = Vec::new();
    for (_, id) in cases {
        if scenarios.iter().any(|s| s.id == id) {
            continue;
        }
        let path = root().join(format!("{id}.yaml"));
        scenarios.push(load_file(&path, id.to_owned(), Some(&known)).unwrap());
    }
    let mut routes = vec![Route::Direct, Route::Proxy(None)];
    for (fault, _) in cases {
        if !routes.contains(&Route::Proxy(Some(fault))) {
            routes.push(Route::Proxy(Some(fault)));
        }
    }
    let settings = RunSettings {
        default_wait: Duration::from_secs(3),
        ..RunSettings::default()
    };
    let results = run_routes(&scenarios, &routes, &settings, 8, |_| {})
        .await
        .unwrap();
    let runs_of = |route: Route, id: &str| -> Vec<&ScenarioRun> {
        results
            .iter()
            .find(|r| r.route == route)
            .unwrap()
            .runs
            .iter()
            .filter(|r| r.id == id)
            .collect()
    };
    for (fault, id) in cases {
        for reference in [Route::Direct, Route::Proxy(None)] {
            let runs = runs_of(reference, id);
            assert!(!runs.is_empty(), "{id} did not run");
            for r in runs {
                assert_eq!(
                    r.verdict,
                    Verdict::Pass,
                    "{id} via {reference}:\n{}",
                    describe(r)
                );
            }
        }
        let route = Route::Proxy(Some(fault));
        let faulty = results.iter().find(|r| r.route == route).unwrap();
        assert!(faulty.triggered > 0, "{fault} was never injected");
        for r in runs_of(route, id) {
            assert_eq!(
                r.verdict,
                Verdict::Fail,
                "{id} [{}] did not catch {fault}",
                r.version
            );
        }
    }
}
