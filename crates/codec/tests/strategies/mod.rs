//! Shared proptest strategies that generate VALID MQTT 3.1.1 and 5.0
//! packets, i.e. packets `Packet::encode` must accept and the decoder must
//! read back unchanged.
//!
//! Use from a test file with `mod strategies;`. The rules encoded here are
//! read from the specifications (and cross-checked with the codec's
//! `properties::TABLE`, `check_value` and `reason::allowed`):
//!
//! * strings: no U+0000; multi-byte UTF-8 and the BOM (U+FEFF) appear;
//! * Topic Names: no `+` / `#`, non-empty (5.0: may be empty with a Topic
//!   Alias);
//! * Topic Filters: `+` a whole level, `#` a whole and last level; in 5.0
//!   also `$share/{group}/{filter}` (and never No Local on those);
//! * packet identifiers non-zero where required, 0 on QoS 0 PUBLISH, DUP
//!   only at QoS 1 and 2;
//! * properties only where Table 2-4 allows them, values in range, at most
//!   one Subscription Identifier in SUBSCRIBE, Authentication Data only
//!   with Authentication Method;
//! * reason codes from the packet's table; 3.1.1 packets carry no
//!   properties, Success codes and no UNSUBACK codes; no AUTH in 3.1.1;
//! * 3.1.1 CONNECT: password only with a user name; 3.1.1 SUBSCRIBE:
//!   options carry only the QoS.
//!
//! Sizes are kept modest (payloads up to 300 bytes, lists up to 4) so the
//! tests run quickly in debug builds.

// Each test file uses a different subset of these strategies.
#![allow(dead_code)]

use bytes::Bytes;
use mqtt_codec::reason::allowed;
use mqtt_codec::{
    Auth, ConnAck, Connect, Disconnect, MqttString, Packet, PacketType, Properties,
    PropertyContext, PropertyValues, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will, VBI_MAX,
};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// Largest payload generated.
pub(crate) const MAX_PAYLOAD: usize = 300;
/// Largest list (filters, reason codes, user properties) generated.
pub(crate) const MAX_LIST: usize = 4;

// ---------------------------------------------------------------------------
// Scalars
// ---------------------------------------------------------------------------

/// Both protocol versions.
pub(crate) fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

/// Any QoS level (never the reserved 3).
pub(crate) fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

/// A packet identifier where one is required: non-zero, with the edges
/// weighted up.
pub(crate) fn packet_id() -> impl Strategy<Value = u16> {
    prop_oneof![
        1 => Just(1u16),
        1 => Just(u16::MAX),
        6 => 1..=u16::MAX,
    ]
}

/// Binary data of up to `max` bytes.
pub(crate) fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// A reason code drawn from one of the `reason::allowed` tables.
pub(crate) fn reason_from(table: &'static [u8]) -> impl Strategy<Value = ReasonCode> {
    proptest::sample::select(table).prop_map(ReasonCode)
}

// ---------------------------------------------------------------------------
// Strings and topics
// ---------------------------------------------------------------------------

/// A character for an MQTT string: never U+0000 (nor a surrogate, which
/// `char` cannot hold). Mostly printable ASCII, with 2-, 3- and 4-byte UTF-8
/// sequences and the BOM; control characters and noncharacters, which the
/// specification says a sender SHOULD NOT use, are left out.
pub(crate) fn string_char() -> impl Strategy<Value = char> {
    // One integer per character keeps generation cheap in debug builds;
    // it shrinks towards 0, i.e. towards ' '.
    any::<u32>().prop_map(|x| {
        let (bucket, n) = (x % 16, x / 16);
        let (first, last) = match bucket {
            0..=7 => (0x20, 0x7E),      // printable ASCII
            8 | 9 => (0xA0, 0x7FF),     // 2-byte sequences
            10 | 11 => (0x800, 0xD7FF), // 3-byte, below the surrogates
            12 => (0xE000, 0xFDCF),     // 3-byte, above them
            13 => (0xFEFF, 0xFEFF),     // the BOM
            _ => (0x1_0000, 0x1_FFFD),  // 4-byte sequences
        };
        char::from_u32(first + n % (last - first + 1)).expect("not a surrogate")
    })
}

/// A valid MQTT UTF-8 string of up to `max_chars` characters (possibly
/// empty); sometimes starting with a BOM, which must be kept (MQTT-1.5.4-3).
pub(crate) fn mqtt_string_max(max_chars: usize) -> impl Strategy<Value = MqttString> {
    (
        option::weighted(0.1, Just('\u{FEFF}')),
        vec(string_char(), 0..=max_chars),
    )
        .prop_map(|(bom, chars)| {
            let s: String = bom.into_iter().chain(chars).collect();
            MqttString::new(s).expect("generated string is valid")
        })
}

/// A valid MQTT UTF-8 string of up to 12 characters.
pub(crate) fn mqtt_string() -> impl Strategy<Value = MqttString> {
    mqtt_string_max(12)
}

/// A character of a topic level: a string character other than `/`, `+`
/// and `#`.
fn level_char() -> impl Strategy<Value = char> {
    string_char().prop_filter("topic level character", |c| !matches!(c, '/' | '+' | '#'))
}

/// One level of a topic (possibly empty, as in `a//b`).
pub(crate) fn topic_level() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => vec(level_char(), 1..=6).prop_map(|c| c.into_iter().collect::<String>()),
        1 => Just(String::new()),
        1 => Just("$SYS".to_owned()),
        1 => Just("sport".to_owned()),
    ]
}

/// Levels joined with `/`, as a String (may be empty).
fn joined_levels(max_levels: usize) -> impl Strategy<Value = String> {
    vec(topic_level(), 1..=max_levels).prop_map(|levels| levels.join("/"))
}

/// A valid, non-empty Topic Name: no wildcards (MQTT-3.3.2-2), at least one
/// character (MQTT-4.7.3-1).
pub(crate) fn topic_name() -> impl Strategy<Value = MqttString> {
    joined_levels(4).prop_map(|s| {
        let s = if s.is_empty() { "t".to_owned() } else { s };
        MqttString::new(s).expect("generated topic is valid")
    })
}

/// A valid Topic Filter without the `$share/` form: `+` a whole level, `#`
/// alone as the last level. Never starts with `$share/`, so that it means
/// the same in both versions.
pub(crate) fn plain_topic_filter() -> impl Strategy<Value = MqttString> {
    let level = prop_oneof![3 => topic_level(), 1 => Just("+".to_owned())];
    (vec(level, 1..=4), any::<bool>(), any::<bool>())
        .prop_map(|(levels, hash, only_hash)| {
            if only_hash && levels.len() == 1 {
                return "#".to_owned();
            }
            let mut s = levels.join("/");
            if hash {
                s.push_str("/#");
            }
            if s.is_empty() {
                s.push('+');
            }
            s
        })
        .prop_filter("not a $share/ filter", |s| !s.starts_with("$share/"))
        .prop_map(|s| MqttString::new(s).expect("generated filter is valid"))
}

/// A ShareName: non-empty, no `/`, `+` or `#` (MQTT-4.8.2-1, MQTT-4.8.2-2).
pub(crate) fn share_name() -> impl Strategy<Value = String> {
    vec(level_char(), 1..=6).prop_map(|c| c.into_iter().collect())
}

/// A 5.0 shared subscription filter, `$share/{ShareName}/{filter}`.
pub(crate) fn shared_topic_filter() -> impl Strategy<Value = MqttString> {
    (share_name(), plain_topic_filter()).prop_map(|(group, filter)| {
        MqttString::new(format!("$share/{group}/{filter}")).expect("generated filter is valid")
    })
}

/// A 3.1.1 Topic Filter that starts with `$share/`: an ordinary filter in
/// 3.1.1, some of them (`$share/g`, `$share//a`) invalid in 5.0.
pub(crate) fn v311_share_like_filter() -> impl Strategy<Value = MqttString> {
    prop_oneof![
        Just(MqttString::from_static("$share/g")),
        Just(MqttString::from_static("$share//a")),
        Just(MqttString::from_static("$share/")),
        shared_topic_filter(),
    ]
}

/// A valid Topic Filter for `version` (in 5.0 sometimes shared; in 3.1.1
/// sometimes starting with `$share/`, which is nothing special there).
pub(crate) fn topic_filter(v: ProtocolVersion) -> BoxedStrategy<MqttString> {
    match v {
        ProtocolVersion::V311 => prop_oneof![
            8 => plain_topic_filter(),
            1 => v311_share_like_filter(),
        ]
        .boxed(),
        ProtocolVersion::V5 => prop_oneof![
            4 => plain_topic_filter(),
            1 => shared_topic_filter(),
        ]
        .boxed(),
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    option::weighted(0.25, s)
}

fn bool_byte() -> impl Strategy<Value = u8> {
    0u8..=1
}

/// A Subscription Identifier, 1 to 268,435,455, spread over the four
/// Variable Byte Integer lengths with the edges included.
pub(crate) fn subscription_identifier() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(1u32),
        1u32..=127,
        Just(128u32),
        128u32..=16_383,
        Just(16_384u32),
        16_384u32..=2_097_151,
        2_097_152u32..=VBI_MAX,
        Just(VBI_MAX),
    ]
}

/// A property field: generated (present with probability 1/4) when `ctx`
/// may carry property `id` (`None`: any context), else always absent.
fn field<T: std::fmt::Debug + Clone + 'static>(
    ctx: Option<PropertyContext>,
    id: u8,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    if ctx.is_none_or(|c| allowed_in(id, c)) {
        opt(s).boxed()
    } else {
        Just(None).boxed()
    }
}

/// A repeatable property field: 0 to 2 values when `ctx` may carry it.
fn list<T: std::fmt::Debug + Clone + 'static>(
    ctx: Option<PropertyContext>,
    id: u8,
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Vec<T>> {
    if ctx.is_none_or(|c| allowed_in(id, c)) {
        vec(s, 0..=2).boxed()
    } else {
        Just(Vec::new()).boxed()
    }
}

/// Properties with values in range: those `ctx` may carry (`None`: every
/// property of Table 2-4), each present with probability 1/4 (repeatable
/// ones 0-2 times). Not yet valid as a whole: see [`restrict_properties`].
pub(crate) fn raw_properties(
    ctx: Option<PropertyContext>,
) -> impl Strategy<Value = PropertyValues> {
    let a = (
        field(ctx, 0x01, bool_byte()),              // Payload Format Indicator
        field(ctx, 0x02, any::<u32>()),             // Message Expiry Interval
        field(ctx, 0x03, mqtt_string()),            // Content Type
        field(ctx, 0x08, topic_name()),             // Response Topic (no wildcards)
        field(ctx, 0x09, binary(24)),               // Correlation Data
        list(ctx, 0x0B, subscription_identifier()), // Subscription Identifier
        field(ctx, 0x11, any::<u32>()),             // Session Expiry Interval
        field(ctx, 0x12, mqtt_string()),            // Assigned Client Identifier
        field(ctx, 0x13, any::<u16>()),             // Server Keep Alive
        field(ctx, 0x15, mqtt_string()),            // Authentication Method
        field(ctx, 0x16, binary(24)),               // Authentication Data
        field(ctx, 0x17, bool_byte()),              // Request Problem Information
    );
    let b = (
        field(ctx, 0x18, any::<u32>()),  // Will Delay Interval
        field(ctx, 0x19, bool_byte()),   // Request Response Information
        field(ctx, 0x1A, mqtt_string()), // Response Information
        field(ctx, 0x1C, mqtt_string()), // Server Reference
        field(ctx, 0x1F, mqtt_string()), // Reason String
        field(ctx, 0x21, 1..=u16::MAX),  // Receive Maximum (non-zero)
        field(ctx, 0x22, any::<u16>()),  // Topic Alias Maximum
        field(ctx, 0x23, 1..=u16::MAX),  // Topic Alias (non-zero)
        field(ctx, 0x24, bool_byte()),   // Maximum QoS (0 or 1)
        field(ctx, 0x25, bool_byte()),   // Retain Available
        list(ctx, 0x26, (mqtt_string_max(6), mqtt_string_max(6))), // User Property
        field(ctx, 0x27, 1..=u32::MAX),  // Maximum Packet Size (non-zero)
    );
    let c = (
        field(ctx, 0x28, bool_byte()), // Wildcard Subscription Available
        field(ctx, 0x29, bool_byte()), // Subscription Identifier Available
        field(ctx, 0x2A, bool_byte()), // Shared Subscription Available
    );
    (a, b, c).prop_map(|(a, b, c)| PropertyValues {
        payload_format_indicator: a.0,
        message_expiry_interval: a.1,
        content_type: a.2,
        response_topic: a.3,
        correlation_data: a.4,
        subscription_identifiers: a.5,
        session_expiry_interval: a.6,
        assigned_client_identifier: a.7,
        server_keep_alive: a.8,
        authentication_method: a.9,
        authentication_data: a.10,
        request_problem_information: a.11,
        will_delay_interval: b.0,
        request_response_information: b.1,
        response_information: b.2,
        server_reference: b.3,
        reason_string: b.4,
        receive_maximum: b.5,
        topic_alias_maximum: b.6,
        topic_alias: b.7,
        maximum_qos: b.8,
        retain_available: b.9,
        user_properties: b.10,
        maximum_packet_size: b.11,
        wildcard_subscription_available: c.0,
        subscription_identifier_available: c.1,
        shared_subscription_available: c.2,
    })
}

/// Whether MQTT 5.0 Table 2-4 lets a property list in `ctx` carry property
/// `id`. Written from the specification independently of the codec.
pub(crate) fn allowed_in(id: u8, ctx: PropertyContext) -> bool {
    use PropertyContext::*;
    let acks = matches!(ctx, PubAck | PubRec | PubRel | PubComp);
    match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => matches!(ctx, Publish | Will),
        0x0B => matches!(ctx, Publish | Subscribe),
        0x11 => matches!(ctx, Connect | ConnAck | Disconnect),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => ctx == ConnAck,
        0x15 | 0x16 => matches!(ctx, Connect | ConnAck | Auth),
        0x17 | 0x19 => ctx == Connect,
        0x18 => ctx == Will,
        0x1C => matches!(ctx, ConnAck | Disconnect),
        0x1F => acks || matches!(ctx, ConnAck | SubAck | UnsubAck | Disconnect | Auth),
        0x21 | 0x22 | 0x27 => matches!(ctx, Connect | ConnAck),
        0x23 => ctx == Publish,
        0x26 => true, // User Property: every context
        _ => false,
    }
}

/// Keeps only the properties `ctx` may carry, and makes the result valid
/// there: one Subscription Identifier at most in SUBSCRIBE, and
/// Authentication Data only with an Authentication Method.
pub(crate) fn restrict_properties(p: PropertyValues, ctx: PropertyContext) -> Properties {
    fn keep<T>(v: Option<T>, id: u8, ctx: PropertyContext) -> Option<T> {
        v.filter(|_| allowed_in(id, ctx))
    }
    let mut out = PropertyValues {
        payload_format_indicator: keep(p.payload_format_indicator, 0x01, ctx),
        message_expiry_interval: keep(p.message_expiry_interval, 0x02, ctx),
        content_type: keep(p.content_type, 0x03, ctx),
        response_topic: keep(p.response_topic, 0x08, ctx),
        correlation_data: keep(p.correlation_data, 0x09, ctx),
        subscription_identifiers: if allowed_in(0x0B, ctx) {
            p.subscription_identifiers
        } else {
            Vec::new()
        },
        session_expiry_interval: keep(p.session_expiry_interval, 0x11, ctx),
        assigned_client_identifier: keep(p.assigned_client_identifier, 0x12, ctx),
        server_keep_alive: keep(p.server_keep_alive, 0x13, ctx),
        authentication_method: keep(p.authentication_method, 0x15, ctx),
        authentication_data: keep(p.authentication_data, 0x16, ctx),
        request_problem_information: keep(p.request_problem_information, 0x17, ctx),
        will_delay_interval: keep(p.will_delay_interval, 0x18, ctx),
        request_response_information: keep(p.request_response_information, 0x19, ctx),
        response_information: keep(p.response_information, 0x1A, ctx),
        server_reference: keep(p.server_reference, 0x1C, ctx),
        reason_string: keep(p.reason_string, 0x1F, ctx),
        receive_maximum: keep(p.receive_maximum, 0x21, ctx),
        topic_alias_maximum: keep(p.topic_alias_maximum, 0x22, ctx),
        topic_alias: keep(p.topic_alias, 0x23, ctx),
        maximum_qos: keep(p.maximum_qos, 0x24, ctx),
        retain_available: keep(p.retain_available, 0x25, ctx),
        user_properties: p.user_properties,
        maximum_packet_size: keep(p.maximum_packet_size, 0x27, ctx),
        wildcard_subscription_available: keep(p.wildcard_subscription_available, 0x28, ctx),
        subscription_identifier_available: keep(p.subscription_identifier_available, 0x29, ctx),
        shared_subscription_available: keep(p.shared_subscription_available, 0x2A, ctx),
    };
    if ctx == PropertyContext::Subscribe {
        out.subscription_identifiers.truncate(1);
    }
    if out.authentication_data.is_some() && out.authentication_method.is_none() {
        out.authentication_method = Some(MqttString::from_static("SCRAM-SHA-256"));
    }
    out.into()
}

/// Valid properties for `ctx` in `version`: always empty in 3.1.1; in 5.0
/// empty a fifth of the time (to exercise the short forms), otherwise a
/// random selection of what `ctx` allows.
pub(crate) fn properties(v: ProtocolVersion, ctx: PropertyContext) -> BoxedStrategy<Properties> {
    match v {
        ProtocolVersion::V311 => Just(Properties::default()).boxed(),
        ProtocolVersion::V5 => prop_oneof![
            1 => Just(Properties::default()),
            4 => raw_properties(Some(ctx)).prop_map(move |p| restrict_properties(p, ctx)),
        ]
        .boxed(),
    }
}

// ---------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------

/// A Will Message valid in `v`.
pub(crate) fn will(v: ProtocolVersion) -> impl Strategy<Value = Will> {
    (
        topic_name(),
        binary(64),
        qos(),
        any::<bool>(),
        properties(v, PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

/// A CONNECT valid in `v`, with or without will, user name and password
/// (3.1.1: a password only with a user name, MQTT-3.1.2-22).
pub(crate) fn connect(v: ProtocolVersion) -> impl Strategy<Value = Connect> {
    (
        any::<bool>(),
        any::<u16>(),
        properties(v, PropertyContext::Connect),
        mqtt_string_max(23),
        option::of(will(v)),
        option::of(mqtt_string()),
        option::of(binary(32)),
    )
        .prop_map(
            move |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                let password = match v {
                    ProtocolVersion::V311 if username.is_none() => None,
                    _ => password,
                };
                Connect {
                    protocol_version: v,
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                }
            },
        )
}

/// A CONNACK valid in `v`: a code from the version's table, Session Present
/// only with Success (MQTT-3.2.2-4 / MQTT-3.2.2-6).
pub(crate) fn connack(v: ProtocolVersion) -> impl Strategy<Value = ConnAck> {
    let table = match v {
        ProtocolVersion::V311 => allowed::CONNACK_V311,
        ProtocolVersion::V5 => allowed::CONNACK,
    };
    (
        any::<bool>(),
        prop_oneof![1 => Just(ReasonCode::SUCCESS), 2 => reason_from(table)],
        properties(v, PropertyContext::ConnAck),
    )
        .prop_map(|(session_present, reason_code, properties)| ConnAck {
            session_present: session_present && reason_code == ReasonCode::SUCCESS,
            reason_code,
            properties,
        })
}

/// A PUBLISH valid in `v`: packet id 0 at QoS 0 and non-zero otherwise, DUP
/// only at QoS 1 and 2, and in 5.0 sometimes an empty topic with a Topic
/// Alias.
pub(crate) fn publish(v: ProtocolVersion) -> impl Strategy<Value = Publish> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        packet_id(),
        properties(v, PropertyContext::Publish),
        binary(MAX_PAYLOAD),
    )
        .prop_map(
            |(qos, dup, retain, topic, empty_topic, id, properties, payload)| {
                let at_most_once = qos == QoS::AtMostOnce;
                let topic = if empty_topic && properties.topic_alias.is_some() {
                    MqttString::default()
                } else {
                    topic
                };
                Publish::new(topic, payload)
                    .with_qos(qos, if at_most_once { 0 } else { id })
                    .with_dup(dup && !at_most_once)
                    .with_retain(retain)
                    .with_properties(properties)
            },
        )
}

/// A PUBACK, PUBREC, PUBREL or PUBCOMP body valid in `v` for `ptype`.
pub(crate) fn pub_response(v: ProtocolVersion, ptype: PacketType) -> BoxedStrategy<PubResponse> {
    let (ctx, table) = match ptype {
        PacketType::PubAck => (PropertyContext::PubAck, allowed::PUBACK),
        PacketType::PubRec => (PropertyContext::PubRec, allowed::PUBACK),
        PacketType::PubRel => (PropertyContext::PubRel, allowed::PUBREL),
        PacketType::PubComp => (PropertyContext::PubComp, allowed::PUBREL),
        other => panic!("{other} is not a publish response"),
    };
    match v {
        ProtocolVersion::V311 => packet_id().prop_map(PubResponse::new).boxed(),
        ProtocolVersion::V5 => (
            packet_id(),
            prop_oneof![1 => Just(ReasonCode::SUCCESS), 2 => reason_from(table)],
            properties(v, ctx),
        )
            .prop_map(|(packet_id, reason_code, properties)| PubResponse {
                packet_id,
                reason_code,
                properties,
            })
            .boxed(),
    }
}

/// Subscription options valid in `v` for `filter`: only the QoS in 3.1.1;
/// in 5.0 every option, but No Local never on a shared subscription
/// (MQTT-3.8.3-4).
pub(crate) fn subscription(v: ProtocolVersion) -> BoxedStrategy<Subscription> {
    match v {
        ProtocolVersion::V311 => (topic_filter(v), qos())
            .prop_map(|(filter, qos)| Subscription {
                filter,
                options: SubscriptionOptions::qos(qos),
            })
            .boxed(),
        ProtocolVersion::V5 => {
            let handling = prop_oneof![
                Just(RetainHandling::SendAtSubscribe),
                Just(RetainHandling::SendIfNew),
                Just(RetainHandling::DoNotSend),
            ];
            (
                topic_filter(v),
                qos(),
                any::<bool>(),
                any::<bool>(),
                handling,
            )
                .prop_map(|(filter, qos, no_local, rap, retain_handling)| {
                    let shared = filter.starts_with("$share/");
                    Subscription {
                        filter,
                        options: SubscriptionOptions {
                            qos,
                            no_local: no_local && !shared,
                            retain_as_published: rap,
                            retain_handling,
                        },
                    }
                })
                .boxed()
        }
    }
}

/// A SUBSCRIBE valid in `v`, with 1 to 4 filters.
pub(crate) fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    (
        packet_id(),
        properties(v, PropertyContext::Subscribe),
        vec(subscription(v), 1..=MAX_LIST),
    )
        .prop_map(|(packet_id, properties, filters)| Subscribe {
            packet_id,
            properties,
            filters,
        })
}

/// A SUBACK valid in `v`, with 1 to 4 codes from the version's table.
pub(crate) fn suback(v: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    let table = match v {
        ProtocolVersion::V311 => allowed::SUBACK_V311,
        ProtocolVersion::V5 => allowed::SUBACK,
    };
    (
        packet_id(),
        properties(v, PropertyContext::SubAck),
        vec(reason_from(table), 1..=MAX_LIST),
    )
        .prop_map(|(packet_id, properties, reason_codes)| SubAck {
            packet_id,
            properties,
            reason_codes,
        })
}

/// An UNSUBSCRIBE valid in `v`, with 1 to 4 filters.
pub(crate) fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    (
        packet_id(),
        properties(v, PropertyContext::Unsubscribe),
        vec(topic_filter(v), 1..=MAX_LIST),
    )
        .prop_map(|(packet_id, properties, filters)| Unsubscribe {
            packet_id,
            properties,
            filters,
        })
}

/// An UNSUBACK valid in `v`: only a packet id in 3.1.1; 1 to 4 codes in 5.0.
pub(crate) fn unsuback(v: ProtocolVersion) -> BoxedStrategy<UnsubAck> {
    match v {
        ProtocolVersion::V311 => packet_id()
            .prop_map(|packet_id| UnsubAck {
                packet_id,
                ..UnsubAck::default()
            })
            .boxed(),
        ProtocolVersion::V5 => (
            packet_id(),
            properties(v, PropertyContext::UnsubAck),
            vec(reason_from(allowed::UNSUBACK), 1..=MAX_LIST),
        )
            .prop_map(|(packet_id, properties, reason_codes)| UnsubAck {
                packet_id,
                properties,
                reason_codes,
            })
            .boxed(),
    }
}

/// A DISCONNECT valid in `v`: empty in 3.1.1.
pub(crate) fn disconnect(v: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    match v {
        ProtocolVersion::V311 => Just(Disconnect::default()).boxed(),
        ProtocolVersion::V5 => (
            prop_oneof![1 => Just(ReasonCode::SUCCESS), 2 => reason_from(allowed::DISCONNECT)],
            properties(v, PropertyContext::Disconnect),
        )
            .prop_map(|(reason_code, properties)| Disconnect {
                reason_code,
                properties,
            })
            .boxed(),
    }
}

/// An AUTH (5.0 only): either the empty form (Success, no properties,
/// Remaining Length 0, §3.15.2.1) or a reason code with properties that
/// include the Authentication Method, which AUTH must not omit
/// (§3.15.2.2.2).
pub(crate) fn auth() -> impl Strategy<Value = Auth> {
    let full = (
        prop_oneof![1 => Just(ReasonCode::SUCCESS), 2 => reason_from(allowed::AUTH)],
        raw_properties(Some(PropertyContext::Auth)),
        mqtt_string(),
    )
        .prop_map(|(reason_code, properties, method)| {
            let mut properties = restrict_properties(properties, PropertyContext::Auth);
            properties.authentication_method.get_or_insert(method);
            Auth {
                reason_code,
                properties,
            }
        });
    prop_oneof![1 => Just(Auth::default()), 4 => full]
}

/// Every packet type that exists in `v` (AUTH only in 5.0).
pub(crate) fn packet_types(v: ProtocolVersion) -> Vec<PacketType> {
    use PacketType::*;
    let mut all = vec![
        Connect,
        ConnAck,
        Publish,
        PubAck,
        PubRec,
        PubRel,
        PubComp,
        Subscribe,
        SubAck,
        Unsubscribe,
        UnsubAck,
        PingReq,
        PingResp,
        Disconnect,
    ];
    if v.is_v5() {
        all.push(Auth);
    }
    all
}

/// A valid packet of type `t` in `v`.
pub(crate) fn packet_of(v: ProtocolVersion, t: PacketType) -> BoxedStrategy<Packet> {
    match t {
        PacketType::Connect => connect(v)
            .prop_map(|c| Packet::Connect(Box::new(c)))
            .boxed(),
        PacketType::ConnAck => connack(v).prop_map(Packet::ConnAck).boxed(),
        PacketType::Publish => publish(v).prop_map(Packet::Publish).boxed(),
        PacketType::PubAck => pub_response(v, t).prop_map(Packet::PubAck).boxed(),
        PacketType::PubRec => pub_response(v, t).prop_map(Packet::PubRec).boxed(),
        PacketType::PubRel => pub_response(v, t).prop_map(Packet::PubRel).boxed(),
        PacketType::PubComp => pub_response(v, t).prop_map(Packet::PubComp).boxed(),
        PacketType::Subscribe => subscribe(v).prop_map(Packet::Subscribe).boxed(),
        PacketType::SubAck => suback(v).prop_map(Packet::SubAck).boxed(),
        PacketType::Unsubscribe => unsubscribe(v).prop_map(Packet::Unsubscribe).boxed(),
        PacketType::UnsubAck => unsuback(v).prop_map(Packet::UnsubAck).boxed(),
        PacketType::PingReq => Just(Packet::PingReq).boxed(),
        PacketType::PingResp => Just(Packet::PingResp).boxed(),
        PacketType::Disconnect => disconnect(v).prop_map(Packet::Disconnect).boxed(),
        PacketType::Auth => {
            assert!(v.is_v5(), "AUTH does not exist in MQTT 3.1.1");
            auth().prop_map(Packet::Auth).boxed()
        }
    }
}

/// Any valid packet of `v`, every type equally likely.
pub(crate) fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let arms: Vec<_> = packet_types(v)
        .into_iter()
        .map(|t| (1u32, packet_of(v, t)))
        .collect();
    proptest::strategy::Union::new_weighted(arms).boxed()
}

/// A version and a valid packet of it.
pub(crate) fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| packet(v).prop_map(move |p| (v, p)))
}

/// A version and 1 to `max` valid packets of it, as one connection carries
/// them (in any order: the decoder does not track connection state).
pub(crate) fn versioned_packets(
    max: usize,
) -> impl Strategy<Value = (ProtocolVersion, Vec<Packet>)> {
    version().prop_flat_map(move |v| vec(packet(v), 1..=max).prop_map(move |ps| (v, ps)))
}
