//! A publisher's open-loop schedule: the intended send time, QoS and payload
//! size of every message, fixed in advance and independent of how fast the
//! broker answers. Latency is measured from these intended times, so a
//! stalled broker shows in the tail instead of slowing the generator down
//! (coordinated omission, as wrk2 corrects it).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::profile::{Arrival, Group, PayloadSize};

/// One planned message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// Sequence number, from 0.
    pub seq: u64,
    /// Intended send time (ns, same clock as the schedule's start).
    pub intended_ns: u64,
    /// QoS.
    pub qos: u8,
    /// Payload bytes.
    pub size: u32,
}

/// The schedule of one publisher: an iterator of [`Planned`] messages whose
/// intended times lie in `[start, end)`.
#[derive(Debug, Clone)]
pub struct Schedule {
    rng: SmallRng,
    gap_ns: f64,
    poisson: bool,
    cumulative_qos: [f64; 3],
    payload: PayloadSize,
    next_ns: f64,
    end_ns: u64,
    seq: u64,
}

impl Schedule {
    /// The schedule of a publisher of `group` from `start_ns` to `end_ns`;
    /// `seed` makes the draws reproducible.
    pub fn new(group: &Group, seed: u64, start_ns: u64, end_ns: u64) -> Schedule {
        let mut rng = SmallRng::seed_from_u64(seed);
        let gap_ns = 1e9 / group.rate;
        let poisson = group.arrival == Arrival::Poisson;
        // Constant schedules start at a random phase so that many
        // publishers do not all fire on the same tick.
        let phase = if poisson {
            exp_gap(&mut rng, gap_ns)
        } else {
            rng.random::<f64>() * gap_ns
        };
        Schedule {
            rng,
            gap_ns,
            poisson,
            cumulative_qos: group.qos.cumulative(),
            payload: group.payload.clone(),
            next_ns: start_ns as f64 + phase,
            end_ns,
            seq: 0,
        }
    }

    /// The intended time of the next message, without taking it.
    pub fn peek_ns(&self) -> Option<u64> {
        let t = self.next_ns as u64;
        (t < self.end_ns).then_some(t)
    }

    /// Messages planned so far.
    pub fn planned(&self) -> u64 {
        self.seq
    }

    fn draw_qos(&mut self) -> u8 {
        let u: f64 = self.rng.random();
        self.cumulative_qos.iter().position(|c| u < *c).unwrap_or(2) as u8
    }

    fn draw_size(&mut self) -> u32 {
        match &self.payload {
            PayloadSize::Fixed(n) => *n,
            PayloadSize::Uniform { min, max } => self.rng.random_range(*min..=*max),
            PayloadSize::Choices { choices } => {
                let total: f64 = choices.iter().map(|c| c.weight).sum();
                let mut u = self.rng.random::<f64>() * total;
                for c in choices {
                    if u < c.weight {
                        return c.size;
                    }
                    u -= c.weight;
                }
                choices.last().map_or(0, |c| c.size)
            }
        }
    }
}

fn exp_gap(rng: &mut SmallRng, mean: f64) -> f64 {
    // 1 - u is in (0, 1]: ln never sees 0.
    -(1.0 - rng.random::<f64>()).ln() * mean
}

impl Iterator for Schedule {
    type Item = Planned;

    fn next(&mut self) -> Option<Planned> {
        let intended_ns = self.peek_ns()?;
        let qos = self.draw_qos();
        let size = self.draw_size();
        let planned = Planned {
            seq: self.seq,
            intended_ns,
            qos,
            size,
        };
        self.seq += 1;
        self.next_ns += if self.poisson {
            exp_gap(&mut self.rng, self.gap_ns)
        } else {
            self.gap_ns
        };
        Some(planned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{QosMix, Role};
    use proptest::prelude::*;

    fn group(rate: f64, arrival: Arrival, qos: QosMix, payload: PayloadSize) -> Group {
        Group {
            name: "g".into(),
            role: Role::Publisher,
            count: 1,
            topic: "t".into(),
            qos,
            rate,
            arrival,
            payload,
            inflight: 1,
            churn: None,
            shared: None,
            clean_session: None,
        }
    }

    #[test]
    fn constant_rate_gives_evenly_spaced_times() {
        let g = group(
            100.0,
            Arrival::Constant,
            QosMix::One(1),
            PayloadSize::Fixed(40),
        );
        let s: Vec<Planned> = Schedule::new(&g, 1, 0, 1_000_000_000).collect();
        assert_eq!(s.len(), 100);
        for w in s.windows(2) {
            let gap = w[1].intended_ns - w[0].intended_ns;
            assert!((9_999_999..=10_000_001).contains(&gap), "{gap}");
        }
        assert!(s.iter().all(|p| p.qos == 1 && p.size == 40));
        assert_eq!(
            s.iter().map(|p| p.seq).collect::<Vec<_>>(),
            (0..100).collect::<Vec<_>>()
        );
    }

    #[test]
    fn poisson_rate_has_the_right_mean_and_the_mix_its_weights() {
        let mix = QosMix::Mix([(0u8, 1.0), (2u8, 3.0)].into_iter().collect());
        let g = group(
            1000.0,
            Arrival::Poisson,
            mix,
            PayloadSize::Uniform { min: 32, max: 64 },
        );
        let s: Vec<Planned> = Schedule::new(&g, 7, 0, 20_000_000_000).collect();
        // 20,000 expected; a Poisson count has a standard deviation of ~141.
        assert!((19_000..21_000).contains(&s.len()), "{}", s.len());
        let q2 = s.iter().filter(|p| p.qos == 2).count() as f64 / s.len() as f64;
        assert!((0.7..0.8).contains(&q2), "{q2}");
        assert!(s.iter().all(|p| p.qos != 1 && (32..=64).contains(&p.size)));
    }

    proptest! {
        /// Times never go backwards and stay inside the window; the same
        /// seed gives the same schedule.
        #[test]
        fn schedules_are_monotonic_bounded_and_reproducible(
            rate in 1.0f64..5000.0, poisson: bool, seed: u64, start in 0u64..1_000_000_000,
        ) {
            let arrival = if poisson { Arrival::Poisson } else { Arrival::Constant };
            let g = group(rate, arrival, QosMix::One(0), PayloadSize::Fixed(32));
            let end = start + 500_000_000;
            let a: Vec<Planned> = Schedule::new(&g, seed, start, end).collect();
            let b: Vec<Planned> = Schedule::new(&g, seed, start, end).collect();
            prop_assert_eq!(&a, &b);
            for w in a.windows(2) {
                prop_assert!(w[0].intended_ns <= w[1].intended_ns);
            }
            prop_assert!(a.iter().all(|p| p.intended_ns >= start && p.intended_ns < end));
        }
    }
}
