//! Control packets (MQTT 3.1.1 §2-3, MQTT 5.0 §2-3): one file per packet
//! type, the fixed header and the dispatch between them here.

mod ack;
mod auth;
mod checks;
mod connack;
mod connect;
mod disconnect;
mod kind;
pub(crate) mod publish;
mod reason_tail;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use ack::PubResponse;
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

pub(crate) use checks::{check_fixed_flags, check_no_properties, check_packet_id, check_reason};
pub use kind::PacketType;

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{EncodeError, ErrorKind, Violation};
use crate::version::ProtocolVersion;
use crate::wire::{put_vbi, vbi_len, Reader, VBI_MAX};

/// A decoded control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Packet {
    /// CONNECT (§3.1); boxed, being by far the largest.
    Connect(Box<Connect>),
    /// CONNACK (§3.2).
    ConnAck(ConnAck),
    /// PUBLISH (§3.3).
    Publish(Publish),
    /// PUBACK (§3.4).
    PubAck(PubResponse),
    /// PUBREC (§3.5).
    PubRec(PubResponse),
    /// PUBREL (§3.6).
    PubRel(PubResponse),
    /// PUBCOMP (§3.7).
    PubComp(PubResponse),
    /// SUBSCRIBE (§3.8).
    Subscribe(Subscribe),
    /// SUBACK (§3.9).
    SubAck(SubAck),
    /// UNSUBSCRIBE (§3.10).
    Unsubscribe(Unsubscribe),
    /// UNSUBACK (§3.11).
    UnsubAck(UnsubAck),
    /// PINGREQ (§3.12).
    PingReq,
    /// PINGRESP (§3.13).
    PingResp,
    /// DISCONNECT (§3.14).
    Disconnect(Disconnect),
    /// AUTH (§3.15, 5.0 only).
    Auth(Auth),
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// The version a packet is encoded in: CONNECT carries its own.
    fn effective_version(&self, version: ProtocolVersion) -> ProtocolVersion {
        match self {
            Packet::Connect(c) => c.protocol_version,
            _ => version,
        }
    }

    fn flags(&self) -> u8 {
        match self {
            Packet::Publish(p) => p.flags(),
            other => other.packet_type().fixed_flags(),
        }
    }

    fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        match self {
            Packet::Connect(p) => p.check(),
            Packet::ConnAck(p) => p.check(v),
            Packet::Publish(p) => p.check(v),
            Packet::PubAck(p) => p.check(v, PacketType::PubAck),
            Packet::PubRec(p) => p.check(v, PacketType::PubRec),
            Packet::PubRel(p) => p.check(v, PacketType::PubRel),
            Packet::PubComp(p) => p.check(v, PacketType::PubComp),
            Packet::Subscribe(p) => p.check(v),
            Packet::SubAck(p) => p.check(v),
            Packet::Unsubscribe(p) => p.check(v),
            Packet::UnsubAck(p) => p.check(v),
            Packet::PingReq | Packet::PingResp => Ok(()),
            Packet::Disconnect(p) => p.check(v),
            Packet::Auth(p) => p.check(v),
        }
    }

    fn body_len(&self, v: ProtocolVersion) -> usize {
        match self {
            Packet::Connect(p) => p.body_len(),
            Packet::ConnAck(p) => p.body_len(v),
            Packet::Publish(p) => p.body_len(v),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.body_len(v)
            }
            Packet::Subscribe(p) => p.body_len(v),
            Packet::SubAck(p) => p.body_len(v),
            Packet::Unsubscribe(p) => p.body_len(v),
            Packet::UnsubAck(p) => p.body_len(v),
            Packet::PingReq | Packet::PingResp => 0,
            Packet::Disconnect(p) => p.body_len(v),
            Packet::Auth(p) => p.body_len(v),
        }
    }

    fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        match self {
            Packet::Connect(p) => p.encode_body(out),
            Packet::ConnAck(p) => p.encode_body(v, out),
            Packet::Publish(p) => p.encode_body(v, out),
            Packet::PubAck(p) | Packet::PubRec(p) | Packet::PubRel(p) | Packet::PubComp(p) => {
                p.encode_body(v, out)
            }
            Packet::Subscribe(p) => p.encode_body(v, out),
            Packet::SubAck(p) => p.encode_body(v, out),
            Packet::Unsubscribe(p) => p.encode_body(v, out),
            Packet::UnsubAck(p) => p.encode_body(v, out),
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(p) => p.encode_body(v, out),
            Packet::Auth(p) => p.encode_body(v, out),
        }
    }

    /// Total encoded size in `version`, fixed header included.
    pub fn encoded_len(&self, version: ProtocolVersion) -> usize {
        let body = self.body_len(self.effective_version(version));
        1 + vbi_len(body.min(VBI_MAX as usize) as u32) + body
    }

    /// Appends the packet to `out` in `version` (CONNECT uses its own
    /// `protocol_version`). The exact length is computed first and reserved
    /// once. Refuses a packet that breaks a rule of the specification.
    pub fn encode(&self, version: ProtocolVersion, out: &mut BytesMut) -> Result<(), EncodeError> {
        let v = self.effective_version(version);
        if v == ProtocolVersion::V311 && self.packet_type() == PacketType::Auth {
            return Err(Violation::malformed(
                ErrorKind::InvalidPacketType(PacketType::Auth as u8),
                &[],
                "2.2.1",
            )
            .into());
        }
        self.check(v)?;
        let body = self.body_len(v);
        if body > VBI_MAX as usize {
            return Err(Violation::malformed(
                ErrorKind::RemainingLengthTooLarge(body),
                &[],
                v.pick("2.2.3", "2.1.4"),
            )
            .into());
        }
        let total = 1 + vbi_len(body as u32) + body;
        out.reserve(total);
        let start = out.len();
        out.put_u8(((self.packet_type() as u8) << 4) | self.flags());
        put_vbi(out, body as u32);
        self.encode_body(v, out);
        debug_assert_eq!(out.len() - start, total, "{:?}", self.packet_type());
        Ok(())
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self, version: ProtocolVersion) -> Result<Bytes, EncodeError> {
        let mut out = BytesMut::new();
        self.encode(version, &mut out)?;
        Ok(out.freeze())
    }

    /// Decodes a body whose fixed header has been read into `out`. CONNECT
    /// is decoded in the version it names; everything else in `version`.
    ///
    /// PUBLISH, the acknowledgements and SUBSCRIBE are decoded in place:
    /// with its `Properties` a packet is hundreds of bytes, and moving it
    /// from one stack frame to the next costs more than decoding it.
    pub(crate) fn decode_body(
        ptype: PacketType,
        flags: u8,
        frame: &Bytes,
        body_start: usize,
        version: ProtocolVersion,
        out: &mut Packet,
    ) -> Result<(), Violation> {
        let mut r = Reader::new(frame, body_start, ptype, version);
        match ptype {
            PacketType::Connect => *out = Packet::Connect(Box::new(Connect::decode(&mut r)?)),
            PacketType::ConnAck => *out = Packet::ConnAck(ConnAck::decode(&mut r)?),
            PacketType::Publish => {
                *out = Packet::Publish(Publish::default());
                if let Packet::Publish(p) = out {
                    p.decode_into(&mut r, flags)?;
                }
            }
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp => {
                let p = PubResponse::default();
                *out = match ptype {
                    PacketType::PubAck => Packet::PubAck(p),
                    PacketType::PubRec => Packet::PubRec(p),
                    PacketType::PubRel => Packet::PubRel(p),
                    _ => Packet::PubComp(p),
                };
                if let Packet::PubAck(p)
                | Packet::PubRec(p)
                | Packet::PubRel(p)
                | Packet::PubComp(p) = out
                {
                    p.decode_into(&mut r)?;
                }
            }
            PacketType::Subscribe => {
                *out = Packet::Subscribe(Subscribe::default());
                if let Packet::Subscribe(p) = out {
                    p.decode_into(&mut r)?;
                }
            }
            PacketType::SubAck => *out = Packet::SubAck(SubAck::decode(&mut r)?),
            PacketType::Unsubscribe => *out = Packet::Unsubscribe(Unsubscribe::decode(&mut r)?),
            PacketType::UnsubAck => *out = Packet::UnsubAck(UnsubAck::decode(&mut r)?),
            PacketType::PingReq => *out = Packet::PingReq,
            PacketType::PingResp => *out = Packet::PingResp,
            PacketType::Disconnect => *out = Packet::Disconnect(Disconnect::decode(&mut r)?),
            PacketType::Auth => *out = Packet::Auth(Auth::decode(&mut r)?),
        }
        r.finish()
    }
}
