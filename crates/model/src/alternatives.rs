//! Where the specifications allow several behaviours: the one the model
//! picks, and the others a conforming broker may show. The conformance
//! layer accepts the whole set; this table is its source.

/// One point where the specification leaves a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alternative {
    /// A stable key for the choice.
    pub key: &'static str,
    /// Statements or sections concerned.
    pub statements: &'static [&'static str],
    /// What the model does.
    pub chosen: &'static str,
    /// What else is allowed.
    pub allowed: &'static [&'static str],
}

/// Every choice the model makes where the specification allows others.
pub const ALTERNATIVES: &[Alternative] = &[
    Alternative {
        key: "overlapping-subscriptions",
        statements: &["MQTT-3.3.5-1", "MQTT-3.3.4-2", "MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"],
        chosen: "one copy per session, at the highest granted QoS of the matching subscriptions, carrying every matching Subscription Identifier; RETAIN kept if any matching subscription has Retain As Published",
        allowed: &["5.0: one copy per matching subscription, each with its own Subscription Identifier and QoS"],
    },
    Alternative {
        key: "shared-subscription-member",
        statements: &["4.8.2"],
        chosen: "round robin in client-id order among connected members of the group, among all members when none is connected",
        allowed: &["any one member of the group per message"],
    },
    Alternative {
        key: "qos0-offline",
        statements: &["3.1.2.4", "4.1"],
        chosen: "QoS 0 messages for a disconnected session are dropped",
        allowed: &["queued with the QoS 1 and 2 messages"],
    },
    Alternative {
        key: "queue-overflow",
        statements: &["4.1"],
        chosen: "a message arriving at a full session queue is dropped (newest dropped)",
        allowed: &["oldest dropped", "5.0: PUBACK/PUBREC 0x97 Quota exceeded to the publisher", "no limit"],
    },
    Alternative {
        key: "unknown-topic-alias",
        statements: &["3.3.2.3.4"],
        chosen: "DISCONNECT 0x94 Topic Alias invalid for an empty topic with an unknown alias",
        allowed: &["DISCONNECT 0x82 Protocol Error"],
    },
    Alternative {
        key: "puback-no-subscribers",
        statements: &["3.4.2.1"],
        chosen: "PUBACK/PUBREC 0x00 even when no subscriber matched",
        allowed: &["0x10 No matching subscribers"],
    },
    Alternative {
        key: "unsupported-subscribe-features",
        statements: &["3.2.2.3.11", "3.2.2.3.12", "3.2.2.3.13"],
        chosen: "SUBACK 0xA2 for a wildcard filter and 0x9E for a shared filter when unavailable; DISCONNECT 0xA1 for a Subscription Identifier when unavailable",
        allowed: &["DISCONNECT 0xA2 / 0x9E", "SUBACK 0x80 in 3.1.1"],
    },
    Alternative {
        key: "keep-alive-timeout-disconnect",
        statements: &["MQTT-3.1.2-22"],
        chosen: "5.0: DISCONNECT 0x8D then close; 3.1.1: close",
        allowed: &["5.0: close without DISCONNECT"],
    },
    Alternative {
        key: "takeover-will",
        statements: &["MQTT-3.1.4-3", "MQTT-3.1.3-9"],
        chosen: "the Will of the connection taken over is published (5.0: unless its Will Delay is non-zero, the new connection then cancels it)",
        allowed: &["the Will of the connection taken over is discarded"],
    },
    Alternative {
        key: "not-authorized-publish-v311",
        statements: &["3.1.1 5.4.2"],
        chosen: "3.1.1: a PUBLISH to a forbidden topic is acknowledged normally and not delivered; 5.0: PUBACK/PUBREC 0x87",
        allowed: &["3.1.1 and 5.0: close the connection"],
    },
    Alternative {
        key: "not-authorized-delivery",
        statements: &["3.1.1 5.4.2", "5.0 5.4.2"],
        chosen: "a copy for a session whose user may not read its topic is not sent, the subscriber is not told; a shared subscription's message goes to a member that may read it",
        allowed: &["the subscription itself refused when it could match a forbidden topic"],
    },
    Alternative {
        key: "will-not-authorized",
        statements: &["MQTT-3.1.2-8", "5.0 3.2.2.2"],
        chosen: "5.0: CONNECT refused with CONNACK 0x87 when its Will topic may not be published by the client; 3.1.1 (and any Will refused when published): accepted and the Will dropped when published",
        allowed: &["5.0: accepted and the Will dropped when published", "3.1.1: CONNACK 0x05", "5.0: CONNACK 0x90 Topic Name invalid"],
    },
    Alternative {
        key: "pubrec-unknown-id",
        statements: &["3.6.2.1"],
        chosen: "5.0: PUBREL 0x92; 3.1.1: ignored",
        allowed: &["ignored in 5.0", "3.1.1: PUBREL"],
    },
    Alternative {
        key: "puback-unknown-id",
        statements: &["4.3.2"],
        chosen: "ignored",
        allowed: &["5.0: DISCONNECT 0x82"],
    },
    Alternative {
        key: "empty-client-id",
        statements: &["MQTT-3.1.3-6", "MQTT-3.1.3-8"],
        chosen: "accepted (Config::allow_empty_client_id) and an id assigned; 3.1.1 with clean session 0: CONNACK 0x02",
        allowed: &["refused: 3.1.1 CONNACK 0x02, 5.0 CONNACK 0x85"],
    },
    Alternative {
        key: "unsupported-protocol-level",
        statements: &["MQTT-3.1.2-2"],
        chosen: "a 3.1.1 CONNACK 0x01 then close",
        allowed: &["5.0: CONNACK 0x84 then close", "close without CONNACK"],
    },
    Alternative {
        key: "malformed-connect",
        statements: &["MQTT-3.1.4-1"],
        chosen: "close without CONNACK",
        allowed: &["5.0: CONNACK 0x81/0x82 then close"],
    },
    Alternative {
        key: "message-expiry-rounding",
        statements: &["MQTT-3.3.2-6"],
        chosen: "forwarded interval = received interval minus whole seconds waited",
        allowed: &["rounded up or down to the second"],
    },
    Alternative {
        key: "retained-on-shared",
        statements: &["4.8.2"],
        chosen: "no retained messages sent when a shared subscription is made",
        allowed: &[],
    },
    Alternative {
        key: "outbound-topic-alias",
        statements: &["MQTT-3.1.2-26", "MQTT-3.1.2-27"],
        chosen: "the model never sends Topic Aliases",
        allowed: &["aliases up to the client's Topic Alias Maximum"],
    },
    Alternative {
        key: "v311-maximum-qos",
        statements: &["3.1.1 3.8.4"],
        chosen: "Config::maximum_qos caps granted QoS in both versions; inbound PUBLISH QoS above it is refused only in 5.0 (DISCONNECT 0x9B)",
        allowed: &[],
    },
];
