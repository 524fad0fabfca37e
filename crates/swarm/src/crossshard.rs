//! Delivery accounting across shards. A shard sees only its own side of a
//! message: a publisher in shard 1 whose subscriber runs in shard 0 is sent
//! there and received here. Each shard therefore writes its ledger in a
//! mergeable form ([`ShardLedger`], `<profile>.shard-i-of-N.ledger.json`):
//! per local publisher, the sequence numbers it sent as runs of equal QoS
//! and acknowledgement; per (stream, publisher) pair it received, the
//! sequence numbers as inclusive ranges, with duplicate and out-of-order
//! counts. [`merge`] puts all shards together and accounts for the whole run
//! exactly as one unsharded run would: delivered, lost, duplicated and out
//! of order per effective QoS, naming the publisher and sequence numbers of
//! what was lost.
//!
//! Size: a run of messages that all arrived is one range, so a healthy run
//! writes a few numbers per pair; each list holds at most
//! [`MAX_RECORD_RANGES`] entries (a publisher mixing QoS levels at random
//! has about one run per message), and a longer one is cut and the merge
//! says it is inexact.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::accounting::{ranges, Accounting, Ledger, Problem, MAX_RANGES, OWNED, QOS_MASK, SENT};
use crate::error::SwarmError;
use crate::plan::Plan;
use crate::profile::Role;

/// Inclusive ranges of sequence numbers, sorted.
type Ranges = Vec<(u64, u64)>;

/// The layout version of [`ShardLedger`].
pub const FORMAT: u32 = 1;
/// Entries kept per list of runs or ranges.
pub const MAX_RECORD_RANGES: usize = 1 << 20;

/// A stream as the plan has it (the same in every shard).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StreamInfo {
    /// The subscriber's client id (in the shard that runs it) or
    /// `$share/<name>/<filter>`.
    pub name: String,
    /// The filter.
    pub filter: String,
    /// The subscription's maximum QoS.
    pub qos: u8,
    /// Its subscribers (profile indexes).
    pub members: Vec<u32>,
}

/// What one publisher sent: consecutive sequence numbers with the same QoS
/// and acknowledgement state, `(first, last, qos, acknowledged)`; QoS 0
/// messages count as acknowledged when sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SentRecord {
    /// The publisher (profile index).
    pub publisher: u32,
    /// Inclusive runs.
    pub runs: Vec<(u64, u64, u8, bool)>,
    /// The list was cut at [`MAX_RECORD_RANGES`].
    pub truncated: bool,
}

/// What one stream's members in this shard received from one publisher.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceivedRecord {
    /// The stream (plan index).
    pub stream: u32,
    /// The publisher.
    pub publisher: u32,
    /// Sequence numbers received at least once, inclusive ranges.
    pub seqs: Vec<(u64, u64)>,
    /// The list was cut at [`MAX_RECORD_RANGES`].
    pub truncated: bool,
    /// Extra copies per effective QoS.
    pub duplicated: [u64; 3],
    /// Sequence numbers of QoS 2 duplicates (ranges, the first
    /// [`MAX_RECORD_RANGES`]).
    pub duplicated_qos2: Vec<(u64, u64)>,
    /// Late arrivals per effective QoS (per subscriber and publisher).
    pub out_of_order: [u64; 3],
}

/// One shard's accounting in mergeable form.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ShardLedger {
    /// [`FORMAT`].
    pub format: u32,
    /// The profile's name.
    pub profile: String,
    /// This shard.
    pub shard_index: u32,
    /// How many shards.
    pub shard_count: u32,
    /// Every stream of the plan.
    pub streams: Vec<StreamInfo>,
    /// Per client: the streams its messages must reach.
    pub expect: Vec<Vec<u32>>,
    /// Client ids of this shard's clients.
    pub names: BTreeMap<u32, String>,
    /// This shard's publishers.
    pub sent: Vec<SentRecord>,
    /// What this shard's subscribers received.
    pub received: Vec<ReceivedRecord>,
    /// Deliveries to a stream that should not have had them.
    pub unexpected: u64,
    /// PUBLISH packets that were not swarm messages.
    pub foreign: u64,
}

impl ShardLedger {
    /// The mergeable form of `ledger` (the profile name is filled in by
    /// the caller).
    pub fn of(ledger: &Ledger, plan: &Plan) -> ShardLedger {
        let mut sent = Vec::new();
        for c in plan.local_clients().filter(|c| c.role == Role::Publisher) {
            let status = ledger.status.get(c.n as usize).map_or(&[][..], |v| &v[..]);
            let mut runs: Vec<(u64, u64, u8, bool)> = Vec::new();
            let mut truncated = false;
            for (seq, st) in status.iter().enumerate() {
                if st & SENT == 0 {
                    continue;
                }
                let (seq, qos, owned) = (seq as u64, st & QOS_MASK, st & OWNED != 0);
                let full = runs.len() == MAX_RECORD_RANGES;
                match runs.last_mut() {
                    Some(r) if r.1 + 1 == seq && r.2 == qos && r.3 == owned => r.1 = seq,
                    _ if full => {
                        truncated = true;
                        break;
                    }
                    _ => runs.push((seq, seq, qos, owned)),
                }
            }
            sent.push(SentRecord {
                publisher: c.n,
                runs,
                truncated,
            });
        }
        let mut received: Vec<ReceivedRecord> = ledger
            .receipts
            .iter()
            .map(|(&(stream, publisher), r)| {
                let (seqs, truncated) = bit_ranges(&r.seen);
                let mut dups = r.dup_seqs.clone();
                dups.sort_unstable();
                ReceivedRecord {
                    stream,
                    publisher,
                    seqs,
                    truncated,
                    duplicated: r.dup,
                    duplicated_qos2: ranges(&dups, MAX_RECORD_RANGES),
                    out_of_order: r.ooo,
                }
            })
            .collect();
        received.sort_by_key(|r| (r.stream, r.publisher));
        ShardLedger {
            format: FORMAT,
            profile: String::new(),
            shard_index: plan.shard.index,
            shard_count: plan.shard.count,
            streams: plan
                .streams
                .iter()
                .map(|s| StreamInfo {
                    name: s.name.clone(),
                    filter: s.filter.clone(),
                    qos: s.qos,
                    members: s.members.clone(),
                })
                .collect(),
            expect: plan.expect.clone(),
            names: plan
                .local_clients()
                .map(|c| (c.n, c.client_id.clone()))
                .collect(),
            sent,
            received,
            unexpected: ledger.unexpected,
            foreign: ledger.foreign,
        }
    }

    /// Reads a ledger file.
    pub fn read(path: &Path) -> Result<ShardLedger, SwarmError> {
        let err = |message: String| SwarmError::Log {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let l: ShardLedger = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        if l.format != FORMAT {
            return Err(err(format!(
                "ledger format {} (this build reads {FORMAT})",
                l.format
            )));
        }
        Ok(l)
    }

    /// Writes it as JSON.
    pub fn write(&self, path: &Path) -> Result<(), SwarmError> {
        let text = serde_json::to_string(self).map_err(|e| SwarmError::report(path, e))?;
        std::fs::write(path, text + "\n").map_err(|e| SwarmError::report(path, e))
    }
}

/// The set bits of a bitset as inclusive ranges, and whether the list was
/// cut.
fn bit_ranges(words: &[u64]) -> (Vec<(u64, u64)>, bool) {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (w, &word) in words.iter().enumerate() {
        if word == 0 {
            continue;
        }
        let base = w as u64 * 64;
        let mut bits = word;
        while bits != 0 {
            let lo = u64::from(bits.trailing_zeros());
            // The run of ones from `lo`.
            let ones = u64::from((!(bits >> lo)).trailing_zeros());
            let (a, b) = (base + lo, base + lo + ones - 1);
            let full = out.len() == MAX_RECORD_RANGES;
            match out.last_mut() {
                Some(r) if r.1 + 1 == a => r.1 = b,
                _ if full => return (out, true),
                _ => out.push((a, b)),
            }
            bits = if lo + ones >= 64 {
                0
            } else {
                bits & !((1u64 << (lo + ones)) - 1)
            };
        }
    }
    (out, false)
}

/// The accounting of a whole sharded run.
#[derive(Debug, Clone, Serialize)]
pub struct Merged {
    /// The profile.
    pub profile: String,
    /// Shards merged.
    pub shards: u32,
    /// Messages sent by all publishers.
    pub sent: u64,
    /// The accounting, every pair judged (`not_judged` is 0).
    pub accounting: Accounting,
    /// Why the figures may be inexact (lists cut at their bound); empty
    /// when exact.
    pub inexact: Vec<String>,
}

/// The merged accounting as pretty JSON.
pub fn to_json(merged: &Merged) -> Result<String, SwarmError> {
    serde_json::to_string_pretty(merged).map_err(|e| SwarmError::Merge(e.to_string()))
}

/// The union of several lists of disjoint sorted ranges, and the ranges
/// covered more than once (once per extra copy).
fn union(parts: &[&[(u64, u64)]]) -> (Ranges, Ranges) {
    let mut all: Vec<(u64, u64)> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    all.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut overlaps = Vec::new();
    for (a, b) in all {
        match out.last_mut() {
            Some(r) if a <= r.1.saturating_add(1) => {
                if a <= r.1 {
                    overlaps.push((a, b.min(r.1)));
                }
                r.1 = r.1.max(b);
            }
            _ => out.push((a, b)),
        }
    }
    (out, overlaps)
}

/// How many of `[a, b]` are in `set` (sorted disjoint ranges), and the
/// ranges of `[a, b]` that are not.
fn split(set: &[(u64, u64)], a: u64, b: u64) -> (u64, Vec<(u64, u64)>) {
    let mut inside = 0;
    let mut missing = Vec::new();
    // The first number not yet known to be covered.
    let mut at = a;
    let first = set.partition_point(|r| r.1 < a);
    for &(x, y) in &set[first..] {
        if x > b {
            break;
        }
        let (x, y) = (x.max(a), y.min(b));
        if x > at {
            missing.push((at, x - 1));
        }
        inside += y - x + 1;
        if y == b {
            return (inside, missing);
        }
        at = y + 1;
    }
    missing.push((at, b));
    (inside, missing)
}

/// Appends ranges in order to `into`, joining adjacent ones, keeping at
/// most `max`.
fn push_ranges(into: &mut Vec<(u64, u64)>, from: &[(u64, u64)], max: usize) {
    for &(x, y) in from {
        let full = into.len() >= max;
        match into.last_mut() {
            Some(r) if r.1.saturating_add(1) >= x && x >= r.0 => r.1 = r.1.max(y),
            _ if full => return,
            _ => into.push((x, y)),
        }
    }
}

/// Merges the ledgers of every shard of one run (each shard exactly once).
pub fn merge(shards: &[ShardLedger]) -> Result<Merged, SwarmError> {
    let bad = |m: String| SwarmError::Merge(m);
    let Some(first) = shards.first() else {
        return Err(bad("no shard ledgers to merge".into()));
    };
    let count = first.shard_count;
    let mut seen = BTreeSet::new();
    for l in shards {
        if l.profile != first.profile || l.shard_count != count {
            return Err(bad(format!(
                "shard {}/{} of profile `{}` does not belong with shard {}/{} of `{}`",
                l.shard_index, l.shard_count, l.profile, first.shard_index, count, first.profile
            )));
        }
        if l.expect != first.expect
            || l.streams
                .iter()
                .zip(&first.streams)
                .any(|(a, b)| (&a.filter, a.qos, &a.members) != (&b.filter, b.qos, &b.members))
            || l.streams.len() != first.streams.len()
        {
            return Err(bad(format!(
                "shard {}/{count} was planned from a different profile than shard {}/{count}",
                l.shard_index, first.shard_index
            )));
        }
        if !seen.insert(l.shard_index) {
            return Err(bad(format!("shard {}/{count} given twice", l.shard_index)));
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains(i))
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "missing shards {}: what their clients sent and received cannot be accounted",
            missing.join(", ")
        )));
    }

    let mut names: BTreeMap<u32, &str> = BTreeMap::new();
    for l in shards {
        names.extend(l.names.iter().map(|(n, s)| (*n, s.as_str())));
    }
    let name = |n: u32| {
        names
            .get(&n)
            .map_or_else(|| format!("client {n}"), |s| (*s).to_owned())
    };
    let stream_name = |s: &StreamInfo| match s.members.as_slice() {
        [one] if !s.name.starts_with("$share/") => name(*one),
        _ => s.name.clone(),
    };
    let mut inexact = Vec::new();
    let mut sent_by: BTreeMap<u32, &SentRecord> = BTreeMap::new();
    for l in shards {
        for r in &l.sent {
            if sent_by.insert(r.publisher, r).is_some() {
                return Err(bad(format!(
                    "publisher {} is in more than one shard",
                    r.publisher
                )));
            }
            if r.truncated {
                inexact.push(format!(
                    "the runs of publisher {} were cut",
                    name(r.publisher)
                ));
            }
        }
    }
    let mut received: HashMap<(u32, u32), Vec<&ReceivedRecord>> = HashMap::new();
    let mut a = Accounting::default();
    for l in shards {
        a.unexpected += l.unexpected;
        a.foreign += l.foreign;
        for r in &l.received {
            if r.truncated {
                inexact.push(format!(
                    "what stream {} received from {} was cut",
                    r.stream,
                    name(r.publisher)
                ));
            }
            received.entry((r.stream, r.publisher)).or_default().push(r);
        }
    }
    let mut total_sent = 0u64;
    for (&p, rec) in &sent_by {
        total_sent += rec.runs.iter().map(|r| r.1 - r.0 + 1).sum::<u64>();
        let Some(streams) = first.expect.get(p as usize) else {
            return Err(bad(format!("publisher {p} is not in the plan")));
        };
        for &s in streams {
            let Some(sp) = first.streams.get(s as usize) else {
                return Err(bad(format!("stream {s} is not in the plan")));
            };
            let parts = received.remove(&(s, p)).unwrap_or_default();
            let lists: Vec<&[(u64, u64)]> = parts.iter().map(|r| &r.seqs[..]).collect();
            let (got, overlaps) = union(&lists);
            let mut dup_qos2: Vec<(u64, u64)> = Vec::new();
            let mut dup2_count = 0;
            for r in &parts {
                for q in 0..3 {
                    a.qos[q].duplicated += r.duplicated[q];
                    a.qos[q].out_of_order += r.out_of_order[q];
                }
                dup2_count += r.duplicated[2];
                dup_qos2.extend_from_slice(&r.duplicated_qos2);
            }
            let mut lost: [(u64, Vec<(u64, u64)>); 3] = Default::default();
            for &(lo, hi, qos, owned) in &rec.runs {
                let eff = usize::from(qos.min(sp.qos).min(2));
                // Copies received in two shards (members of one shared
                // subscription in different shards).
                for &(x, y) in &overlaps {
                    let (x, y) = (x.max(lo), y.min(hi));
                    if x <= y {
                        a.qos[eff].duplicated += y - x + 1;
                        if eff == 2 {
                            dup2_count += y - x + 1;
                            dup_qos2.push((x, y));
                        }
                    }
                }
                let (inside, missing) = split(&got, lo, hi);
                if !owned {
                    a.unconfirmed += hi - lo + 1;
                    a.unconfirmed_delivered += inside;
                    continue;
                }
                a.qos[eff].expected += hi - lo + 1;
                a.qos[eff].delivered += inside;
                let n_lost = hi - lo + 1 - inside;
                a.qos[eff].lost += n_lost;
                lost[eff].0 += n_lost;
                push_ranges(&mut lost[eff].1, &missing, MAX_RANGES);
            }
            for (q, (n, seqs)) in lost.into_iter().enumerate() {
                if n > 0 {
                    a.problems.push(Problem {
                        kind: "lost",
                        qos: q as u8,
                        publisher: name(p),
                        stream: stream_name(sp),
                        count: n,
                        seqs,
                    });
                }
            }
            if dup2_count > 0 {
                dup_qos2.sort_unstable();
                let mut seqs = Vec::new();
                push_ranges(&mut seqs, &dup_qos2, MAX_RANGES);
                a.problems.push(Problem {
                    kind: "duplicated",
                    qos: 2,
                    publisher: name(p),
                    stream: stream_name(sp),
                    count: dup2_count,
                    seqs,
                });
            }
        }
    }
    // Receipts of pairs no publisher record stands for.
    for ((s, p), parts) in received {
        let n: u64 = parts
            .iter()
            .flat_map(|r| r.seqs.iter().map(|x| x.1 - x.0 + 1))
            .sum();
        if n > 0 {
            inexact.push(format!(
                "{n} messages of publisher {p} received by stream {s} with no record of their sending"
            ));
        }
    }
    a.problems
        .sort_by_key(|p| std::cmp::Reverse((p.qos, p.count)));
    Ok(Merged {
        profile: first.profile.clone(),
        shards: count,
        sent: total_sent,
        accounting: a,
        inexact,
    })
}

#[cfg(test)]
mod tests;
