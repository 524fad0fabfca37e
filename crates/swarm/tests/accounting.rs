//! The accounting catches a broker that loses messages: a proxy drops two
//! QoS 1 PUBLISH packets on their way from the reference server to the
//! subscriber, and the run fails naming the publisher and the sequence
//! numbers. Without the proxy the same run passes. Also: every shipped
//! profile loads.

mod common;

use mqtt_codec::ProtocolVersion;
use mqtt_swarm::engine::{self, Options};
use mqtt_swarm::target::RefServer;
use mqtt_swarm::Profile;

const PROFILE: &str = "
name: lossy
version: '3.1.1'
duration: 1s
drain: 2s
groups:
  - {name: pubs, role: publisher, count: 1, topic: 'loss/{id}', qos: 1, rate: 100}
  - {name: sub, role: subscriber, count: 1, topic: 'loss/+', qos: 1}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_qos1_messages_fail_the_run_and_are_named() {
    let server = RefServer::start(1).unwrap();
    let profile = Profile::from_yaml(PROFILE, "lossy.yaml").unwrap();

    let clean = engine::run(&profile, &Options::new(server.addr(), "ref"))
        .await
        .unwrap();
    assert!(
        clean.collected.accounting.passed(),
        "{:?}",
        clean.collected.accounting
    );
    assert!(clean.collected.accounting.qos[1].delivered >= 50);

    let (proxy, dropped) =
        common::dropping_proxy(server.addr(), ProtocolVersion::V311, vec![10, 11]).await;
    let lossy = engine::run(&profile, &Options::new(proxy, "dropping-proxy"))
        .await
        .unwrap();
    assert_eq!(dropped.load(std::sync::atomic::Ordering::SeqCst), 2);
    let a = &lossy.collected.accounting;
    assert!(!a.passed());
    assert_eq!(a.qos[1].lost, 2, "{a:?}");
    let p = &a.problems[0];
    assert_eq!(p.kind, "lost");
    assert!(p.publisher.ends_with("-pubs-0"), "{p:?}");
    // The proxy numbers PUBLISH packets to clients from 0, as the publisher
    // numbers its messages: the 11th and 12th.
    assert_eq!(p.seqs, vec![(10, 11)], "{p:?}");
    server.stop();
}

#[test]
fn every_shipped_profile_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/load");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            Profile::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 5, "{n} profiles in {}", dir.display());
}
