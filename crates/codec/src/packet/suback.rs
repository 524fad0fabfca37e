//! SUBACK (MQTT 3.1.1 §3.9, MQTT 5.0 §3.9).

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_packet_id, check_reason, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// SUBACK: one reason (return) code per filter of the SUBSCRIBE (§3.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SubAck {
    /// Packet Identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// SUBACK properties (5.0 only).
    pub properties: Properties,
    /// One code per filter, in order (MQTT-3.9.3-1).
    pub reason_codes: Vec<ReasonCode>,
}

fn check_codes(codes: &[ReasonCode], v: ProtocolVersion) -> Result<(), Violation> {
    if codes.is_empty() {
        return Err(Violation::protocol(
            ErrorKind::NoReasonCodes(PacketType::SubAck),
            v.pick(&["MQTT-3.8.4-5"], &["MQTT-3.8.4-6"]),
            "3.9.3",
        ));
    }
    let table = v.pick(allowed::SUBACK_V311, allowed::SUBACK);
    for &c in codes {
        check_reason(c, table, PacketType::SubAck, &["MQTT-3.9.3-2"], "3.9.3")?;
    }
    Ok(())
}

impl SubAck {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        let v = r.version;
        let packet_id = r.u16("packet identifier")?;
        check_packet_id(packet_id, PacketType::SubAck, v)?;
        let properties = if v.is_v5() {
            Properties::decode(r, PropertyContext::SubAck)?
        } else {
            Properties::default()
        };
        let reason_codes: Vec<ReasonCode> = r.rest().iter().map(|&b| ReasonCode(b)).collect();
        check_codes(&reason_codes, v)?;
        Ok(SubAck {
            packet_id,
            properties,
            reason_codes,
        })
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        check_packet_id(self.packet_id, PacketType::SubAck, v)?;
        check_no_properties(&self.properties, PacketType::SubAck, v)?;
        if v.is_v5() {
            self.properties.check(PropertyContext::SubAck)?;
        }
        check_codes(&self.reason_codes, v)
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        let props = if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        };
        2 + props + self.reason_codes.len()
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.encode(out);
        }
        for c in &self.reason_codes {
            out.put_u8(c.0);
        }
    }
}
