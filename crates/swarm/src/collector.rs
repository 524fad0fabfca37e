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
    /// Connections lost (not closed by us).
    pub connections_lost: u64,
    /// Connections made again after a loss.
    pub reconnects: u64,
    /// Reconnections told Session Present 0 where the session should have
    /// been kept: sessions the broker lost.
    pub sessions_lost: u64,
    /// PUBLISH packets sent again (DUP 1) on resumed sessions.
    pub retransmitted: u64,
}

/// One fault of the run: when it began and ended, and how long the run took
/// to recover from it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FaultWindow {
    /// The schedule's action (`kill_restart`, `partition`, ...).
    pub action: String,
    /// What was done.
    pub detail: String,
    /// Seconds since the start when it began.
    pub begin_s: f64,
    /// When it ended (the broker ready again, the link healed), if it did.
    pub end_s: Option<f64>,
    /// Clients a partition cut off.
    pub clients: usize,
    /// Seconds from the end to the first acknowledgement or delivery
    /// after it (of a client it cut off, for a partition).
    pub recovery_s: Option<f64>,
    /// The clients a partition cut off (sorted), whose recovery counts.
    #[serde(skip)]
    pub cut: Vec<u32>,
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
    faults: Vec<FaultWindow>,
    /// Index into `faults` of windows ended but not yet recovered.
    recovering: Vec<usize>,
    trace: Option<crate::trace::Trace>,
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
            faults: Vec::new(),
            recovering: Vec::new(),
            trace: None,
        }
    }

    /// Also keeps the run's trace ([`crate::trace`]).
    pub fn with_trace(mut self, trace: crate::trace::Trace) -> Collector {
        self.trace = Some(trace);
        self
    }

    fn seconds(&self, at_ns: u64) -> f64 {
        at_ns.saturating_sub(self.start_ns) as f64 / 1e9
    }

    /// The broker took something from or delivered something to `client`
    /// at `at_ns`: the windows that ended before it have recovered (a
    /// partition's once one of the clients it cut off hears back).
    fn activity(&mut self, client: u32, at_ns: u64) {
        if self.recovering.is_empty() {
            return;
        }
        let t = self.seconds(at_ns);
        let faults = &mut self.faults;
        self.recovering.retain(|&i| {
            let w = &mut faults[i];
            let concerned = w.cut.is_empty() || w.cut.binary_search(&client).is_ok();
            match w.end_s {
                Some(end) if t >= end && concerned => {
                    w.recovery_s = Some(t - end);
                    false
                }
                _ => true,
            }
        });
    }

    /// Takes one event.
    pub fn on_event(&mut self, e: Event) {
        if let Some(t) = self.trace.as_mut() {
            t.event(&self.plan, &e);
        }
        match e {
            Event::Connected {
                latency_ns,
                down_ns,
                ..
            } => {
                self.connected += 1;
                self.counters.connects += 1;
                self.counters.peak_connected = self.counters.peak_connected.max(self.connected);
                self.metrics.record("connect", latency_ns);
                if let Some(d) = down_ns {
                    self.counters.reconnects += 1;
                    self.metrics.record(crate::metrics::RECONNECT, d);
                }
            }
            Event::Disconnected { lost, .. } => {
                self.connected -= 1;
                if lost {
                    self.counters.connections_lost += 1;
                }
            }
            Event::SessionLost { .. } => self.counters.sessions_lost += 1,
            Event::Fault(f) => {
                let at = self.seconds(f.at_ns);
                if f.end {
                    if let Some(i) = self
                        .faults
                        .iter()
                        .rposition(|w| w.end_s.is_none() && w.action == f.action)
                    {
                        self.faults[i].end_s = Some(at);
                        self.recovering.push(i);
                    }
                } else {
                    self.faults.push(FaultWindow {
                        action: f.action.to_owned(),
                        detail: f.detail,
                        begin_s: at,
                        end_s: None,
                        clients: f.clients.len(),
                        recovery_s: None,
                        cut: {
                            let mut c = f.clients;
                            c.sort_unstable();
                            c
                        },
                    });
                }
            }
            Event::SubAcked {
                latency_ns,
                granted,
                client,
                ..
            } => {
                self.metrics.record("suback", latency_ns);
                if granted.is_none() {
                    self.error(format!("subscription of client {client} refused"));
                }
            }
            Event::Sent { dup: true, .. } => self.counters.retransmitted += 1,
            Event::Sent {
                publisher,
                seq,
                qos,
                bytes,
                ..
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
                at_ns,
            } => {
                self.activity(publisher, at_ns);
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
                ..
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
                ..
            } => {
                self.activity(subscriber, at_ns);
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
            faults: self.faults,
            trace: self.trace,
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
    /// The faults of the run, in order.
    pub faults: Vec<FaultWindow>,
    /// The trace, when asked for.
    pub trace: Option<crate::trace::Trace>,
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
            clean: true,
            session_present: false,
            down_ns: None,
            at_ns: 0,
        });
        c.on_event(Event::Sent {
            publisher: 0,
            seq: 0,
            qos: 1,
            bytes: 32,
            dup: false,
            at_ns: 400_000_000,
        });
        c.on_event(Event::Delivered {
            subscriber: 1,
            qos: 1,
            dup: false,
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
