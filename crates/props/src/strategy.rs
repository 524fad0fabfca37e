//! proptest strategies for cases: 1 to 4 clients, each first connected,
//! then a random sequence of operations over the topic alphabet of
//! [`case`](super::case), restricted to what the target can do (its
//! versions and capabilities), in the manner of proptest-state-machine's
//! reference state machine: what an operation needs (a connection, a
//! feature) is its precondition, checked again when it runs.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};

use super::case::{
    filter_has_wildcard, filter_kind, AliasOp, BadConnect, Case, ClientSpec, FilterKind, Malformed,
    Op, PubProps, RestartKind, SubOp, WillOp, FILTERS, TOPICS, USER_KEYS, USER_VALUES,
};
use mqtt_targets::{Capability, VersionTag};

/// What a generated case may use.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Versions to choose from (one per case).
    pub versions: Vec<VersionTag>,
    /// The target's optional features.
    pub capabilities: BTreeSet<Capability>,
    /// Most operations after the initial connects.
    pub max_ops: usize,
    /// Link faults (reset, stall) may be generated: the target is reached
    /// over plain TCP or WebSocket, which the fault proxy relays.
    pub links: bool,
    /// Broker restarts may be generated, and how (the target has a
    /// lifecycle: the harness started it).
    pub restart: Option<RestartKind>,
}

impl Profile {
    fn has(&self, c: Capability) -> bool {
        self.capabilities.contains(&c)
    }

    /// The highest QoS the target supports.
    pub fn max_qos(&self) -> u8 {
        if self.has(Capability::Qos2) {
            2
        } else if self.has(Capability::Qos1) {
            1
        } else {
            0
        }
    }

    /// Filters the target can take in `v`.
    pub fn filters(&self, v: VersionTag) -> Vec<u8> {
        (0..FILTERS.len() as u8)
            .filter(|&f| match filter_kind(f) {
                FilterKind::Shared => {
                    v == VersionTag::V5 && self.has(Capability::SharedSubscription)
                }
                _ => true,
            })
            .filter(|&f| !filter_has_wildcard(f) || self.has(Capability::Wildcard))
            .collect()
    }
}

fn qos(max: u8) -> impl Strategy<Value = u8> {
    0..=max
}

fn will(p: &Profile) -> impl Strategy<Value = WillOp> {
    let retain = p.has(Capability::Retain);
    (qos(p.max_qos()), any::<bool>()).prop_map(move |(qos, r)| WillOp {
        qos,
        retain: r && retain,
    })
}

fn connect(p: &Profile, client: u8) -> impl Strategy<Value = Op> {
    let persistent = p.has(Capability::PersistentSession);
    (prop::bool::weighted(0.7), any::<bool>(), will(p)).prop_map(move |(clean, persist, will)| {
        Op::Connect {
            client,
            clean: clean || !persistent,
            persist: persist && persistent,
            will,
        }
    })
}

fn sub_op(p: &Profile, v: VersionTag) -> impl Strategy<Value = SubOp> {
    let v5 = v == VersionTag::V5;
    (
        select(p.filters(v)),
        qos(p.max_qos()),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.3),
        prop_oneof![6 => Just(0u8), 2 => Just(1u8), 1 => Just(2u8)],
    )
        .prop_map(move |(filter, qos, no_local, rap, rh)| SubOp {
            filter,
            qos,
            no_local: v5 && no_local,
            rap: v5 && rap,
            rh: if v5 { rh } else { 0 },
        })
}

fn props(p: &Profile, v: VersionTag) -> impl Strategy<Value = PubProps> {
    let v5 = v == VersionTag::V5;
    let alias = p.has(Capability::TopicAlias) && v5;
    (
        prop_oneof![3 => Just(None), 1 => Just(Some(100u32)), 1 => Just(Some(3600u32))],
        prop::collection::vec(
            (0..USER_KEYS.len() as u8, 0..USER_VALUES.len() as u8),
            0..=3,
        ),
        prop_oneof![4 => Just(AliasOp::None), 1 => (1u16..=2).prop_map(AliasOp::Set), 1 => (1u16..=2).prop_map(AliasOp::Use)],
        prop::bool::weighted(0.2),
    )
        .prop_map(move |(expiry, user, a, content_type)| {
            if v5 {
                PubProps {
                    expiry,
                    user,
                    alias: if alias { a } else { AliasOp::None },
                    content_type,
                }
            } else {
                PubProps {
                    expiry: None,
                    user: Vec::new(),
                    alias: AliasOp::None,
                    content_type: false,
                }
            }
        })
}

fn op(p: &Profile, v: VersionTag, clients: u8) -> impl Strategy<Value = Op> {
    let c = 0..clients;
    let v5 = v == VersionTag::V5;
    let sub_ids = v5 && p.has(Capability::SubscriptionIdentifier);
    let retain = p.has(Capability::Retain);
    let filters = p.filters(v);
    let publish = (
        c.clone(),
        0..TOPICS.len() as u8,
        qos(p.max_qos()),
        prop::bool::weighted(0.4),
        prop::bool::weighted(0.1),
        prop_oneof![4 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
        props(p, v),
    )
        .prop_map(
            move |(client, topic, qos, r, empty, count, props)| Op::Publish {
                client,
                topic,
                qos,
                retain: r && retain,
                empty,
                count,
                props,
            },
        );
    let subscribe = (
        c.clone(),
        prop::collection::vec(sub_op(p, v), 1..=2),
        prop_oneof![1 => Just(None), 1 => (1u32..=5).prop_map(Some)],
    )
        .prop_map(move |(client, filters, id)| Op::Subscribe {
            client,
            filters,
            id: if sub_ids { id } else { None },
        });
    let unsubscribe = (c.clone(), prop::collection::vec(select(filters), 1..=2))
        .prop_map(|(client, filters)| Op::Unsubscribe { client, filters });
    let connect = (c.clone(), Just(p.clone())).prop_flat_map(|(client, p)| connect(&p, client));
    let bad: Vec<BadConnect> = if v5 {
        vec![BadConnect::ReservedFlag]
    } else {
        vec![
            BadConnect::Level,
            BadConnect::ReservedFlag,
            BadConnect::EmptyIdPersistent,
        ]
    };
    let refused = (c.clone(), select(bad)).prop_map(|(client, kind)| Op::Refused { client, kind });
    // Expire (5.0) waits 2.5 s and Lapse up to 3 s: rare (weight 2 in
    // about 250, one case in fifteen each), so that a run against ref
    // stays fast.
    let malformed = (
        c.clone(),
        select(vec![Malformed::PublishQos3, Malformed::SubscribeFlags]),
    )
        .prop_map(|(client, kind)| Op::Malformed { client, kind });
    let expire = (
        c.clone(),
        0..TOPICS.len() as u8,
        qos(p.max_qos()),
        select(vec![1u32, 100]),
    )
        .prop_map(|(client, topic, qos, expiry)| Op::Expire {
            client,
            topic,
            qos,
            expiry,
        });
    let mut options: Vec<(u32, BoxedStrategy<Op>)> = vec![
        (80, publish.boxed()),
        (50, subscribe.boxed()),
        (20, unsubscribe.boxed()),
        (20, connect.boxed()),
        (
            10,
            (c.clone(), any::<bool>())
                .prop_map(move |(client, w)| Op::Disconnect {
                    client,
                    publish_will: w && v5,
                })
                .boxed(),
        ),
        (20, c.clone().prop_map(|client| Op::Drop { client }).boxed()),
        (20, c.clone().prop_map(|client| Op::Ack { client }).boxed()),
        (10, c.clone().prop_map(|client| Op::Ping { client }).boxed()),
        (8, refused.boxed()),
        (8, malformed.boxed()),
        (2, c.clone().prop_map(|client| Op::Lapse { client }).boxed()),
    ];
    if v5 && retain {
        options.push((2, expire.boxed()));
    }
    // The fault alphabet: a reset costs what a drop does, a stall
    // STALL_MS; a restart runs the case alone (and, for a local process,
    // costs its start), so it is rare: about one operation in a hundred.
    if p.links {
        options.push((
            10,
            c.clone().prop_map(|client| Op::Reset { client }).boxed(),
        ));
        options.push((4, c.clone().prop_map(|client| Op::Stall { client }).boxed()));
    }
    if p.restart.is_some() {
        options.push((3, c.prop_map(|client| Op::Restart { client }).boxed()));
    }
    Union::new_weighted(options)
}

/// Cases for `profile`: a version, 1 to 4 clients, a CONNECT for each, then
/// up to `profile.max_ops` operations. Shrinking removes operations and
/// clients' options first, so a counterexample is short.
pub fn case(profile: &Profile) -> impl Strategy<Value = Case> {
    let versions = if profile.versions.is_empty() {
        vec![VersionTag::V311]
    } else {
        profile.versions.clone()
    };
    let p = profile.clone();
    (select(versions), 1u8..=4)
        .prop_flat_map(move |(v, n)| {
            let connects: Vec<_> = (0..n).map(|c| connect(&p, c).boxed()).collect();
            (
                Just(v),
                prop::collection::vec(
                    prop::bool::weighted(0.3).prop_map(|manual_ack| ClientSpec { manual_ack }),
                    usize::from(n),
                ),
                connects,
                prop::collection::vec(op(&p, v, n), 1..=p.max_ops.max(1)),
            )
        })
        .prop_map(|(version, clients, mut ops, body)| {
            ops.extend(body);
            Case {
                version,
                clients,
                ops,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_targets::ALL_CAPABILITIES;

    fn profile(caps: &[Capability], versions: Vec<VersionTag>) -> Profile {
        Profile {
            versions,
            capabilities: caps.iter().copied().collect(),
            max_ops: 20,
            links: false,
            restart: None,
        }
    }

    /// The fault alphabet appears when the target allows it.
    #[test]
    fn faults_come_when_the_target_allows_them() {
        let mut p = profile(ALL_CAPABILITIES, vec![VersionTag::V5]);
        p.links = true;
        p.restart = Some(RestartKind::KillDurable);
        for seed in 0..4 {
            let cases: Vec<Case> = (0..200)
                .filter_map(|i| crate::generate(&p, seed, i))
                .collect();
            assert!(cases.iter().any(|c| c.uses_link_faults()), "seed {seed}");
            assert!(cases.iter().any(|c| c.restarts()), "seed {seed}");
        }
    }

    proptest! {
        /// A case never asks for what the target lacks.
        #[test]
        fn cases_respect_the_profile(c in case(&profile(&[Capability::Qos1, Capability::Wildcard], vec![VersionTag::V311]))) {
            prop_assert_eq!(c.version, VersionTag::V311);
            prop_assert!((1..=4).contains(&c.clients.len()));
            for op in &c.ops {
                prop_assert!(usize::from(op.client()) < c.clients.len());
                match op {
                    Op::Publish { qos, retain, props, .. } => {
                        prop_assert!(*qos <= 1);
                        prop_assert!(!retain);
                        prop_assert_eq!(props.alias, AliasOp::None);
                    }
                    Op::Subscribe { filters, id, .. } => {
                        prop_assert!(id.is_none());
                        for f in filters {
                            prop_assert!(f.qos <= 1);
                            prop_assert!(filter_kind(f.filter) != FilterKind::Shared);
                            prop_assert!(!f.no_local && !f.rap && f.rh == 0);
                        }
                    }
                    Op::Connect { clean, persist, will, .. } => {
                        prop_assert!(*clean && !*persist && !will.retain);
                    }
                    Op::Expire { .. } => prop_assert!(false, "5.0 and retain only"),
                    Op::Reset { .. } | Op::Stall { .. } => prop_assert!(false, "no link faults asked for"),
                    Op::Restart { .. } => prop_assert!(false, "no lifecycle"),
                    _ => {}
                }
            }
        }

        /// Refusals a version does not define are never generated: a 5.0
        /// case has no Protocol Level or empty-identifier refusal.
        #[test]
        fn refusals_fit_the_version(c in case(&profile(ALL_CAPABILITIES, vec![VersionTag::V5]))) {
            for op in &c.ops {
                if let Op::Refused { kind, .. } = op {
                    prop_assert_eq!(*kind, BadConnect::ReservedFlag);
                }
            }
        }

        /// Every client is connected before anything else happens.
        #[test]
        fn cases_begin_with_a_connect_per_client(c in case(&profile(ALL_CAPABILITIES, vec![VersionTag::V311, VersionTag::V5]))) {
            for (i, op) in c.ops.iter().take(c.clients.len()).enumerate() {
                let connect = matches!(op, Op::Connect { .. });
                prop_assert!(connect);
                prop_assert_eq!(usize::from(op.client()), i);
            }
        }
    }
}
