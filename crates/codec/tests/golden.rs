//! Golden vectors: byte-exact packets of every control packet type of MQTT
//! 3.1.1 (14 types) and MQTT 5.0 (15, with AUTH), written out by hand from
//! the figures and tables of the two specifications, never produced by the
//! encoder under test.
//!
//! Every vector is checked in both directions: the bytes decode to the
//! expected [`Packet`] (also when fed one byte at a time), and encoding that
//! packet yields exactly the bytes. The last tests feed non-canonical but
//! legal encodings and check that they decode to the canonical packet.

use std::cell::RefCell;
use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{
    Auth, ConnAck, Connect, Decoder, Disconnect, MqttString, Packet, PacketType, Properties,
    PropertyValues, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode, RetainHandling, SubAck,
    Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

use ProtocolVersion::{V311, V5};

fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v)
}

fn b(v: &'static [u8]) -> Bytes {
    Bytes::from_static(v)
}

/// A decoder for `version`; CONNECT goes through the server-side decoder,
/// which must learn the version from the packet itself.
fn decoder_for(version: ProtocolVersion, packet: &Packet) -> Decoder {
    match packet {
        Packet::Connect(_) => Decoder::server(),
        _ => Decoder::new(version),
    }
}

/// Decodes `bytes` in `version`, also byte by byte, and checks that the
/// packet is `expected` and that the whole input was consumed.
fn assert_decodes(version: ProtocolVersion, bytes: &[u8], expected: &Packet) {
    let mut decoder = decoder_for(version, expected);
    let mut buf = BytesMut::from(bytes);
    let got = decoder
        .decode(&mut buf)
        .unwrap_or_else(|e| panic!("{version} {bytes:02X?}: decode error {e}"))
        .unwrap_or_else(|| panic!("{version} {bytes:02X?}: reported incomplete"));
    assert_eq!(&got, expected, "{version}: decoded packet of {bytes:02X?}");
    assert!(buf.is_empty(), "{version}: {} bytes left over", buf.len());
    if let Packet::Connect(c) = expected {
        assert_eq!(decoder.version(), Some(c.protocol_version));
    }

    // Streaming: every strict prefix is incomplete and consumes nothing.
    let mut decoder = decoder_for(version, expected);
    let mut buf = BytesMut::new();
    for (i, &byte) in bytes.iter().enumerate() {
        buf.extend_from_slice(&[byte]);
        let step = decoder
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("{version}: prefix of {} bytes: {e}", i + 1));
        if i + 1 < bytes.len() {
            assert_eq!(step, None, "{version}: prefix of {} bytes", i + 1);
            assert_eq!(buf.len(), i + 1, "a prefix must not be consumed");
        } else {
            assert_eq!(step.as_ref(), Some(expected), "{version}: byte-wise decode");
        }
    }
}

thread_local! {
    /// (protocol level, packet type) of every golden vector checked on this
    /// thread, for `every_packet_type_has_a_golden_vector`.
    static SEEN: RefCell<Vec<(u8, PacketType)>> = const { RefCell::new(Vec::new()) };
}

/// The golden check: decode, then encode back to the very same bytes.
fn golden(version: ProtocolVersion, bytes: &[u8], expected: Packet) {
    SEEN.with(|seen| {
        seen.borrow_mut()
            .push((version.level(), expected.packet_type()))
    });
    assert_decodes(version, bytes, &expected);
    let encoded = expected
        .to_bytes(version)
        .unwrap_or_else(|e| panic!("{version}: encode error {e}"));
    assert_eq!(
        encoded.as_ref(),
        bytes,
        "{version}: encoding of {expected:?}"
    );
    assert_eq!(expected.encoded_len(version), bytes.len());
}

/// A non-canonical but legal encoding: decodes to `expected`, whose encoding
/// is the canonical `canonical`.
fn equivalent(version: ProtocolVersion, variant: &[u8], canonical: &[u8], expected: Packet) {
    golden(version, canonical, expected.clone());
    assert_decodes(version, variant, &expected);
}

// ---------------------------------------------------------------------------
// MQTT 3.1.1
// ---------------------------------------------------------------------------

#[test]
fn v311_connect_with_will_user_name_and_password() {
    // MQTT 3.1.1 §3.1.2, Figure 3.6 (variable header non normative example):
    // protocol name "MQTT", level 4, Connect Flags 0xCE (User Name, Password,
    // Will QoS 1, Will Flag, Clean Session), Keep Alive 10; payload in the
    // order of §3.1.3 (MQTT-3.1.3-1).
    #[rustfmt::skip]
    let bytes = [
        0x10, 35,                               // CONNECT, Remaining Length 35
        0x00, 0x04, b'M', b'Q', b'T', b'T',     // Protocol Name
        0x04,                                   // Protocol Level 4
        0xCE,                                   // Connect Flags
        0x00, 0x0A,                             // Keep Alive 10
        0x00, 0x03, b'c', b'i', b'd',           // Client Identifier "cid"
        0x00, 0x03, b'w', b'/', b't',           // Will Topic "w/t"
        0x00, 0x03, b'b', b'y', b'e',           // Will Message "bye"
        0x00, 0x04, b'u', b's', b'e', b'r',     // User Name "user"
        0x00, 0x02, b'p', b'w',                 // Password "pw"
    ];
    let connect = Connect {
        protocol_version: V311,
        clean_start: true,
        keep_alive: 10,
        properties: Properties::default(),
        client_id: s("cid"),
        will: Some(Will {
            topic: s("w/t"),
            payload: b(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::default(),
        }),
        username: Some(s("user")),
        password: Some(b(b"pw")),
    };
    golden(V311, &bytes, Packet::Connect(Box::new(connect)));
}

#[test]
fn v311_connect_minimal_and_retained_qos2_will() {
    // MQTT 3.1.1 §3.1.2.3-§3.1.2.4, §3.1.3.1: Clean Session, Keep Alive 60,
    // zero-length Client Identifier (allowed with Clean Session, §3.1.3.1).
    #[rustfmt::skip]
    let minimal = [
        0x10, 12,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04,
        0x02,                                   // Clean Session
        0x00, 0x3C,                             // Keep Alive 60
        0x00, 0x00,                             // Client Identifier ""
    ];
    golden(
        V311,
        &minimal,
        Packet::Connect(Box::new(Connect::new(V311, s("")))),
    );

    // MQTT 3.1.1 §3.1.2.5-§3.1.2.7: Will Flag, Will QoS 2, Will Retain;
    // Clean Session 0; an empty Will Message (§3.1.3.3 allows zero bytes).
    #[rustfmt::skip]
    let will = [
        0x10, 18,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04,
        0x34,                                   // Will Retain, Will QoS 2, Will Flag
        0x00, 0x00,                             // Keep Alive 0
        0x00, 0x01, b'a',                       // Client Identifier "a"
        0x00, 0x01, b't',                       // Will Topic "t"
        0x00, 0x00,                             // Will Message (empty)
    ];
    let connect = Connect {
        protocol_version: V311,
        clean_start: false,
        keep_alive: 0,
        properties: Properties::default(),
        client_id: s("a"),
        will: Some(Will {
            topic: s("t"),
            payload: Bytes::new(),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Properties::default(),
        }),
        username: None,
        password: None,
    };
    golden(V311, &will, Packet::Connect(Box::new(connect)));
}

#[test]
fn v311_connack() {
    // MQTT 3.1.1 §3.2.2, Figure 3.9: flags, Connect Return Code (Table 3.1).
    golden(
        V311,
        &[0x20, 0x02, 0x00, 0x00],
        Packet::ConnAck(ConnAck::default()),
    );
    // Session Present (§3.2.2.2) with return code 0.
    golden(
        V311,
        &[0x20, 0x02, 0x01, 0x00],
        Packet::ConnAck(ConnAck {
            session_present: true,
            ..ConnAck::default()
        }),
    );
    // Return code 5, "Connection Refused, not authorized" (Table 3.1).
    golden(
        V311,
        &[0x20, 0x02, 0x00, 0x05],
        Packet::ConnAck(ConnAck {
            reason_code: ReasonCode(5),
            ..ConnAck::default()
        }),
    );
}

#[test]
fn v311_publish() {
    // MQTT 3.1.1 §3.3.2, Table 3.3 and Figure 3.11: Topic Name "a/b",
    // Packet Identifier 10; QoS 1 (§3.3.1.2); payload "hi".
    #[rustfmt::skip]
    let bytes = [
        0x32, 9,                                // PUBLISH, QoS 1
        0x00, 0x03, b'a', b'/', b'b',           // Topic Name
        0x00, 0x0A,                             // Packet Identifier 10
        b'h', b'i',                             // Payload
    ];
    golden(
        V311,
        &bytes,
        Packet::Publish(Publish::new(s("a/b"), b(b"hi")).with_qos(QoS::AtLeastOnce, 10)),
    );

    // §3.3.1.3: RETAIN at QoS 0, zero-byte payload (no Packet Identifier at
    // QoS 0, MQTT-2.3.1-5).
    golden(
        V311,
        &[0x31, 0x05, 0x00, 0x03, b'a', b'/', b'b'],
        Packet::Publish(Publish::new(s("a/b"), Bytes::new()).with_retain(true)),
    );

    // §3.3.1.1-§3.3.1.2: DUP with QoS 2, Packet Identifier 0x1234.
    golden(
        V311,
        &[0x3C, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x12, 0x34],
        Packet::Publish(
            Publish::new(s("a/b"), Bytes::new())
                .with_qos(QoS::ExactlyOnce, 0x1234)
                .with_dup(true),
        ),
    );
}

#[test]
fn v311_publish_responses() {
    // MQTT 3.1.1 §3.4-§3.7: Figures 3.12/3.13 (PUBACK), 3.14/3.15 (PUBREC),
    // 3.16/3.17 (PUBREL, fixed header flags 0010), 3.18/3.19 (PUBCOMP).
    let r = PubResponse::new(10);
    golden(V311, &[0x40, 0x02, 0x00, 0x0A], Packet::PubAck(r.clone()));
    golden(V311, &[0x50, 0x02, 0x00, 0x0A], Packet::PubRec(r.clone()));
    golden(V311, &[0x62, 0x02, 0x00, 0x0A], Packet::PubRel(r.clone()));
    golden(V311, &[0x70, 0x02, 0x00, 0x0A], Packet::PubComp(r));
}

#[test]
fn v311_subscribe() {
    // MQTT 3.1.1 §3.8: Figure 3.20 (fixed header 1000 0010), Figure 3.21
    // (Packet Identifier 10), Table 3.5 and Figure 3.23 ("a/b" QoS 1,
    // "c/d" QoS 2).
    #[rustfmt::skip]
    let bytes = [
        0x82, 14,
        0x00, 0x0A,                             // Packet Identifier 10
        0x00, 0x03, b'a', b'/', b'b', 0x01,     // "a/b", Requested QoS 1
        0x00, 0x03, b'c', b'/', b'd', 0x02,     // "c/d", Requested QoS 2
    ];
    let subscribe = Subscribe {
        packet_id: 10,
        properties: Properties::default(),
        filters: vec![
            Subscription {
                filter: s("a/b"),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
            },
            Subscription {
                filter: s("c/d"),
                options: SubscriptionOptions::qos(QoS::ExactlyOnce),
            },
        ],
    };
    golden(V311, &bytes, Packet::Subscribe(subscribe));
}

#[test]
fn v311_suback_with_failure() {
    // MQTT 3.1.1 §3.9: Figure 3.25 (Packet Identifier), Table 3.6 and
    // Figure 3.27: "Success - Maximum QoS 0", "Success - Maximum QoS 2",
    // "Failure" (0x80).
    golden(
        V311,
        &[0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80],
        Packet::SubAck(SubAck {
            packet_id: 10,
            properties: Properties::default(),
            reason_codes: vec![ReasonCode(0x00), ReasonCode(0x02), ReasonCode(0x80)],
        }),
    );
}

#[test]
fn v311_unsubscribe() {
    // MQTT 3.1.1 §3.10: Figure 3.28 (fixed header 1010 0010), Figure 3.29,
    // Table 3.7 and Figure 3.30 ("a/b", "c/d").
    #[rustfmt::skip]
    let bytes = [
        0xA2, 12,
        0x00, 0x0A,
        0x00, 0x03, b'a', b'/', b'b',
        0x00, 0x03, b'c', b'/', b'd',
    ];
    golden(
        V311,
        &bytes,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 10,
            properties: Properties::default(),
            filters: vec![s("a/b"), s("c/d")],
        }),
    );
}

#[test]
fn v311_unsuback_has_no_payload() {
    // MQTT 3.1.1 §3.11, Figures 3.31/3.32: only the Packet Identifier
    // (§3.11.3: no payload).
    golden(
        V311,
        &[0xB0, 0x02, 0x00, 0x0A],
        Packet::UnsubAck(UnsubAck {
            packet_id: 10,
            ..UnsubAck::default()
        }),
    );
}

#[test]
fn v311_ping_and_disconnect() {
    // MQTT 3.1.1 Figure 3.33 (PINGREQ), 3.34 (PINGRESP), 3.35 (DISCONNECT):
    // fixed header only, Remaining Length 0.
    golden(V311, &[0xC0, 0x00], Packet::PingReq);
    golden(V311, &[0xD0, 0x00], Packet::PingResp);
    golden(
        V311,
        &[0xE0, 0x00],
        Packet::Disconnect(Disconnect::default()),
    );
}

// ---------------------------------------------------------------------------
// MQTT 5.0
// ---------------------------------------------------------------------------

#[test]
fn v5_connect_with_properties_and_will_properties() {
    // MQTT 5.0 §3.1.2, Figure 3-6 (variable header example): "MQTT",
    // version 5, Connect Flags 0xCE, Keep Alive 10, Session Expiry Interval
    // 10 (0x11); plus Receive Maximum (§3.1.2.11.3) and a User Property
    // (§3.1.2.11.8). Payload §3.1.3 with Will Properties (§3.1.3.2): Payload
    // Format Indicator, Message Expiry, Content Type, Response Topic,
    // Correlation Data, Will Delay Interval, User Property.
    #[rustfmt::skip]
    let bytes = [
        0x10, 83,                               // CONNECT, Remaining Length 83
        0x00, 0x04, b'M', b'Q', b'T', b'T',     // Protocol Name
        0x05,                                   // Protocol Version 5
        0xCE,                                   // Connect Flags
        0x00, 0x0A,                             // Keep Alive 10
        15,                                     // Property Length
        0x11, 0x00, 0x00, 0x00, 0x0A,           // Session Expiry Interval 10
        0x21, 0x00, 0x14,                       // Receive Maximum 20
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property k=v
        0x00, 0x03, b'c', b'i', b'd',           // Client Identifier "cid"
        31,                                     // Will Property Length
        0x01, 0x01,                             // Payload Format Indicator 1
        0x02, 0x00, 0x00, 0x00, 0x3C,           // Message Expiry Interval 60
        0x03, 0x00, 0x01, b't',                 // Content Type "t"
        0x08, 0x00, 0x01, b'r',                 // Response Topic "r"
        0x09, 0x00, 0x01, b'c',                 // Correlation Data "c"
        0x18, 0x00, 0x00, 0x00, 0x05,           // Will Delay Interval 5
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property k=v
        0x00, 0x03, b'w', b'/', b't',           // Will Topic "w/t"
        0x00, 0x03, b'b', b'y', b'e',           // Will Payload "bye"
        0x00, 0x04, b'u', b's', b'e', b'r',     // User Name "user"
        0x00, 0x02, b'p', b'w',                 // Password "pw"
    ];
    let connect = Connect {
        protocol_version: V5,
        clean_start: true,
        keep_alive: 10,
        properties: Properties::from(PropertyValues {
            session_expiry_interval: Some(10),
            receive_maximum: Some(20),
            user_properties: vec![(s("k"), s("v"))],
            ..PropertyValues::default()
        }),
        client_id: s("cid"),
        will: Some(Will {
            topic: s("w/t"),
            payload: b(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::from(PropertyValues {
                payload_format_indicator: Some(1),
                message_expiry_interval: Some(60),
                content_type: Some(s("t")),
                response_topic: Some(s("r")),
                correlation_data: Some(b(b"c")),
                will_delay_interval: Some(5),
                user_properties: vec![(s("k"), s("v"))],
                ..PropertyValues::default()
            }),
        }),
        username: Some(s("user")),
        password: Some(b(b"pw")),
    };
    golden(V5, &bytes, Packet::Connect(Box::new(connect)));
}

#[test]
fn v5_connect_minimal_and_enhanced_auth_with_password_only() {
    // MQTT 5.0 §3.1.2.11.1: no properties is a Property Length of 0
    // (MQTT-2.2.2-1).
    #[rustfmt::skip]
    let minimal = [
        0x10, 13,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
        0x02,                                   // Clean Start
        0x00, 0x3C,                             // Keep Alive 60
        0x00,                                   // Property Length 0
        0x00, 0x00,                             // Client Identifier ""
    ];
    golden(
        V5,
        &minimal,
        Packet::Connect(Box::new(Connect::new(V5, s("")))),
    );

    // §3.1.2.11.9-§3.1.2.11.10: Authentication Method and Data; §3.1.2.9:
    // a Password without a User Name is allowed in 5.0.
    #[rustfmt::skip]
    let auth = [
        0x10, 29,
        0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05,
        0x42,                                   // Password Flag, Clean Start
        0x00, 0x3C,
        9,                                      // Property Length
        0x15, 0x00, 0x01, b'm',                 // Authentication Method "m"
        0x16, 0x00, 0x02, 0x01, 0x02,           // Authentication Data 01 02
        0x00, 0x02, b'c', b'1',                 // Client Identifier "c1"
        0x00, 0x03, b's', b'e', b'c',           // Password "sec"
    ];
    let connect = Connect {
        properties: Properties::from(PropertyValues {
            authentication_method: Some(s("m")),
            authentication_data: Some(b(&[0x01, 0x02])),
            ..PropertyValues::default()
        }),
        password: Some(b(b"sec")),
        ..Connect::new(V5, s("c1"))
    };
    golden(V5, &auth, Packet::Connect(Box::new(connect)));
}

#[test]
fn v5_connack_with_capabilities_and_assigned_client_id() {
    // MQTT 5.0 §3.2.2.3: Assigned Client Identifier (§3.2.2.3.7), Server
    // Keep Alive (.14), Receive Maximum (.3), Topic Alias Maximum (.8),
    // Maximum QoS (.4), Retain Available (.5), Maximum Packet Size (.6),
    // Wildcard / Subscription Identifier / Shared Subscription Available
    // (.11-.13).
    #[rustfmt::skip]
    let bytes = [
        0x20, 33,
        0x00,                                   // Connect Acknowledge Flags
        0x00,                                   // Reason Code Success
        30,                                     // Property Length
        0x12, 0x00, 0x03, b'i', b'd', b'1',     // Assigned Client Identifier
        0x13, 0x00, 0x1E,                       // Server Keep Alive 30
        0x21, 0x00, 0x0A,                       // Receive Maximum 10
        0x22, 0x00, 0x05,                       // Topic Alias Maximum 5
        0x24, 0x01,                             // Maximum QoS 1
        0x25, 0x00,                             // Retain Available 0
        0x27, 0x00, 0x00, 0x04, 0x00,           // Maximum Packet Size 1024
        0x28, 0x01,                             // Wildcard Subscription Available
        0x29, 0x00,                             // Subscription Identifiers Available
        0x2A, 0x01,                             // Shared Subscription Available
    ];
    golden(V5, &bytes, Packet::ConnAck(canonical_connack()));

    // §3.2.2.2, Table 3-1: 0x87 Not authorized, no properties.
    golden(
        V5,
        &[0x20, 0x03, 0x00, 0x87, 0x00],
        Packet::ConnAck(ConnAck {
            reason_code: ReasonCode::NOT_AUTHORIZED,
            ..ConnAck::default()
        }),
    );
    // §3.2.2.1.1: Session Present with Success.
    golden(
        V5,
        &[0x20, 0x03, 0x01, 0x00, 0x00],
        Packet::ConnAck(ConnAck {
            session_present: true,
            ..ConnAck::default()
        }),
    );
}

fn canonical_connack() -> ConnAck {
    ConnAck {
        session_present: false,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties::from(PropertyValues {
            assigned_client_identifier: Some(s("id1")),
            server_keep_alive: Some(30),
            receive_maximum: Some(10),
            topic_alias_maximum: Some(5),
            maximum_qos: Some(1),
            retain_available: Some(0),
            maximum_packet_size: Some(1024),
            wildcard_subscription_available: Some(1),
            subscription_identifier_available: Some(0),
            shared_subscription_available: Some(1),
            ..PropertyValues::default()
        }),
    }
}

#[test]
fn v5_publish_figure_3_9() {
    // MQTT 5.0 §3.3.2, Figure 3-9: Topic Name "a/b", Packet Identifier 10,
    // no properties; QoS 1, empty payload (§3.3.3).
    golden(
        V5,
        &[0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, 0x00],
        Packet::Publish(Publish::new(s("a/b"), Bytes::new()).with_qos(QoS::AtLeastOnce, 10)),
    );
}

#[test]
fn v5_publish_with_every_message_property() {
    // MQTT 5.0 §3.3.1: DUP, QoS 2, RETAIN; §3.3.2.3: Payload Format
    // Indicator (.2), Message Expiry Interval (.3), Content Type (.9),
    // Response Topic (.5), Correlation Data (.6), two Subscription
    // Identifiers (.8, the second a two-byte Variable Byte Integer, §1.5.5),
    // Topic Alias (.4).
    #[rustfmt::skip]
    let bytes = [
        0x3D, 54,                               // PUBLISH, DUP, QoS 2, RETAIN
        0x00, 0x03, b'a', b'/', b'b',           // Topic Name
        0x00, 0x07,                             // Packet Identifier 7
        41,                                     // Property Length
        0x01, 0x01,                             // Payload Format Indicator 1
        0x02, 0x00, 0x00, 0x0E, 0x10,           // Message Expiry Interval 3600
        0x03, 0x00, 0x0A,                       // Content Type "text/plain"
        b't', b'e', b'x', b't', b'/', b'p', b'l', b'a', b'i', b'n',
        0x08, 0x00, 0x05, b'r', b'e', b'p', b'l', b'y', // Response Topic
        0x09, 0x00, 0x02, 0x01, 0x02,           // Correlation Data 01 02
        0x0B, 0x05,                             // Subscription Identifier 5
        0x0B, 0x80, 0x01,                       // Subscription Identifier 128
        0x23, 0x00, 0x01,                       // Topic Alias 1
        b'h', b'e', b'l', b'l', b'o',           // Payload
    ];
    let publish = Publish::new(s("a/b"), b(b"hello"))
        .with_qos(QoS::ExactlyOnce, 7)
        .with_dup(true)
        .with_retain(true)
        .with_properties(PropertyValues {
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(3600),
            content_type: Some(s("text/plain")),
            response_topic: Some(s("reply")),
            correlation_data: Some(b(&[0x01, 0x02])),
            subscription_identifiers: vec![5, 128],
            topic_alias: Some(1),
            ..PropertyValues::default()
        });
    golden(V5, &bytes, Packet::Publish(publish));
}

#[test]
fn v5_publish_with_topic_alias_and_empty_topic_name() {
    // MQTT 5.0 §3.3.2.1 and §3.3.2.3.4: a zero-length Topic Name is allowed
    // when a Topic Alias stands in for it.
    golden(
        V5,
        &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'x'],
        Packet::Publish(
            Publish::new(s(""), b(b"x")).with_properties(PropertyValues {
                topic_alias: Some(1),
                ..PropertyValues::default()
            }),
        ),
    );
}

#[test]
fn v5_puback_short_three_byte_and_full_forms() {
    // MQTT 5.0 §3.4.2.1: Success without properties may omit the Reason
    // Code and Property Length (Remaining Length 2).
    golden(
        V5,
        &[0x40, 0x02, 0x00, 0x0A],
        Packet::PubAck(PubResponse::new(10)),
    );
    // §3.4.2.2.1: Remaining Length 3, a Reason Code (0x10 No matching
    // subscribers, Table 3-4) and no Property Length.
    golden(
        V5,
        &[0x40, 0x03, 0x00, 0x0A, 0x10],
        Packet::PubAck(PubResponse {
            reason_code: ReasonCode::NO_MATCHING_SUBSCRIBERS,
            ..PubResponse::new(10)
        }),
    );
    // §3.4.2.2.2: 0x80 Unspecified error with a Reason String "bad".
    golden(
        V5,
        &[
            0x40, 0x0A, 0x00, 0x0A, 0x80, 0x06, 0x1F, 0x00, 0x03, b'b', b'a', b'd',
        ],
        Packet::PubAck(PubResponse {
            packet_id: 10,
            reason_code: ReasonCode::UNSPECIFIED_ERROR,
            properties: Properties::from(PropertyValues {
                reason_string: Some(s("bad")),
                ..PropertyValues::default()
            }),
        }),
    );
}

#[test]
fn v5_pubrec_pubrel_pubcomp() {
    // MQTT 5.0 §3.5.2: short form, and 0x80 with a User Property.
    golden(
        V5,
        &[0x50, 0x02, 0x00, 0x0A],
        Packet::PubRec(PubResponse::new(10)),
    );
    golden(
        V5,
        &[
            0x50, 0x0B, 0x00, 0x0A, 0x80, 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v',
        ],
        Packet::PubRec(PubResponse {
            packet_id: 10,
            reason_code: ReasonCode::UNSPECIFIED_ERROR,
            properties: Properties::from(PropertyValues {
                user_properties: vec![(s("k"), s("v"))],
                ..PropertyValues::default()
            }),
        }),
    );
    // MQTT 5.0 §3.6.1 (fixed header 0110 0010), §3.6.2.1, Table 3-6.
    golden(
        V5,
        &[0x62, 0x02, 0x00, 0x0A],
        Packet::PubRel(PubResponse::new(10)),
    );
    golden(
        V5,
        &[0x62, 0x03, 0x00, 0x0A, 0x92],
        Packet::PubRel(PubResponse {
            reason_code: ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
            ..PubResponse::new(10)
        }),
    );
    // MQTT 5.0 §3.7.2.1, Table 3-7.
    golden(
        V5,
        &[0x70, 0x02, 0x00, 0x0A],
        Packet::PubComp(PubResponse::new(10)),
    );
    golden(
        V5,
        &[0x70, 0x03, 0x00, 0x0A, 0x92],
        Packet::PubComp(PubResponse {
            reason_code: ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
            ..PubResponse::new(10)
        }),
    );
}

#[test]
fn v5_subscribe_figures_3_19_and_3_21() {
    // MQTT 5.0 §3.8.2, Figure 3-19 (Packet Identifier 10, no properties) and
    // §3.8.3, Figure 3-21 ("a/b" options 1, "c/d" options 2).
    #[rustfmt::skip]
    let bytes = [
        0x82, 15,
        0x00, 0x0A, 0x00,
        0x00, 0x03, b'a', b'/', b'b', 0x01,
        0x00, 0x03, b'c', b'/', b'd', 0x02,
    ];
    let subscribe = Subscribe {
        packet_id: 10,
        properties: Properties::default(),
        filters: vec![
            Subscription {
                filter: s("a/b"),
                options: SubscriptionOptions::qos(QoS::AtLeastOnce),
            },
            Subscription {
                filter: s("c/d"),
                options: SubscriptionOptions::qos(QoS::ExactlyOnce),
            },
        ],
    };
    golden(V5, &bytes, Packet::Subscribe(subscribe));
}

#[test]
fn v5_subscribe_with_subscription_identifier_and_every_option_bit() {
    // MQTT 5.0 §3.8.2.1.2: Subscription Identifier 268,435,455 (the largest,
    // a four-byte Variable Byte Integer, §1.5.5 Table 1-1); §3.8.2.1.3: User
    // Property; §3.8.3.1: options 0x2D = Retain Handling 2, Retain As
    // Published, No Local, QoS 1; and a shared subscription (§4.8.2) with
    // options 0x1A = Retain Handling 1, Retain As Published, QoS 2.
    #[rustfmt::skip]
    let bytes = [
        0x82, 34,
        0x00, 0x0B,                             // Packet Identifier 11
        12,                                     // Property Length
        0x0B, 0xFF, 0xFF, 0xFF, 0x7F,           // Subscription Identifier
        0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v', // User Property
        0x00, 0x03, b'a', b'/', b'b', 0x2D,
        0x00, 0x0A, b'$', b's', b'h', b'a', b'r', b'e', b'/', b'g', b'/', b'c', 0x1A,
    ];
    let subscribe = Subscribe {
        packet_id: 11,
        properties: Properties::from(PropertyValues {
            subscription_identifiers: vec![268_435_455],
            user_properties: vec![(s("k"), s("v"))],
            ..PropertyValues::default()
        }),
        filters: vec![
            Subscription {
                filter: s("a/b"),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::DoNotSend,
                },
            },
            Subscription {
                filter: s("$share/g/c"),
                options: SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: false,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendIfNew,
                },
            },
        ],
    };
    golden(V5, &bytes, Packet::Subscribe(subscribe));
}

#[test]
fn v5_suback() {
    // MQTT 5.0 §3.9.2.1.2 (Reason String "ok"), §3.9.3 and Table 3-8:
    // Granted QoS 0/1/2, 0x80, 0x8F Topic Filter invalid, 0xA2 Wildcard
    // Subscriptions not supported.
    golden(
        V5,
        &[
            0x90, 0x0E, 0x00, 0x0A, 0x05, 0x1F, 0x00, 0x02, b'o', b'k', 0x00, 0x01, 0x02, 0x80,
            0x8F, 0xA2,
        ],
        Packet::SubAck(SubAck {
            packet_id: 10,
            properties: Properties::from(PropertyValues {
                reason_string: Some(s("ok")),
                ..PropertyValues::default()
            }),
            reason_codes: [0x00, 0x01, 0x02, 0x80, 0x8F, 0xA2]
                .into_iter()
                .map(ReasonCode)
                .collect(),
        }),
    );
}

#[test]
fn v5_unsubscribe_figure_3_30() {
    // MQTT 5.0 §3.10.2 (Packet Identifier 10, no properties) and §3.10.3,
    // Figure 3-30 ("a/b", "c/d").
    #[rustfmt::skip]
    let bytes = [
        0xA2, 13,
        0x00, 0x0A, 0x00,
        0x00, 0x03, b'a', b'/', b'b',
        0x00, 0x03, b'c', b'/', b'd',
    ];
    golden(
        V5,
        &bytes,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 10,
            properties: Properties::default(),
            filters: vec![s("a/b"), s("c/d")],
        }),
    );
}

#[test]
fn v5_unsuback() {
    // MQTT 5.0 §3.11.2-§3.11.3, Table 3-9: Success, 0x11 No subscription
    // existed.
    golden(
        V5,
        &[0xB0, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x11],
        Packet::UnsubAck(UnsubAck {
            packet_id: 10,
            properties: Properties::default(),
            reason_codes: vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED],
        }),
    );
}

#[test]
fn v5_ping() {
    // MQTT 5.0 §3.12.1 and §3.13.1: fixed header only.
    golden(V5, &[0xC0, 0x00], Packet::PingReq);
    golden(V5, &[0xD0, 0x00], Packet::PingResp);
}

#[test]
fn v5_disconnect_short_one_byte_and_full_forms() {
    // MQTT 5.0 §3.14.2.1: Normal disconnection without properties may omit
    // the Reason Code and Property Length (Remaining Length 0).
    golden(V5, &[0xE0, 0x00], Packet::Disconnect(Disconnect::default()));
    // §3.14.2.2.1: Remaining Length 1, a Reason Code alone (0x04 Disconnect
    // with Will Message, Table 3-10).
    golden(
        V5,
        &[0xE0, 0x01, 0x04],
        Packet::Disconnect(Disconnect::new(ReasonCode::DISCONNECT_WITH_WILL)),
    );
    // §3.14.2.2.5: 0x9C Use another server with a Server Reference "other".
    golden(
        V5,
        &[
            0xE0, 0x0A, 0x9C, 0x08, 0x1C, 0x00, 0x05, b'o', b't', b'h', b'e', b'r',
        ],
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::USE_ANOTHER_SERVER,
            properties: Properties::from(PropertyValues {
                server_reference: Some(s("other")),
                ..PropertyValues::default()
            }),
        }),
    );
    // §3.14.2.2.2: Normal disconnection with Session Expiry Interval 0: the
    // Reason Code is written because properties follow it.
    golden(
        V5,
        &[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x00],
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::SUCCESS,
            properties: Properties::from(PropertyValues {
                session_expiry_interval: Some(0),
                ..PropertyValues::default()
            }),
        }),
    );
}

#[test]
fn v5_auth_short_and_full_forms() {
    // MQTT 5.0 §3.15.2.1: Success without properties is Remaining Length 0.
    golden(V5, &[0xF0, 0x00], Packet::Auth(Auth::default()));
    // §3.15.2.2.2-§3.15.2.2.3: 0x18 Continue authentication with
    // Authentication Method "SCRAM" and Authentication Data 01 02 03.
    #[rustfmt::skip]
    let cont = [
        0xF0, 16,
        0x18,                                   // Continue authentication
        14,                                     // Property Length
        0x15, 0x00, 0x05, b'S', b'C', b'R', b'A', b'M',
        0x16, 0x00, 0x03, 0x01, 0x02, 0x03,
    ];
    golden(
        V5,
        &cont,
        Packet::Auth(Auth {
            reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: Properties::from(PropertyValues {
                authentication_method: Some(s("SCRAM")),
                authentication_data: Some(b(&[0x01, 0x02, 0x03])),
                ..PropertyValues::default()
            }),
        }),
    );
    // §4.12.1: 0x19 Re-authenticate with the method alone.
    golden(
        V5,
        &[0xF0, 0x06, 0x19, 0x04, 0x15, 0x00, 0x01, b'm'],
        Packet::Auth(Auth {
            reason_code: ReasonCode::RE_AUTHENTICATE,
            properties: Properties::from(PropertyValues {
                authentication_method: Some(s("m")),
                ..PropertyValues::default()
            }),
        }),
    );
}

#[test]
fn every_packet_type_has_a_golden_vector() {
    // Runs every vector test above on this thread and records the types.
    let tests: &[fn()] = &[
        v311_connect_with_will_user_name_and_password,
        v311_connect_minimal_and_retained_qos2_will,
        v311_connack,
        v311_publish,
        v311_publish_responses,
        v311_subscribe,
        v311_suback_with_failure,
        v311_unsubscribe,
        v311_unsuback_has_no_payload,
        v311_ping_and_disconnect,
        v5_connect_with_properties_and_will_properties,
        v5_connect_minimal_and_enhanced_auth_with_password_only,
        v5_connack_with_capabilities_and_assigned_client_id,
        v5_publish_figure_3_9,
        v5_publish_with_every_message_property,
        v5_publish_with_topic_alias_and_empty_topic_name,
        v5_puback_short_three_byte_and_full_forms,
        v5_pubrec_pubrel_pubcomp,
        v5_subscribe_figures_3_19_and_3_21,
        v5_subscribe_with_subscription_identifier_and_every_option_bit,
        v5_suback,
        v5_unsubscribe_figure_3_30,
        v5_unsuback,
        v5_ping,
        v5_disconnect_short_one_byte_and_full_forms,
        v5_auth_short_and_full_forms,
        v5_user_properties_keep_their_order_and_duplicates,
    ];
    SEEN.with(|seen| seen.borrow_mut().clear());
    for test in tests {
        test();
    }
    let seen = SEEN.with(|seen| seen.borrow().clone());
    let types = |level: u8| -> BTreeSet<u8> {
        seen.iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, t)| *t as u8)
            .collect()
    };
    assert_eq!(types(4), (1..=14).collect(), "MQTT 3.1.1: all 14 types");
    assert_eq!(types(5), (1..=15).collect(), "MQTT 5.0: all 15 types");
    let count = |level: u8| seen.iter().filter(|(l, _)| *l == level).count();
    println!(
        "golden vectors: {} for MQTT 3.1.1, {} for MQTT 5.0",
        count(4),
        count(5)
    );
}

// ---------------------------------------------------------------------------
// Non-canonical but legal encodings
// ---------------------------------------------------------------------------

#[test]
fn v5_properties_in_descending_order_decode_like_ascending() {
    // MQTT 5.0 §2.2.2.2: "There is no significance in the order of
    // Properties with different Identifiers." The CONNACK of
    // v5_connack_with_capabilities_and_assigned_client_id, with its
    // properties written from the highest identifier down.
    #[rustfmt::skip]
    let descending = [
        0x20, 33,
        0x00, 0x00,
        30,
        0x2A, 0x01,
        0x29, 0x00,
        0x28, 0x01,
        0x27, 0x00, 0x00, 0x04, 0x00,
        0x25, 0x00,
        0x24, 0x01,
        0x22, 0x00, 0x05,
        0x21, 0x00, 0x0A,
        0x13, 0x00, 0x1E,
        0x12, 0x00, 0x03, b'i', b'd', b'1',
    ];
    #[rustfmt::skip]
    let ascending = [
        0x20, 33,
        0x00, 0x00,
        30,
        0x12, 0x00, 0x03, b'i', b'd', b'1',
        0x13, 0x00, 0x1E,
        0x21, 0x00, 0x0A,
        0x22, 0x00, 0x05,
        0x24, 0x01,
        0x25, 0x00,
        0x27, 0x00, 0x00, 0x04, 0x00,
        0x28, 0x01,
        0x29, 0x00,
        0x2A, 0x01,
    ];
    equivalent(
        V5,
        &descending,
        &ascending,
        Packet::ConnAck(canonical_connack()),
    );
}

#[test]
fn v5_puback_with_explicit_success_and_empty_properties() {
    // MQTT 5.0 §3.4.2.1 / §3.4.2.2.1: the Reason Code and Property Length
    // *can* be omitted; writing Success and a zero Property Length, or
    // Success alone (Remaining Length 3), is the same PUBACK.
    let canonical = [0x40, 0x02, 0x00, 0x0A];
    let packet = Packet::PubAck(PubResponse::new(10));
    equivalent(
        V5,
        &[0x40, 0x04, 0x00, 0x0A, 0x00, 0x00],
        &canonical,
        packet.clone(),
    );
    equivalent(V5, &[0x40, 0x03, 0x00, 0x0A, 0x00], &canonical, packet);
}

#[test]
fn v5_disconnect_figure_3_24_is_the_short_form() {
    // MQTT 5.0 §3.14.2, Figure 3-24: Reason Code 0 and Property Length 0
    // written out; same as Remaining Length 0 (§3.14.2.1) and as the
    // Reason Code alone (§3.14.2.2.1).
    let packet = Packet::Disconnect(Disconnect::default());
    equivalent(V5, &[0xE0, 0x02, 0x00, 0x00], &[0xE0, 0x00], packet.clone());
    equivalent(V5, &[0xE0, 0x01, 0x00], &[0xE0, 0x00], packet);
}

#[test]
fn v5_user_properties_keep_their_order_and_duplicates() {
    // MQTT 5.0 §3.1.2.11.8 / §3.3.2.3.7: User Property may repeat, names
    // included, and order is kept (MQTT-3.3.2-18). Not ascending: the
    // encoder keeps the order received.
    #[rustfmt::skip]
    let bytes = [
        0x30, 27,
        0x00, 0x01, b't',
        21,
        0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'2',
        0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1',
        0x26, 0x00, 0x01, b'b', 0x00, 0x01, b'3',
        b'p', b'q',
    ];
    golden(
        V5,
        &bytes,
        Packet::Publish(
            Publish::new(s("t"), b(b"pq")).with_properties(PropertyValues {
                user_properties: vec![(s("b"), s("2")), (s("a"), s("1")), (s("b"), s("3"))],
                ..PropertyValues::default()
            }),
        ),
    );
}

#[test]
fn v311_non_minimal_remaining_length_is_accepted() {
    // MQTT 3.1.1 §2.2.3 has no minimal-encoding rule (MQTT 5.0 adds
    // MQTT-1.5.5-1): 0x80 0x00 is a Remaining Length of 0.
    equivalent(V311, &[0xC0, 0x80, 0x00], &[0xC0, 0x00], Packet::PingReq);
}
