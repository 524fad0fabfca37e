//! Table 2-4 of MQTT 5.0 (§2.2.2.2): every property's identifier, name,
//! the packets allowed to carry it, and the section that defines it there.

/// Where a property list sits: each packet, and the Will Properties of
/// CONNECT (§3.1.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    /// CONNECT variable header.
    Connect,
    /// Will Properties in the CONNECT payload.
    Will,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK.
    PubAck,
    /// PUBREC.
    PubRec,
    /// PUBREL.
    PubRel,
    /// PUBCOMP.
    PubComp,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK.
    SubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

impl PropertyContext {
    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// Name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            PropertyContext::Connect => "CONNECT",
            PropertyContext::Will => "Will Properties",
            PropertyContext::ConnAck => "CONNACK",
            PropertyContext::Publish => "PUBLISH",
            PropertyContext::PubAck => "PUBACK",
            PropertyContext::PubRec => "PUBREC",
            PropertyContext::PubRel => "PUBREL",
            PropertyContext::PubComp => "PUBCOMP",
            PropertyContext::Subscribe => "SUBSCRIBE",
            PropertyContext::SubAck => "SUBACK",
            PropertyContext::Unsubscribe => "UNSUBSCRIBE",
            PropertyContext::UnsubAck => "UNSUBACK",
            PropertyContext::Disconnect => "DISCONNECT",
            PropertyContext::Auth => "AUTH",
        }
    }
}

use PropertyContext as Ctx;

const C: u16 = Ctx::Connect.bit();
const W: u16 = Ctx::Will.bit();
const K: u16 = Ctx::ConnAck.bit();
const P: u16 = Ctx::Publish.bit();
const ACKS: u16 = Ctx::PubAck.bit() | Ctx::PubRec.bit() | Ctx::PubRel.bit() | Ctx::PubComp.bit();
const S: u16 = Ctx::Subscribe.bit();
const B: u16 = Ctx::SubAck.bit();
const U: u16 = Ctx::Unsubscribe.bit();
const N: u16 = Ctx::UnsubAck.bit();
const D: u16 = Ctx::Disconnect.bit();
const H: u16 = Ctx::Auth.bit();

/// Identifier, name and the contexts allowed to carry it (Table 2-4).
pub(crate) const TABLE: &[(u8, &str, u16)] = &[
    (0x01, "Payload Format Indicator", P | W),
    (0x02, "Message Expiry Interval", P | W),
    (0x03, "Content Type", P | W),
    (0x08, "Response Topic", P | W),
    (0x09, "Correlation Data", P | W),
    (0x0B, "Subscription Identifier", P | S),
    (0x11, "Session Expiry Interval", C | K | D),
    (0x12, "Assigned Client Identifier", K),
    (0x13, "Server Keep Alive", K),
    (0x15, "Authentication Method", C | K | H),
    (0x16, "Authentication Data", C | K | H),
    (0x17, "Request Problem Information", C),
    (0x18, "Will Delay Interval", W),
    (0x19, "Request Response Information", C),
    (0x1A, "Response Information", K),
    (0x1C, "Server Reference", K | D),
    (0x1F, "Reason String", K | ACKS | B | N | D | H),
    (0x21, "Receive Maximum", C | K),
    (0x22, "Topic Alias Maximum", C | K),
    (0x23, "Topic Alias", P),
    (0x24, "Maximum QoS", K),
    (0x25, "Retain Available", K),
    (
        0x26,
        "User Property",
        C | W | K | P | ACKS | S | B | U | N | D | H,
    ),
    (0x27, "Maximum Packet Size", C | K),
    (0x28, "Wildcard Subscription Available", K),
    (0x29, "Subscription Identifier Available", K),
    (0x2A, "Shared Subscription Available", K),
];

/// The name of a property identifier, if MQTT 5.0 defines it.
pub fn property_name(id: u8) -> Option<&'static str> {
    TABLE.iter().find(|e| e.0 == id).map(|e| e.1)
}

/// Row of [`TABLE`] for each identifier below 0x80 (`u8::MAX`: none), so
/// that decoding a property does not scan the table.
const INDEX: [u8; 0x80] = {
    let mut index = [u8::MAX; 0x80];
    let mut row = 0;
    while row < TABLE.len() {
        index[TABLE[row].0 as usize] = row as u8;
        row += 1;
    }
    index
};

pub(crate) fn lookup(id: u8) -> Option<(&'static str, u16)> {
    let &row = INDEX.get(usize::from(id))?;
    TABLE.get(usize::from(row)).map(|e| (e.1, e.2))
}

/// The section that defines property `id` where `ctx` carries it: the rules
/// on its value and on repeating it are stated there, not in §2.2.2.2.
pub(crate) fn property_section(id: u8, ctx: PropertyContext) -> &'static str {
    use PropertyContext as X;
    match (id, ctx) {
        (0x01, X::Will) => "3.1.3.2.3",
        (0x01, _) => "3.3.2.3.2",
        (0x02, X::Will) => "3.1.3.2.4",
        (0x02, _) => "3.3.2.3.3",
        (0x03, X::Will) => "3.1.3.2.5",
        (0x03, _) => "3.3.2.3.9",
        (0x08, X::Will) => "3.1.3.2.6",
        (0x08, _) => "3.3.2.3.5",
        (0x09, X::Will) => "3.1.3.2.7",
        (0x09, _) => "3.3.2.3.6",
        (0x0B, X::Subscribe) => "3.8.2.1.2",
        (0x0B, _) => "3.3.2.3.8",
        (0x11, X::Connect) => "3.1.2.11.2",
        (0x11, X::Disconnect) => "3.14.2.2.2",
        (0x11, _) => "3.2.2.3.2",
        (0x12, _) => "3.2.2.3.7",
        (0x13, _) => "3.2.2.3.14",
        (0x15, X::Connect) => "3.1.2.11.9",
        (0x15, X::Auth) => "3.15.2.2.2",
        (0x15, _) => "3.2.2.3.17",
        (0x16, X::Connect) => "3.1.2.11.10",
        (0x16, X::Auth) => "3.15.2.2.3",
        (0x16, _) => "3.2.2.3.18",
        (0x17, _) => "3.1.2.11.7",
        (0x18, _) => "3.1.3.2.2",
        (0x19, _) => "3.1.2.11.6",
        (0x1A, _) => "3.2.2.3.15",
        (0x1C, X::Disconnect) => "3.14.2.2.5",
        (0x1C, _) => "3.2.2.3.16",
        (0x1F, X::PubAck) => "3.4.2.2.2",
        (0x1F, X::PubRec) => "3.5.2.2.2",
        (0x1F, X::PubRel) => "3.6.2.2.2",
        (0x1F, X::PubComp) => "3.7.2.2.2",
        (0x1F, X::SubAck) => "3.9.2.1.2",
        (0x1F, X::UnsubAck) => "3.11.2.1.2",
        (0x1F, X::Disconnect) => "3.14.2.2.3",
        (0x1F, X::Auth) => "3.15.2.2.4",
        (0x1F, _) => "3.2.2.3.9",
        (0x21, X::Connect) => "3.1.2.11.3",
        (0x21, _) => "3.2.2.3.3",
        (0x22, X::Connect) => "3.1.2.11.5",
        (0x22, _) => "3.2.2.3.8",
        (0x23, _) => "3.3.2.3.4",
        (0x24, _) => "3.2.2.3.4",
        (0x25, _) => "3.2.2.3.5",
        (0x27, X::Connect) => "3.1.2.11.4",
        (0x27, _) => "3.2.2.3.6",
        (0x28, _) => "3.2.2.3.11",
        (0x29, _) => "3.2.2.3.12",
        (0x2A, _) => "3.2.2.3.13",
        _ => "2.2.2.2",
    }
}
