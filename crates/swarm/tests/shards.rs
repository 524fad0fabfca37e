//! A profile run as two shards against the reference server, whose
//! subscribers each receive publishers of both shards, accounts through
//! `crossshard::merge` for every message as one unsharded run does: each
//! pair judged, nothing lost. And a pair of shard ledger files where one
//! message never crossed over reports it with its publisher and sequence
//! number.

use mqtt_swarm::crossshard::{self, ShardLedger};
use mqtt_swarm::engine::{self, Options};
use mqtt_swarm::target::RefServer;
use mqtt_swarm::{Profile, Shard};

/// Clients 0-3 publish, 4 and 5 each subscribe to all of them, 6 and 7
/// share one subscription: with two shards every stream gets messages
/// from the other shard, and the shared group has a member in each.
const PROFILE: &str = "
name: two-shards
version: '5.0'
duration: 1s
drain: 3s
groups:
  - {name: pubs, role: publisher, count: 4, topic: 'sh/{id}', qos: 1, rate: 50}
  - {name: all, role: subscriber, count: 2, topic: 'sh/+', qos: 1}
  - {name: work, role: subscriber, count: 2, topic: 'sh/#', qos: 1, shared: w}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shards_account_like_one_run() {
    let server = RefServer::start(1).unwrap();
    let profile = Profile::from_yaml(PROFILE, "two-shards.yaml").unwrap();

    let whole = engine::run(&profile, &Options::new(server.addr(), "ref"))
        .await
        .unwrap();
    let one = &whole.collected.accounting;
    assert!(one.passed(), "{one:?}");
    assert_eq!(one.not_judged, 0);

    let barrier = std::env::temp_dir().join(format!(
        "swarm-shards-test-{}-{}",
        std::process::id(),
        engine::fresh_tag()
    ));
    let shard = |index| {
        let mut o = Options::new(server.addr(), "ref");
        o.shard = Shard { index, count: 2 };
        o.barrier = Some(barrier.clone());
        o
    };
    let (o0, o1) = (shard(0), shard(1));
    let (a, b) = tokio::join!(engine::run(&profile, &o0), engine::run(&profile, &o1));
    let (a, b) = (a.unwrap(), b.unwrap());
    let _ = std::fs::remove_dir_all(&barrier);
    // Alone, each shard judges only the pairs it holds whole (its
    // publishers to its `all` subscriber).
    let (ja, jb) = (&a.collected.accounting, &b.collected.accounting);
    assert!(ja.not_judged > 0 && jb.not_judged > 0);
    let judged_alone = ja.qos[1].expected + jb.qos[1].expected;
    let ledgers = [a.collected.ledger.clone(), b.collected.ledger.clone()];
    let merged = crossshard::merge(&ledgers).unwrap();
    let m = &merged.accounting;
    assert!(merged.inexact.is_empty(), "{:?}", merged.inexact);
    assert!(m.passed(), "{m:?}");
    // Every message owed to each of the three streams arrived once.
    let sent = a.collected.counters.sent + b.collected.counters.sent;
    assert_eq!(merged.sent, sent);
    assert!(sent >= 100, "{sent}");
    assert_eq!(m.qos[1].expected, 3 * sent, "{m:?}");
    assert!(judged_alone < m.qos[1].expected);
    assert_eq!(m.qos[1].delivered, m.qos[1].expected, "{m:?}");
    assert_eq!((m.qos[1].lost, m.qos[1].duplicated), (0, 0));
    assert_eq!(m.not_judged, 0);
    // And so did the unsharded run, by the same rule.
    assert_eq!(one.qos[1].expected, 3 * whole.collected.counters.sent);
    assert_eq!(one.qos[1].delivered, one.qos[1].expected);
    assert_eq!(
        (m.qos[1].lost, m.unconfirmed),
        (one.qos[1].lost, one.unconfirmed)
    );
    server.stop();
}

/// The ledgers of a two-shard run as files: publisher 1 (shard 1) sent
/// 0-9, the subscriber (client 2, shard 0) received all but 6.
fn synthetic(lost: Option<u64>) -> Vec<ShardLedger> {
    let received: Vec<(u64, u64)> = match lost {
        Some(l) => vec![(0, l - 1), (l + 1, 9)],
        None => vec![(0, 9)],
    };
    let shard0 = format!(
        r#"{{"format":1,"profile":"p","shard_index":0,"shard_count":2,
        "streams":[{{"name":"t-sub-0","filter":"a/+","qos":1,"members":[2]}}],
        "expect":[[0],[0],[]],
        "names":{{"0":"t-pub-0","2":"t-sub-0"}},
        "sent":[{{"publisher":0,"runs":[],"truncated":false}}],
        "received":[{{"stream":0,"publisher":1,"seqs":{},"truncated":false,
          "duplicated":[0,0,0],"duplicated_qos2":[],"out_of_order":[0,0,0]}}],
        "unexpected":0,"foreign":0}}"#,
        serde_json_ranges(&received)
    );
    let shard1 = r#"{"format":1,"profile":"p","shard_index":1,"shard_count":2,
        "streams":[{"name":"u-sub-0","filter":"a/+","qos":1,"members":[2]}],
        "expect":[[0],[0],[]],
        "names":{"1":"u-pub-1"},
        "sent":[{"publisher":1,"runs":[[0,9,1,true]],"truncated":false}],
        "received":[],"unexpected":0,"foreign":0}"#;
    let dir = std::env::temp_dir().join(format!("swarm-ledgers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = [(0, shard0.as_str()), (1, shard1)];
    files
        .iter()
        .map(|(i, text)| {
            let path = dir.join(format!("p.shard-{i}-of-2.ledger.json"));
            std::fs::write(&path, text).unwrap();
            ShardLedger::read(&path).unwrap()
        })
        .collect()
}

fn serde_json_ranges(r: &[(u64, u64)]) -> String {
    let parts: Vec<String> = r.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
    format!("[{}]", parts.join(","))
}

#[test]
fn a_loss_across_shards_is_named_with_publisher_and_sequence() {
    let ok = crossshard::merge(&synthetic(None)).unwrap().accounting;
    assert!(ok.passed(), "{ok:?}");
    assert_eq!((ok.qos[1].expected, ok.qos[1].delivered), (10, 10));

    let m = crossshard::merge(&synthetic(Some(6))).unwrap().accounting;
    assert!(!m.passed());
    assert_eq!((m.qos[1].expected, m.qos[1].lost), (10, 1));
    let p = &m.problems[0];
    assert_eq!((p.kind, p.qos, p.count), ("lost", 1, 1));
    assert_eq!(p.publisher, "u-pub-1");
    assert_eq!(p.stream, "t-sub-0");
    assert_eq!(p.seqs, vec![(6, 6)]);
}
