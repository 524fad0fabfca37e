//! PUBLISH (MQTT 3.1.1 §3.3, MQTT 5.0 §3.3).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_packet_id, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::qos::QoS;
use crate::string::MqttString;
use crate::topic::validate_topic_name;
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// PUBLISH: an Application Message (§3.3).
///
/// The Topic Name (§3.3.2.1) and the Payload (§3.3.3) are read through
/// [`Publish::topic`] and [`Publish::payload`] (or, as values that share
/// the buffer, [`Publish::topic_string`] and [`Publish::payload_bytes`]),
/// and replaced with [`Publish::set_topic`] and [`Publish::set_payload`].
/// A decoded PUBLISH holds a single view of the received frame, from the
/// topic to the end of the payload, rather than one view for each: every
/// view of a shared buffer costs an atomic reference count when made and
/// another when dropped, and those dominate the cost of decoding a PUBLISH.
/// Two PUBLISH packets are equal when their fields, topic and payload are,
/// however they were made.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// DUP flag (§3.3.1.1); always false at QoS 0 (MQTT-3.3.1-2).
    pub dup: bool,
    /// QoS (§3.3.1.2).
    pub qos: QoS,
    /// RETAIN flag (§3.3.1.3).
    pub retain: bool,
    /// Packet Identifier (§3.3.2.2): non-zero at QoS 1 and 2, and 0 (not
    /// sent) at QoS 0.
    pub packet_id: u16,
    /// PUBLISH properties (5.0 only).
    pub properties: Properties,
    /// Topic Name and Payload.
    pub(crate) message: Message,
}

/// A PUBLISH's Topic Name (§3.3.2.1) and Payload (§3.3.3), as built or as
/// received.
#[derive(Clone)]
pub(crate) enum Message {
    /// Built from its parts (or replaced part by part).
    Parts {
        /// The Topic Name.
        topic: MqttString,
        /// The Payload.
        payload: Bytes,
    },
    /// Received: one view of the whole frame. The topic is the
    /// `topic_len` bytes at `topic_at`, checked when decoded (UTF-8, no
    /// U+0000, at most 65,535 bytes); the payload is everything from
    /// `payload_at` on.
    Frame {
        /// The frame, fixed header included.
        frame: Bytes,
        /// Where the Topic Name starts in `frame`, after its length.
        topic_at: u8,
        /// Length of the Topic Name.
        topic_len: u16,
        /// Where the Payload starts in `frame`.
        payload_at: usize,
    },
}

impl Default for Message {
    fn default() -> Self {
        Message::Parts {
            topic: MqttString::default(),
            payload: Bytes::new(),
        }
    }
}

impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.topic_bytes() == other.topic_bytes() && self.payload() == other.payload()
    }
}

impl Eq for Message {}

/// Where a [`Message::Frame`]'s Topic Name lies in its frame.
#[inline(always)]
fn topic_range(topic_at: u8, topic_len: u16) -> std::ops::Range<usize> {
    let at = usize::from(topic_at);
    at..at + usize::from(topic_len)
}

impl Message {
    /// The topic's bytes and the payload, in one match.
    #[inline]
    fn both(&self) -> (&[u8], &[u8]) {
        match self {
            Message::Parts { topic, payload } => (topic.as_bytes(), payload),
            Message::Frame {
                frame,
                topic_at,
                topic_len,
                payload_at,
            } => (
                &frame[topic_range(*topic_at, *topic_len)],
                &frame[*payload_at..],
            ),
        }
    }

    #[inline]
    fn topic_bytes(&self) -> &[u8] {
        match self {
            Message::Parts { topic, .. } => topic.as_bytes(),
            Message::Frame {
                frame,
                topic_at,
                topic_len,
                ..
            } => &frame[topic_range(*topic_at, *topic_len)],
        }
    }

    #[inline]
    fn payload(&self) -> &[u8] {
        match self {
            Message::Parts { payload, .. } => payload,
            Message::Frame {
                frame, payload_at, ..
            } => &frame[*payload_at..],
        }
    }

    /// The payload, reusing the frame's reference.
    fn into_payload(self) -> Bytes {
        match self {
            Message::Parts { payload, .. } => payload,
            Message::Frame {
                mut frame,
                payload_at,
                ..
            } => {
                frame.advance(payload_at);
                frame
            }
        }
    }

    fn topic_string(&self) -> MqttString {
        match self {
            Message::Parts { topic, .. } => topic.clone(),
            // Checked when decoded: cannot fail.
            Message::Frame {
                frame,
                topic_at,
                topic_len,
                ..
            } => MqttString::from_checked_bytes(frame.slice(topic_range(*topic_at, *topic_len)))
                .unwrap_or_default(),
        }
    }
}

/// Reads the fields in the order they were declared in before the topic
/// and the payload became private (DUP, QoS, RETAIN, topic, packet
/// identifier, properties, payload), so that the fuzz seeds checked in
/// keep decoding to the same packets.
#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for Publish {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let dup = u.arbitrary()?;
        let qos = u.arbitrary()?;
        let retain = u.arbitrary()?;
        let topic = u.arbitrary()?;
        let packet_id = u.arbitrary()?;
        let properties = u.arbitrary()?;
        let payload = crate::fuzzing::bytes(u)?;
        Ok(Publish {
            dup,
            qos,
            retain,
            packet_id,
            properties,
            message: Message::Parts { topic, payload },
        })
    }
}

impl std::fmt::Debug for Publish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic())
            .field("packet_id", &self.packet_id)
            .field("properties", &self.properties)
            .field("payload", &DebugBytes(self.payload()))
            .finish()
    }
}

/// Bytes shown as [`Bytes`] shows them: `b"text\x00"`.
struct DebugBytes<'a>(&'a [u8]);

impl std::fmt::Debug for DebugBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("b\"")?;
        for &b in self.0 {
            match b {
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                b'\\' | b'"' => write!(f, "\\{}", b as char)?,
                b'\0' => f.write_str("\\0")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")
    }
}

impl Publish {
    /// A QoS 0 message with no properties, to `topic` (§3.3.2.1) carrying
    /// `payload` (§3.3.3).
    pub fn new(topic: MqttString, payload: impl Into<Bytes>) -> Self {
        Publish {
            message: Message::Parts {
                topic,
                payload: payload.into(),
            },
            ..Publish::default()
        }
    }

    /// This message at `qos` (§3.3.1.2) with Packet Identifier `packet_id`
    /// (§3.3.2.2; 0 for QoS 0).
    pub fn with_qos(mut self, qos: QoS, packet_id: u16) -> Self {
        self.qos = qos;
        self.packet_id = packet_id;
        self
    }

    /// This message with the RETAIN flag (§3.3.1.3) set to `retain`.
    pub fn with_retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// This message with the DUP flag (§3.3.1.1) set to `dup`.
    pub fn with_dup(mut self, dup: bool) -> Self {
        self.dup = dup;
        self
    }

    /// This message with `properties` (5.0, §3.3.2.3).
    pub fn with_properties(mut self, properties: impl Into<Properties>) -> Self {
        self.properties = properties.into();
        self
    }

    /// The Topic Name (§3.3.2.1); empty in 5.0 when a Topic Alias stands
    /// in (§3.3.2.3.4).
    ///
    /// For a received PUBLISH this checks the topic's UTF-8 again (it
    /// cannot fail, it was checked when decoded; without `unsafe`, which
    /// the workspace forbids, a `&str` cannot be had otherwise): hold on to
    /// the result, or to [`Publish::topic_string`], rather than calling it
    /// in a loop.
    #[inline]
    pub fn topic(&self) -> &str {
        match &self.message {
            Message::Parts { topic, .. } => topic.as_str(),
            // Checked when decoded: cannot fail.
            Message::Frame { .. } => {
                std::str::from_utf8(self.message.topic_bytes()).unwrap_or_default()
            }
        }
    }

    /// The Topic Name (§3.3.2.1) as an [`MqttString`] that shares the
    /// received buffer (no copy).
    pub fn topic_string(&self) -> MqttString {
        self.message.topic_string()
    }

    /// Replaces the Topic Name (§3.3.2.1).
    pub fn set_topic(&mut self, topic: MqttString) {
        let payload = std::mem::take(&mut self.message).into_payload();
        self.message = Message::Parts { topic, payload };
    }

    /// The Payload (§3.3.3).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        self.message.payload()
    }

    /// The Payload (§3.3.3) as [`Bytes`] that share the received buffer
    /// (no copy).
    pub fn payload_bytes(&self) -> Bytes {
        match &self.message {
            Message::Parts { payload, .. } => payload.clone(),
            Message::Frame {
                frame, payload_at, ..
            } => frame.slice(*payload_at..),
        }
    }

    /// Replaces the Payload (§3.3.3).
    pub fn set_payload(&mut self, payload: impl Into<Bytes>) {
        let topic = match std::mem::take(&mut self.message) {
            Message::Parts { topic, .. } => topic,
            m @ Message::Frame { .. } => m.topic_string(),
        };
        self.message = Message::Parts {
            topic,
            payload: payload.into(),
        };
    }

    /// The Topic Name (§3.3.2.1) and the Payload (§3.3.3), sharing the
    /// received buffer.
    pub fn into_topic_and_payload(self) -> (MqttString, Bytes) {
        match self.message {
            Message::Parts { topic, payload } => (topic, payload),
            m @ Message::Frame { .. } => (m.topic_string(), m.into_payload()),
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
        let topic_at = r.position() + 2;
        let topic = r.string("topic name")?;
        if qos != QoS::AtMostOnce {
            self.packet_id = r.u16("packet identifier")?;
            check_packet_id(self.packet_id, PacketType::Publish, v)?;
        }
        if v.is_v5() {
            self.properties.decode_into(r, PropertyContext::Publish)?;
        }
        validate_topic_name(&topic, v, self.properties.topic_alias.is_some())?;
        self.message = match u8::try_from(topic_at) {
            // Always: the body starts at most 5 bytes into the frame.
            Ok(topic_at) => Message::Frame {
                payload_at: r.position(),
                frame: r.whole_frame(),
                topic_at,
                // At most 65,535: its length was two bytes.
                topic_len: topic.len() as u16,
            },
            Err(_) => Message::Parts {
                topic,
                payload: r.rest(),
            },
        };
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
        validate_topic_name(self.topic(), v, self.properties.topic_alias.is_some())
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        let (topic, payload) = self.message.both();
        let mut n = 2 + topic.len() + payload.len();
        if self.qos != QoS::AtMostOnce {
            n += 2;
        }
        if v.is_v5() {
            n += self.properties.encoded_len();
        }
        n
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        let (topic, payload) = self.message.both();
        crate::wire::put_binary(out, topic);
        if self.qos != QoS::AtMostOnce {
            out.put_u16(self.packet_id);
        }
        if v.is_v5() {
            self.properties.encode(out);
        }
        out.put_slice(payload);
    }
}

fn dup_on_qos0() -> Violation {
    Violation::malformed(ErrorKind::DupOnQos0, &["MQTT-3.3.1-2"], "3.3.1.1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, Packet};

    fn received(p: &Publish, v: ProtocolVersion) -> Publish {
        let mut buf = BytesMut::new();
        Packet::Publish(p.clone()).encode(v, &mut buf).unwrap();
        match Decoder::new(v).decode(&mut buf) {
            Ok(Some(Packet::Publish(p))) => p,
            other => panic!("{other:?}"),
        }
    }

    fn sample() -> Publish {
        Publish::new(MqttString::from_static("a/é"), &b"\x00hi\n"[..]).with_qos(QoS::AtLeastOnce, 3)
    }

    #[test]
    fn a_received_publish_is_one_view_and_reads_like_a_built_one() {
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let built = sample();
            let got = received(&built, v);
            assert!(matches!(got.message, Message::Frame { .. }));
            assert_eq!(got, built);
            assert_eq!(got.topic(), "a/é");
            assert_eq!(got.topic_string(), MqttString::from_static("a/é"));
            assert_eq!(got.payload(), b"\x00hi\n");
            assert_eq!(&got.payload_bytes()[..], b"\x00hi\n");
            assert_eq!(format!("{got:?}"), format!("{built:?}"));
            assert_eq!(
                got.clone().into_topic_and_payload(),
                built.clone().into_topic_and_payload()
            );
        }
    }

    #[test]
    fn replacing_a_part_keeps_the_other() {
        let mut p = received(&sample(), ProtocolVersion::V5);
        p.set_topic(MqttString::from_static("b"));
        assert_eq!((p.topic(), p.payload()), ("b", &b"\x00hi\n"[..]));
        let mut p = received(&sample(), ProtocolVersion::V5);
        p.set_payload("x");
        assert_eq!((p.topic(), p.payload()), ("a/é", &b"x"[..]));
        assert_ne!(p, sample());
    }

    #[test]
    fn the_debug_form_shows_the_payload_as_bytes_does() {
        let p = Publish::new(MqttString::from_static("t"), &b"a\"\\\x00\x7f\xff\r\t"[..]);
        let shown = format!("{:?}", Bytes::from_static(b"a\"\\\x00\x7f\xff\r\t"));
        assert!(
            format!("{p:?}").contains(&format!("payload: {shown}")),
            "{p:?}"
        );
    }

    #[test]
    fn a_packet_stays_small() {
        assert!(std::mem::size_of::<Packet>() <= 80);
    }
}
