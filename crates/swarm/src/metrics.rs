//! Latency histograms (HdrHistogram, microseconds, 1 µs to 1 h at 3
//! significant digits), by tag: end-to-end corrected (from the intended send
//! time) and raw (from the actual send), per QoS and per publisher group;
//! PUBACK, PUBREC and PUBCOMP latencies, corrected and raw; connect and
//! SUBACK latencies. Each tag has an interval histogram, emptied every
//! second into the log, and a total.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Largest recordable value: one hour in microseconds.
pub const MAX_US: u64 = 3_600_000_000;

/// Tag of the overall corrected end-to-end latency (the SLO's).
pub const E2E_CORRECTED: &str = "e2e.corrected";
/// Tag of the overall raw end-to-end latency.
pub const E2E_RAW: &str = "e2e.raw";
/// Time from a lost connection to the CONNACK of the next one (backoff
/// and failed attempts included), per reconnection.
pub const RECONNECT: &str = "reconnect";

/// A fresh histogram with the swarm's bounds.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds are valid")
}

/// One tag's histograms.
#[derive(Debug, Clone)]
pub struct Series {
    /// Since the last rotation.
    pub interval: Histogram<u64>,
    /// The whole run.
    pub total: Histogram<u64>,
}

/// Every histogram of a run.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    series: BTreeMap<String, Series>,
}

impl Metrics {
    /// Records `ns` (rounded to µs, at least 1) under `tag`.
    pub fn record(&mut self, tag: &str, ns: u64) {
        let us = (ns / 1000).clamp(1, MAX_US);
        let s = match self.series.get_mut(tag) {
            Some(s) => s,
            None => self.series.entry(tag.to_owned()).or_insert_with(|| Series {
                interval: histogram(),
                total: histogram(),
            }),
        };
        s.interval.saturating_record(us);
    }

    /// Adds a whole histogram (same bounds) to the interval of `tag`.
    pub fn add(&mut self, tag: &str, h: &Histogram<u64>) {
        let s = match self.series.get_mut(tag) {
            Some(s) => s,
            None => self.series.entry(tag.to_owned()).or_insert_with(|| Series {
                interval: histogram(),
                total: histogram(),
            }),
        };
        // Same bounds: adding cannot fail.
        let _ = s.interval.add(h);
    }

    /// Hands every non-empty interval histogram to `sink` (tag, histogram),
    /// adds it to its total and empties it.
    pub fn rotate(&mut self, mut sink: impl FnMut(&str, &Histogram<u64>)) {
        for (tag, s) in &mut self.series {
            if s.interval.is_empty() {
                continue;
            }
            sink(tag, &s.interval);
            // Same bounds: adding cannot fail.
            let _ = s.total.add(&s.interval);
            s.interval.reset();
        }
    }

    /// The interval histogram of `tag`, if any.
    pub fn interval(&self, tag: &str) -> Option<&Histogram<u64>> {
        self.series.get(tag).map(|s| &s.interval)
    }

    /// Total histograms by tag (call after the last rotation).
    pub fn totals(&self) -> impl Iterator<Item = (&str, &Histogram<u64>)> {
        self.series.iter().map(|(t, s)| (t.as_str(), &s.total))
    }

    /// The total of `tag`.
    pub fn total(&self, tag: &str) -> Option<&Histogram<u64>> {
        self.series.get(tag).map(|s| &s.total)
    }
}

/// Percentiles of one histogram, in milliseconds, for reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// 99.9th.
    pub p999_ms: f64,
    /// 99.99th.
    pub p9999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Summary {
    /// Summarises `h` (values in µs).
    pub fn of(h: &Histogram<u64>) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            p9999_ms: ms(h.value_at_quantile(0.9999)),
            max_ms: ms(h.max()),
        }
    }
}

/// The percentile spectrum of `h`: (percentile, ms) points for plots on a
/// log axis of 1 / (1 - percentile).
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_quantiles(5)
        .map(|v| {
            (
                v.quantile_iterated_to(),
                h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
            )
        })
        .filter(|(q, _)| *q < 1.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_moves_intervals_into_totals() {
        let mut m = Metrics::default();
        for ms in 1..=100u64 {
            m.record("x", ms * 1_000_000);
        }
        let mut seen = Vec::new();
        m.rotate(|tag, h| seen.push((tag.to_owned(), h.len())));
        assert_eq!(seen, vec![("x".to_owned(), 100)]);
        assert!(m.interval("x").unwrap().is_empty());
        let s = Summary::of(m.total("x").unwrap());
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
        // Nothing new: nothing handed on.
        m.rotate(|_, _| panic!("empty intervals are not logged"));
        assert!(!spectrum(m.total("x").unwrap()).is_empty());
    }

    #[test]
    fn values_are_clamped_into_range() {
        let mut m = Metrics::default();
        m.record("x", 0);
        m.record("x", u64::MAX);
        m.rotate(|_, _| {});
        let h = m.total("x").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
    }
}
