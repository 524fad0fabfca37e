//! Interval histograms in the standard HdrHistogram log format (as written
//! by HdrHistogram's `HistogramLogWriter` and read by HistogramLogAnalyzer):
//! `Tag=<tag>,<start>,<length>,<max>,<base64 V2 compressed histogram>`, with
//! `#[StartTime` and `#[BaseTime` headers in seconds since the Unix epoch.
//! Shards write one log each; [`merge`] adds them histogram by histogram,
//! which is exact (no percentile averaging).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::error::SwarmError;
use crate::metrics::histogram;

/// Writes the log of a run whose intervals are timed from `start_unix_ns`,
/// to `out`: `write(log)` is called once with a log handle.
pub fn write_log<W: Write>(
    out: &mut W,
    start_unix_ns: u64,
    comment: &str,
    intervals: &mut dyn FnMut(&mut LogWriter<'_, '_, W>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut ser = V2DeflateSerializer::new();
    let start = UNIX_EPOCH + Duration::from_nanos(start_unix_ns);
    let mut w = IntervalLogWriterBuilder::new()
        .add_comment(comment)
        .add_comment("Values in microseconds; Interval_Max in milliseconds")
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0)
        .begin_log_with(out, &mut ser)?;
    writeln_legend(&mut w)?;
    intervals(&mut LogWriter { inner: w })
}

fn writeln_legend<W: Write>(
    w: &mut hdrhistogram::serialization::interval_log::IntervalLogWriter<
        '_,
        '_,
        W,
        V2DeflateSerializer,
    >,
) -> std::io::Result<()> {
    w.write_comment(
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"",
    )
}

/// An open log.
pub struct LogWriter<'a, 'b, W: Write> {
    inner: hdrhistogram::serialization::interval_log::IntervalLogWriter<
        'a,
        'b,
        W,
        V2DeflateSerializer,
    >,
}

impl<W: Write> LogWriter<'_, '_, W> {
    /// Writes one interval histogram; `from_s` and `len_s` in seconds since
    /// the log's base time.
    pub fn interval(
        &mut self,
        tag: &str,
        h: &Histogram<u64>,
        from_s: f64,
        len_s: f64,
    ) -> std::io::Result<()> {
        self.inner
            .write_histogram(
                h,
                Duration::from_secs_f64(from_s.max(0.0)),
                Duration::from_secs_f64(len_s.max(0.0)),
                Tag::new(tag),
            )
            .map_err(|e| std::io::Error::other(format!("{e:?}")))
    }
}

/// Histograms read back from one or more logs.
#[derive(Debug, Default)]
pub struct Merged {
    /// Sum of every interval, by tag.
    pub totals: BTreeMap<String, Histogram<u64>>,
    /// Intervals by whole second since the Unix epoch, and tag.
    pub intervals: BTreeMap<(u64, String), Histogram<u64>>,
    /// Earliest base time, seconds since the Unix epoch.
    pub start_s: Option<f64>,
    /// Interval histograms read.
    pub read: u64,
}

/// Reads logs and adds their histograms by tag (totals) and by tag and
/// second (intervals).
pub fn merge(paths: &[impl AsRef<Path>]) -> Result<Merged, SwarmError> {
    let mut m = Merged::default();
    for path in paths {
        let path = path.as_ref();
        let err = |message: String| SwarmError::Log {
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        add_log(&mut m, &bytes).map_err(err)?;
    }
    Ok(m)
}

/// Adds one log's histograms.
pub fn add_log(m: &mut Merged, bytes: &[u8]) -> Result<(), String> {
    let mut base = 0.0f64;
    let mut de = Deserializer::new();
    for (i, entry) in IntervalLogIterator::new(bytes).enumerate() {
        let entry = entry.map_err(|e| format!("entry {}: {e:?}", i + 1))?;
        match entry {
            LogEntry::BaseTime(t) => base = t.as_secs_f64(),
            LogEntry::StartTime(t) => {
                if base == 0.0 {
                    base = t.as_secs_f64();
                }
            }
            LogEntry::Interval(h) => {
                let tag = h.tag().map(|t| t.as_str().to_owned()).unwrap_or_default();
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(h.encoded_histogram())
                    .map_err(|e| format!("histogram {}: base64: {e}", i + 1))?;
                let hist: Histogram<u64> = de
                    .deserialize(&mut std::io::Cursor::new(raw))
                    .map_err(|e| format!("histogram {}: {e:?}", i + 1))?;
                let at = base + h.start_timestamp().as_secs_f64();
                m.start_s = Some(m.start_s.map_or(base, |s: f64| s.min(base)));
                let add = |into: &mut Histogram<u64>| into.add(&hist).map_err(|e| format!("{e:?}"));
                add(m.totals.entry(tag.clone()).or_insert_with(histogram))?;
                add(m
                    .intervals
                    .entry((at.floor() as u64, tag))
                    .or_insert_with(histogram))?;
                m.read += 1;
            }
        }
    }
    Ok(())
}

impl Merged {
    /// Writes the merged intervals as one log.
    pub fn write<W: Write>(&self, out: &mut W, comment: &str) -> std::io::Result<()> {
        let start_s = self.intervals.keys().next().map_or(0, |(s, _)| *s);
        let start_ns = start_s * 1_000_000_000;
        let intervals = &self.intervals;
        write_log(out, start_ns, comment, &mut |w| {
            for ((sec, tag), h) in intervals {
                w.interval(tag, h, (sec - start_s) as f64, 1.0)?;
            }
            Ok(())
        })
    }
}

/// Seconds since the Unix epoch now.
pub fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn log_of(start_ns: u64, samples: &[(f64, &str, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        write_log(&mut out, start_ns, "test", &mut |w| {
            for (from, tag, v) in samples {
                let mut h = histogram();
                h.record(*v).unwrap();
                w.interval(tag, &h, *from, 1.0)?;
            }
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn the_log_is_in_the_standard_format() {
        let text =
            String::from_utf8(log_of(1_700_000_000_000_000_000, &[(0.0, "e2e", 1500)])).unwrap();
        assert!(text.contains("#[StartTime: 1700000000.000"), "{text}");
        assert!(text.contains("#[BaseTime: 1700000000.000"), "{text}");
        let line = text.lines().find(|l| l.starts_with("Tag=e2e,")).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 5, "{line}");
        assert!(fields[4].starts_with("HIST"), "{line}");
    }

    proptest! {
        // Each case serialises and compresses histograms: few cases suffice.
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Merging two shards' logs gives exactly the histogram of all
        /// their samples together.
        #[test]
        fn merging_is_exact(
            a in proptest::collection::vec(1u64..10_000_000, 1..50),
            b in proptest::collection::vec(1u64..10_000_000, 1..50),
        ) {
            let start = 1_700_000_000_000_000_000u64;
            let la = log_of(start, &a.iter().map(|v| (0.0, "x", *v)).collect::<Vec<_>>());
            let lb = log_of(start + 500_000_000, &b.iter().map(|v| (1.0, "x", *v)).collect::<Vec<_>>());
            let mut m = Merged::default();
            add_log(&mut m, &la).unwrap();
            add_log(&mut m, &lb).unwrap();
            let mut want = histogram();
            for v in a.iter().chain(&b) {
                want.record(*v).unwrap();
            }
            let got = &m.totals["x"];
            prop_assert_eq!(got.len(), want.len());
            for q in [0.5, 0.9, 0.99, 1.0] {
                prop_assert_eq!(got.value_at_quantile(q), want.value_at_quantile(q));
            }
            // a at second 0, b at 1.5 → second 1.
            let secs: Vec<u64> = m.intervals.keys().map(|(s, _)| s - 1_700_000_000).collect();
            prop_assert_eq!(secs, vec![0, 1]);
            // The merged log reads back the same.
            let mut out = Vec::new();
            m.write(&mut out, "merged").unwrap();
            let mut again = Merged::default();
            add_log(&mut again, &out).unwrap();
            prop_assert_eq!(again.totals["x"].len(), want.len());
            prop_assert_eq!(again.totals["x"].value_at_quantile(0.99), want.value_at_quantile(0.99));
        }
    }
}
