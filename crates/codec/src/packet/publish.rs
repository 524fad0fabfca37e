//! PUBLISH (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_packet_id, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::qos::QoS;
use crate::string::MqttString;
use crate::topic::validate_topic_name;
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// PUBLISH: an Application Message (§3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Publish {
    /// DUP flag (§3.3.1.1); always false at QoS 0 (MQTT-3.3.1-2).
    pub dup: bool,
    /// QoS (§3.3.1.2).
    pub qos: QoS,
    /// RETAIN flag (§3.3.1.3).
    pub retain: bool,
    /// Topic Name (§3.3.2.1); empty in 5.0 when a Topic Alias stands in.
    pub topic: MqttString,
    /// Packet Identifier (§3.3.2.2): non-zero at QoS 1 and 2, and 0 (not
    /// sent) at QoS 0.
    pub packet_id: u16,
    /// PUBLISH properties (5.0 only).
    pub properties: Properties,
    /// Payload (§3.3.3), shared with the received buffer.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::fuzzing::bytes))]
    pub payload: Bytes,
}

impl Publish {
    /// A QoS 0 message with no properties.
    pub fn new(topic: MqttString, payload: impl Into<Bytes>) -> Self {
        Publish {
            topic,
            payload: payload.into(),
            ..Publish::default()
        }
    }

    pub(crate) fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (self.qos.bits() << 1) | u8::from(self.retain)
    }

    /// Decodes into `self`, which must be `Publish::default()` (see
    /// [`Packet::decode_body`](crate::Packet)).
    pub(crate) fn decode_into(&mut self, r: &mut Reader<'_>, flags: u8) -> Result<(), Violation> {
        let v = r.version;
        let Some(qos) = QoS::from_bits((flags >> 1) & 0x03) else {
            return Err(Violation::malformed(
                ErrorKind::InvalidQos,
                &["MQTT-3.3.1-4"],
                "3.3.1.2",
            ));
        };
        let dup = flags & 0x08 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(dup_on_qos0());
        }
        self.dup = dup;
        self.qos = qos;
        self.retain = flags & 0x01 != 0;
        self.topic = r.string("topic name")?;
        if qos != QoS::AtMostOnce {
            self.packet_id = r.u16("packet identifier")?;
            check_packet_id(self.packet_id, PacketType::Publish, v)?;
        }
        if v.is_v5() {
            self.properties.decode_into(r, PropertyContext::Publish)?;
        }
        validate_topic_name(&self.topic, v, self.properties.topic_alias.is_some())?;
        self.payload = r.rest();
        Ok(())
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(dup_on_qos0());
        }
        if self.qos == QoS::AtMostOnce {
            if self.packet_id != 0 {
                return Err(Violation::protocol(
                    ErrorKind::UnexpectedPacketId(self.packet_id),
                    v.pick(&["MQTT-2.3.1-5"], &["MQTT-2.2.1-2"]),
                    v.pick("2.3.1", "2.2.1"),
                ));
            }
        } else {
            check_packet_id(self.packet_id, PacketType::Publish, v)?;
        }
        check_no_properties(&self.properties, PacketType::Publish, v)?;
        if v.is_v5() {
            self.properties.check(PropertyContext::Publish)?;
        }
        validate_topic_name(&self.topic, v, self.properties.topic_alias.is_some())
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        let mut n = 2 + self.topic.len() + self.payload.len();
        if self.qos != QoS::AtMostOnce {
            n += 2;
        }
        if v.is_v5() {
            n += self.properties.encoded_len();
        }
        n
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        crate::wire::put_string(out, &self.topic);
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id);
        }
        if v.is_v5() {
            self.properties.encode(out);
        }
        out.put_slice(&self.payload);
    }
}

fn dup_on_qos0() -> Violation {
    Violation::malformed(ErrorKind::DupOnQos0, &["MQTT-3.3.1-2"], "3.3.1.1")
}
