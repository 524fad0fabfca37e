//! The terminal summary of a run: latency and accounting tables (tabled),
//! throughput, CPU, the verdict with the publishers and sequence numbers at
//! fault.

use std::fmt::Write as _;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::json::Report;
use crate::accounting::Accounting;

#[derive(Tabled)]
struct LatencyRow {
    #[tabled(rename = "latency (ms)")]
    tag: String,
    count: u64,
    p50: String,
    p90: String,
    p99: String,
    #[tabled(rename = "p99.9")]
    p999: String,
    max: String,
}

#[derive(Tabled)]
struct QosRow {
    #[tabled(rename = "QoS")]
    qos: u8,
    expected: u64,
    delivered: u64,
    lost: u64,
    duplicated: u64,
    #[tabled(rename = "out of order")]
    out_of_order: u64,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The summary text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "load {} on {} (shard {}, {} clients, MQTT {}): {:.1} s publishing, {:.1} s in all",
        r.profile, r.target, r.shard, r.clients, r.version, r.publish_s, r.wall_s
    );
    let _ = writeln!(
        out,
        "sent {} ({:.0}/s, intended {:.0}/s), delivered {} ({:.0}/s), acknowledged {}, connects {}, errors {}",
        r.counters.sent,
        r.sent_per_s,
        r.intended_rate,
        r.counters.delivered,
        r.delivered_per_s,
        r.counters.acked,
        r.counters.connects,
        r.counters.errors
    );
    out.push_str(&fault_lines(r));
    let rows: Vec<LatencyRow> = r
        .latency
        .iter()
        .map(|(tag, s)| LatencyRow {
            tag: tag.clone(),
            count: s.count,
            p50: ms(s.p50_ms),
            p90: ms(s.p90_ms),
            p99: ms(s.p99_ms),
            p999: ms(s.p999_ms),
            max: ms(s.max_ms),
        })
        .collect();
    if !rows.is_empty() {
        let _ = writeln!(out, "{}", Table::new(rows).with(Style::sharp()));
    }
    out.push_str(&qos_table(&r.accounting));
    let a = &r.accounting;
    if a.unconfirmed + a.unexpected + a.not_judged + a.foreign > 0 {
        let _ = writeln!(
            out,
            "unconfirmed (sent, never acknowledged) {} of which delivered {}; unexpected {}; not judged here (other shards) {}; foreign payloads {}",
            a.unconfirmed, a.unconfirmed_delivered, a.unexpected, a.not_judged, a.foreign
        );
    }
    if let Some(g) = r.cpu.generator_s {
        let _ = write!(out, "CPU: generator {g:.2} s");
        if let Some(b) = r.cpu.broker_s {
            let _ = write!(out, ", broker {b:.2} s");
        }
        if let Some(m) = r.messages_per_generator_cpu_s {
            let _ = write!(
                out,
                "; {m:.0} messages (sent + delivered) per generator CPU-second"
            );
        }
        out.push('\n');
    }
    for (what, n) in r.errors.iter().take(5) {
        let _ = writeln!(out, "error x{n}: {what}");
    }
    out.push_str(&problem_lines(&r.accounting));
    let v = &r.verdict;
    for n in &v.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(
        out,
        "verdict: delivery {}, SLO (p99 < {} ms) {}{}",
        if v.delivery_ok { "PASS" } else { "FAIL" },
        r.slo_p99_ms,
        if v.slo_held { "held" } else { "broken" },
        if v.reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", v.reasons.join("; "))
        }
    );
    out
}

/// The faults of a run and what they did, Jepsen's way: what the broker
/// acknowledged and then lost, what it never acknowledged, duplicates and
/// reordering per QoS, sessions lost, reconnections and recovery (empty
/// without faults).
pub fn fault_lines(r: &Report) -> String {
    let mut out = String::new();
    if r.faults.is_empty() && r.fault_errors.is_empty() {
        return out;
    }
    let c = &r.counters;
    let a = &r.accounting;
    let reconnect_p99 = r
        .latency
        .get(crate::metrics::RECONNECT)
        .map_or("-".into(), |s| format!("{:.0} ms", s.p99_ms));
    let recoveries: Vec<f64> = r.faults.iter().filter_map(|w| w.recovery_s).collect();
    let worst = recoveries
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let _ = writeln!(
        out,
        "faults: {} carried out{}; connections lost {}, reconnects {} (p99 {}), sessions lost {}, PUBLISH resent with DUP {}; recovery worst {}",
        r.faults.len(),
        if r.fault_errors.is_empty() {
            String::new()
        } else {
            format!(", {} NOT carried out", r.fault_errors.len())
        },
        c.connections_lost,
        c.reconnects,
        reconnect_p99,
        c.sessions_lost,
        c.retransmitted,
        worst.map_or("-".into(), |w| format!("{:.0} ms", w * 1000.0)),
    );
    let _ = writeln!(
        out,
        "acknowledged then lost: QoS 1 {}, QoS 2 {}; never acknowledged {} (delivered anyway {}); duplicated QoS 1 {} (allowed), QoS 2 {}; out of order QoS 1 {}, QoS 2 {}",
        a.qos[1].lost,
        a.qos[2].lost,
        a.unconfirmed,
        a.unconfirmed_delivered,
        a.qos[1].duplicated,
        a.qos[2].duplicated,
        a.qos[1].out_of_order,
        a.qos[2].out_of_order,
    );
    for (i, w) in r.faults.iter().enumerate() {
        let _ = writeln!(
            out,
            "  fault {}: {} at {:.2} s, until {}: {}; recovered {}",
            i + 1,
            w.action,
            w.begin_s,
            w.end_s.map_or("-".into(), |e| format!("{e:.2} s")),
            w.detail,
            w.recovery_s
                .map_or("never".into(), |s| format!("{:.0} ms after", s * 1000.0)),
        );
    }
    for e in &r.fault_errors {
        let _ = writeln!(out, "  NOT carried out: {e}");
    }
    out
}

/// The accounting per effective QoS, as a table (empty when nothing was
/// owed).
pub fn qos_table(a: &Accounting) -> String {
    let qos: Vec<QosRow> = a
        .qos
        .iter()
        .enumerate()
        .filter(|(_, q)| q.expected > 0 || q.duplicated > 0)
        .map(|(i, q)| QosRow {
            qos: i as u8,
            expected: q.expected,
            delivered: q.delivered,
            lost: q.lost,
            duplicated: q.duplicated,
            out_of_order: q.out_of_order,
        })
        .collect();
    if qos.is_empty() {
        return String::new();
    }
    format!("{}\n", Table::new(qos).with(Style::sharp()))
}

/// The first problems, one line each, naming the publisher and the
/// sequence numbers.
pub fn problem_lines(a: &Accounting) -> String {
    let mut out = String::new();
    for p in a.problems.iter().take(10) {
        let seqs: Vec<String> = p
            .seqs
            .iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "{} QoS {}: {} message(s) of publisher {} to {}: seq {}{}",
            p.kind,
            p.qos,
            p.count,
            p.publisher,
            p.stream,
            seqs.join(", "),
            if p.count > p.seqs.iter().map(|(a, b)| b - a + 1).sum::<u64>() {
                ", ..."
            } else {
                ""
            }
        );
    }
    out
}
