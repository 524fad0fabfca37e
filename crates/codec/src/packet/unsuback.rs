//! UNSUBACK (MQTT 3.1.1 §3.11, MQTT 5.0 §3.11).

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_packet_id, check_reason, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// UNSUBACK (§3.11). In 3.1.1 it carries only the packet identifier; in 5.0
/// also properties and one reason code per filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct UnsubAck {
    /// Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// UNSUBACK properties (5.0 only).
    pub properties: Properties,
    /// One code per filter (5.0 only; empty in 3.1.1).
    pub reason_codes: Vec<ReasonCode>,
}

fn check_codes(codes: &[ReasonCode]) -> Result<(), Violation> {
    if codes.is_empty() {
        return Err(Violation::protocol(
            ErrorKind::NoReasonCodes(PacketType::UnsubAck),
            &["MQTT-3.11.3-2"],
            "3.11.3",
        ));
    }
    for &c in codes {
        check_reason(
            c,
            allowed::UNSUBACK,
            PacketType::UnsubAck,
            &["MQTT-3.11.3-2"],
            "3.11.3",
        )?;
    }
    Ok(())
}

impl UnsubAck {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        let v = r.version;
        let packet_id = r.u16("packet identifier")?;
        check_packet_id(packet_id, PacketType::UnsubAck, v)?;
        if !v.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                ..UnsubAck::default()
            });
        }
        let properties = Properties::decode(r, PropertyContext::UnsubAck)?;
        let reason_codes: Vec<ReasonCode> = r.rest().iter().map(|&b| ReasonCode(b)).collect();
        check_codes(&reason_codes)?;
        Ok(UnsubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        check_packet_id(self.packet_id, PacketType::UnsubAck, v)?;
        check_no_properties(&self.properties, PacketType::UnsubAck, v)?;
        match v {
            ProtocolVersion::V311 if !self.reason_codes.is_empty() => Err(Violation::malformed(
                ErrorKind::ReasonCodeInV311 {
                    packet: PacketType::UnsubAck,
                    code: self.reason_codes[0],
                },
                &[],
                "3.11",
            )),
            ProtocolVersion::V311 => Ok(()),
            ProtocolVersion::V5 => {
                self.properties.check(PropertyContext::UnsubAck)?;
                check_codes(&self.reason_codes)
            }
        }
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        if v.is_v5() {
            2 + self.properties.encoded_len() + self.reason_codes.len()
        } else {
            2
        }
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.encode(out);
            for c in &self.reason_codes {
                out.put_u8(c.0);
            }
        }
    }
}
