//! Capacity mode: run the profile at rising rates until the SLO breaks
//! (corrected end-to-end p99 over the bound, or a QoS 1/2 message lost or a
//! QoS 2 message duplicated); the highest rate that held is the knee. A few
//! refinement steps between the last rate that held and the first that broke
//! narrow it down. Reported in `reports/<target>/capacity.md` and `.html`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{self, fresh_tag, Options};
use crate::error::SwarmError;
use crate::metrics::{Summary, E2E_CORRECTED, E2E_RAW};
use crate::profile::Profile;
use crate::report::html::esc;
use crate::report::json::Report;
use crate::report::plots;
use mqtt_span::Span;

/// How to step.
#[derive(Debug, Clone)]
pub struct CapacityOptions {
    /// First total rate (messages/s of all publishers); the profile's when
    /// `None`.
    pub start_rate: Option<f64>,
    /// Each step multiplies the rate by this.
    pub factor: f64,
    /// At most this many rising steps.
    pub max_steps: usize,
    /// Steps between the knee and the first broken rate.
    pub refine: usize,
    /// Duration of each step (the profile's when `None`).
    pub step_duration: Option<Span>,
    /// Pause between steps, for the broker to settle.
    pub pause: Duration,
}

impl Default for CapacityOptions {
    fn default() -> Self {
        CapacityOptions {
            start_rate: None,
            factor: 1.5,
            max_steps: 12,
            refine: 2,
            step_duration: None,
            pause: Duration::from_millis(500),
        }
    }
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Intended messages/s of all publishers.
    pub rate: f64,
    /// Sent per second.
    pub sent_per_s: f64,
    /// Delivered per second.
    pub delivered_per_s: f64,
    /// Corrected end-to-end latency.
    pub corrected: Option<Summary>,
    /// Raw end-to-end latency.
    pub raw: Option<Summary>,
    /// Lost per effective QoS.
    pub lost: [u64; 3],
    /// QoS 2 duplicates.
    pub duplicated_qos2: u64,
    /// The SLO held.
    pub held: bool,
    /// Why not.
    pub reasons: Vec<String>,
    /// Generator CPU seconds.
    pub generator_cpu_s: Option<f64>,
    /// Broker CPU seconds.
    pub broker_cpu_s: Option<f64>,
    /// Seconds of the step's publishing window.
    pub publish_s: f64,
}

/// The outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    /// Profile name.
    pub profile: String,
    /// Target name.
    pub target: String,
    /// The SLO's p99 bound (ms).
    pub slo_p99_ms: f64,
    /// Every step in the order run.
    pub steps: Vec<Step>,
    /// The highest rate that held.
    pub knee: Option<f64>,
    /// The lowest rate that broke.
    pub broke_at: Option<f64>,
}

fn step_of(report: &Report) -> Step {
    let a = &report.accounting;
    Step {
        rate: report.intended_rate,
        sent_per_s: report.sent_per_s,
        delivered_per_s: report.delivered_per_s,
        corrected: report.latency.get(E2E_CORRECTED).cloned(),
        raw: report.latency.get(E2E_RAW).cloned(),
        lost: [a.qos[0].lost, a.qos[1].lost, a.qos[2].lost],
        duplicated_qos2: a.qos[2].duplicated,
        held: report.verdict.slo_held,
        reasons: report.verdict.reasons.clone(),
        generator_cpu_s: report.cpu.generator_s,
        broker_cpu_s: report.cpu.broker_s,
        publish_s: report.publish_s,
    }
}

/// Steps `profile` up against `options.addr`; `on_step` sees each step as
/// it ends.
pub async fn capacity(
    profile: &Profile,
    options: &Options,
    cap: &CapacityOptions,
    mut on_step: impl FnMut(&Step),
) -> Result<Capacity, SwarmError> {
    let base = profile.total_rate();
    if cap.factor.is_nan() || cap.factor <= 1.0 {
        return Err(SwarmError::Options("--factor must be more than 1".into()));
    }
    let mut profile = profile.clone();
    if let Some(d) = cap.step_duration {
        profile.duration = d;
    }
    let mut out = Capacity {
        profile: profile.name.clone(),
        target: options.target.clone(),
        slo_p99_ms: profile.slo.p99_ms,
        steps: Vec::new(),
        knee: None,
        broke_at: None,
    };
    let mut rate = cap.start_rate.unwrap_or(base);
    let run_at = |rate: f64| {
        let p = profile.scaled(rate / base);
        let mut o = options.clone();
        o.tag = fresh_tag();
        async move {
            let run = engine::run(&p, &o).await?;
            Ok::<Step, SwarmError>(step_of(&Report::of(&run)))
        }
    };
    for _ in 0..cap.max_steps {
        let step = run_at(rate).await?;
        on_step(&step);
        let held = step.held;
        out.steps.push(step);
        if held {
            out.knee = Some(rate);
            rate *= cap.factor;
        } else {
            out.broke_at = Some(rate);
            break;
        }
        tokio::time::sleep(cap.pause).await;
    }
    if let (Some(mut lo), Some(mut hi)) = (out.knee, out.broke_at) {
        for _ in 0..cap.refine {
            tokio::time::sleep(cap.pause).await;
            let mid = (lo * hi).sqrt();
            let step = run_at(mid).await?;
            on_step(&step);
            if step.held {
                lo = mid;
                out.knee = Some(mid);
            } else {
                hi = mid;
                out.broke_at = Some(mid);
            }
            out.steps.push(step);
        }
    }
    Ok(out)
}

fn opt_ms(s: &Option<Summary>, f: impl Fn(&Summary) -> f64) -> String {
    s.as_ref().map_or("-".into(), |s| format!("{:.2}", f(s)))
}

/// The Markdown report.
pub fn markdown(c: &Capacity) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# Capacity: {} on {}\n", c.profile, c.target);
    let _ = writeln!(
        m,
        "SLO: corrected end-to-end p99 under {} ms, no QoS 1 or 2 message lost, no QoS 2 message duplicated.\n",
        c.slo_p99_ms
    );
    match (c.knee, c.broke_at) {
        (Some(k), Some(b)) => {
            let _ = writeln!(
                m,
                "**Knee: {k:.0} messages/s held; {b:.0} messages/s broke the SLO.**\n"
            );
        }
        (Some(k), None) => {
            let _ = writeln!(
                m,
                "**{k:.0} messages/s held: the SLO never broke within the steps run.**\n"
            );
        }
        (None, Some(b)) => {
            let _ = writeln!(
                m,
                "**The first step ({b:.0} messages/s) already broke the SLO.**\n"
            );
        }
        (None, None) => {
            let _ = writeln!(m, "No step ran.\n");
        }
    }
    let _ = writeln!(
        m,
        "| intended msg/s | sent/s | delivered/s | p50 ms | p99 ms | p99.9 ms | raw p99 ms | lost q0/q1/q2 | dup q2 | gen CPU s | broker CPU s | SLO |"
    );
    let _ = writeln!(
        m,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for s in &c.steps {
        let cpu = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            m,
            "| {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {}/{}/{} | {} | {} | {} | {} |",
            s.rate,
            s.sent_per_s,
            s.delivered_per_s,
            opt_ms(&s.corrected, |s| s.p50_ms),
            opt_ms(&s.corrected, |s| s.p99_ms),
            opt_ms(&s.corrected, |s| s.p999_ms),
            opt_ms(&s.raw, |s| s.p99_ms),
            s.lost[0],
            s.lost[1],
            s.lost[2],
            s.duplicated_qos2,
            cpu(s.generator_cpu_s),
            cpu(s.broker_cpu_s),
            if s.held {
                "held".to_owned()
            } else {
                format!("broken: {}", s.reasons.join("; "))
            }
        );
    }
    m
}

/// The HTML report: the table and p99 against rate.
pub fn html(c: &Capacity) -> String {
    let mut pts: Vec<&Step> = c.steps.iter().collect();
    pts.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let series = |f: &dyn Fn(&Summary) -> f64, raw: bool| -> Vec<(f64, f64)> {
        pts.iter()
            .filter_map(|s| {
                let h = if raw { &s.raw } else { &s.corrected };
                h.as_ref().map(|h| (s.rate, f(h)))
            })
            .collect()
    };
    let chart = plots::steps(
        "latency against offered rate",
        "intended messages / s",
        "ms",
        &[
            ("corrected p99".into(), series(&|s| s.p99_ms, false)),
            ("corrected p50".into(), series(&|s| s.p50_ms, false)),
            ("raw p99".into(), series(&|s| s.p99_ms, true)),
        ],
        Some(c.slo_p99_ms),
    );
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>capacity {p} on {t}</title>\
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}pre{{background:#f6f6f6;padding:8px;overflow:auto}}</style>\
</head><body>{chart}<pre>{md}</pre></body></html>\n",
        p = esc(&c.profile),
        t = esc(&c.target),
        md = esc(&markdown(c))
    )
}
