//! Link faults: what the network between a client and the broker does to
//! the bytes, set per connection or per group at run time (the faults
//! toxiproxy names, plus a partition).

use std::time::Duration;

/// A fault of the link, applied to every connection a [`Selector`] picks
/// (and, for a group, to its connections yet to come) until healed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkFault {
    /// Every chunk waits `delay` plus a uniform random extra of up to
    /// `jitter` before it is forwarded; the order of bytes is kept.
    Latency {
        /// Added to every chunk.
        delay: Duration,
        /// Random extra, from 0 up to this.
        jitter: Duration,
    },
    /// At most this many bytes per second each way.
    Bandwidth {
        /// The cap.
        bytes_per_sec: u64,
    },
    /// Nothing is read or forwarded either way while both sockets stay
    /// open: a half-open link, as when a cable is pulled.
    Stall,
    /// Every write is cut into segments of at most `bytes`, sent one by one
    /// with `pause` between: packets split across TCP segments.
    Slice {
        /// Largest segment.
        bytes: usize,
        /// Wait between segments.
        pause: Duration,
    },
    /// The link closes (FIN both ways) once this many more bytes have been
    /// forwarded, counting both directions: a connection cut mid-packet.
    CloseAfter {
        /// Bytes still forwarded.
        bytes: u64,
    },
    /// Cut off from the broker: open connections stall, and new ones are
    /// accepted but not connected upstream until healed.
    Partition,
}

/// Which connections a fault, heal or reset applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every connection and every group.
    All,
    /// One connection, by the number the proxy gave it.
    Conn(u64),
    /// The connections of a group (those accepted on its listener), now
    /// and to come.
    Group(String),
}

/// The state of one link: the faults in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkSpec {
    /// Delay and jitter.
    pub latency: Option<(Duration, Duration)>,
    /// Bytes per second.
    pub bandwidth: Option<u64>,
    /// Stalled.
    pub stalled: bool,
    /// Segment size and pause.
    pub slice: Option<(usize, Duration)>,
    /// Bytes left before the link closes.
    pub close_after: Option<u64>,
    /// Partitioned.
    pub partitioned: bool,
}

impl LinkSpec {
    /// The spec with `fault` added (a fault of the same kind replaces the
    /// one in force).
    pub fn with(mut self, fault: LinkFault) -> LinkSpec {
        match fault {
            LinkFault::Latency { delay, jitter } => self.latency = Some((delay, jitter)),
            LinkFault::Bandwidth { bytes_per_sec } => self.bandwidth = Some(bytes_per_sec.max(1)),
            LinkFault::Stall => self.stalled = true,
            LinkFault::Slice { bytes, pause } => self.slice = Some((bytes.max(1), pause)),
            LinkFault::CloseAfter { bytes } => self.close_after = Some(bytes),
            LinkFault::Partition => self.partitioned = true,
        }
        self
    }

    /// Nothing may pass.
    pub fn blocked(&self) -> bool {
        self.stalled || self.partitioned
    }

    /// No fault at all.
    pub fn is_clear(&self) -> bool {
        *self == LinkSpec::default()
    }
}

/// A small seeded generator for jitter, so that a run with the same seed
/// delays the same chunks by the same amounts.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Jitter {
        Jitter(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A duration from 0 up to `max`, uniformly.
    pub(crate) fn upto(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(r % nanos.saturating_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_add_up_and_a_kind_replaces_itself() {
        let s = LinkSpec::default()
            .with(LinkFault::Latency {
                delay: Duration::from_millis(5),
                jitter: Duration::ZERO,
            })
            .with(LinkFault::Stall)
            .with(LinkFault::Latency {
                delay: Duration::from_millis(9),
                jitter: Duration::from_millis(1),
            });
        assert_eq!(
            s.latency,
            Some((Duration::from_millis(9), Duration::from_millis(1)))
        );
        assert!(s.blocked());
        assert!(!s.is_clear());
        assert!(LinkSpec::default().is_clear());
        assert!(LinkSpec::default().with(LinkFault::Partition).blocked());
    }

    #[test]
    fn jitter_is_bounded_and_repeatable() {
        let max = Duration::from_millis(3);
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        let xs: Vec<Duration> = (0..1000).map(|_| a.upto(max)).collect();
        let ys: Vec<Duration> = (0..1000).map(|_| b.upto(max)).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|d| *d <= max));
        assert!(xs.iter().any(|d| *d > max / 2) && xs.iter().any(|d| *d < max / 2));
        assert_eq!(Jitter::new(1).upto(Duration::ZERO), Duration::ZERO);
    }
}
