//! The target's answer latency as the campaign measures it (a request
//! written, its answer read), and the waits derived from it: a case's
//! sync points and its hang bound scale with what this target, on this
//! machine, under this load, takes to answer, so that neither a verdict nor
//! the pace of a campaign depends on the machine's speed.
//!
//! Samples go into a log-scaled histogram of two generations; every
//! [`Latency::roll`] (the campaign's supervisor calls it every couple of
//! seconds) the high percentile is recomputed over both and the older one
//! is cleared, so the estimate follows the load within seconds.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::exec::Bounds;

/// Buckets per doubling of the latency.
const PER_OCTAVE: f64 = 4.0;
/// Buckets: 1 µs to about 2^28 µs (4.5 minutes).
const BUCKETS: usize = 112;
/// Samples a window needs before its percentile replaces the defaults.
const MIN_SAMPLES: u64 = 200;
/// The percentile sync points scale with (they only order a case's steps).
const SYNC_PERCENTILE: f64 = 0.99;
/// The percentile the hang bound scales with (it decides a verdict).
const HANG_PERCENTILE: f64 = 0.999;
/// A sync point waits this many times the 99th percentile...
const SYNC_MARGIN: u32 = 4;
/// ...and at least this long.
const SYNC_FLOOR: Duration = Duration::from_millis(5);
/// The hang bound is this many times the 99.9th percentile...
const HANG_MARGIN: u32 = 100;
/// ...and at most this many times the configured bound (its floor).
const HANG_CAP: u32 = 12;

/// Rolling answer latency of one target.
#[derive(Debug)]
pub struct Latency {
    counts: [[AtomicU64; BUCKETS]; 2],
    current: AtomicUsize,
    /// The two percentiles in microseconds; 0 until measured.
    sync_us: AtomicU64,
    hang_us: AtomicU64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            counts: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            current: AtomicUsize::new(0),
            sync_us: AtomicU64::new(0),
            hang_us: AtomicU64::new(0),
        }
    }
}

fn bucket(d: Duration) -> usize {
    let us = d.as_micros().max(1) as f64;
    ((us.log2() * PER_OCTAVE) as usize).min(BUCKETS - 1)
}

/// The upper edge of bucket `i`, in microseconds.
fn upper_us(i: usize) -> u64 {
    2f64.powf((i + 1) as f64 / PER_OCTAVE).ceil() as u64
}

impl Latency {
    /// Records one answer latency.
    pub fn record(&self, d: Duration) {
        let g = self.current.load(Ordering::Relaxed) & 1;
        self.counts[g][bucket(d)].fetch_add(1, Ordering::Relaxed);
    }

    /// Recomputes the high percentile over both generations (when they hold
    /// enough samples) and starts a new generation in place of the older.
    pub fn roll(&self) {
        let merged: Vec<u64> = (0..BUCKETS)
            .map(|i| {
                self.counts[0][i].load(Ordering::Relaxed)
                    + self.counts[1][i].load(Ordering::Relaxed)
            })
            .collect();
        let total: u64 = merged.iter().sum();
        if total >= MIN_SAMPLES {
            for (p, out) in [
                (SYNC_PERCENTILE, &self.sync_us),
                (HANG_PERCENTILE, &self.hang_us),
            ] {
                let want = (total as f64 * p).ceil() as u64;
                let mut seen = 0;
                for (i, n) in merged.iter().enumerate() {
                    seen += n;
                    if seen >= want {
                        out.store(upper_us(i), Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        let older = (self.current.load(Ordering::Relaxed) + 1) & 1;
        for c in &self.counts[older] {
            c.store(0, Ordering::Relaxed);
        }
        self.current.store(older, Ordering::Relaxed);
    }

    /// The 99th and 99.9th percentiles of recent answer latencies, once
    /// measured.
    pub fn high(&self) -> Option<(Duration, Duration)> {
        match (
            self.sync_us.load(Ordering::Relaxed),
            self.hang_us.load(Ordering::Relaxed),
        ) {
            (0, _) | (_, 0) => None,
            (a, b) => Some((Duration::from_micros(a), Duration::from_micros(b))),
        }
    }

    /// The waits of a case now: `configured` scaled to the measured
    /// latency. A sync point waits [`SYNC_MARGIN`] times the 99th
    /// percentile (at least [`SYNC_FLOOR`], at most the configured sync);
    /// the hang bound is [`HANG_MARGIN`] times the 99.9th, never below the
    /// configured bound (its floor) nor above [`HANG_CAP`] times that.
    /// Until measured, the configured waits.
    pub fn bounds(&self, configured: &Bounds) -> Bounds {
        scaled(configured, self.high())
    }
}

/// [`Latency::bounds`] for given 99th and 99.9th percentiles.
pub fn scaled(configured: &Bounds, high: Option<(Duration, Duration)>) -> Bounds {
    let Some((p99, p999)) = high else {
        return *configured;
    };
    Bounds {
        sync: (p99 * SYNC_MARGIN).clamp(SYNC_FLOOR.min(configured.sync), configured.sync),
        hang: (p999 * HANG_MARGIN).clamp(configured.hang, configured.hang * HANG_CAP),
        ..*configured
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_percentile_follows_the_samples_and_rolls_over() {
        let l = Latency::default();
        assert_eq!(l.high(), None);
        for _ in 0..1000 {
            l.record(Duration::from_micros(100));
        }
        l.roll();
        let (h, _) = l.high().expect("measured");
        assert!(
            h >= Duration::from_micros(100) && h < Duration::from_micros(130),
            "{h:?}"
        );
        // A slower window: after two rolls only the new samples count.
        for _ in 0..1000 {
            l.record(Duration::from_millis(40));
        }
        l.roll();
        l.roll();
        let (h, h999) = l.high().expect("measured");
        assert!(
            h >= Duration::from_millis(40) && h < Duration::from_millis(52),
            "{h:?}"
        );
        assert_eq!(h, h999);
        // Too few samples: the last estimate stays.
        l.roll();
        assert_eq!(l.high(), Some((h, h999)));
        // A tail: 1 in 200 slow answers moves the 99.9th, not the 99th.
        for i in 0..2000 {
            l.record(Duration::from_micros(if i % 200 == 0 {
                90_000
            } else {
                100
            }));
        }
        l.roll();
        l.roll();
        let (p99, p999) = l.high().expect("measured");
        assert!(p99 < Duration::from_micros(130), "{p99:?}");
        assert!(p999 >= Duration::from_millis(90), "{p999:?}");
    }

    #[test]
    fn waits_scale_with_latency_between_floor_and_cap() {
        let b = Bounds::default();
        assert_eq!(scaled(&b, None).sync, b.sync);
        let ms = Duration::from_millis;
        let fast = scaled(&b, Some((Duration::from_micros(200), ms(1))));
        assert_eq!(fast.sync, SYNC_FLOOR);
        assert_eq!(fast.hang, b.hang, "the configured hang bound is a floor");
        let slow = scaled(&b, Some((ms(100), ms(500))));
        assert_eq!(slow.sync, b.sync, "never above the configured sync");
        assert_eq!(slow.hang, ms(500) * HANG_MARGIN);
        let mid = scaled(&b, Some((ms(10), ms(20))));
        assert_eq!(mid.sync, ms(10) * SYNC_MARGIN);
        let stuck = scaled(&b, Some((ms(100), Duration::from_secs(30))));
        assert_eq!(stuck.hang, b.hang * HANG_CAP);
        assert_eq!(stuck.linger, b.linger);
    }
}
