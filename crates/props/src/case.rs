//! A property-test case: which clients take part and the operations they
//! perform, over a small alphabet of topics so that wildcard filters
//! overlap often. Names (topics, filters, payloads) are rendered relative
//! to a per-case root, `mh/{id:t}`, so that concurrent cases never see each
//! other and a counterexample replays with the scenario runner's
//! placeholders.

use mqtt_targets::VersionTag;

/// The per-case topic root, in scenario placeholder syntax: level 1 is a
/// literal, level 2 is unique to the run, so that a filter beginning with a
/// wildcard (`+/{id:t}/#`) still only matches the case's own topics.
pub const ROOT: &str = "mh/{id:t}";

/// Topic names messages are published to, relative to [`ROOT`].
pub const TOPICS: &[&str] = &["a", "b", "a/a", "a/b"];

/// Where a filter sits: an ordinary one under the root, one beginning with
/// a wildcard in place of the root's first level, or a 5.0 shared one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// `ROOT/<rest>`.
    Plain,
    /// `+/{id:t}/<rest>` (MQTT-4.7.1-2: a wildcard may stand for any level).
    Leading,
    /// `$share/g/ROOT/<rest>` (5.0 §4.8.2).
    Shared,
}

/// Topic filters a client subscribes to: (kind, rest under the root).
pub const FILTERS: &[(FilterKind, &str)] = &[
    (FilterKind::Plain, "a"),
    (FilterKind::Plain, "b"),
    (FilterKind::Plain, "a/a"),
    (FilterKind::Plain, "a/b"),
    (FilterKind::Plain, "+"),
    (FilterKind::Plain, "#"),
    (FilterKind::Plain, "a/+"),
    (FilterKind::Plain, "+/b"),
    (FilterKind::Plain, "a/#"),
    (FilterKind::Plain, "+/+"),
    (FilterKind::Leading, "a"),
    (FilterKind::Leading, "#"),
    (FilterKind::Shared, "a"),
    (FilterKind::Shared, "#"),
];

/// User property keys and values (repeated keys are legal and their order
/// must be kept, MQTT-3.3.2-17/18).
pub const USER_KEYS: &[&str] = &["k", "x"];
/// See [`USER_KEYS`].
pub const USER_VALUES: &[&str] = &["1", "2"];

/// The topic of client `name`'s Will Message. Every connection carries a
/// will (so that an abrupt close is observable, see `exec`), on a topic
/// that ordinary filters such as `ROOT/#` and `ROOT/+/+` also match.
pub fn will_topic(name: &str) -> String {
    format!("{ROOT}/w/{name}")
}

/// The filter the observer client holds: every will.
pub fn observer_filter() -> String {
    format!("{ROOT}/w/#")
}

/// Topic `i` of [`TOPICS`], in placeholder syntax.
pub fn topic(i: u8) -> String {
    format!("{ROOT}/{}", TOPICS[usize::from(i) % TOPICS.len()])
}

/// Filter `i` of [`FILTERS`], in placeholder syntax.
pub fn filter(i: u8) -> String {
    let (kind, rest) = FILTERS[usize::from(i) % FILTERS.len()];
    match kind {
        FilterKind::Plain => format!("{ROOT}/{rest}"),
        FilterKind::Leading => format!("+/{{id:t}}/{rest}"),
        FilterKind::Shared => format!("$share/g/{ROOT}/{rest}"),
    }
}

/// The kind of filter `i`.
pub fn filter_kind(i: u8) -> FilterKind {
    FILTERS[usize::from(i) % FILTERS.len()].0
}

/// True when filter `i` contains a wildcard.
pub fn filter_has_wildcard(i: u8) -> bool {
    let (kind, rest) = FILTERS[usize::from(i) % FILTERS.len()];
    kind == FilterKind::Leading || rest.contains(['+', '#'])
}

/// The name of client `i` in scenarios and reports.
pub fn client_name(i: u8) -> String {
    format!("c{i}")
}

/// The name of the observer client (subscribed to every will).
pub const OBSERVER: &str = "w";

/// One client of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSpec {
    /// Acknowledges deliveries only on [`Op::Ack`] (or when eight are
    /// waiting), so that unacknowledged messages exist when it drops and
    /// reconnects; otherwise it acknowledges each delivery at once.
    pub manual_ack: bool,
}

/// The Will every connection carries (topic [`will_topic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WillOp {
    /// Will QoS.
    pub qos: u8,
    /// Will Retain.
    pub retain: bool,
}

/// One filter of a SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubOp {
    /// Index into [`FILTERS`].
    pub filter: u8,
    /// Requested maximum QoS.
    pub qos: u8,
    /// No Local (5.0).
    pub no_local: bool,
    /// Retain As Published (5.0).
    pub rap: bool,
    /// Retain Handling (5.0).
    pub rh: u8,
}

/// How a PUBLISH uses a Topic Alias (5.0 §3.3.2.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasOp {
    /// No alias.
    None,
    /// Topic name and alias `n`: sets the alias on this connection.
    Set(u16),
    /// Empty topic and alias `n` (becomes [`AliasOp::Set`] when `n` is not
    /// set on the current connection).
    Use(u16),
}

/// 5.0 PUBLISH properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubProps {
    /// Message Expiry Interval, seconds.
    pub expiry: Option<u32>,
    /// User properties as indices into [`USER_KEYS`] and [`USER_VALUES`].
    pub user: Vec<(u8, u8)>,
    /// Topic Alias use.
    pub alias: AliasOp,
    /// A Content Type.
    pub content_type: bool,
}

/// A CONNECT the server must refuse, sent on a connection of its own (the
/// case's client `c` lends its name: `c0r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadConnect {
    /// 3.1.1: Protocol Level 6: CONNACK 0x01, then the close (MQTT-3.1.2-2).
    Level,
    /// The reserved Connect Flags bit set: the close, without CONNACK in
    /// 3.1.1 (MQTT-3.1.2-3, MQTT-3.1.4-1), with at most a CONNACK of 0x80
    /// or above in 5.0 (§3.1.4, §4.13).
    ReservedFlag,
    /// 3.1.1: an empty Client Identifier with Clean Session 0: CONNACK
    /// 0x02, then the close (MQTT-3.1.3-8).
    EmptyIdPersistent,
}

/// Bytes after CONNECT that are not a well-formed packet: the server
/// closes the connection (3.1.1 MQTT-4.8.0-1, 5.0 MQTT-4.13.1-1, with at
/// most a DISCONNECT of 0x80 or above first) and the Will is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// PUBLISH with both QoS bits set (MQTT-3.3.1-4).
    PublishQos3,
    /// SUBSCRIBE whose fixed-header flags are 0000, not 0010 (MQTT-3.8.1-1).
    SubscribeFlags,
}

/// How long [`Op::Expire`] waits: long enough for a Message Expiry
/// Interval of 1 s to have passed whatever the broker's clock granularity
/// (whole seconds), and for one of 100 s to have visibly decreased.
pub const EXPIRE_WAIT_MS: u64 = 2_500;

/// One operation of a case. Client indices refer to the case's clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Connect (a no-op when connected).
    Connect {
        /// Client.
        client: u8,
        /// Clean Session (3.1.1) / Clean Start (5.0).
        clean: bool,
        /// 5.0: Session Expiry Interval 300 instead of 0 (3.1.1: implied
        /// by `clean` false).
        persist: bool,
        /// The Will.
        will: WillOp,
    },
    /// DISCONNECT; 5.0 with `publish_will`: reason 0x04 (Disconnect with
    /// Will Message).
    Disconnect {
        /// Client.
        client: u8,
        /// 5.0: reason 0x04.
        publish_will: bool,
    },
    /// Close the network connection without DISCONNECT: the will fires.
    Drop {
        /// Client.
        client: u8,
    },
    /// SUBSCRIBE.
    Subscribe {
        /// Client.
        client: u8,
        /// Filters (one or two).
        filters: Vec<SubOp>,
        /// Subscription Identifier (5.0).
        id: Option<u32>,
    },
    /// UNSUBSCRIBE.
    Unsubscribe {
        /// Client.
        client: u8,
        /// Indices into [`FILTERS`].
        filters: Vec<u8>,
    },
    /// `count` PUBLISH packets back to back on one topic.
    Publish {
        /// Client.
        client: u8,
        /// Index into [`TOPICS`].
        topic: u8,
        /// QoS.
        qos: u8,
        /// RETAIN.
        retain: bool,
        /// Zero-length payload for the last message of the burst (with
        /// RETAIN: clears the retained message).
        empty: bool,
        /// How many messages (1 to 3), to exercise ordering (§4.6).
        count: u8,
        /// 5.0 properties.
        props: PubProps,
    },
    /// Acknowledge every delivery waiting (manual-ack clients).
    Ack {
        /// Client.
        client: u8,
    },
    /// PINGREQ.
    Ping {
        /// Client.
        client: u8,
    },
    /// A CONNECT the server must refuse, on a new connection.
    Refused {
        /// Client lending its name.
        client: u8,
        /// What is wrong with it.
        kind: BadConnect,
    },
    /// Malformed bytes on the client's connection.
    Malformed {
        /// Client.
        client: u8,
        /// What is wrong with them.
        kind: Malformed,
    },
    /// 5.0: a retained message with a Message Expiry Interval, then
    /// [`EXPIRE_WAIT_MS`] of silence, then a subscription to its topic:
    /// gone if the interval has passed (MQTT-3.3.2-5), else delivered with
    /// the interval less the time waited (MQTT-3.3.2-6).
    Expire {
        /// Client.
        client: u8,
        /// Index into [`TOPICS`].
        topic: u8,
        /// QoS.
        qos: u8,
        /// Message Expiry Interval, seconds (1: gone after the wait).
        expiry: u32,
    },
    /// The network fails under the client: its link is reset (RST both
    /// ways, through the case's fault proxy) after a PINGREQ round trip
    /// (so that what it sent before was read). To the broker an abrupt
    /// close: the Will fires (MQTT-3.1.2-8 / 5.0 §3.1.2.5), the session
    /// stays if it outlives the connection.
    Reset {
        /// Client.
        client: u8,
    },
    /// The client's link stalls, both ways, both sockets open (a half-open
    /// link), for [`STALL_MS`], then heals. Shorter than any keep alive of
    /// the case: nothing may change, what was due during the stall
    /// arrives after it, once.
    Stall {
        /// Client.
        client: u8,
    },
    /// The broker restarts (on targets with a lifecycle): every client
    /// disconnects normally first (no Will is left to a broker's shutdown
    /// latitude), then the broker is killed and started again (stopped
    /// cleanly when it claims durability across a clean stop only). A
    /// durable broker keeps sessions, subscriptions, queued and in-flight
    /// messages and retained messages; one in memory keeps nothing.
    Restart {
        /// The client lending its name to the step (unused otherwise).
        client: u8,
    },
    /// A new connection (the client's name with `k`) with Keep Alive 1 s
    /// that stays silent: the server must close it after 1.5 s (3.1.1
    /// MQTT-3.1.2-24, 5.0 MQTT-3.1.2-22); the close is awaited up to
    /// [`LAPSE_BOUND_MS`].
    Lapse {
        /// Client lending its name.
        client: u8,
    },
}

/// The longest [`Op::Lapse`] waits for the close, from the CONNECT: the
/// bound the scenario library's keep-alive scenario uses (1.5 × 1 s plus
/// scheduling and a timer's granularity).
pub const LAPSE_BOUND_MS: u64 = 3_000;

/// How [`Op::Restart`] restarts a target, from what it claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartKind {
    /// Kill (SIGKILL) and start: the target claims durability
    /// (`durable`), so its state comes back as the model's does.
    KillDurable,
    /// Kill and start: no durability claim, the broker comes back empty.
    KillVolatile,
    /// Stop cleanly (SIGTERM) and start: the target claims durability
    /// across a clean stop only (`durable-stop`); its state comes back.
    CleanDurable,
}

impl RestartKind {
    /// How a target with these capabilities restarts.
    pub fn of(capabilities: &std::collections::BTreeSet<mqtt_targets::Capability>) -> RestartKind {
        use mqtt_targets::Capability;
        if capabilities.contains(&Capability::Durable) {
            RestartKind::KillDurable
        } else if capabilities.contains(&Capability::DurableStop) {
            RestartKind::CleanDurable
        } else {
            RestartKind::KillVolatile
        }
    }

    /// Whether the broker's state survives.
    pub fn keeps_state(self) -> bool {
        !matches!(self, RestartKind::KillVolatile)
    }
}

/// How long [`Op::Stall`] holds the link.
pub const STALL_MS: u64 = 300;

impl Op {
    /// The client the operation acts on.
    pub fn client(&self) -> u8 {
        match self {
            Op::Connect { client, .. }
            | Op::Disconnect { client, .. }
            | Op::Drop { client }
            | Op::Subscribe { client, .. }
            | Op::Unsubscribe { client, .. }
            | Op::Publish { client, .. }
            | Op::Ack { client }
            | Op::Ping { client }
            | Op::Refused { client, .. }
            | Op::Malformed { client, .. }
            | Op::Expire { client, .. }
            | Op::Lapse { client }
            | Op::Reset { client }
            | Op::Stall { client }
            | Op::Restart { client } => *client,
        }
    }
}

/// A whole case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The version every client speaks.
    pub version: VersionTag,
    /// The clients (1 to 4).
    pub clients: Vec<ClientSpec>,
    /// The operations, in order.
    pub ops: Vec<Op>,
}

impl Case {
    /// True when some operation closes a connection abruptly (the
    /// observer of wills is then needed).
    pub fn has_drop(&self) -> bool {
        self.ops.iter().any(|o| {
            matches!(
                o,
                Op::Drop { .. }
                    | Op::Reset { .. }
                    | Op::Malformed { .. }
                    | Op::Disconnect {
                        publish_will: true,
                        ..
                    }
            )
        })
    }

    /// True when some operation breaks a link (the case's clients then go
    /// through a fault proxy).
    pub fn uses_link_faults(&self) -> bool {
        self.ops
            .iter()
            .any(|o| matches!(o, Op::Reset { .. } | Op::Stall { .. }))
    }

    /// True when the case restarts the broker (it then runs alone).
    pub fn restarts(&self) -> bool {
        self.ops.iter().any(|o| matches!(o, Op::Restart { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::topic::{matches, validate_topic_filter, validate_topic_name};
    use mqtt_codec::ProtocolVersion;

    fn bound(s: &str) -> String {
        s.replace("{id:t}", "mhTAGt")
    }

    #[test]
    fn names_are_valid_and_wildcards_overlap() {
        for i in 0..TOPICS.len() as u8 {
            validate_topic_name(&bound(&topic(i)), ProtocolVersion::V5, false).unwrap();
        }
        for i in 0..FILTERS.len() as u8 {
            validate_topic_filter(&bound(&filter(i)), ProtocolVersion::V5).unwrap();
        }
        // Every topic is matched by at least three filters (overlaps).
        for i in 0..TOPICS.len() as u8 {
            let t = bound(&topic(i));
            let n = (0..FILTERS.len() as u8)
                .filter(|&f| filter_kind(f) != FilterKind::Shared)
                .filter(|&f| matches(&bound(&filter(f)), &t))
                .count();
            assert!(n >= 3, "{t}: {n}");
        }
        // The leading-wildcard filters match the case's topics only.
        assert!(matches(&bound(&filter(11)), &bound(&topic(0))));
        assert!(!matches(&bound(&filter(11)), "mh/mhOTHERt/a"));
        assert!(matches(&bound(&filter(5)), &bound(&will_topic("c0"))));
    }
}
