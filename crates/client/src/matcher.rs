//! What an expect waits for: a predicate on a packet plus the words that
//! describe it in an error ("SUBACK for packet id 3").

use std::fmt;
use std::sync::Arc;

use mqtt_codec::{Packet, PacketType};

/// A predicate on packets with a description for error messages.
///
/// ```
/// use mqtt_client::Matcher;
/// use mqtt_codec::{Packet, PubResponse};
///
/// let m = Matcher::new("PUBACK for packet id 3", |p| {
///     matches!(p, Packet::PubAck(a) if a.packet_id == 3)
/// });
/// assert!(m.matches(&Packet::PubAck(PubResponse::new(3))));
/// assert_eq!(Matcher::suback(3).description(), "SUBACK for packet id 3");
/// ```
#[derive(Clone)]
pub struct Matcher {
    description: String,
    predicate: Arc<dyn Fn(&Packet) -> bool + Send + Sync>,
}

impl Matcher {
    /// A matcher from a description and a predicate.
    pub fn new(
        description: impl Into<String>,
        predicate: impl Fn(&Packet) -> bool + Send + Sync + 'static,
    ) -> Self {
        Matcher {
            description: description.into(),
            predicate: Arc::new(predicate),
        }
    }

    /// Any packet.
    pub fn any() -> Self {
        Matcher::new("any packet", |_| true)
    }

    /// Any packet of one type.
    pub fn of_type(packet_type: PacketType) -> Self {
        Matcher::new(packet_type.name(), move |p| p.packet_type() == packet_type)
    }

    /// A CONNACK.
    pub fn connack() -> Self {
        Matcher::of_type(PacketType::ConnAck)
    }

    /// A SUBACK for `packet_id`.
    pub fn suback(packet_id: u16) -> Self {
        Matcher::new(
            format!("SUBACK for packet id {packet_id}"),
            move |p| matches!(p, Packet::SubAck(a) if a.packet_id == packet_id),
        )
    }

    /// An UNSUBACK for `packet_id`.
    pub fn unsuback(packet_id: u16) -> Self {
        Matcher::new(
            format!("UNSUBACK for packet id {packet_id}"),
            move |p| matches!(p, Packet::UnsubAck(a) if a.packet_id == packet_id),
        )
    }

    /// A PUBACK for `packet_id`.
    pub fn puback(packet_id: u16) -> Self {
        Matcher::new(
            format!("PUBACK for packet id {packet_id}"),
            move |p| matches!(p, Packet::PubAck(a) if a.packet_id == packet_id),
        )
    }

    /// A PUBREC for `packet_id`.
    pub fn pubrec(packet_id: u16) -> Self {
        Matcher::new(
            format!("PUBREC for packet id {packet_id}"),
            move |p| matches!(p, Packet::PubRec(a) if a.packet_id == packet_id),
        )
    }

    /// A PUBREL for `packet_id`.
    pub fn pubrel(packet_id: u16) -> Self {
        Matcher::new(
            format!("PUBREL for packet id {packet_id}"),
            move |p| matches!(p, Packet::PubRel(a) if a.packet_id == packet_id),
        )
    }

    /// A PUBCOMP for `packet_id`.
    pub fn pubcomp(packet_id: u16) -> Self {
        Matcher::new(
            format!("PUBCOMP for packet id {packet_id}"),
            move |p| matches!(p, Packet::PubComp(a) if a.packet_id == packet_id),
        )
    }

    /// Any PUBLISH.
    pub fn publish() -> Self {
        Matcher::of_type(PacketType::Publish)
    }

    /// A PUBLISH whose Topic Name is `topic`.
    pub fn publish_on(topic: impl Into<String>) -> Self {
        let topic = topic.into();
        Matcher::new(
            format!("PUBLISH on {topic:?}"),
            move |p| matches!(p, Packet::Publish(m) if m.topic() == topic),
        )
    }

    /// A PINGRESP.
    pub fn pingresp() -> Self {
        Matcher::of_type(PacketType::PingResp)
    }

    /// A DISCONNECT.
    pub fn disconnect() -> Self {
        Matcher::of_type(PacketType::Disconnect)
    }

    /// The same predicate under another description.
    pub fn described(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Both this and `other` must hold.
    pub fn and(self, other: Matcher) -> Self {
        let description = format!("{} and {}", self.description, other.description);
        Matcher::new(description, move |p| self.matches(p) && other.matches(p))
    }

    /// The description used in errors.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// True when `packet` satisfies the predicate.
    pub fn matches(&self, packet: &Packet) -> bool {
        (self.predicate)(packet)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Matcher").field(&self.description).finish()
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}
