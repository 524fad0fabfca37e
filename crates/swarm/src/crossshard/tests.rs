use super::*;
use crate::payload::Header;
use crate::plan::Shard;
use crate::profile::Profile;
use proptest::prelude::*;

/// Two publishers of QoS 1 and one of QoS 2 into a wildcard subscriber, a
/// pair subscriber and a shared group of two: split over two shards, every
/// kind of stream crosses shards (the shared group has a member in each).
const PROFILE: &str = "
name: cross
duration: 1s
groups:
  - {name: p, role: publisher, count: 2, topic: 'x/{id}', rate: 1, qos: 1}
  - {name: q, role: publisher, count: 1, topic: 'x/9', rate: 1, qos: 2}
  - {name: all, role: subscriber, count: 1, topic: 'x/+', qos: 2}
  - {name: one, role: subscriber, count: 1, topic: 'x/1', qos: 1}
  - {name: w, role: subscriber, count: 2, topic: 'x/#', shared: g, qos: 2}
";

fn plan(shard: Shard) -> Plan {
    let p = Profile::from_yaml(PROFILE, "cross.yaml").unwrap();
    Plan::new(&p, shard, "x").unwrap()
}

/// What happened in a run, as the clients saw it.
#[derive(Debug, Clone)]
struct Story {
    /// Per publisher (0, 1, 2): messages sent and which were acknowledged.
    sent: Vec<Vec<bool>>,
    /// Deliveries: (subscriber, publisher, seq), in order.
    deliveries: Vec<(u32, u32, u64)>,
}

fn story() -> impl Strategy<Value = Story> {
    let sent = proptest::collection::vec(proptest::collection::vec(any::<bool>(), 0..40), 3);
    (
        sent,
        proptest::collection::vec((0u32..4, 0u32..3, 0u64..40), 0..300),
    )
        .prop_map(|(sent, raw)| {
            // Subscribers are clients 3 (all), 4 (one), 5 and 6 (shared).
            let deliveries = raw
                .into_iter()
                .map(|(s, p, seq)| (3 + s, p, seq))
                .filter(|&(_, p, seq)| (seq as usize) < sent[p as usize].len())
                .collect();
            Story { sent, deliveries }
        })
}

fn header(p: u32, seq: u64) -> Header {
    Header {
        qos: if p == 2 { 2 } else { 1 },
        publisher: p,
        seq,
        intended_ns: 0,
        sent_ns: 0,
    }
}

/// Feeds the part of `story` that `plan`'s shard sees into a ledger.
fn ledger(plan: &Plan, story: &Story) -> Ledger {
    let mut l = Ledger::new(plan);
    for (p, msgs) in story.sent.iter().enumerate() {
        if !plan.clients[p].local {
            continue;
        }
        let qos = if p == 2 { 2 } else { 1 };
        for (seq, &acked) in msgs.iter().enumerate() {
            l.sent(p as u32, seq as u64, qos);
            if acked {
                l.owned(p as u32, seq as u64, qos);
            }
        }
    }
    for &(s, p, seq) in &story.deliveries {
        if plan.clients[s as usize].local {
            // The wildcard and shared streams get everything; the pair
            // subscriber only x/1 (publisher 1): others are unexpected.
            l.delivered(plan, s, &header(p, seq));
        }
    }
    l
}

fn through_files(l: &ShardLedger) -> ShardLedger {
    let text = serde_json::to_string(l).unwrap();
    serde_json::from_str(&text).unwrap()
}

proptest! {
    /// However the run went, the merged ledgers of two shards account for
    /// it exactly as the unsharded ledger does.
    #[test]
    fn two_shards_merge_to_the_unsharded_accounting(story in story()) {
        let whole_plan = plan(Shard::default());
        let whole = ledger(&whole_plan, &story).finish(&whole_plan);
        let shards: Vec<ShardLedger> = (0..2)
            .map(|i| {
                let plan = plan(Shard { index: i, count: 2 });
                let mut l = ShardLedger::of(&ledger(&plan, &story), &plan);
                l.profile = "cross".into();
                through_files(&l)
            })
            .collect();
        let merged = merge(&shards).unwrap();
        let m = &merged.accounting;
        prop_assert!(merged.inexact.is_empty(), "{:?}", merged.inexact);
        prop_assert_eq!(m.qos, whole.qos);
        prop_assert_eq!(m.unconfirmed, whole.unconfirmed);
        prop_assert_eq!(m.unconfirmed_delivered, whole.unconfirmed_delivered);
        prop_assert_eq!(m.unexpected, whole.unexpected);
        prop_assert_eq!(m.not_judged, 0);
        prop_assert_eq!(&m.problems, &whole.problems);
        prop_assert_eq!(m.passed(), whole.passed());
        let sent: u64 = story.sent.iter().map(|v| v.len() as u64).sum();
        prop_assert_eq!(merged.sent, sent);
        // One shard alone merges too, and says the same as its finish.
        let one = ShardLedger::of(&ledger(&whole_plan, &story), &whole_plan);
        let alone = merge(&[one]).unwrap().accounting;
        prop_assert_eq!(alone.qos, whole.qos);
        prop_assert_eq!(&alone.problems, &whole.problems);
    }

    #[test]
    fn bit_ranges_list_exactly_the_set_bits(
        bits in proptest::collection::btree_set(0u64..700, 0..300),
    ) {
        let mut words = vec![0u64; 11];
        for b in &bits {
            words[(*b / 64) as usize] |= 1 << (b % 64);
        }
        let (r, cut) = bit_ranges(&words);
        prop_assert!(!cut);
        let back: Vec<u64> = r.iter().flat_map(|(a, b)| *a..=*b).collect();
        prop_assert_eq!(back, bits.iter().copied().collect::<Vec<_>>());
        // Maximal: no two ranges touch.
        prop_assert!(r.windows(2).all(|w| w[0].1 + 1 < w[1].0));
    }

    #[test]
    fn union_and_split_agree_with_sets(
        a in proptest::collection::btree_set(0u64..100, 0..60),
        b in proptest::collection::btree_set(0u64..100, 0..60),
        lo in 0u64..100, len in 0u64..50,
    ) {
        let to_ranges = |s: &BTreeSet<u64>| ranges(&s.iter().copied().collect::<Vec<_>>(), usize::MAX);
        let (ra, rb) = (to_ranges(&a), to_ranges(&b));
        let (u, overlaps) = union(&[&ra, &rb]);
        let both: BTreeSet<u64> = a.union(&b).copied().collect();
        prop_assert_eq!(&u, &to_ranges(&both));
        let twice: u64 = overlaps.iter().map(|(x, y)| y - x + 1).sum();
        prop_assert_eq!(twice, a.intersection(&b).count() as u64);
        let hi = lo + len;
        let (inside, missing) = split(&u, lo, hi);
        let want_in = (lo..=hi).filter(|x| both.contains(x)).count() as u64;
        prop_assert_eq!(inside, want_in);
        let gone: Vec<u64> = missing.iter().flat_map(|(x, y)| *x..=*y).collect();
        let want_gone: Vec<u64> = (lo..=hi).filter(|x| !both.contains(x)).collect();
        prop_assert_eq!(gone, want_gone);
    }
}

#[test]
fn a_message_lost_across_shards_is_named() {
    // Publisher 1 runs in shard 1, the pair subscriber (client 4) in shard
    // 0: seq 7 of 10 never reaches it.
    let story = Story {
        sent: vec![vec![], vec![true; 10], vec![]],
        deliveries: (0..10).filter(|&s| s != 7).map(|s| (4, 1, s)).collect(),
    };
    let shards: Vec<ShardLedger> = (0..2)
        .map(|i| {
            let plan = plan(Shard { index: i, count: 2 });
            ShardLedger::of(&ledger(&plan, &story), &plan)
        })
        .collect();
    // Alone, neither shard can judge the pair.
    let plan0 = plan(Shard { index: 0, count: 2 });
    let alone = ledger(&plan0, &story).finish(&plan0);
    assert_eq!(alone.qos[1].expected, 0);
    assert_eq!(alone.not_judged, 9);
    let m = merge(&shards).unwrap().accounting;
    assert!(!m.passed());
    // The wildcard and the shared group got nothing either: 10 lost each.
    let pair = m
        .problems
        .iter()
        .find(|p| p.stream == "x-one-0")
        .expect("the pair subscriber's loss");
    assert_eq!(
        (pair.kind, pair.qos, pair.publisher.as_str(), pair.count),
        ("lost", 1, "x-p-1", 1)
    );
    assert_eq!(pair.seqs, vec![(7, 7)]);
    assert_eq!(m.qos[1].lost, 21);
}

#[test]
fn shards_that_do_not_make_one_run_are_refused() {
    let story = Story {
        sent: vec![vec![true]; 3],
        deliveries: vec![],
    };
    let of = |i: u32, n: u32| {
        let plan = plan(Shard { index: i, count: n });
        ShardLedger::of(&ledger(&plan, &story), &plan)
    };
    let e = merge(&[of(0, 2)]).unwrap_err().to_string();
    assert!(e.contains("missing shards 1/2"), "{e}");
    let e = merge(&[of(0, 2), of(0, 2)]).unwrap_err().to_string();
    assert!(e.contains("given twice"), "{e}");
    let e = merge(&[of(0, 2), of(1, 3)]).unwrap_err().to_string();
    assert!(e.contains("does not belong"), "{e}");
    assert!(merge(&[]).is_err());
}
