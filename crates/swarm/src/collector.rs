//! The collector: the sans-IO heart of a run. It takes the client tasks'
//! [`Event`]s, keeps the ledger and the histograms, and once per interval
//! (the caller's clock decides when) hands the interval histograms to a sink
//! and returns a point of the timeline.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::accounting::Ledger;
use crate::event::Event;
use crate::metrics::{Metrics, E2E_CORRECTED, E2E_RAW};
use crate::plan::Plan;

/// Distinct error messages kept for the report.
const MAX_ERROR_KINDS: usize = 20;

/// One second (or interval) of the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    /// End of the interval, seconds since the run's start.
    pub t_s: f64,
    /// Messages sent in the interval.
    pub sent: u64,
    /// Messages delivered to subscribers in the interval.
    pub delivered: u64,
    /// Errors in the interval.
    pub errors: u64,
    /// Connected clients at the end of the interval.
    pub connected: i64,
    /// Corrected end-to-end median in the interval (ms), when any.
    pub p50_ms: Option<f64>,
    /// Corrected end-to-end p99 in the interval (ms).
    pub p99_ms: Option<f64>,
    /// Raw end-to-end p99 in the interval (ms).
    pub raw_p99_ms: Option<f64>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    /// Messages sent.
    pub sent: u64,
    /// Payload bytes sent.
    pub sent_bytes: u64,
    /// Messages delivered (duplicates included).
    pub delivered: u64,
    /// QoS 1/2 acknowledgements.
    pub acked: u64,
    /// Successful connections (reconnections included).
    pub connects: u64,
    /// Errors.
    pub errors: u64,
    /// The most connected clients at once.
    pub peak_connected: i64,
}

/// Collects a run.
#[derive(Debug)]
pub struct Collector {
    plan: Plan,
    ledger: Ledger,
    metrics: Metrics,
    counters: Counters,
    interval: Counters,
    connected: i64,
    start_ns: u64,
    timeline: Vec<Point>,
    errors: BTreeMap<String, u64>,
    group_tags: Vec<(String, String)>,
    /// End-to-end latency by publisher group and QoS (corrected, raw): each
    /// delivery is recorded once here, and the overall, per-QoS and
    /// per-group histograms are sums of these, made at each rotation.
    base: Vec<[(Histogram<u64>, Histogram<u64>); 3]>,
    /// PUBACK, PUBREC and PUBCOMP latencies (corrected, raw) of the
    /// interval, added to their tags at each rotation (no tag lookup per
    /// acknowledgement).
    acks: [(Histogram<u64>, Histogram<u64>); 3],
    last_activity_ns: u64,
}

const QOS_CORRECTED: [&str; 3] = [
    "e2e.corrected.qos0",
    "e2e.corrected.qos1",
    "e2e.corrected.qos2",
];
const ACK_TAGS: [(&str, &str); 3] = [
    ("puback.corrected", "puback.raw"),
    ("pubrec.corrected", "pubrec.raw"),
    ("pubcomp.corrected", "pubcomp.raw"),
];
const QOS_RAW: [&str; 3] = ["e2e.raw.qos0", "e2e.raw.qos1", "e2e.raw.qos2"];

impl Collector {
    /// A collector for `plan`, the run starting at `start_ns`.
    pub fn new(plan: Plan, start_ns: u64) -> Collector {
        let group_tags = plan
            .groups
            .iter()
            .map(|g| {
                (
                    format!("e2e.corrected.group.{g}"),
                    format!("e2e.raw.group.{g}"),
                )
            })
            .collect();
        Collector {
            ledger: Ledger::new(&plan),
            metrics: Metrics::default(),
            counters: Counters::default(),
            interval: Counters::default(),
            connected: 0,
            start_ns,
            timeline: Vec::new(),
            errors: BTreeMap::new(),
            base: (0..plan.groups.len())
                .map(|_| {
                    std::array::from_fn(|_| {
                        (crate::metrics::histogram(), crate::metrics::histogram())
                    })
                })
                .collect(),
            acks: std::array::from_fn(|_| {
                (crate::metrics::histogram(), crate::metrics::histogram())
            }),
            group_tags,
            plan,
            last_activity_ns: start_ns,
        }
    }

    /// Takes one event.
    pub fn on_event(&mut self, e: Event) {
        match e {
            Event::Connected { latency_ns, .. } => {
                self.connected += 1;
                self.counters.connects += 1;
                self.counters.peak_connected = self.counters.peak_connected.max(self.connected);
                self.metrics.record("connect", latency_ns);
            }
            Event::Disconnected { .. } => self.connected -= 1,
            Event::SubAcked {
                latency_ns,
                granted,
                client,
            } => {
                self.metrics.record("suback", latency_ns);
                if granted.is_none() {
                    self.error(format!("subscription of client {client} refused"));
                }
            }
            Event::Sent {
                publisher,
                seq,
                qos,
                bytes,
            } => {
                self.interval.sent += 1;
                self.interval.sent_bytes += u64::from(bytes);
                self.ledger.sent(publisher, seq, qos);
            }
            Event::Owned {
                publisher,
                seq,
                qos,
                corrected_ns,
                raw_ns,
            } => {
                self.interval.acked += 1;
                let (c, r) = &mut self.acks[usize::from(qos != 1)];
                c.saturating_record((corrected_ns / 1000).clamp(1, crate::metrics::MAX_US));
                r.saturating_record((raw_ns / 1000).clamp(1, crate::metrics::MAX_US));
                self.ledger.owned(publisher, seq, qos);
            }
            Event::Completed {
                publisher,
                seq,
                corrected_ns,
                raw_ns,
            } => {
                let (c, r) = &mut self.acks[2];
                c.saturating_record((corrected_ns / 1000).clamp(1, crate::metrics::MAX_US));
                r.saturating_record((raw_ns / 1000).clamp(1, crate::metrics::MAX_US));
                self.ledger.completed(publisher, seq);
            }
            Event::Delivered {
                subscriber,
                qos,
                header,
                at_ns,
            } => {
                self.interval.delivered += 1;
                self.last_activity_ns = self.last_activity_ns.max(at_ns);
                let corrected = at_ns.saturating_sub(header.intended_ns);
                let raw = at_ns.saturating_sub(header.sent_ns);
                let q = usize::from(qos.min(2));
                if let Some(p) = self.plan.clients.get(header.publisher as usize) {
                    let (c, r) = &mut self.base[p.group][q];
                    c.saturating_record((corrected / 1000).clamp(1, crate::metrics::MAX_US));
                    r.saturating_record((raw / 1000).clamp(1, crate::metrics::MAX_US));
                }
                self.ledger.delivered(&self.plan, subscriber, &header);
            }
            Event::Foreign { .. } => self.ledger.foreign(),
            Event::Error { what, .. } => self.error(what),
        }
    }

    fn error(&mut self, what: String) {
        self.interval.errors += 1;
        if self.errors.len() < MAX_ERROR_KINDS || self.errors.contains_key(&what) {
            *self.errors.entry(what).or_default() += 1;
        }
    }

    /// Ends an interval at `now_ns`: every non-empty interval histogram goes
    /// to `sink` (tag, histogram, interval start and length in seconds since
    /// the run's start) and the timeline gets a point.
    pub fn rotate(
        &mut self,
        now_ns: u64,
        mut sink: impl FnMut(&str, &Histogram<u64>, f64, f64),
    ) -> Point {
        self.fold_base();
        let t_s = now_ns.saturating_sub(self.start_ns) as f64 / 1e9;
        let from = self.timeline.last().map_or(0.0, |p| p.t_s);
        let q = |h: Option<&Histogram<u64>>, p: f64| {
            h.filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(p) as f64 / 1000.0)
        };
        let point = Point {
            t_s,
            sent: self.interval.sent,
            delivered: self.interval.delivered,
            errors: self.interval.errors,
            connected: self.connected,
            p50_ms: q(self.metrics.interval(E2E_CORRECTED), 0.5),
            p99_ms: q(self.metrics.interval(E2E_CORRECTED), 0.99),
            raw_p99_ms: q(self.metrics.interval(E2E_RAW), 0.99),
        };
        self.metrics
            .rotate(|tag, h| sink(tag, h, from, (t_s - from).max(0.0)));
        let c = &mut self.counters;
        c.sent += self.interval.sent;
        c.sent_bytes += self.interval.sent_bytes;
        c.delivered += self.interval.delivered;
        c.acked += self.interval.acked;
        c.errors += self.interval.errors;
        self.interval = Counters::default();
        self.timeline.push(point.clone());
        point
    }

    /// Adds the (group, QoS) histograms of the interval into the overall,
    /// per-QoS and per-group ones, and empties them.
    fn fold_base(&mut self) {
        for (i, (c, r)) in self.acks.iter_mut().enumerate() {
            if c.is_empty() {
                continue;
            }
            self.metrics.add(ACK_TAGS[i].0, c);
            self.metrics.add(ACK_TAGS[i].1, r);
            c.reset();
            r.reset();
        }
        for (g, per_qos) in self.base.iter_mut().enumerate() {
            for (q, (c, r)) in per_qos.iter_mut().enumerate() {
                if c.is_empty() {
                    continue;
                }
                let (gc, gr) = &self.group_tags[g];
                for (tag, h) in [
                    (E2E_CORRECTED, &*c),
                    (QOS_CORRECTED[q], &*c),
                    (gc.as_str(), &*c),
                    (E2E_RAW, &*r),
                    (QOS_RAW[q], &*r),
                    (gr.as_str(), &*r),
                ] {
                    self.metrics.add(tag, h);
                }
                c.reset();
                r.reset();
            }
        }
    }

    /// Messages owed and first deliveries so far (see [`Ledger::progress`]).
    pub fn progress(&self) -> (u64, u64) {
        self.ledger.progress()
    }

    /// Connected clients now.
    pub fn connected(&self) -> i64 {
        self.connected
    }

    /// Errors so far, this interval included.
    pub fn errors(&self) -> u64 {
        self.counters.errors + self.interval.errors
    }

    /// The last delivery's time.
    pub fn last_delivery_ns(&self) -> u64 {
        self.last_activity_ns
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Ends the run (rotate first): accounting, totals, timeline, errors.
    pub fn finish(self) -> Collected {
        Collected {
            accounting: self.ledger.finish(&self.plan),
            ledger: crate::crossshard::ShardLedger::of(&self.ledger, &self.plan),
            metrics: self.metrics,
            counters: self.counters,
            timeline: self.timeline,
            errors: self.errors,
        }
    }
}

/// What a finished collector holds.
#[derive(Debug)]
pub struct Collected {
    /// The accounting of what this shard judges alone.
    pub accounting: crate::accounting::Accounting,
    /// The ledger in mergeable form, for the accounting of a whole sharded
    /// run (the profile name is set by the engine).
    pub ledger: crate::crossshard::ShardLedger,
    /// Every histogram (use the totals).
    pub metrics: Metrics,
    /// Totals.
    pub counters: Counters,
    /// One point per interval.
    pub timeline: Vec<Point>,
    /// Distinct error messages and how often.
    pub errors: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Header;
    use crate::plan::Shard;
    use crate::profile::Profile;

    #[test]
    fn latencies_are_timed_from_intended_and_actual_send() {
        let p = Profile::from_yaml(
            "
name: t
duration: 1s
groups:
  - {name: p, role: publisher, count: 1, topic: 'a', rate: 1, qos: 1}
  - {name: s, role: subscriber, count: 1, topic: 'a', qos: 1}
",
            "t.yaml",
        )
        .unwrap();
        let plan = Plan::new(&p, Shard::default(), "x").unwrap();
        let mut c = Collector::new(plan, 0);
        c.on_event(Event::Connected {
            client: 0,
            latency_ns: 2_000_000,
        });
        c.on_event(Event::Sent {
            publisher: 0,
            seq: 0,
            qos: 1,
            bytes: 32,
        });
        c.on_event(Event::Delivered {
            subscriber: 1,
            qos: 1,
            header: Header {
                qos: 1,
                publisher: 0,
                seq: 0,
                intended_ns: 100_000_000,
                sent_ns: 400_000_000,
            },
            at_ns: 500_000_000,
        });
        let mut logged = Vec::new();
        let point = c.rotate(1_000_000_000, |tag, h, from, len| {
            logged.push((tag.to_owned(), h.max(), from, len))
        });
        assert_eq!(point.sent, 1);
        assert_eq!(point.connected, 1);
        let near = |v: Option<f64>, want: f64| v.is_some_and(|v| (v - want).abs() < want / 100.0);
        assert!(near(point.p99_ms, 400.0), "{point:?}");
        assert!(near(point.raw_p99_ms, 100.0), "{point:?}");
        assert!(logged.iter().any(|(t, ..)| t == "e2e.corrected.group.p"));
        assert!(logged
            .iter()
            .all(|(_, _, from, len)| *from == 0.0 && *len == 1.0));
        let done = c.finish();
        // Not acknowledged: unconfirmed, though delivered.
        assert_eq!(done.accounting.unconfirmed_delivered, 1);
        assert_eq!(done.counters.delivered, 1);
    }
}
