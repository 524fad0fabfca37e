//! The JSON report of a run. Field names are a stable schema: add, never
//! rename.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::accounting::Accounting;
use crate::collector::{Counters, Point};
use crate::engine::{CpuUse, Run};
use crate::metrics::{Summary, E2E_CORRECTED};

/// The verdict of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// QoS 1 lost nothing and QoS 2 lost and duplicated nothing.
    pub delivery_ok: bool,
    /// The corrected end-to-end p99 stayed under the SLO's.
    pub p99_ok: bool,
    /// Both, and (if the SLO says so) QoS 0 lost nothing.
    pub slo_held: bool,
    /// Why it did not pass, in words.
    pub reasons: Vec<String>,
    /// What the run found that does not decide the verdict (persistent
    /// sessions a broker without durability lost to a kill, say).
    pub notes: Vec<String>,
}

/// The JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always 1 for this layout.
    pub schema: u32,
    /// Profile name.
    pub profile: String,
    /// Target name.
    pub target: String,
    /// `i/N`.
    pub shard: String,
    /// Clients run by this process.
    pub clients: usize,
    /// MQTT version.
    pub version: String,
    /// Intended messages per second of all publishers (of the whole profile).
    pub intended_rate: f64,
    /// Publishing window (ramp-up plus duration), seconds.
    pub publish_s: f64,
    /// Start to end of drain, seconds.
    pub wall_s: f64,
    /// Messages sent per second over the publishing window.
    pub sent_per_s: f64,
    /// Messages delivered per second over the publishing window.
    pub delivered_per_s: f64,
    /// Totals.
    pub counters: Counters,
    /// Delivery accounting.
    pub accounting: Accounting,
    /// Latency summaries by histogram tag (ms).
    pub latency: BTreeMap<String, Summary>,
    /// One point per second.
    pub timeline: Vec<Point>,
    /// Distinct errors and counts.
    pub errors: BTreeMap<String, u64>,
    /// CPU seconds.
    pub cpu: CpuUse,
    /// Messages (sent plus delivered) per generator CPU-second.
    pub messages_per_generator_cpu_s: Option<f64>,
    /// SLO: the corrected p99 bound (ms).
    pub slo_p99_ms: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// The faults of the schedule as carried out (empty without `faults:`).
    pub faults: Vec<crate::collector::FaultWindow>,
    /// Faults that could not be carried out as asked.
    pub fault_errors: Vec<String>,
}

impl Report {
    /// The report of `run`.
    pub fn of(run: &Run) -> Report {
        let c = &run.collected;
        let latency: BTreeMap<String, Summary> = c
            .metrics
            .totals()
            .filter(|(_, h)| !h.is_empty())
            .map(|(t, h)| (t.to_owned(), Summary::of(h)))
            .collect();
        let verdict = verdict(run, latency.get(E2E_CORRECTED));
        let messages = (c.counters.sent + c.counters.delivered) as f64;
        Report {
            schema: 1,
            profile: run.profile.name.clone(),
            target: run.target.clone(),
            shard: format!("{}/{}", run.shard.index, run.shard.count),
            clients: run.local_clients,
            version: match run.profile.version {
                crate::profile::Version::V311 => "3.1.1".into(),
                crate::profile::Version::V5 => "5.0".into(),
            },
            intended_rate: run.profile.total_rate(),
            publish_s: run.publish_s,
            wall_s: run.wall_s,
            sent_per_s: c.counters.sent as f64 / run.publish_s.max(1e-9),
            delivered_per_s: c.counters.delivered as f64 / run.publish_s.max(1e-9),
            counters: c.counters.clone(),
            accounting: c.accounting.clone(),
            latency,
            timeline: c.timeline.clone(),
            errors: c.errors.clone(),
            cpu: run.cpu,
            messages_per_generator_cpu_s: run
                .cpu
                .generator_s
                .filter(|s| *s > 0.0)
                .map(|s| messages / s),
            slo_p99_ms: run.profile.slo.p99_ms,
            verdict,
            faults: c.faults.clone(),
            fault_errors: run.fault_errors.clone(),
        }
    }
}

fn verdict(run: &Run, e2e: Option<&Summary>) -> Verdict {
    let a = &run.collected.accounting;
    let mut reasons = Vec::new();
    let delivery_ok = a.passed();
    if a.qos[1].lost > 0 {
        reasons.push(format!("{} QoS 1 message(s) lost", a.qos[1].lost));
    }
    if a.qos[2].lost > 0 {
        reasons.push(format!("{} QoS 2 message(s) lost", a.qos[2].lost));
    }
    if a.qos[2].duplicated > 0 {
        reasons.push(format!(
            "{} QoS 2 message(s) duplicated",
            a.qos[2].duplicated
        ));
    }
    let slo = &run.profile.slo;
    let p99_ok = match e2e {
        Some(s) => s.p99_ms < slo.p99_ms,
        None => false,
    };
    match e2e {
        Some(s) if !p99_ok => reasons.push(format!(
            "corrected p99 {:.2} ms is over the SLO's {} ms",
            s.p99_ms, slo.p99_ms
        )),
        None => reasons.push("no message was delivered".into()),
        _ => {}
    }
    let mut notes = Vec::new();
    let sessions_lost = run.collected.counters.sessions_lost;
    if sessions_lost > 0 {
        notes.push(format!(
            "{sessions_lost} persistent session(s) lost by the broker (Session Present 0 on reconnection)"
        ));
    }
    if !run.fault_errors.is_empty() {
        reasons.push(format!(
            "{} fault(s) not carried out",
            run.fault_errors.len()
        ));
    }
    let qos0_ok = !slo.qos0_loss_breaks || a.qos[0].lost == 0;
    if !qos0_ok {
        reasons.push(format!("{} QoS 0 message(s) lost", a.qos[0].lost));
    }
    Verdict {
        delivery_ok,
        p99_ok,
        slo_held: delivery_ok && p99_ok && qos0_ok,
        reasons,
        notes,
    }
}
