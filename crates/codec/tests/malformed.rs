//! A table of malformed and protocol-violating inputs, MQTT 3.1.1 and 5.0.
//!
//! Each row names the rule it breaks as the specification states it: the
//! exact [`ErrorKind`], the exact normative statement ids (empty where the
//! specification states the rule without numbering it, and then the section
//! that states it), and for MQTT 5.0 the reason code the receiver sends.
//! The expectations were taken from the specifications, not from the codec.
//!
//! Every row is run and every mismatch collected, so that one wrong row
//! does not hide another. The statement ids cited are checked against the
//! lists in `scenarios/spec/ids/`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use bytes::BytesMut;
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{Decoder, ErrorKind, PacketType, ProtocolVersion, ReasonCode};

use ErrorKind as K;
use PacketType as P;
use ProtocolVersion::{V311, V5};

/// Which decoder a row is fed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dec {
    /// `Decoder::new(version)`.
    Known,
    /// `Decoder::server()`: the version is learnt from CONNECT.
    Server,
    /// `Decoder::new(version)` with this maximum packet size.
    MaxSize(u32),
}

struct Row {
    name: &'static str,
    version: ProtocolVersion,
    decoder: Dec,
    input: Vec<u8>,
    kind: ErrorKind,
    statements: &'static [&'static str],
    section: Option<&'static str>,
    reason: Option<ReasonCode>,
}

impl Row {
    /// Also assert the section (required when `statements` is empty).
    fn section(mut self, section: &'static str) -> Self {
        self.section = Some(section);
        self
    }

    fn server(mut self) -> Self {
        self.decoder = Dec::Server;
        self
    }

    fn max_packet_size(mut self, max: u32) -> Self {
        self.decoder = Dec::MaxSize(max);
        self
    }
}

fn v311(
    name: &'static str,
    input: impl Into<Vec<u8>>,
    kind: ErrorKind,
    statements: &'static [&'static str],
) -> Row {
    Row {
        name,
        version: V311,
        decoder: Dec::Known,
        input: input.into(),
        kind,
        statements,
        section: None,
        reason: None,
    }
}

fn v5(
    name: &'static str,
    input: impl Into<Vec<u8>>,
    kind: ErrorKind,
    statements: &'static [&'static str],
    reason: ReasonCode,
) -> Row {
    Row {
        name,
        version: V5,
        decoder: Dec::Known,
        input: input.into(),
        kind,
        statements,
        section: None,
        reason: Some(reason),
    }
}

const MALFORMED: ReasonCode = ReasonCode::MALFORMED_PACKET;
const PROTOCOL: ReasonCode = ReasonCode::PROTOCOL_ERROR;

fn build(p: RawPacket) -> Vec<u8> {
    p.build().to_vec()
}

/// A 3.1.1 CONNECT: "MQTT", level 4, `flags`, Keep Alive 60, then `payload`.
fn connect311(flags: u8, payload: &[u8]) -> RawPacket {
    RawPacket::new(1, 0)
        .string(b"MQTT")
        .u8(4)
        .u8(flags)
        .u16(60)
        .bytes(payload)
}

/// A 5.0 CONNECT: "MQTT", level 5, `flags`, Keep Alive 60, `props`, then
/// `payload`.
fn connect5(flags: u8, props: &[u8], payload: &[u8]) -> RawPacket {
    RawPacket::new(1, 0)
        .string(b"MQTT")
        .u8(5)
        .u8(flags)
        .u16(60)
        .vbi(props.len() as u32)
        .bytes(props)
        .bytes(payload)
}

/// The zero-length Client Identifier.
const EMPTY_ID: &[u8] = &[0x00, 0x00];

/// A 5.0 QoS 0 PUBLISH to "a/b" with `props` and no payload.
fn publish5(props: &[u8]) -> Vec<u8> {
    build(
        RawPacket::new(3, 0)
            .string(b"a/b")
            .vbi(props.len() as u32)
            .bytes(props),
    )
}

/// A 5.0 CONNACK.
fn connack5(flags: u8, code: u8, props: &[u8]) -> Vec<u8> {
    build(
        RawPacket::new(2, 0)
            .u8(flags)
            .u8(code)
            .vbi(props.len() as u32)
            .bytes(props),
    )
}

/// A 5.0 SUBSCRIBE, Packet Identifier 10, one filter.
fn subscribe5(props: &[u8], filter: &[u8], options: u8) -> Vec<u8> {
    build(
        RawPacket::new(8, 2)
            .u16(10)
            .vbi(props.len() as u32)
            .bytes(props)
            .string(filter)
            .u8(options),
    )
}

/// A 3.1.1 SUBSCRIBE, Packet Identifier 10, one filter.
fn subscribe311(filter: &[u8], options: u8) -> Vec<u8> {
    build(RawPacket::new(8, 2).u16(10).string(filter).u8(options))
}

fn filter_error(filter: &str, problem: &'static str) -> ErrorKind {
    K::InvalidTopicFilter {
        filter: filter.to_owned(),
        problem,
    }
}

fn shared_error(filter: &str, problem: &'static str) -> ErrorKind {
    K::InvalidSharedSubscription {
        filter: filter.to_owned(),
        problem,
    }
}

fn value(id: u8, name: &'static str, value: u32, problem: &'static str) -> ErrorKind {
    K::PropertyValue {
        id,
        name,
        value,
        problem,
    }
}

const HASH_RULE: &str = "'#' must be a whole level and the last one";
const PLUS_RULE: &str = "'+' must occupy a whole level";
const ZERO: &str = "must not be 0";
const BOOL: &str = "must be 0 or 1";

fn v311_rows() -> Vec<Row> {
    const FLAGS: &[&str] = &["MQTT-2.2.2-1", "MQTT-2.2.2-2"];
    vec![
        // §2.2.1 Table 2.1: 0 and 15 are "Reserved, Forbidden".
        v311(
            "v311 packet type 0",
            [0x00, 0x00],
            K::InvalidPacketType(0),
            &[],
        )
        .section("2.2.1"),
        v311(
            "v311 packet type 15 (AUTH does not exist)",
            [0xF0, 0x00],
            K::InvalidPacketType(15),
            &[],
        )
        .section("2.2.1"),
        // §2.2.2 Table 2.2 reserved flags.
        v311(
            "v311 CONNECT fixed-header flags 0001 (server decoder)",
            build(connect311(0x02, EMPTY_ID).flags(0b0001)),
            K::ReservedFlags {
                packet: P::Connect,
                flags: 1,
            },
            FLAGS,
        )
        .server(),
        v311(
            "v311 CONNACK fixed-header flags 0001",
            [0x21, 0x02, 0x00, 0x00],
            K::ReservedFlags {
                packet: P::ConnAck,
                flags: 1,
            },
            FLAGS,
        ),
        v311(
            "v311 PUBREL fixed-header flags 0000 instead of 0010",
            [0x60, 0x02, 0x00, 0x0A],
            K::ReservedFlags {
                packet: P::PubRel,
                flags: 0,
            },
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.6.1-1"],
        ),
        v311(
            "v311 SUBSCRIBE fixed-header flags 0000",
            build(RawPacket::new(8, 0).u16(10).string(b"a/b").u8(0)),
            K::ReservedFlags {
                packet: P::Subscribe,
                flags: 0,
            },
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.8.1-1"],
        ),
        v311(
            "v311 UNSUBSCRIBE fixed-header flags 0011",
            build(RawPacket::new(10, 3).u16(10).string(b"a/b")),
            K::ReservedFlags {
                packet: P::Unsubscribe,
                flags: 3,
            },
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.10.1-1"],
        ),
        v311(
            "v311 PINGREQ fixed-header flags 1000",
            [0xC8, 0x00],
            K::ReservedFlags {
                packet: P::PingReq,
                flags: 8,
            },
            FLAGS,
        ),
        v311(
            "v311 DISCONNECT fixed-header flags 0001",
            [0xE1, 0x00],
            K::ReservedFlags {
                packet: P::Disconnect,
                flags: 1,
            },
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.14.1-1"],
        ),
        // §2.2.3: at most four bytes of Remaining Length.
        v311(
            "v311 remaining length of 5 bytes",
            [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            K::VariableByteIntegerTooLong {
                field: "remaining length",
            },
            &[],
        )
        .section("2.2.3"),
        v311(
            "v311 PUBLISH larger than the receiver accepts, before its body",
            [0x30, 0xC8, 0x01],
            K::PacketTooLarge { size: 203, max: 64 },
            &[],
        )
        .section("2.2.3")
        .max_packet_size(64),
        v311(
            "v311 PUBACK truncated inside its packet identifier",
            [0x40, 0x01, 0x00],
            K::Truncated {
                packet: P::PubAck,
                field: "packet identifier",
            },
            &[],
        )
        .section("2.2.3"),
        v311(
            "v311 PINGREQ with a byte of body",
            [0xC0, 0x01, 0x00],
            K::TrailingBytes {
                packet: P::PingReq,
                extra: 1,
            },
            &[],
        )
        .section("2.2.3"),
        // §1.5.3 UTF-8 strings.
        v311(
            "v311 overlong UTF-8 '/' (C0 AF) in a topic name",
            build(RawPacket::new(3, 0).string(&[b'a', 0xC0, 0xAF])),
            K::InvalidUtf8 {
                field: "topic name",
            },
            &["MQTT-1.5.3-1"],
        ),
        v311(
            "v311 encoded surrogate U+D800 (ED A0 80) in the client id",
            build(connect311(0x02, &[0x00, 0x03, 0xED, 0xA0, 0x80])),
            K::InvalidUtf8 {
                field: "client identifier",
            },
            &["MQTT-1.5.3-1"],
        )
        .server(),
        v311(
            "v311 U+0000 in a topic name",
            build(RawPacket::new(3, 0).string(b"a\0b")),
            K::NullCharacter {
                field: "topic name",
            },
            &["MQTT-1.5.3-2", "MQTT-4.7.3-2"],
        ),
        v311(
            "v311 U+0000 in the client id",
            build(connect311(0x02, &[0x00, 0x03, b'a', 0x00, b'b'])),
            K::NullCharacter {
                field: "client identifier",
            },
            &["MQTT-1.5.3-2"],
        )
        .server(),
        // §3.3 PUBLISH.
        v311(
            "v311 topic name with '+'",
            build(RawPacket::new(3, 0).string(b"a/+")),
            K::TopicNameHasWildcard("a/+".into()),
            &["MQTT-3.3.2-2", "MQTT-4.7.1-1"],
        ),
        v311(
            "v311 empty topic name",
            build(RawPacket::new(3, 0).string(b"")),
            K::EmptyTopicName,
            &["MQTT-4.7.3-1"],
        ),
        v311(
            "v311 PUBLISH QoS 3",
            build(RawPacket::new(3, 0b0110).string(b"a/b").u16(1)),
            K::InvalidQos,
            &["MQTT-3.3.1-4"],
        ),
        v311(
            "v311 DUP on a QoS 0 PUBLISH",
            build(RawPacket::new(3, 0b1000).string(b"a/b")),
            K::DupOnQos0,
            &["MQTT-3.3.1-2"],
        ),
        // §2.3.1 packet identifiers.
        v311(
            "v311 PUBLISH QoS 1 with packet id 0",
            build(RawPacket::new(3, 0b0010).string(b"a/b").u16(0)),
            K::ZeroPacketId(P::Publish),
            &["MQTT-2.3.1-1"],
        ),
        v311(
            "v311 PUBACK with packet id 0",
            [0x40, 0x02, 0x00, 0x00],
            K::ZeroPacketId(P::PubAck),
            &["MQTT-2.3.1-6"],
        ),
        v311(
            "v311 PUBCOMP with packet id 0",
            [0x70, 0x02, 0x00, 0x00],
            K::ZeroPacketId(P::PubComp),
            &[],
        )
        .section("3.7.2"),
        v311(
            "v311 SUBACK with packet id 0",
            [0x90, 0x03, 0x00, 0x00, 0x00],
            K::ZeroPacketId(P::SubAck),
            &["MQTT-2.3.1-7"],
        ),
        v311(
            "v311 UNSUBSCRIBE with packet id 0",
            build(RawPacket::new(10, 2).u16(0).string(b"a/b")),
            K::ZeroPacketId(P::Unsubscribe),
            &["MQTT-2.3.1-1"],
        ),
        // §3.1 CONNECT.
        v311(
            "v311 packet before CONNECT on a server",
            [0xC0, 0x00],
            K::VersionUnknown(P::PingReq),
            &["MQTT-3.1.0-1"],
        )
        .server(),
        v311(
            "v311 MQTT 3.1 protocol name MQIsdp",
            build(
                RawPacket::new(1, 0)
                    .string(b"MQIsdp")
                    .u8(3)
                    .u8(0x02)
                    .u16(60)
                    .bytes(EMPTY_ID),
            ),
            K::InvalidProtocolName("MQIsdp".into()),
            &["MQTT-3.1.2-1"],
        )
        .server(),
        v311(
            "v311 protocol level 3 with name MQTT",
            build(
                RawPacket::new(1, 0)
                    .string(b"MQTT")
                    .u8(3)
                    .u8(0x02)
                    .u16(60)
                    .bytes(EMPTY_ID),
            ),
            K::UnsupportedProtocolLevel(3),
            &["MQTT-3.1.2-2"],
        )
        .server(),
        v311(
            "v311 CONNECT reserved flag set",
            build(connect311(0x03, EMPTY_ID)),
            K::ConnectReservedFlag,
            &["MQTT-3.1.2-3"],
        )
        .server(),
        v311(
            "v311 will QoS 1 without the will flag",
            build(connect311(0x0A, EMPTY_ID)),
            K::WillQosWithoutWill(1),
            &["MQTT-3.1.2-11", "MQTT-3.1.2-13"],
        )
        .server(),
        v311(
            "v311 will retain without the will flag",
            build(connect311(0x22, EMPTY_ID)),
            K::WillRetainWithoutWill,
            &["MQTT-3.1.2-11", "MQTT-3.1.2-15"],
        )
        .server(),
        v311(
            "v311 will QoS 3",
            build(connect311(0x1E, EMPTY_ID)),
            K::InvalidWillQos,
            &["MQTT-3.1.2-14"],
        )
        .server(),
        v311(
            "v311 password flag without user name flag",
            build(connect311(0x42, &[0x00, 0x00, 0x00, 0x01, b'p'])),
            K::PasswordWithoutUsername,
            &["MQTT-3.1.2-22"],
        )
        .server(),
        v311(
            "v311 user name flag but no user name",
            build(connect311(0x82, EMPTY_ID)),
            K::Truncated {
                packet: P::Connect,
                field: "user name",
            },
            &["MQTT-3.1.2-19"],
        )
        .server(),
        v311(
            "v311 empty will topic",
            build(connect311(
                0x06,
                &[0x00, 0x00, 0x00, 0x00, 0x00, 0x01, b'x'],
            )),
            K::EmptyTopicName,
            &["MQTT-4.7.3-1"],
        )
        .server(),
        // §3.2 CONNACK.
        v311(
            "v311 CONNACK acknowledge flags bit 1",
            [0x20, 0x02, 0x02, 0x00],
            K::ConnackFlagsReserved(0x02),
            &[],
        )
        .section("3.2.2.1"),
        v311(
            "v311 CONNACK session present with return code 5",
            [0x20, 0x02, 0x01, 0x05],
            K::SessionPresentOnError(5),
            &["MQTT-3.2.2-4"],
        ),
        v311(
            "v311 CONNACK return code 6 (reserved)",
            [0x20, 0x02, 0x00, 0x06],
            K::InvalidReasonCode {
                packet: P::ConnAck,
                code: 6,
            },
            &[],
        )
        .section("3.2.2.3"),
        // §3.8 SUBSCRIBE, §3.9 SUBACK.
        v311(
            "v311 SUBSCRIBE with no topic filter",
            [0x82, 0x02, 0x00, 0x0A],
            K::NoTopicFilters(P::Subscribe),
            &["MQTT-3.8.3-3"],
        ),
        v311(
            "v311 SUBSCRIBE options with reserved bit 2 (No Local in 5.0)",
            subscribe311(b"a/b", 0x04),
            K::SubscriptionOptionsReserved(0x04),
            &["MQTT-3.8.3-4"],
        ),
        v311(
            "v311 SUBSCRIBE requested QoS 3",
            subscribe311(b"a/b", 0x03),
            K::InvalidRequestedQos,
            &["MQTT-3.8.3-4"],
        ),
        v311(
            "v311 SUBSCRIBE filter a/#/b",
            subscribe311(b"a/#/b", 0x00),
            filter_error("a/#/b", HASH_RULE),
            &["MQTT-4.7.1-2"],
        ),
        v311(
            "v311 SUBACK return code 3",
            [0x90, 0x03, 0x00, 0x0A, 0x03],
            K::InvalidReasonCode {
                packet: P::SubAck,
                code: 3,
            },
            &["MQTT-3.9.3-2"],
        ),
        v311(
            "v311 SUBACK with no return code",
            [0x90, 0x02, 0x00, 0x0A],
            K::NoReasonCodes(P::SubAck),
            &["MQTT-3.8.4-5"],
        ),
        // §3.10 UNSUBSCRIBE.
        v311(
            "v311 UNSUBSCRIBE with no topic filter",
            [0xA2, 0x02, 0x00, 0x0A],
            K::NoTopicFilters(P::Unsubscribe),
            &["MQTT-3.10.3-2"],
        ),
        v311(
            "v311 UNSUBSCRIBE filter a+",
            build(RawPacket::new(10, 2).u16(10).string(b"a+")),
            filter_error("a+", PLUS_RULE),
            &["MQTT-4.7.1-3"],
        ),
    ]
}

fn v5_rows() -> Vec<Row> {
    const FLAGS: &[&str] = &["MQTT-2.1.3-1"];
    const VBI: &[&str] = &["MQTT-1.5.5-1"];
    vec![
        // §2.1.2 Table 2-1.
        v5(
            "v5 packet type 0",
            [0x00, 0x00],
            K::InvalidPacketType(0),
            &[],
            MALFORMED,
        )
        .section("2.1.2"),
        // §2.1.3 Table 2-2 reserved flags ("If invalid flags are received it
        // is a Malformed Packet").
        v5(
            "v5 CONNECT fixed-header flags 0010 (server decoder)",
            build(connect5(0x02, &[], EMPTY_ID).flags(0b0010)),
            K::ReservedFlags {
                packet: P::Connect,
                flags: 2,
            },
            FLAGS,
            MALFORMED,
        )
        .server(),
        v5(
            "v5 CONNACK fixed-header flags 1000",
            [0x28, 0x03, 0x00, 0x00, 0x00],
            K::ReservedFlags {
                packet: P::ConnAck,
                flags: 8,
            },
            FLAGS,
            MALFORMED,
        ),
        v5(
            "v5 PUBACK fixed-header flags 0001",
            [0x41, 0x02, 0x00, 0x0A],
            K::ReservedFlags {
                packet: P::PubAck,
                flags: 1,
            },
            FLAGS,
            MALFORMED,
        ),
        v5(
            "v5 PUBREL fixed-header flags 0000 instead of 0010",
            [0x60, 0x02, 0x00, 0x0A],
            K::ReservedFlags {
                packet: P::PubRel,
                flags: 0,
            },
            &["MQTT-2.1.3-1", "MQTT-3.6.1-1"],
            MALFORMED,
        ),
        v5(
            "v5 SUBSCRIBE fixed-header flags 0000",
            build(RawPacket::new(8, 0).u16(10).u8(0).string(b"a/b").u8(0)),
            K::ReservedFlags {
                packet: P::Subscribe,
                flags: 0,
            },
            &["MQTT-2.1.3-1", "MQTT-3.8.1-1"],
            MALFORMED,
        ),
        v5(
            "v5 UNSUBSCRIBE fixed-header flags 0110",
            build(RawPacket::new(10, 6).u16(10).u8(0).string(b"a/b")),
            K::ReservedFlags {
                packet: P::Unsubscribe,
                flags: 6,
            },
            &["MQTT-2.1.3-1", "MQTT-3.10.1-1"],
            MALFORMED,
        ),
        v5(
            "v5 PINGREQ fixed-header flags 0001",
            [0xC1, 0x00],
            K::ReservedFlags {
                packet: P::PingReq,
                flags: 1,
            },
            FLAGS,
            MALFORMED,
        ),
        v5(
            "v5 DISCONNECT fixed-header flags 0100",
            [0xE4, 0x00],
            K::ReservedFlags {
                packet: P::Disconnect,
                flags: 4,
            },
            &["MQTT-2.1.3-1", "MQTT-3.14.1-1"],
            MALFORMED,
        ),
        v5(
            "v5 AUTH fixed-header flags 0001",
            [0xF1, 0x00],
            K::ReservedFlags {
                packet: P::Auth,
                flags: 1,
            },
            &["MQTT-2.1.3-1", "MQTT-3.15.1-1"],
            MALFORMED,
        ),
        // §1.5.5 Variable Byte Integers and §2.1.4 Remaining Length.
        v5(
            "v5 non-minimal remaining length (80 00)",
            [0xC0, 0x80, 0x00],
            K::NonMinimalVariableByteInteger {
                field: "remaining length",
            },
            VBI,
            MALFORMED,
        ),
        v5(
            "v5 CONNECT with non-minimal remaining length (server decoder)",
            build(connect5(0x02, &[], EMPTY_ID).remaining_length_bytes(&[0x8D, 0x00])),
            K::NonMinimalVariableByteInteger {
                field: "remaining length",
            },
            VBI,
            MALFORMED,
        )
        .server(),
        v5(
            "v5 non-minimal property length (80 00)",
            build(RawPacket::new(3, 0).string(b"a/b").bytes(&[0x80, 0x00])),
            K::NonMinimalVariableByteInteger {
                field: "property length",
            },
            VBI,
            MALFORMED,
        ),
        v5(
            "v5 non-minimal subscription identifier (81 00)",
            subscribe5(&[0x0B, 0x81, 0x00], b"a/b", 0),
            K::NonMinimalVariableByteInteger {
                field: "Subscription Identifier",
            },
            VBI,
            MALFORMED,
        ),
        v5(
            "v5 remaining length of 5 bytes",
            [0x30, 0x80, 0x80, 0x80, 0x80, 0x01],
            K::VariableByteIntegerTooLong {
                field: "remaining length",
            },
            &[],
            MALFORMED,
        )
        .section("1.5.5"),
        v5(
            "v5 PUBLISH over the maximum packet size, before its body",
            [0x30, 0x64],
            K::PacketTooLarge { size: 102, max: 16 },
            &["MQTT-3.1.2-24", "MQTT-3.2.2-15"],
            ReasonCode::PACKET_TOO_LARGE,
        )
        .max_packet_size(16),
        v5(
            "v5 topic name length beyond the packet",
            [0x30, 0x03, 0x00, 0x05, b'a'],
            K::Truncated {
                packet: P::Publish,
                field: "topic name",
            },
            &[],
            MALFORMED,
        )
        .section("2.1.4"),
        v5(
            "v5 CONNACK without property length",
            [0x20, 0x02, 0x00, 0x00],
            K::Truncated {
                packet: P::ConnAck,
                field: "property length",
            },
            &["MQTT-2.2.2-1"],
            MALFORMED,
        ),
        v5(
            "v5 property length overruns the packet",
            build(RawPacket::new(3, 0).string(b"a/b").vbi(5).u8(0x01)),
            K::Truncated {
                packet: P::Publish,
                field: "properties",
            },
            &[],
            MALFORMED,
        )
        .section("2.1.4"),
        v5(
            "v5 DISCONNECT with a byte after its properties",
            [0xE0, 0x03, 0x00, 0x00, 0xFF],
            K::TrailingBytes {
                packet: P::Disconnect,
                extra: 1,
            },
            &[],
            MALFORMED,
        )
        .section("2.1.4"),
        // §1.5.4 and §1.5.7 strings.
        v5(
            "v5 stray continuation byte in Content Type",
            publish5(&[0x03, 0x00, 0x01, 0x80]),
            K::InvalidUtf8 {
                field: "Content Type",
            },
            &["MQTT-1.5.4-1"],
            MALFORMED,
        ),
        v5(
            "v5 overlong U+0000 (C0 80) in the client id",
            build(connect5(0x02, &[], &[0x00, 0x02, 0xC0, 0x80])),
            K::InvalidUtf8 {
                field: "client identifier",
            },
            &["MQTT-1.5.4-1"],
            MALFORMED,
        )
        .server(),
        v5(
            "v5 U+0000 in a user property name",
            publish5(&[0x26, 0x00, 0x01, 0x00, 0x00, 0x01, b'v']),
            K::NullCharacter {
                field: "User Property name",
            },
            &["MQTT-1.5.4-2", "MQTT-1.5.7-1"],
            MALFORMED,
        ),
        v5(
            "v5 encoded surrogate in a user property value",
            publish5(&[0x26, 0x00, 0x01, b'k', 0x00, 0x03, 0xED, 0xA0, 0x80]),
            K::InvalidUtf8 {
                field: "User Property value",
            },
            &["MQTT-1.5.4-1", "MQTT-1.5.7-1"],
            MALFORMED,
        ),
        v5(
            "v5 U+0000 in a topic filter",
            subscribe5(&[], b"a\0", 0),
            K::NullCharacter {
                field: "topic filter",
            },
            &["MQTT-1.5.4-2", "MQTT-4.7.3-2"],
            MALFORMED,
        ),
        // §3.3 PUBLISH.
        v5(
            "v5 topic name with '#'",
            build(RawPacket::new(3, 0).string(b"a/#").u8(0)),
            K::TopicNameHasWildcard("a/#".into()),
            &["MQTT-3.3.2-2", "MQTT-4.7.0-1"],
            ReasonCode::TOPIC_NAME_INVALID,
        ),
        v5(
            "v5 empty topic name without a topic alias",
            build(RawPacket::new(3, 0).string(b"").u8(0)),
            K::EmptyTopicName,
            &["MQTT-4.7.3-1"],
            PROTOCOL,
        ),
        v5(
            "v5 PUBLISH QoS 3",
            build(RawPacket::new(3, 0b0111).string(b"a/b").u16(1).u8(0)),
            K::InvalidQos,
            &["MQTT-3.3.1-4"],
            MALFORMED,
        ),
        v5(
            "v5 PUBLISH QoS 2 with packet id 0",
            build(RawPacket::new(3, 0b0100).string(b"a/b").u16(0).u8(0)),
            K::ZeroPacketId(P::Publish),
            &["MQTT-2.2.1-3", "MQTT-2.2.1-4"],
            PROTOCOL,
        ),
        v5(
            "v5 PUBLISH before CONNECT on a server",
            publish5(&[]),
            K::VersionUnknown(P::Publish),
            &["MQTT-3.1.0-1"],
            PROTOCOL,
        )
        .server(),
        // §2.2.2.2 properties: identifiers and where they may appear.
        v5(
            "v5 unknown property identifier 0x05",
            publish5(&[0x05, 0x00]),
            K::UnknownProperty(0x05),
            &[],
            MALFORMED,
        )
        .section("2.2.2.2"),
        v5(
            "v5 Topic Alias in CONNECT",
            build(connect5(0x02, &[0x23, 0x00, 0x01], EMPTY_ID)),
            K::PropertyNotAllowed {
                id: 0x23,
                name: "Topic Alias",
                context: "CONNECT",
            },
            &[],
            MALFORMED,
        )
        .section("2.2.2.2")
        .server(),
        v5(
            "v5 Will Delay Interval in PUBLISH",
            publish5(&[0x18, 0x00, 0x00, 0x00, 0x05]),
            K::PropertyNotAllowed {
                id: 0x18,
                name: "Will Delay Interval",
                context: "PUBLISH",
            },
            &[],
            MALFORMED,
        )
        .section("2.2.2.2"),
        v5(
            "v5 Session Expiry Interval in Will Properties",
            build(connect5(
                0x06,
                &[],
                &[
                    0x00, 0x00, // Client Identifier
                    0x05, 0x11, 0x00, 0x00, 0x00, 0x01, // Will Properties
                    0x00, 0x01, b't', // Will Topic
                    0x00, 0x00, // Will Payload
                ],
            )),
            K::PropertyNotAllowed {
                id: 0x11,
                name: "Session Expiry Interval",
                context: "Will Properties",
            },
            &[],
            MALFORMED,
        )
        .section("2.2.2.2")
        .server(),
        // Duplicates and values: stated with each property.
        v5(
            "v5 Message Expiry Interval twice",
            publish5(&[0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x02]),
            K::DuplicateProperty {
                id: 0x02,
                name: "Message Expiry Interval",
            },
            &[],
            PROTOCOL,
        )
        .section("3.3.2.3.3"),
        v5(
            "v5 Receive Maximum twice in CONNACK",
            connack5(0, 0, &[0x21, 0x00, 0x01, 0x21, 0x00, 0x02]),
            K::DuplicateProperty {
                id: 0x21,
                name: "Receive Maximum",
            },
            &[],
            PROTOCOL,
        )
        .section("3.2.2.3.3"),
        v5(
            "v5 two Subscription Identifiers in SUBSCRIBE",
            subscribe5(&[0x0B, 0x01, 0x0B, 0x02], b"a/b", 0),
            K::DuplicateProperty {
                id: 0x0B,
                name: "Subscription Identifier",
            },
            &[],
            PROTOCOL,
        )
        .section("3.8.2.1.2"),
        v5(
            "v5 Maximum QoS 2 in CONNACK",
            connack5(0, 0, &[0x24, 0x02]),
            value(0x24, "Maximum QoS", 2, BOOL),
            &[],
            PROTOCOL,
        )
        .section("3.2.2.3.4"),
        v5(
            "v5 Receive Maximum 0 in CONNECT",
            build(connect5(0x02, &[0x21, 0x00, 0x00], EMPTY_ID)),
            value(0x21, "Receive Maximum", 0, ZERO),
            &[],
            PROTOCOL,
        )
        .section("3.1.2.11.3")
        .server(),
        v5(
            "v5 Topic Alias 0",
            publish5(&[0x23, 0x00, 0x00]),
            value(0x23, "Topic Alias", 0, ZERO),
            &["MQTT-3.3.2-8"],
            ReasonCode::TOPIC_ALIAS_INVALID,
        ),
        v5(
            "v5 Maximum Packet Size 0 in CONNACK",
            connack5(0, 0, &[0x27, 0x00, 0x00, 0x00, 0x00]),
            value(0x27, "Maximum Packet Size", 0, ZERO),
            &[],
            PROTOCOL,
        )
        .section("3.2.2.3.6"),
        v5(
            "v5 Payload Format Indicator 2",
            publish5(&[0x01, 0x02]),
            value(0x01, "Payload Format Indicator", 2, BOOL),
            &[],
            PROTOCOL,
        )
        .section("3.3.2.3.2"),
        v5(
            "v5 Request Problem Information 2",
            build(connect5(0x02, &[0x17, 0x02], EMPTY_ID)),
            value(0x17, "Request Problem Information", 2, BOOL),
            &[],
            PROTOCOL,
        )
        .section("3.1.2.11.7")
        .server(),
        v5(
            "v5 Subscription Identifier 0 in SUBSCRIBE",
            subscribe5(&[0x0B, 0x00], b"a/b", 0),
            value(0x0B, "Subscription Identifier", 0, ZERO),
            &[],
            PROTOCOL,
        )
        .section("3.8.2.1.2"),
        v5(
            "v5 Subscription Identifier 0 in PUBLISH",
            publish5(&[0x0B, 0x00]),
            value(0x0B, "Subscription Identifier", 0, ZERO),
            &[],
            PROTOCOL,
        )
        .section("3.3.2.3.8"),
        v5(
            "v5 Authentication Data without Authentication Method",
            build(connect5(0x02, &[0x16, 0x00, 0x01, 0x00], EMPTY_ID)),
            K::AuthDataWithoutMethod,
            &[],
            PROTOCOL,
        )
        .section("3.1.2.11.10")
        .server(),
        v5(
            "v5 Response Topic with a wildcard",
            publish5(&[0x08, 0x00, 0x03, b'a', b'/', b'+']),
            K::ResponseTopicHasWildcard("a/+".into()),
            &["MQTT-3.3.2-14"],
            PROTOCOL,
        ),
        // §3.1 CONNECT.
        v5(
            "v5 protocol name in lower case",
            build(
                RawPacket::new(1, 0)
                    .string(b"mqtt")
                    .u8(5)
                    .u8(0x02)
                    .u16(60)
                    .u8(0)
                    .bytes(EMPTY_ID),
            ),
            K::InvalidProtocolName("mqtt".into()),
            &["MQTT-3.1.2-1"],
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
        )
        .server(),
        v5(
            "v5 protocol version 6",
            build(
                RawPacket::new(1, 0)
                    .string(b"MQTT")
                    .u8(6)
                    .u8(0x02)
                    .u16(60)
                    .u8(0)
                    .bytes(EMPTY_ID),
            ),
            K::UnsupportedProtocolLevel(6),
            &["MQTT-3.1.2-2"],
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
        )
        .server(),
        v5(
            "v5 CONNECT reserved flag and clean start",
            build(connect5(0x03, &[], EMPTY_ID)),
            K::ConnectReservedFlag,
            &["MQTT-3.1.2-3"],
            MALFORMED,
        )
        .server(),
        v5(
            "v5 will QoS 2 without the will flag",
            build(connect5(0x12, &[], EMPTY_ID)),
            K::WillQosWithoutWill(2),
            &["MQTT-3.1.2-11"],
            MALFORMED,
        )
        .server(),
        v5(
            "v5 will retain without the will flag",
            build(connect5(0x22, &[], EMPTY_ID)),
            K::WillRetainWithoutWill,
            &["MQTT-3.1.2-13"],
            MALFORMED,
        )
        .server(),
        v5(
            "v5 will QoS 3",
            build(connect5(0x1E, &[], EMPTY_ID)),
            K::InvalidWillQos,
            &["MQTT-3.1.2-12"],
            MALFORMED,
        )
        .server(),
        v5(
            "v5 will flag but no will properties, topic or payload",
            build(connect5(0x06, &[], EMPTY_ID)),
            K::Truncated {
                packet: P::Connect,
                field: "property length",
            },
            &["MQTT-3.1.2-9"],
            MALFORMED,
        )
        .server(),
        v5(
            "v5 password flag but no password",
            build(connect5(0x42, &[], EMPTY_ID)),
            K::Truncated {
                packet: P::Connect,
                field: "password",
            },
            &["MQTT-3.1.2-19"],
            MALFORMED,
        )
        .server(),
        // §3.2 CONNACK.
        v5(
            "v5 CONNACK acknowledge flags bit 7",
            connack5(0x80, 0x00, &[]),
            K::ConnackFlagsReserved(0x80),
            &["MQTT-3.2.2-1"],
            MALFORMED,
        ),
        v5(
            "v5 CONNACK session present with 0x80",
            connack5(0x01, 0x80, &[]),
            K::SessionPresentOnError(0x80),
            &["MQTT-3.2.2-6"],
            PROTOCOL,
        ),
        v5(
            "v5 CONNACK reason code 0x01 (SUBACK only)",
            connack5(0x00, 0x01, &[]),
            K::InvalidReasonCode {
                packet: P::ConnAck,
                code: 0x01,
            },
            &["MQTT-3.2.2-8"],
            PROTOCOL,
        ),
        // §3.4-§3.7 publish responses.
        v5(
            "v5 PUBACK reason code 0x92 (PUBREL only)",
            [0x40, 0x03, 0x00, 0x0A, 0x92],
            K::InvalidReasonCode {
                packet: P::PubAck,
                code: 0x92,
            },
            &["MQTT-3.4.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 PUBREC reason code 0x11 (UNSUBACK only)",
            [0x50, 0x03, 0x00, 0x0A, 0x11],
            K::InvalidReasonCode {
                packet: P::PubRec,
                code: 0x11,
            },
            &["MQTT-3.5.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 PUBREL reason code 0x10 (PUBACK only)",
            [0x62, 0x03, 0x00, 0x0A, 0x10],
            K::InvalidReasonCode {
                packet: P::PubRel,
                code: 0x10,
            },
            &["MQTT-3.6.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 PUBCOMP reason code 0x80",
            [0x70, 0x03, 0x00, 0x0A, 0x80],
            K::InvalidReasonCode {
                packet: P::PubComp,
                code: 0x80,
            },
            &["MQTT-3.7.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 PUBREL with packet id 0",
            [0x62, 0x02, 0x00, 0x00],
            K::ZeroPacketId(P::PubRel),
            &["MQTT-2.2.1-5"],
            PROTOCOL,
        ),
        // §3.8 SUBSCRIBE.
        v5(
            "v5 SUBSCRIBE with packet id 0",
            build(RawPacket::new(8, 2).u16(0).u8(0).string(b"#").u8(0)),
            K::ZeroPacketId(P::Subscribe),
            &["MQTT-2.2.1-3"],
            PROTOCOL,
        ),
        v5(
            "v5 SUBSCRIBE with no topic filter",
            [0x82, 0x03, 0x00, 0x0A, 0x00],
            K::NoTopicFilters(P::Subscribe),
            &["MQTT-3.8.3-2"],
            PROTOCOL,
        ),
        v5(
            "v5 SUBSCRIBE options with reserved bit 6",
            subscribe5(&[], b"a/b", 0x41),
            K::SubscriptionOptionsReserved(0x41),
            &["MQTT-3.8.3-5"],
            MALFORMED,
        ),
        v5(
            "v5 SUBSCRIBE maximum QoS 3",
            subscribe5(&[], b"a/b", 0x03),
            K::InvalidRequestedQos,
            &[],
            PROTOCOL,
        )
        .section("3.8.3.1"),
        v5(
            "v5 SUBSCRIBE retain handling 3",
            subscribe5(&[], b"a/b", 0x30),
            K::InvalidRetainHandling,
            &[],
            PROTOCOL,
        )
        .section("3.8.3.1"),
        v5(
            "v5 No Local on a shared subscription",
            subscribe5(&[], b"$share/g/a", 0x04),
            K::NoLocalOnSharedSubscription("$share/g/a".into()),
            &["MQTT-3.8.3-4"],
            PROTOCOL,
        ),
        v5(
            "v5 SUBSCRIBE filter a+",
            subscribe5(&[], b"a+", 0),
            filter_error("a+", PLUS_RULE),
            &["MQTT-4.7.1-2"],
            MALFORMED,
        ),
        v5(
            "v5 SUBSCRIBE empty filter",
            subscribe5(&[], b"", 0),
            filter_error("", "empty"),
            &["MQTT-4.7.3-1"],
            MALFORMED,
        ),
        v5(
            "v5 shared subscription $share//x (empty ShareName)",
            subscribe5(&[], b"$share//x", 0),
            shared_error("$share//x", "empty ShareName"),
            &["MQTT-4.8.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 shared subscription $share/g with no filter",
            subscribe5(&[], b"$share/g", 0),
            shared_error(
                "$share/g",
                "ShareName is not followed by '/' and a topic filter",
            ),
            &["MQTT-4.8.2-2"],
            PROTOCOL,
        ),
        v5(
            "v5 shared subscription $share/g+/x",
            subscribe5(&[], b"$share/g+/x", 0),
            shared_error("$share/g+/x", "ShareName contains a wildcard"),
            &["MQTT-4.8.2-2"],
            PROTOCOL,
        ),
        // §3.9 SUBACK.
        v5(
            "v5 SUBACK reason code 0x11 (UNSUBACK only)",
            [0x90, 0x04, 0x00, 0x0A, 0x00, 0x11],
            K::InvalidReasonCode {
                packet: P::SubAck,
                code: 0x11,
            },
            &["MQTT-3.9.3-2"],
            PROTOCOL,
        ),
        v5(
            "v5 SUBACK with no reason code",
            [0x90, 0x03, 0x00, 0x0A, 0x00],
            K::NoReasonCodes(P::SubAck),
            &["MQTT-3.8.4-6"],
            PROTOCOL,
        ),
        // §3.10 UNSUBSCRIBE, §3.11 UNSUBACK.
        v5(
            "v5 UNSUBSCRIBE filter a/#/b",
            build(RawPacket::new(10, 2).u16(10).u8(0).string(b"a/#/b")),
            filter_error("a/#/b", HASH_RULE),
            &["MQTT-4.7.1-1"],
            MALFORMED,
        ),
        v5(
            "v5 UNSUBSCRIBE with no topic filter",
            [0xA2, 0x03, 0x00, 0x0A, 0x00],
            K::NoTopicFilters(P::Unsubscribe),
            &["MQTT-3.10.3-2"],
            PROTOCOL,
        ),
        v5(
            "v5 UNSUBACK reason code 0x02 (SUBACK only)",
            [0xB0, 0x04, 0x00, 0x0A, 0x00, 0x02],
            K::InvalidReasonCode {
                packet: P::UnsubAck,
                code: 0x02,
            },
            &["MQTT-3.11.3-2"],
            PROTOCOL,
        ),
        v5(
            "v5 UNSUBACK with no reason code",
            [0xB0, 0x03, 0x00, 0x0A, 0x00],
            K::NoReasonCodes(P::UnsubAck),
            &["MQTT-3.11.3-2"],
            PROTOCOL,
        ),
        v5(
            "v5 UNSUBACK with packet id 0",
            [0xB0, 0x04, 0x00, 0x00, 0x00, 0x00],
            K::ZeroPacketId(P::UnsubAck),
            &["MQTT-2.2.1-6"],
            PROTOCOL,
        ),
        // §3.14 DISCONNECT, §3.15 AUTH.
        v5(
            "v5 DISCONNECT reason code 0x84 (CONNACK only)",
            [0xE0, 0x01, 0x84],
            K::InvalidReasonCode {
                packet: P::Disconnect,
                code: 0x84,
            },
            &["MQTT-3.14.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 AUTH reason code 0x80",
            [0xF0, 0x02, 0x80, 0x00],
            K::InvalidReasonCode {
                packet: P::Auth,
                code: 0x80,
            },
            &["MQTT-3.15.2-1"],
            PROTOCOL,
        ),
        v5(
            "v5 AUTH with a reason code and no property length",
            [0xF0, 0x01, 0x18],
            K::Truncated {
                packet: P::Auth,
                field: "property length",
            },
            &["MQTT-2.2.2-1"],
            MALFORMED,
        ),
        v5(
            "v5 AUTH Continue authentication without Authentication Method",
            [0xF0, 0x02, 0x18, 0x00],
            K::AuthMethodMissing,
            &[],
            PROTOCOL,
        )
        .section("3.15.2.2.2"),
    ]
}

fn rows() -> Vec<Row> {
    let mut rows = v311_rows();
    rows.extend(v5_rows());
    rows
}

fn decoder(row: &Row) -> Decoder {
    match row.decoder {
        Dec::Known => Decoder::new(row.version),
        Dec::Server => Decoder::server(),
        Dec::MaxSize(max) => Decoder::new(row.version).with_max_packet_size(max),
    }
}

/// Runs one row; returns what differs from the expectation.
fn check(row: &Row) -> Vec<String> {
    let mut problems = Vec::new();
    let mut buf = BytesMut::from(&row.input[..]);
    let err = match decoder(row).decode(&mut buf) {
        Err(err) => err,
        Ok(other) => {
            return vec![format!("expected an error, decoded {other:?}")];
        }
    };
    if err.kind != row.kind {
        problems.push(format!("kind {:?}, expected {:?}", err.kind, row.kind));
    }
    if err.statements != row.statements {
        problems.push(format!(
            "statements {:?}, expected {:?}",
            err.statements, row.statements
        ));
    }
    if let Some(section) = row.section {
        if err.section != section {
            problems.push(format!("section {}, expected {section}", err.section));
        }
    }
    if let Some(reason) = row.reason {
        if err.reason_code != reason {
            problems.push(format!(
                "reason code {:?}, expected {reason:?}",
                err.reason_code
            ));
        }
    }
    let shown = err.to_string();
    for id in err.statements {
        if !shown.contains(id) {
            problems.push(format!("Display {shown:?} does not name {id}"));
        }
    }
    problems
}

#[test]
fn every_malformed_input_is_rejected_with_its_rule() {
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        for problem in check(row) {
            failures.push(format!(
                "[{}] {} ({:02X?}): {problem}",
                row.version, row.name, row.input
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows do not match:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_is_large_distinct_and_well_formed() {
    let rows = rows();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut names = BTreeSet::new();
    let mut inputs = BTreeSet::new();
    let mut problems = Vec::new();
    for row in &rows {
        if !names.insert(row.name) {
            problems.push(format!("duplicate name {:?}", row.name));
        }
        if !inputs.insert((row.version, row.decoder, row.input.clone())) {
            problems.push(format!("{:?}: same input as another row", row.name));
        }
        if row.statements.is_empty() && row.section.is_none() {
            problems.push(format!(
                "{:?}: no statement id, so the section must be given",
                row.name
            ));
        }
        if row.version == V5 && row.reason.is_none() {
            problems.push(format!("{:?}: a 5.0 row needs its reason code", row.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let count = |v| rows.iter().filter(|r| r.version == v).count();
    println!(
        "malformed rows: {} ({} MQTT 3.1.1, {} MQTT 5.0)",
        rows.len(),
        count(V311),
        count(V5)
    );
}

/// The statement ids of one specification, from `scenarios/spec/ids/`.
fn statement_ids(file: &str) -> BTreeSet<String> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "../../scenarios/spec/ids", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the statement id list {}: {e}; the malformed-input \
             table checks every id it cites against it",
            path.display()
        )
    });
    let ids: BTreeSet<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(
        ids.len() > 100,
        "{}: only {} ids",
        path.display(),
        ids.len()
    );
    ids
}

#[test]
fn every_cited_statement_exists_in_its_specification() {
    let v311 = statement_ids("mqtt-3.1.1-statement-ids.txt");
    let v5 = statement_ids("mqtt-5.0-statement-ids.txt");
    let mut unknown = Vec::new();
    for row in rows() {
        let ids = match row.version {
            V311 => &v311,
            V5 => &v5,
        };
        for id in row.statements {
            if !ids.contains(*id) {
                unknown.push(format!("[{}] {}: {id}", row.version, row.name));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "statement ids not in the specification:\n{}",
        unknown.join("\n")
    );
}
