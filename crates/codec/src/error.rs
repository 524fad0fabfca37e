//! Decode and encode errors. A decode error is the peer's misbehaviour and
//! names the rule it broke; an encode error is the caller's mistake.

use crate::packet::PacketType;
use crate::reason::ReasonCode;

/// A rule of the specification that a packet breaks: what is wrong, the
/// normative statement ids it enforces (empty where the specification
/// states the rule without numbering it), the section that states it, and
/// the reason code an MQTT 5.0 receiver sends for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Normative statement ids, e.g. `["MQTT-3.3.1-4"]`, in the numbering of
    /// the version being decoded.
    pub statements: &'static [&'static str],
    /// The section of the specification that states the rule, e.g. `"3.3.1.2"`.
    pub section: &'static str,
    /// The reason code an MQTT 5.0 receiver sends in DISCONNECT or CONNACK.
    /// MQTT 3.1.1 has none: the receiver closes the connection (MQTT-4.8.0-1).
    pub reason_code: ReasonCode,
}

impl Violation {
    pub(crate) const fn new(
        kind: ErrorKind,
        statements: &'static [&'static str],
        section: &'static str,
        reason_code: ReasonCode,
    ) -> Self {
        Violation {
            kind,
            statements,
            section,
            reason_code,
        }
    }

    /// A Malformed Packet (0x81) rule.
    pub(crate) const fn malformed(
        kind: ErrorKind,
        statements: &'static [&'static str],
        section: &'static str,
    ) -> Self {
        Violation::new(kind, statements, section, ReasonCode::MALFORMED_PACKET)
    }

    /// A Protocol Error (0x82) rule.
    pub(crate) const fn protocol(
        kind: ErrorKind,
        statements: &'static [&'static str],
        section: &'static str,
    ) -> Self {
        Violation::new(kind, statements, section, ReasonCode::PROTOCOL_ERROR)
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [", self.kind)?;
        for s in self.statements {
            write!(f, "{s}, ")?;
        }
        write!(f, "section {}; reason {}]", self.section, self.reason_code)
    }
}

impl std::error::Error for Violation {}

/// An error decoding bytes from a peer.
pub type DecodeError = Violation;

/// An error encoding a packet: the packet would break a rule of the
/// specification, or does not exist in the chosen version. To send such
/// bytes on purpose, use [`crate::raw`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refusing to encode: {0}")]
pub struct EncodeError(pub Violation);

impl From<Violation> for EncodeError {
    fn from(v: Violation) -> Self {
        EncodeError(v)
    }
}

/// What is wrong with a packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The packet type nibble is reserved, or the packet does not exist in
    /// this protocol version (AUTH in 3.1.1).
    #[error("packet type {0} is not defined in this protocol version")]
    InvalidPacketType(u8),
    /// Reserved bits of the fixed header do not hold their listed value.
    #[error("{packet} fixed header flags are 0b{flags:04b}, which are reserved")]
    ReservedFlags {
        /// The packet.
        packet: PacketType,
        /// The four flag bits as received.
        flags: u8,
    },
    /// A Variable Byte Integer continues past its fourth byte.
    #[error("{field}: variable byte integer longer than 4 bytes")]
    VariableByteIntegerTooLong {
        /// The field being read.
        field: &'static str,
    },
    /// A Variable Byte Integer is not in its shortest form.
    #[error("{field}: variable byte integer not minimally encoded")]
    NonMinimalVariableByteInteger {
        /// The field being read.
        field: &'static str,
    },
    /// The packet is larger than the receiver's Maximum Packet Size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge {
        /// Total size in bytes (fixed header included).
        size: u64,
        /// The limit.
        max: u32,
    },
    /// The Remaining Length ends inside a field.
    #[error("{packet}: remaining length ends inside {field}")]
    Truncated {
        /// The packet.
        packet: PacketType,
        /// The field that did not fit.
        field: &'static str,
    },
    /// Bytes remain after the last field of the packet.
    #[error("{packet}: {extra} bytes after the last field")]
    TrailingBytes {
        /// The packet.
        packet: PacketType,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A UTF-8 string is ill-formed (encoded surrogates included).
    #[error("{field}: ill-formed UTF-8")]
    InvalidUtf8 {
        /// The field being read.
        field: &'static str,
    },
    /// A UTF-8 string contains U+0000.
    #[error("{field}: contains U+0000")]
    NullCharacter {
        /// The field being read.
        field: &'static str,
    },
    /// A string or binary field is longer than 65,535 bytes.
    #[error("{field}: {len} bytes, more than 65,535")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// The packet is longer than a Remaining Length can express.
    #[error("remaining length {0} exceeds 268,435,455")]
    RemainingLengthTooLarge(usize),
    /// CONNECT's protocol name is not "MQTT".
    #[error("protocol name {0:?} is not \"MQTT\"")]
    InvalidProtocolName(String),
    /// CONNECT's protocol level is not one this codec speaks.
    #[error("protocol level {0} is not supported")]
    UnsupportedProtocolLevel(u8),
    /// CONNECT's reserved flag (bit 0) is set.
    #[error("CONNECT reserved flag is set")]
    ConnectReservedFlag,
    /// Will QoS is non-zero while the Will Flag is 0.
    #[error("will QoS {0} without the will flag")]
    WillQosWithoutWill(u8),
    /// Will Retain is set while the Will Flag is 0.
    #[error("will retain without the will flag")]
    WillRetainWithoutWill,
    /// Will QoS is 3.
    #[error("will QoS is 3")]
    InvalidWillQos,
    /// MQTT 3.1.1: the Password Flag without the User Name Flag.
    #[error("password flag without user name flag")]
    PasswordWithoutUsername,
    /// PUBLISH has both QoS bits set.
    #[error("PUBLISH QoS is 3")]
    InvalidQos,
    /// PUBLISH at QoS 0 has the DUP flag set.
    #[error("PUBLISH at QoS 0 has DUP set")]
    DupOnQos0,
    /// A Topic Name contains `+` or `#`.
    #[error("topic name {0:?} contains a wildcard")]
    TopicNameHasWildcard(String),
    /// A Topic Name is empty (and, in 5.0, no Topic Alias stands in for it).
    #[error("topic name is empty")]
    EmptyTopicName,
    /// A Packet Identifier that must be non-zero is zero.
    #[error("{0}: packet identifier is 0")]
    ZeroPacketId(PacketType),
    /// A QoS 0 PUBLISH given a packet identifier (encode only).
    #[error("PUBLISH at QoS 0 given packet identifier {0}")]
    UnexpectedPacketId(u16),
    /// SUBSCRIBE or UNSUBSCRIBE with no topic filter.
    #[error("{0} carries no topic filter")]
    NoTopicFilters(PacketType),
    /// SUBACK or UNSUBACK (5.0) with no reason code.
    #[error("{0} carries no reason code")]
    NoReasonCodes(PacketType),
    /// Reserved bits of a SUBSCRIBE options byte are set.
    #[error("subscription options 0x{0:02X} have reserved bits set")]
    SubscriptionOptionsReserved(u8),
    /// Requested QoS 3 in SUBSCRIBE.
    #[error("requested QoS is 3")]
    InvalidRequestedQos,
    /// Retain Handling 3 in SUBSCRIBE.
    #[error("retain handling is 3")]
    InvalidRetainHandling,
    /// A Topic Filter breaks the wildcard or length rules.
    #[error("topic filter {filter:?}: {problem}")]
    InvalidTopicFilter {
        /// The filter.
        filter: String,
        /// Which rule it breaks.
        problem: &'static str,
    },
    /// A `$share/` filter is not `$share/{ShareName}/{filter}`.
    #[error("shared subscription {filter:?}: {problem}")]
    InvalidSharedSubscription {
        /// The filter.
        filter: String,
        /// Which rule it breaks.
        problem: &'static str,
    },
    /// No Local set on a shared subscription.
    #[error("no local set on shared subscription {0:?}")]
    NoLocalOnSharedSubscription(String),
    /// A property identifier MQTT 5.0 does not define.
    #[error("unknown property identifier 0x{0:02X}")]
    UnknownProperty(u8),
    /// A property the packet may not carry.
    #[error("property {name} (0x{id:02X}) is not allowed in {context}")]
    PropertyNotAllowed {
        /// Identifier.
        id: u8,
        /// Property name.
        name: &'static str,
        /// The packet or Will properties.
        context: &'static str,
    },
    /// A property that may appear once appears again.
    #[error("property {name} (0x{id:02X}) appears more than once")]
    DuplicateProperty {
        /// Identifier.
        id: u8,
        /// Property name.
        name: &'static str,
    },
    /// A property value out of its range.
    #[error("property {name} (0x{id:02X}) has value {value}: {problem}")]
    PropertyValue {
        /// Identifier.
        id: u8,
        /// Property name.
        name: &'static str,
        /// The value.
        value: u32,
        /// What the rule allows.
        problem: &'static str,
    },
    /// A Response Topic contains a wildcard.
    #[error("response topic {0:?} contains a wildcard")]
    ResponseTopicHasWildcard(String),
    /// Authentication Data without Authentication Method.
    #[error("authentication data without authentication method")]
    AuthDataWithoutMethod,
    /// AUTH other than the empty Success form without an Authentication
    /// Method (§3.15.2.2.2).
    #[error("AUTH without authentication method")]
    AuthMethodMissing,
    /// A reason code the packet may not carry.
    #[error("{packet}: reason code 0x{code:02X} is not allowed")]
    InvalidReasonCode {
        /// The packet.
        packet: PacketType,
        /// The code.
        code: u8,
    },
    /// CONNACK acknowledge flags bits 7-1 set.
    #[error("CONNACK flags 0x{0:02X} have reserved bits set")]
    ConnackFlagsReserved(u8),
    /// CONNACK reports an error and Session Present.
    #[error("CONNACK reports failure 0x{0:02X} with session present set")]
    SessionPresentOnError(u8),
    /// A packet arrived before CONNECT told the decoder which version to use.
    #[error("{0} before CONNECT: protocol version unknown")]
    VersionUnknown(PacketType),
    /// MQTT 3.1.1 has no properties (encode only).
    #[error("{0}: properties given for MQTT 3.1.1")]
    PropertiesInV311(PacketType),
    /// MQTT 3.1.1 has no reason code in this packet (encode only).
    #[error("{packet}: reason code {code:?} cannot be sent in MQTT 3.1.1")]
    ReasonCodeInV311 {
        /// The packet.
        packet: PacketType,
        /// The code.
        code: ReasonCode,
    },
}
