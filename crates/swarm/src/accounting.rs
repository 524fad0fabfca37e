//! Delivery accounting: every message each subscription stream should
//! receive is delivered, lost, duplicated or out of order, per QoS. A
//! message is owed to a stream when its publisher's topic matches the
//! stream's filter and the broker took it: sent at QoS 0, or acknowledged
//! (PUBACK, PUBREC) at QoS 1 and 2. Messages sent but never acknowledged are
//! "unconfirmed": whether they arrive is reported, not judged.
//!
//! The verdict fails when a QoS 1 message was lost, or a QoS 2 message lost
//! or duplicated (the effective QoS: the lower of the publisher's and the
//! subscription's), and names the publisher and the sequence numbers.

use crate::fasthash::FastMap;

use serde::Serialize;

use crate::payload::Header;
use crate::plan::Plan;

pub(crate) const QOS_MASK: u8 = 0b11;
pub(crate) const SENT: u8 = 1 << 2;
pub(crate) const OWNED: u8 = 1 << 3;
const COMPLETED: u8 = 1 << 4;

/// Sequence numbers listed per problem at most (the count is exact).
pub(crate) const MAX_RANGES: usize = 20;

/// What one stream received from one publisher: a bit per sequence
/// number, and the extra copies and late arrivals per effective QoS.
#[derive(Debug, Default)]
pub(crate) struct Receipt {
    pub(crate) seen: Vec<u64>,
    /// Extra copies, per effective QoS.
    pub(crate) dup: [u64; 3],
    /// Sequence numbers of QoS 2 duplicates.
    pub(crate) dup_seqs: Vec<u64>,
    /// Arrivals after a later message of the same publisher to the same
    /// subscriber, per effective QoS.
    pub(crate) ooo: [u64; 3],
}

impl Receipt {
    /// Marks `seq`; false when it was already seen.
    fn mark(&mut self, seq: u64) -> bool {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if word >= self.seen.len() {
            self.seen.resize(word + 1, 0);
        }
        let fresh = self.seen[word] & (1 << bit) == 0;
        self.seen[word] |= 1 << bit;
        fresh
    }

    pub(crate) fn has(&self, seq: u64) -> bool {
        self.seen
            .get((seq / 64) as usize)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }
}

/// Counts of one QoS level (the effective QoS of delivery).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct QosCounts {
    /// Messages owed to some stream (one per stream that should get it).
    pub expected: u64,
    /// Of those, delivered at least once.
    pub delivered: u64,
    /// Of those, never delivered.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Delivered after a later message of the same publisher to the same
    /// subscriber.
    pub out_of_order: u64,
}

/// A problem with named sequence numbers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// `lost` or `duplicated`.
    pub kind: &'static str,
    /// Effective QoS.
    pub qos: u8,
    /// Publisher client id.
    pub publisher: String,
    /// Stream name (subscriber client id or `$share/...`).
    pub stream: String,
    /// How many messages.
    pub count: u64,
    /// The sequence numbers, as inclusive ranges (the first 20).
    pub seqs: Vec<(u64, u64)>,
}

/// The outcome of accounting.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Accounting {
    /// Per effective QoS 0, 1, 2.
    pub qos: [QosCounts; 3],
    /// Sent without an acknowledgement by the end of the run.
    pub unconfirmed: u64,
    /// Of those, delivered anyway.
    pub unconfirmed_delivered: u64,
    /// Deliveries to a stream that should not have received the message.
    pub unexpected: u64,
    /// Deliveries from a publisher of another shard, or to a stream split
    /// across shards: not judged here.
    pub not_judged: u64,
    /// PUBLISH packets whose payload was not a swarm message.
    pub foreign: u64,
    /// Losses and duplicates that break the verdict, and QoS 0 losses.
    pub problems: Vec<Problem>,
}

impl Accounting {
    /// QoS 1 lost nothing, QoS 2 lost and duplicated nothing.
    pub fn passed(&self) -> bool {
        self.qos[1].lost == 0 && self.qos[2].lost == 0 && self.qos[2].duplicated == 0
    }

    /// Every QoS level lost nothing.
    pub fn nothing_lost(&self) -> bool {
        self.qos.iter().all(|q| q.lost == 0)
    }
}

/// The running ledger of a run (sans-IO: fed events by the collector).
#[derive(Debug)]
pub struct Ledger {
    /// Per publisher `n`: a status byte per sequence number.
    pub(crate) status: Vec<Vec<u8>>,
    /// Per (stream, publisher): what arrived, judged here or not (the
    /// other shards' share is merged by [`crate::crossshard`]).
    pub(crate) receipts: FastMap<(u32, u32), Receipt>,
    /// Per (subscriber, publisher): the highest sequence seen per QoS + 1.
    order: FastMap<(u32, u32), [u64; 3]>,
    pub(crate) unexpected: u64,
    not_judged: u64,
    pub(crate) foreign: u64,
    /// Per publisher: the local streams owed its messages.
    fanout: Vec<u64>,
    /// Sum over sent messages of the streams owed them (for the drain).
    owed: u64,
    /// First deliveries to owed streams.
    arrived: u64,
}

impl Ledger {
    /// A ledger for `plan`.
    pub fn new(plan: &Plan) -> Ledger {
        Ledger {
            status: vec![Vec::new(); plan.clients.len()],
            receipts: FastMap::default(),
            order: FastMap::default(),
            unexpected: 0,
            not_judged: 0,
            foreign: 0,
            fanout: plan
                .expect
                .iter()
                .map(|s| {
                    s.iter()
                        .filter(|s| plan.streams[**s as usize].local)
                        .count() as u64
                })
                .collect(),
            owed: 0,
            arrived: 0,
        }
    }

    fn slot(&mut self, publisher: u32, seq: u64) -> Option<&mut u8> {
        let v = self.status.get_mut(publisher as usize)?;
        let i = usize::try_from(seq).ok()?;
        if i >= v.len() {
            v.resize(i + 1, 0);
        }
        v.get_mut(i)
    }

    /// A message was sent.
    pub fn sent(&mut self, publisher: u32, seq: u64, qos: u8) {
        if let Some(s) = self.slot(publisher, seq) {
            *s = (qos & QOS_MASK) | SENT | if qos == 0 { OWNED } else { 0 };
            self.owed += self.fanout[publisher as usize];
        }
    }

    /// The broker acknowledged a QoS 1 or 2 message.
    pub fn owned(&mut self, publisher: u32, seq: u64, qos: u8) {
        if let Some(s) = self.slot(publisher, seq) {
            *s |= (qos & QOS_MASK) | SENT | OWNED;
        }
    }

    /// PUBCOMP arrived.
    pub fn completed(&mut self, publisher: u32, seq: u64) {
        if let Some(s) = self.slot(publisher, seq) {
            *s |= COMPLETED;
        }
    }

    /// A payload that was not a swarm message.
    pub fn foreign(&mut self) {
        self.foreign += 1;
    }

    /// A delivery to `subscriber`.
    pub fn delivered(&mut self, plan: &Plan, subscriber: u32, h: &Header) {
        let Some(stream) = plan.clients.get(subscriber as usize).and_then(|c| c.stream) else {
            self.unexpected += 1;
            return;
        };
        let Some(publisher) = plan.clients.get(h.publisher as usize) else {
            self.unexpected += 1;
            return;
        };
        if !plan.expect[h.publisher as usize].contains(&stream) {
            self.unexpected += 1;
            return;
        }
        let sp = &plan.streams[stream as usize];
        let judged = publisher.local && sp.local;
        if !judged {
            self.not_judged += 1;
        }
        let eff = usize::from(h.qos.min(sp.qos).min(2));
        let receipt = self.receipts.entry((stream, h.publisher)).or_default();
        // Order is the subscriber's: every arrival counts, a copy too
        // (whether it is one may only show when shards are merged).
        let last = self.order.entry((subscriber, h.publisher)).or_default();
        if h.seq + 1 < last[eff] {
            receipt.ooo[eff] += 1;
        }
        last[eff] = last[eff].max(h.seq + 1);
        if receipt.mark(h.seq) {
            if judged {
                self.arrived += 1;
            }
        } else {
            receipt.dup[eff] += 1;
            if eff == 2 {
                receipt.dup_seqs.push(h.seq);
            }
        }
    }

    /// Messages owed to streams so far, and first deliveries of them: the
    /// run may stop draining when the second reaches the first.
    pub fn progress(&self) -> (u64, u64) {
        (self.owed, self.arrived)
    }

    /// The final accounting.
    pub fn finish(&self, plan: &Plan) -> Accounting {
        let mut a = Accounting {
            unexpected: self.unexpected,
            not_judged: self.not_judged,
            foreign: self.foreign,
            ..Accounting::default()
        };
        let empty = Receipt::default();
        for (p, streams) in plan.expect.iter().enumerate() {
            let publisher = &plan.clients[p];
            if !publisher.local {
                continue;
            }
            let status = &self.status[p];
            for &s in streams {
                let sp = &plan.streams[s as usize];
                if !sp.local {
                    continue;
                }
                let receipt = self.receipts.get(&(s, p as u32)).unwrap_or(&empty);
                for q in 0..3 {
                    a.qos[q].duplicated += receipt.dup[q];
                    a.qos[q].out_of_order += receipt.ooo[q];
                }
                let mut lost: [Vec<u64>; 3] = Default::default();
                for (seq, st) in status.iter().enumerate() {
                    if st & SENT == 0 {
                        continue;
                    }
                    let seq = seq as u64;
                    let got = receipt.has(seq);
                    if st & OWNED == 0 {
                        a.unconfirmed += 1;
                        a.unconfirmed_delivered += u64::from(got);
                        continue;
                    }
                    let eff = usize::from((st & QOS_MASK).min(sp.qos).min(2));
                    a.qos[eff].expected += 1;
                    if got {
                        a.qos[eff].delivered += 1;
                    } else {
                        a.qos[eff].lost += 1;
                        lost[eff].push(seq);
                    }
                }
                for (q, seqs) in lost.iter().enumerate() {
                    if !seqs.is_empty() {
                        a.problems
                            .push(problem("lost", q as u8, publisher, sp, seqs));
                    }
                }
                if !receipt.dup_seqs.is_empty() {
                    let mut seqs = receipt.dup_seqs.clone();
                    seqs.sort_unstable();
                    a.problems
                        .push(problem("duplicated", 2, publisher, sp, &seqs));
                }
            }
        }
        // Breaking problems first.
        a.problems
            .sort_by_key(|p| std::cmp::Reverse((p.qos, p.count)));
        a
    }
}

fn problem(
    kind: &'static str,
    qos: u8,
    publisher: &crate::plan::ClientPlan,
    stream: &crate::plan::StreamPlan,
    seqs: &[u64],
) -> Problem {
    Problem {
        kind,
        qos,
        publisher: publisher.client_id.clone(),
        stream: stream.name.clone(),
        count: seqs.len() as u64,
        seqs: ranges(seqs, MAX_RANGES),
    }
}

/// Sorted numbers as inclusive ranges, at most `max` of them.
pub fn ranges(sorted: &[u64], max: usize) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &s in sorted {
        match out.last_mut() {
            Some((_, hi)) if s <= *hi + 1 => *hi = (*hi).max(s),
            _ => {
                if out.len() == max {
                    break;
                }
                out.push((s, s));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;
    use crate::profile::Profile;
    use proptest::prelude::*;

    fn plan(sub_qos: u8) -> Plan {
        let p = Profile::from_yaml(
            &format!(
                "
name: t
duration: 1s
groups:
  - {{name: p, role: publisher, count: 1, topic: 'a', rate: 1}}
  - {{name: s, role: subscriber, count: 1, topic: 'a', qos: {sub_qos}}}
"
            ),
            "t.yaml",
        )
        .unwrap();
        Plan::new(&p, Shard::default(), "x").unwrap()
    }

    fn header(seq: u64, qos: u8) -> Header {
        Header {
            qos,
            publisher: 0,
            seq,
            intended_ns: 0,
            sent_ns: 0,
        }
    }

    #[test]
    fn a_lost_qos1_message_fails_and_is_named() {
        let plan = plan(2);
        let mut l = Ledger::new(&plan);
        for seq in 0..10 {
            l.sent(0, seq, 1);
            l.owned(0, seq, 1);
            if seq != 4 && seq != 5 {
                l.delivered(&plan, 1, &header(seq, 1));
            }
        }
        let a = l.finish(&plan);
        assert_eq!(a.qos[1].expected, 10);
        assert_eq!(a.qos[1].lost, 2);
        assert!(!a.passed());
        assert_eq!(a.problems[0].seqs, vec![(4, 5)]);
        assert_eq!(a.problems[0].publisher, "x-p-0");
    }

    #[test]
    fn unconfirmed_messages_are_not_judged_and_qos0_loss_passes() {
        let plan = plan(1);
        let mut l = Ledger::new(&plan);
        l.sent(0, 0, 1); // never acknowledged
        l.sent(0, 1, 0); // QoS 0, lost
        let a = l.finish(&plan);
        assert_eq!(a.unconfirmed, 1);
        assert_eq!(a.qos[0].lost, 1);
        assert!(a.passed());
        assert!(!a.nothing_lost());
    }

    #[test]
    fn qos2_duplicates_fail_and_subscription_qos_downgrades() {
        let plan = plan(2);
        let mut l = Ledger::new(&plan);
        l.sent(0, 0, 2);
        l.owned(0, 0, 2);
        l.delivered(&plan, 1, &header(0, 2));
        l.delivered(&plan, 1, &header(0, 2));
        let a = l.finish(&plan);
        assert_eq!(a.qos[2].duplicated, 1);
        assert!(!a.passed());
        let plan = plan_with_sub_qos0();
        let mut l = Ledger::new(&plan);
        l.sent(0, 0, 2);
        l.owned(0, 0, 2);
        let a = l.finish(&plan);
        // Downgraded to QoS 0 by the subscription: a loss that passes.
        assert_eq!(a.qos[0].lost, 1);
        assert!(a.passed());
    }

    fn plan_with_sub_qos0() -> Plan {
        plan(0)
    }

    #[test]
    fn out_of_order_is_counted_once_per_late_message() {
        let plan = plan(1);
        let mut l = Ledger::new(&plan);
        for seq in [0, 2, 1, 3] {
            l.sent(0, seq, 1);
            l.owned(0, seq, 1);
            l.delivered(&plan, 1, &header(seq, 1));
        }
        let a = l.finish(&plan);
        assert_eq!(a.qos[1].out_of_order, 1);
        assert_eq!(a.qos[1].delivered, 4);
        assert_eq!(l.progress(), (4, 4));
    }

    proptest! {
        /// Whatever subset arrives, in whatever order and with repeats:
        /// delivered + lost = expected, lost is exactly what never arrived.
        #[test]
        fn every_message_is_accounted_for(
            n in 1u64..200,
            arrivals in proptest::collection::vec(0u64..200, 0..400),
        ) {
            let plan = plan(1);
            let mut l = Ledger::new(&plan);
            for seq in 0..n {
                l.sent(0, seq, 1);
                l.owned(0, seq, 1);
            }
            let arrivals: Vec<u64> = arrivals.into_iter().filter(|s| *s < n).collect();
            for &seq in &arrivals {
                l.delivered(&plan, 1, &header(seq, 1));
            }
            let distinct: std::collections::BTreeSet<u64> = arrivals.iter().copied().collect();
            let a = l.finish(&plan);
            prop_assert_eq!(a.qos[1].expected, n);
            prop_assert_eq!(a.qos[1].delivered, distinct.len() as u64);
            prop_assert_eq!(a.qos[1].lost, n - distinct.len() as u64);
            prop_assert_eq!(a.qos[1].duplicated, (arrivals.len() - distinct.len()) as u64);
            prop_assert_eq!(a.passed(), distinct.len() as u64 == n);
        }

        #[test]
        fn ranges_cover_their_numbers(mut v in proptest::collection::vec(0u64..100, 0..50)) {
            v.sort_unstable();
            v.dedup();
            let r = ranges(&v, usize::MAX);
            let back: Vec<u64> = r.iter().flat_map(|(a, b)| *a..=*b).collect();
            prop_assert_eq!(back, v);
        }
    }
}
