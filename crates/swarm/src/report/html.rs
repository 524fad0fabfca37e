//! The HTML report of a run: the figures, the accounting, and plots (the
//! latency percentile spectrum, throughput and p99 over time, connected
//! clients over time), self-contained (inline SVG).

use std::fmt::Write as _;

use super::json::Report;
use super::plots::{self, Series};
use crate::engine::Run;
use crate::metrics::{spectrum, E2E_CORRECTED, E2E_RAW};

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The page.
pub fn page(run: &Run, r: &Report) -> String {
    let m = &run.collected.metrics;
    let mut spec: Vec<Series> = Vec::new();
    for (tag, name) in [
        (E2E_CORRECTED, "end-to-end, corrected (from intended send)"),
        (E2E_RAW, "end-to-end, raw (from actual send)"),
        ("puback.corrected", "PUBACK, corrected"),
        ("pubcomp.corrected", "PUBCOMP, corrected"),
    ] {
        if let Some(h) = m.total(tag).filter(|h| !h.is_empty()) {
            spec.push((name.into(), spectrum(h)));
        }
    }
    let tl = &r.timeline;
    let end = tl.last().map_or(0.0, |p| p.t_s);
    let windows: Vec<(f64, f64)> = r
        .faults
        .iter()
        .map(|w| (w.begin_s, w.end_s.unwrap_or(end).max(w.begin_s + 0.05)))
        .collect();
    let series = |f: &dyn Fn(&crate::collector::Point) -> Option<f64>| -> Vec<(f64, f64)> {
        tl.iter().filter_map(|p| f(p).map(|v| (p.t_s, v))).collect()
    };
    let throughput = plots::timeline_with_windows(
        "throughput",
        "messages / s",
        &[
            ("sent".into(), series(&|p| Some(p.sent as f64))),
            ("delivered".into(), series(&|p| Some(p.delivered as f64))),
        ],
        &windows,
    );
    let p99 = plots::timeline_with_windows(
        "end-to-end p99 per second",
        "ms",
        &[
            ("corrected p99".into(), series(&|p| p.p99_ms)),
            ("raw p99".into(), series(&|p| p.raw_p99_ms)),
            ("corrected p50".into(), series(&|p| p.p50_ms)),
        ],
        &windows,
    );
    let connected = plots::timeline_with_windows(
        "connected clients",
        "clients",
        &[("connected".into(), series(&|p| Some(p.connected as f64)))],
        &windows,
    );
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>load {p} on {t}</title>\
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}}table{{border-collapse:collapse}}\
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}th{{background:#eee}}\
.pass{{color:#080}}.fail{{color:#c00}}pre{{background:#f6f6f6;padding:8px}}</style></head><body>\
<h1>Load: {p} on {t}</h1>",
        p = esc(&r.profile),
        t = esc(&r.target)
    );
    let v = &r.verdict;
    let _ = write!(
        h,
        "<p>Delivery <b class=\"{}\">{}</b>; SLO (corrected p99 &lt; {} ms, nothing lost at QoS 1 and 2) <b class=\"{}\">{}</b>{}</p>",
        if v.delivery_ok { "pass" } else { "fail" },
        if v.delivery_ok { "PASS" } else { "FAIL" },
        r.slo_p99_ms,
        if v.slo_held { "pass" } else { "fail" },
        if v.slo_held { "held" } else { "broken" },
        if v.reasons.is_empty() { String::new() } else { format!(": {}", esc(&v.reasons.join("; "))) }
    );
    let _ = write!(h, "<pre>{}</pre>", esc(&super::summary::render(r)));
    let _ = write!(
        h,
        "<h2>Latency percentile spectrum</h2><p>Corrected latency is timed from each message's intended send time \
on its publisher's fixed schedule; raw latency from the moment it was written. Where they part, the broker \
(or the network) held the generator back: that wait is latency its users would see.</p>{}",
        plots::spectrum("latency by percentile", &spec)
    );
    if !r.faults.is_empty() {
        let _ = write!(
            h,
            "<h2>Faults</h2><p>Shaded in the charts below: from the fault's beginning to its end (the broker \
ready again, the link healed). Recovery: from the end to the first acknowledgement or delivery after it.</p>\
<table><tr><th>#</th><th>fault</th><th>what</th><th>begin (s)</th><th>end (s)</th><th>clients cut</th><th>recovery (ms)</th></tr>"
        );
        for (i, w) in r.faults.iter().enumerate() {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td style=\"text-align:left\">{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                i + 1,
                esc(&w.action),
                esc(&w.detail),
                w.begin_s,
                w.end_s.map_or("-".into(), |e| format!("{e:.2}")),
                w.clients,
                w.recovery_s.map_or("-".into(), |s| format!("{:.0}", s * 1000.0)),
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(h, "<h2>Over time</h2>{throughput}{p99}{connected}");
    let _ = writeln!(
        h,
        "<p>Raw data: the JSON report and the HdrHistogram interval log next to this page.</p></body></html>"
    );
    h
}
