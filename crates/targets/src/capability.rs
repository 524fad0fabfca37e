//! What a target speaks and offers: protocol versions and optional
//! features (the capability profile of DESIGN.md's "Targets").

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::Deserialize;

/// A protocol version a target speaks and a scenario applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, JsonSchema)]
pub enum VersionTag {
    /// MQTT 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.0.
    #[serde(rename = "5.0")]
    V5,
}

impl VersionTag {
    /// The codec's version.
    pub fn protocol(self) -> mqtt_codec::ProtocolVersion {
        match self {
            VersionTag::V311 => mqtt_codec::ProtocolVersion::V311,
            VersionTag::V5 => mqtt_codec::ProtocolVersion::V5,
        }
    }

    /// `3.1.1` or `5.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionTag::V311 => "3.1.1",
            VersionTag::V5 => "5.0",
        }
    }
}

/// An optional broker feature: a target declares the ones it has (in
/// `targets.yaml`), a scenario the ones it needs; a target without one
/// skips the scenario with the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// QoS 1 delivery.
    Qos1,
    /// QoS 2 delivery.
    Qos2,
    /// Retained messages.
    Retain,
    /// Wildcard subscriptions.
    Wildcard,
    /// Shared subscriptions (`$share/`).
    SharedSubscription,
    /// Subscription identifiers.
    SubscriptionIdentifier,
    /// Topic aliases from client to server.
    TopicAlias,
    /// Persistent sessions that survive a disconnect.
    PersistentSession,
    /// Zero-length client identifiers accepted.
    EmptyClientId,
    /// Keep alive 0 accepted.
    KeepAliveZero,
    /// Sessions, subscriptions, queued and in-flight messages and retained
    /// messages survive a kill and restart of the broker: a promise of the
    /// broker's own (the specification has no restarts), which the target
    /// claims (`ref-durable`, `serve --data`). Implies
    /// [`Capability::DurableStop`].
    Durable,
    /// The same state survives a clean stop (SIGTERM) and restart, though
    /// perhaps not a kill: a broker that saves its state on shutdown and
    /// at intervals (`mosquitto-persist`: `persistence true`,
    /// `autosave_interval`), whose last interval a SIGKILL loses.
    DurableStop,
}

impl Capability {
    /// Its name in `targets.yaml`, scenarios and messages (`durable-stop`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Qos1 => "qos1",
            Capability::Qos2 => "qos2",
            Capability::Retain => "retain",
            Capability::Wildcard => "wildcard",
            Capability::SharedSubscription => "shared-subscription",
            Capability::SubscriptionIdentifier => "subscription-identifier",
            Capability::TopicAlias => "topic-alias",
            Capability::PersistentSession => "persistent-session",
            Capability::EmptyClientId => "empty-client-id",
            Capability::KeepAliveZero => "keep-alive-zero",
            Capability::Durable => "durable",
            Capability::DurableStop => "durable-stop",
        }
    }

    /// What a target that declares `claimed` has: `durable` implies
    /// `durable-stop` (what survives a kill survives a clean stop).
    pub fn implied(claimed: impl IntoIterator<Item = Capability>) -> BTreeSet<Capability> {
        let mut all: BTreeSet<Capability> = claimed.into_iter().collect();
        if all.contains(&Capability::Durable) {
            all.insert(Capability::DurableStop);
        }
        all
    }
}

/// Every capability, as the reference server has them all.
pub const ALL_CAPABILITIES: &[Capability] = &[
    Capability::Qos1,
    Capability::Qos2,
    Capability::Retain,
    Capability::Wildcard,
    Capability::SharedSubscription,
    Capability::SubscriptionIdentifier,
    Capability::TopicAlias,
    Capability::PersistentSession,
    Capability::EmptyClientId,
    Capability::KeepAliveZero,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_implies_durable_stop_and_not_the_reverse() {
        let all = Capability::implied([Capability::Durable]);
        assert!(all.contains(&Capability::DurableStop));
        let stop_only = Capability::implied([Capability::DurableStop]);
        assert!(!stop_only.contains(&Capability::Durable));
    }

    #[test]
    fn names_are_the_yaml_names() {
        for c in ALL_CAPABILITIES
            .iter()
            .copied()
            .chain([Capability::Durable, Capability::DurableStop])
        {
            let parsed: Capability = serde_yaml::from_str(c.name()).unwrap();
            assert_eq!(parsed, c);
        }
    }
}
