//! PUBACK, PUBREC, PUBREL and PUBCOMP (§3.4-3.7 of both versions): the same
//! layout, a packet identifier and, in 5.0, a reason code and properties.

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::reason_tail::{self, TailRules};
use crate::packet::{check_no_properties, check_packet_id, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP. In MQTT 5.0 the reason
/// code and properties may be omitted on the wire when they are Success and
/// empty (§3.4.2.1); the encoder always writes the shortest form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PubResponse {
    /// Packet Identifier of the PUBLISH (or PUBREL) being answered.
    pub packet_id: u16,
    /// Reason code (5.0; always Success in 3.1.1).
    pub reason_code: ReasonCode,
    /// Properties (5.0 only).
    pub properties: Properties,
}

fn rules(ptype: PacketType) -> TailRules {
    match ptype {
        PacketType::PubAck => TailRules {
            ctx: PropertyContext::PubAck,
            allowed: allowed::PUBACK,
            statements: &["MQTT-3.4.2-1"],
            section: "3.4.2.1",
        },
        PacketType::PubRec => TailRules {
            ctx: PropertyContext::PubRec,
            allowed: allowed::PUBACK,
            statements: &["MQTT-3.5.2-1"],
            section: "3.5.2.1",
        },
        PacketType::PubRel => TailRules {
            ctx: PropertyContext::PubRel,
            allowed: allowed::PUBREL,
            statements: &["MQTT-3.6.2-1"],
            section: "3.6.2.1",
        },
        _ => TailRules {
            ctx: PropertyContext::PubComp,
            allowed: allowed::PUBREL,
            statements: &["MQTT-3.7.2-1"],
            section: "3.7.2.1",
        },
    }
}

impl PubResponse {
    /// A Success response for `packet_id`.
    pub fn new(packet_id: u16) -> Self {
        PubResponse {
            packet_id,
            ..PubResponse::default()
        }
    }

    /// Decodes into `self`, which must be `PubResponse::default()` (see
    /// [`Packet::decode_body`](crate::Packet)).
    pub(crate) fn decode_into(&mut self, r: &mut Reader<'_>) -> Result<(), Violation> {
        let ptype = r.packet;
        let v = r.version;
        self.packet_id = r.u16("packet identifier")?;
        check_packet_id(self.packet_id, ptype, v)?;
        if v.is_v5() {
            reason_tail::decode_into(
                r,
                &rules(ptype),
                &mut self.reason_code,
                &mut self.properties,
            )?;
        }
        Ok(())
    }

    pub(crate) fn check(&self, v: ProtocolVersion, ptype: PacketType) -> Result<(), Violation> {
        check_packet_id(self.packet_id, ptype, v)?;
        check_no_properties(&self.properties, ptype, v)?;
        match v {
            ProtocolVersion::V311 if self.reason_code != ReasonCode::SUCCESS => {
                Err(Violation::malformed(
                    ErrorKind::ReasonCodeInV311 {
                        packet: ptype,
                        code: self.reason_code,
                    },
                    &[],
                    "3.4",
                ))
            }
            ProtocolVersion::V311 => Ok(()),
            ProtocolVersion::V5 => {
                reason_tail::check(self.reason_code, &self.properties, &rules(ptype), ptype)
            }
        }
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        if v.is_v5() {
            2 + reason_tail::len(self.reason_code, &self.properties)
        } else {
            2
        }
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if v.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, out);
        }
    }
}
