//! The control packet types of the fixed header: their numbers, names and
//! the direction each is sent in.

use crate::version::ProtocolVersion;

/// The control packet types of the fixed header (§2.2.1 in 3.1.1,
/// §2.1.2 in 5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PacketType {
    /// 1, client to server.
    Connect = 1,
    /// 2, server to client.
    ConnAck = 2,
    /// 3, both directions.
    Publish = 3,
    /// 4, both directions.
    PubAck = 4,
    /// 5, both directions.
    PubRec = 5,
    /// 6, both directions.
    PubRel = 6,
    /// 7, both directions.
    PubComp = 7,
    /// 8, client to server.
    Subscribe = 8,
    /// 9, server to client.
    SubAck = 9,
    /// 10, client to server.
    Unsubscribe = 10,
    /// 11, server to client.
    UnsubAck = 11,
    /// 12, client to server.
    PingReq = 12,
    /// 13, server to client.
    PingResp = 13,
    /// 14, client to server (both in 5.0).
    Disconnect = 14,
    /// 15, MQTT 5.0 only.
    Auth = 15,
}

impl PacketType {
    /// The type for a fixed-header nibble in `version`.
    pub const fn from_nibble(n: u8, version: Option<ProtocolVersion>) -> Option<Self> {
        Some(match n {
            1 => PacketType::Connect,
            2 => PacketType::ConnAck,
            3 => PacketType::Publish,
            4 => PacketType::PubAck,
            5 => PacketType::PubRec,
            6 => PacketType::PubRel,
            7 => PacketType::PubComp,
            8 => PacketType::Subscribe,
            9 => PacketType::SubAck,
            10 => PacketType::Unsubscribe,
            11 => PacketType::UnsubAck,
            12 => PacketType::PingReq,
            13 => PacketType::PingResp,
            14 => PacketType::Disconnect,
            15 if !matches!(version, Some(ProtocolVersion::V311)) => PacketType::Auth,
            _ => return None,
        })
    }

    /// The flag bits this type must carry, for all types but PUBLISH.
    pub const fn fixed_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }

    /// The name the specification uses.
    pub const fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::ConnAck => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::PubAck => "PUBACK",
            PacketType::PubRec => "PUBREC",
            PacketType::PubRel => "PUBREL",
            PacketType::PubComp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::SubAck => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::UnsubAck => "UNSUBACK",
            PacketType::PingReq => "PINGREQ",
            PacketType::PingResp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Auth => "AUTH",
        }
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
