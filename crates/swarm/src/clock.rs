//! The run's one clock: a monotonic instant mapped to nanoseconds since the
//! Unix epoch, so that payload timestamps of shards on several machines
//! compare (as well as their clocks are synchronised).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock that reads in Unix nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: Instant,
    origin_unix_ns: u64,
}

impl Clock {
    /// A clock anchored now.
    pub fn new() -> Clock {
        let origin = Instant::now();
        let origin_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Clock {
            origin,
            origin_unix_ns,
        }
    }

    /// Now, in ns since the Unix epoch.
    pub fn now_ns(&self) -> u64 {
        self.origin_unix_ns + self.origin.elapsed().as_nanos() as u64
    }

    /// The instant of a Unix-ns time, for timers.
    pub fn instant(&self, ns: u64) -> Instant {
        self.origin + Duration::from_nanos(ns.saturating_sub(self.origin_unix_ns))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_ns_agree() {
        let c = Clock::new();
        let a = c.now_ns();
        let i = c.instant(a + 1_000_000);
        let back = i.duration_since(c.instant(a));
        assert_eq!(back, Duration::from_millis(1));
        assert!(c.now_ns() >= a);
    }
}
