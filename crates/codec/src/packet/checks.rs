//! Checks shared by the packets' decoders: the fixed header's flags, packet
//! identifiers, properties in 3.1.1 and reason codes allowed per packet.

use crate::error::{ErrorKind, Violation};
use crate::packet::kind::PacketType;
use crate::version::ProtocolVersion;

/// Checks the fixed-header flags of every packet but PUBLISH, citing the
/// statement of the packet where the specification names one.
pub(crate) fn check_fixed_flags(
    ptype: PacketType,
    flags: u8,
    v: ProtocolVersion,
) -> Result<(), Violation> {
    if ptype == PacketType::Publish || flags == ptype.fixed_flags() {
        Ok(())
    } else {
        Err(reserved_flags(ptype, flags, v))
    }
}

fn reserved_flags(ptype: PacketType, flags: u8, v: ProtocolVersion) -> Violation {
    let statements: &'static [&'static str] = match (v, ptype) {
        (ProtocolVersion::V311, PacketType::PubRel) => {
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.6.1-1"]
        }
        (ProtocolVersion::V311, PacketType::Subscribe) => {
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.8.1-1"]
        }
        (ProtocolVersion::V311, PacketType::Unsubscribe) => {
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.10.1-1"]
        }
        (ProtocolVersion::V311, PacketType::Disconnect) => {
            &["MQTT-2.2.2-1", "MQTT-2.2.2-2", "MQTT-3.14.1-1"]
        }
        (ProtocolVersion::V311, _) => &["MQTT-2.2.2-1", "MQTT-2.2.2-2"],
        (ProtocolVersion::V5, PacketType::PubRel) => &["MQTT-2.1.3-1", "MQTT-3.6.1-1"],
        (ProtocolVersion::V5, PacketType::Subscribe) => &["MQTT-2.1.3-1", "MQTT-3.8.1-1"],
        (ProtocolVersion::V5, PacketType::Unsubscribe) => &["MQTT-2.1.3-1", "MQTT-3.10.1-1"],
        (ProtocolVersion::V5, PacketType::Disconnect) => &["MQTT-2.1.3-1", "MQTT-3.14.1-1"],
        (ProtocolVersion::V5, PacketType::Auth) => &["MQTT-2.1.3-1", "MQTT-3.15.1-1"],
        (ProtocolVersion::V5, _) => &["MQTT-2.1.3-1"],
    };
    Violation::malformed(
        ErrorKind::ReservedFlags {
            packet: ptype,
            flags,
        },
        statements,
        v.pick("2.2.2", "2.1.3"),
    )
}

/// Checks a packet identifier that must be non-zero, citing the statement
/// that requires it for `ptype`.
pub(crate) fn check_packet_id(
    id: u16,
    ptype: PacketType,
    v: ProtocolVersion,
) -> Result<(), Violation> {
    if id != 0 {
        return Ok(());
    }
    // MQTT 3.1.1 numbers these MQTT-2.3.1-1 (PUBLISH, SUBSCRIBE,
    // UNSUBSCRIBE), -6 (PUBACK, PUBREC, PUBREL) and -7 (SUBACK, UNSUBACK);
    // -5 is the QoS 0 rule. PUBCOMP has no numbered statement in 3.1.1
    // (§3.7.2: the identifier of the PUBREL it acknowledges).
    let (statements, section): (&'static [&'static str], &'static str) = match (v, ptype) {
        (
            ProtocolVersion::V311,
            PacketType::Publish | PacketType::Subscribe | PacketType::Unsubscribe,
        ) => (&["MQTT-2.3.1-1"], "2.3.1"),
        (ProtocolVersion::V311, PacketType::SubAck | PacketType::UnsubAck) => {
            (&["MQTT-2.3.1-7"], "2.3.1")
        }
        (ProtocolVersion::V311, PacketType::PubComp) => (&[], "3.7.2"),
        (ProtocolVersion::V311, _) => (&["MQTT-2.3.1-6"], "2.3.1"),
        (ProtocolVersion::V5, PacketType::Publish) => (&["MQTT-2.2.1-3", "MQTT-2.2.1-4"], "2.2.1"),
        (ProtocolVersion::V5, PacketType::Subscribe | PacketType::Unsubscribe) => {
            (&["MQTT-2.2.1-3"], "2.2.1")
        }
        (ProtocolVersion::V5, PacketType::SubAck | PacketType::UnsubAck) => {
            (&["MQTT-2.2.1-6"], "2.2.1")
        }
        (ProtocolVersion::V5, _) => (&["MQTT-2.2.1-5"], "2.2.1"),
    };
    Err(Violation::protocol(
        ErrorKind::ZeroPacketId(ptype),
        statements,
        section,
    ))
}

/// Checks that a 3.1.1 packet carries no properties.
pub(crate) fn check_no_properties(
    props: &crate::Properties,
    ptype: PacketType,
    v: ProtocolVersion,
) -> Result<(), Violation> {
    if v == ProtocolVersion::V311 && !props.is_empty() {
        return Err(Violation::malformed(
            ErrorKind::PropertiesInV311(ptype),
            &[],
            "2.2",
        ));
    }
    Ok(())
}

/// Checks a 5.0 reason code against the packet's table.
pub(crate) fn check_reason(
    code: crate::ReasonCode,
    allowed: &[u8],
    ptype: PacketType,
    statements: &'static [&'static str],
    section: &'static str,
) -> Result<(), Violation> {
    if allowed.contains(&code.0) {
        Ok(())
    } else {
        Err(Violation::protocol(
            ErrorKind::InvalidReasonCode {
                packet: ptype,
                code: code.0,
            },
            statements,
            section,
        ))
    }
}
