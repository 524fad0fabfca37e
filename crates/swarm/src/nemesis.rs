//! The nemesis of a load run (Jepsen's word): it carries out the profile's
//! `faults:` schedule while the clients publish and subscribe. Broker
//! faults (kill and restart, clean restart, pause) go through the target's
//! lifecycle ([`mqtt_targets::Target::lifecycle`]); link faults (partition,
//! latency) through the run's fault proxy ([`mqtt_netfault::Proxy`]), on
//! which every client connects through one of [`GROUPS`] listeners, so that
//! a partition cuts a seed-chosen share of the groups. Every fault is told
//! to the collector when it begins and when it ends (the broker ready
//! again, the link healed): those are the fault windows of the report and
//! the `fault` lines of the trace. A fault that cannot be carried out is an
//! error of the run, not a silent skip.

use std::sync::mpsc::Sender;

use mqtt_netfault::{LinkFault, Proxy, Selector};
use mqtt_targets::{Lifecycle, Target};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::clock::Clock;
use crate::event::{Event, FaultEvent};
use crate::profile::{FaultAction, FaultAt};

/// Proxy listener groups the clients are spread over (client `n` on group
/// `n % GROUPS`): a partition cuts whole groups, in steps of 5 %.
pub const GROUPS: u32 = 20;

/// The name of group `g` on the proxy.
pub fn group_name(g: u32) -> String {
    format!("swarm-{g}")
}

/// What the nemesis acts on.
pub struct Nemesis<'a> {
    /// The broker, when the harness runs it.
    pub broker: Option<&'a Target>,
    /// The proxy every client connects through, for link faults.
    pub proxy: Option<&'a Proxy>,
    /// Local clients by proxy group.
    pub groups: Vec<Vec<u32>>,
    /// The profile's seed: which groups a partition cuts.
    pub seed: u64,
}

impl Nemesis<'_> {
    /// Why `schedule` cannot be carried out here, if it cannot: a broker
    /// fault without a lifecycle, a link fault without the proxy.
    pub fn refusal(&self, schedule: &[FaultAt]) -> Option<String> {
        for f in schedule {
            let verbs = match broker_steps(&f.action) {
                Some(b) => [b.begin, b.end].map(|(v, _)| v).to_vec(),
                None if self.proxy.is_none() => {
                    return Some(format!("`{}` needs the fault proxy", f.action.name()));
                }
                None => Vec::new(),
            };
            for v in verbs {
                let why = match self.broker {
                    None => Some("the harness does not run this broker".to_owned()),
                    Some(t) => t.lifecycle_unsupported(v),
                };
                if let Some(why) = why {
                    return Some(format!(
                        "`{}` needs `{}` of the target: {why}",
                        f.action.name(),
                        v.name()
                    ));
                }
            }
        }
        None
    }

    /// Carries out `schedule` (times from `start_ns`), telling `events`;
    /// returns what failed. Every fault begun is ended, whatever failed.
    pub async fn run(
        &self,
        schedule: &[FaultAt],
        clock: Clock,
        start_ns: u64,
        events: &Sender<Vec<Event>>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        for (index, f) in schedule.iter().enumerate() {
            let at = clock.instant(start_ns + f.at.as_nanos() as u64);
            tokio::time::sleep_until(at.into()).await;
            // A beginning is told at the moment the fault was begun (a kill
            // takes a while to finish, its effects are seen at once); an end
            // once it is done (the broker ready, the link healed).
            let began = clock.now_ns();
            let tell = |kind: &'static str, end: bool, detail: String, clients: Vec<u32>, at_ns| {
                let _ = events.send(vec![Event::Fault(FaultEvent {
                    index,
                    action: f.action.name(),
                    kind,
                    end,
                    detail,
                    clients,
                    at_ns,
                })]);
            };
            let mut failed = |what: String| errors.push(format!("fault {}: {what}", index + 1));
            if let Some(b) = broker_steps(&f.action) {
                let r = self.act(b.begin.0).await;
                tell(b.begin.1, false, b.detail, Vec::new(), began);
                if let Err(e) = r {
                    failed(e);
                }
                tokio::time::sleep(b.wait).await;
                let r = self.act(b.end.0).await;
                tell(
                    b.end.1,
                    true,
                    b.end_detail.into(),
                    Vec::new(),
                    clock.now_ns(),
                );
                if let Err(e) = r {
                    failed(e);
                }
                continue;
            }
            match f.action {
                FaultAction::KillRestart { .. }
                | FaultAction::Restart { .. }
                | FaultAction::Pause { .. } => {}
                FaultAction::Partition { percent, length } => {
                    let Some(proxy) = self.proxy else {
                        failed("no fault proxy".into());
                        continue;
                    };
                    let cut = self.cut(percent, f.entry, f.occurrence);
                    for g in &cut {
                        proxy.apply(&Selector::Group(group_name(*g)), LinkFault::Partition);
                    }
                    let mut clients: Vec<u32> = cut
                        .iter()
                        .flat_map(|g| self.groups.get(*g as usize).cloned().unwrap_or_default())
                        .collect();
                    clients.sort_unstable();
                    tell(
                        "partition",
                        false,
                        format!(
                            "{} of {GROUPS} client groups ({} clients) cut off for {length:?}",
                            cut.len(),
                            clients.len()
                        ),
                        clients.clone(),
                        began,
                    );
                    tokio::time::sleep(length).await;
                    for g in &cut {
                        proxy.heal(&Selector::Group(group_name(*g)));
                    }
                    tell(
                        "heal",
                        true,
                        "partition healed".into(),
                        clients,
                        clock.now_ns(),
                    );
                }
                FaultAction::Latency {
                    delay,
                    jitter,
                    length,
                } => {
                    let Some(proxy) = self.proxy else {
                        failed("no fault proxy".into());
                        continue;
                    };
                    proxy.apply(&Selector::All, LinkFault::Latency { delay, jitter });
                    tell(
                        "latency",
                        false,
                        format!("{delay:?} + up to {jitter:?} on every link for {length:?}"),
                        Vec::new(),
                        began,
                    );
                    tokio::time::sleep(length).await;
                    proxy.heal(&Selector::All);
                    tell(
                        "heal",
                        true,
                        "latency removed".into(),
                        Vec::new(),
                        clock.now_ns(),
                    );
                }
            }
        }
        errors
    }

    async fn act(&self, verb: Lifecycle) -> Result<(), String> {
        match self.broker {
            Some(t) => t
                .lifecycle(verb)
                .await
                .map_err(|e| format!("{}: {e}", verb.name())),
            None => Err(format!(
                "{}: the harness does not run this broker",
                verb.name()
            )),
        }
    }

    /// The groups occurrence `occurrence` of entry `entry` cuts.
    fn cut(&self, percent: f64, entry: usize, occurrence: u32) -> Vec<u32> {
        partition_groups(self.seed, percent, entry, occurrence)
    }
}

/// A broker fault's two lifecycle steps, each with its trace kind, the
/// wait between them and what the trace says of them.
struct BrokerSteps {
    begin: (Lifecycle, &'static str),
    end: (Lifecycle, &'static str),
    wait: std::time::Duration,
    detail: String,
    end_detail: &'static str,
}

/// The steps of a broker fault; `None` for a link fault.
fn broker_steps(action: &FaultAction) -> Option<BrokerSteps> {
    let restart = (Lifecycle::Restart, "restart");
    Some(match *action {
        FaultAction::KillRestart { down } => BrokerSteps {
            begin: (Lifecycle::Kill, "kill"),
            end: restart,
            wait: down,
            detail: format!("SIGKILL, down {down:?}"),
            end_detail: "restarted and ready",
        },
        FaultAction::Restart { down } => BrokerSteps {
            begin: (Lifecycle::Stop, "stop"),
            end: restart,
            wait: down,
            detail: format!("SIGTERM, down {down:?}"),
            end_detail: "restarted and ready",
        },
        FaultAction::Pause { length } => BrokerSteps {
            begin: (Lifecycle::Pause, "pause"),
            end: (Lifecycle::Resume, "resume"),
            wait: length,
            detail: format!("SIGSTOP for {length:?}"),
            end_detail: "SIGCONT",
        },
        FaultAction::Partition { .. } | FaultAction::Latency { .. } => return None,
    })
}

/// The proxy groups a partition cuts: `percent` of [`GROUPS`] (at least
/// one), chosen from the seed, the entry and the occurrence.
pub fn partition_groups(seed: u64, percent: f64, entry: usize, occurrence: u32) -> Vec<u32> {
    let n = ((percent / 100.0 * f64::from(GROUPS)).round() as u32).clamp(1, GROUPS);
    let mut all: Vec<u32> = (0..GROUPS).collect();
    let mut rng = SmallRng::seed_from_u64(
        seed ^ (entry as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(occurrence) << 32,
    );
    all.shuffle(&mut rng);
    let mut cut = all[..n as usize].to_vec();
    cut.sort_unstable();
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_cuts_its_share_the_same_way_for_the_same_seed() {
        let a = partition_groups(7, 20.0, 0, 3);
        assert_eq!(a.len(), 4);
        assert_eq!(a, partition_groups(7, 20.0, 0, 3));
        assert!(a.iter().all(|g| *g < GROUPS));
        assert_eq!(partition_groups(7, 1.0, 0, 0).len(), 1);
        assert_eq!(partition_groups(7, 100.0, 1, 0).len(), GROUPS as usize);
        // Occurrences differ (not all twenty the same four groups).
        let distinct: std::collections::BTreeSet<_> =
            (0..20).map(|o| partition_groups(7, 20.0, 0, o)).collect();
        assert!(distinct.len() > 1);
    }
}
