//! Routing cost: one PUBLISH matched against 1k, 100k and 1M subscriptions
//! with mixed wildcards. Matching walks the topic trie level by level and
//! never scans all subscriptions; the linear scan is shown for contrast at
//! the smaller sizes.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use mqtt_codec::topic::matches;
use mqtt_codec::{QoS, SubscriptionOptions};
use mqtt_model::subscriptions::{SubEntry, Subscriptions};

/// A deterministic mix: 70% exact filters, 15% with `+`, 10% ending in
/// `#`, 5% starting with `+` and ending in `#`.
fn filter(i: usize) -> String {
    let (a, b, c) = (i % 100, (i / 100) % 100, (i / 10_000) % 100);
    match (i.wrapping_mul(2_654_435_761) >> 7) % 20 {
        0..=13 => format!("site/{a}/dev/{b}/{c}"),
        14..=16 => format!("site/{a}/dev/+/{c}"),
        17..=18 => format!("site/{a}/dev/{b}/#"),
        _ => format!("+/{a}/dev/#"),
    }
}

fn build(n: usize) -> (Subscriptions, Vec<String>) {
    let mut subs = Subscriptions::new();
    let mut filters = Vec::with_capacity(n);
    let entry = SubEntry {
        options: SubscriptionOptions::qos(QoS::AtLeastOnce),
        identifier: None,
    };
    for i in 0..n {
        let f = filter(i);
        subs.insert(&format!("client-{i}"), &f, true, entry);
        filters.push(f);
    }
    (subs, filters)
}

fn routing(c: &mut Criterion) {
    let topic = "site/7/dev/42/3";
    let mut g = c.benchmark_group("match_one_publish");
    for n in [1_000usize, 100_000, 1_000_000] {
        let (subs, filters) = build(n);
        let hits = subs.matching(topic).len();
        let scan_hits = filters.iter().filter(|f| matches(f, topic)).count();
        assert_eq!(hits, scan_hits, "trie and scan disagree at {n}");
        eprintln!("{n} subscriptions: {hits} match {topic}");
        if n >= 1_000_000 {
            g.sample_size(20);
        }
        g.bench_with_input(BenchmarkId::new("trie", n), &subs, |b, subs| {
            b.iter(|| black_box(subs.matching(black_box(topic)).len()))
        });
        if n <= 100_000 {
            g.bench_with_input(BenchmarkId::new("linear_scan", n), &filters, |b, fs| {
                b.iter(|| black_box(fs.iter().filter(|f| matches(f, black_box(topic))).count()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
