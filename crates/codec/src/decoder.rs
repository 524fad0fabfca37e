//! Streaming decoder: turns a growing byte buffer into packets, one at a
//! time, without ever allocating for bytes that have not arrived.

use bytes::{Buf, BytesMut};

use crate::error::{DecodeError, ErrorKind, Violation};
use crate::packet::{check_fixed_flags, Packet, PacketType};
use crate::version::ProtocolVersion;
use crate::wire::{read_vbi, VbiRead};

mod fast;

/// The largest packet MQTT can express: 1 + 4 + 268,435,455 bytes.
pub const MAX_POSSIBLE_PACKET_SIZE: u32 = 268_435_460;

/// Decodes packets from a byte stream in the connection's negotiated
/// version. A server-side decoder starts without a version and learns it
/// from CONNECT (§3.1.2.2).
///
/// After an error the connection must be closed: the stream position is
/// not meaningful any more (MQTT-4.8.0-1, MQTT-4.13.1-1).
#[derive(Debug, Clone)]
pub struct Decoder {
    version: Option<ProtocolVersion>,
    max_packet_size: u32,
}

impl Decoder {
    /// A decoder for a connection whose version is known (a client's).
    pub fn new(version: ProtocolVersion) -> Self {
        Decoder {
            version: Some(version),
            max_packet_size: MAX_POSSIBLE_PACKET_SIZE,
        }
    }

    /// A decoder for the server side of a new connection: only CONNECT can
    /// be decoded until it has set the version.
    pub fn server() -> Self {
        Decoder {
            version: None,
            max_packet_size: MAX_POSSIBLE_PACKET_SIZE,
        }
    }

    /// Sets the largest packet (fixed header included) this receiver
    /// accepts; a larger one is rejected as soon as its fixed header is read,
    /// before any of its body is buffered.
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The negotiated version, once known.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    /// Sets the version (for a client, once it has sent CONNECT).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = Some(version);
    }

    /// The maximum packet size in force.
    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Decodes the next packet from the front of `buf`.
    ///
    /// Returns `Ok(None)` and consumes nothing while the packet is
    /// incomplete; on success the packet's bytes are split off `buf` and the
    /// packet's strings and payload share them. Never reserves memory for a
    /// claimed length.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(version) = self.version else {
            return self.decode_learning(buf);
        };
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let (nibble, flags) = (first >> 4, first & 0x0F);
        let Some(ptype) = PacketType::from_nibble(nibble, Some(version)) else {
            return Err(invalid_type(nibble, Some(version)));
        };
        check_fixed_flags(ptype, flags, version)?;
        // A Remaining Length below 128 is one byte: most packets.
        let (remaining, used) = match buf.get(1) {
            Some(&len) if len < 0x80 => (u32::from(len), 1),
            _ => match read_vbi(&buf[1..], Some(version), "remaining length")? {
                VbiRead::Done(n, used) => (n, used),
                VbiRead::Incomplete => return Ok(None),
            },
        };
        let total = 1 + used as u64 + u64::from(remaining);
        if total > u64::from(self.max_packet_size) {
            return Err(too_large(total, self.max_packet_size, self.version));
        }
        let total = total as usize;
        if buf.len() < total {
            return Ok(None);
        }
        let body_start = 1 + used;
        if matches!(
            ptype,
            PacketType::PubAck | PacketType::PubRec | PacketType::PubRel | PacketType::PubComp
        ) {
            if let Some(packet) = fast::bare_ack(ptype, &buf[body_start..total]) {
                buf.advance(total);
                return Ok(Some(packet));
            }
        }
        let mut frame = buf.split_to(total).freeze();
        match ptype {
            PacketType::Publish => match fast::publish(frame, flags, body_start, version) {
                Ok(p) => return Ok(Some(Packet::Publish(p))),
                Err(back) => frame = back,
            },
            PacketType::Subscribe => match fast::subscribe(frame, body_start, version) {
                Ok(s) => return Ok(Some(Packet::Subscribe(s))),
                Err(fast::GiveUp::Error(e)) => return Err(e),
                Err(fast::GiveUp::General(back)) => frame = back,
            },
            _ => {}
        }
        // Decoded in place, then moved once (see decode_body).
        let mut packet = Packet::PingReq;
        Packet::decode_body(ptype, flags, &frame, body_start, version, &mut packet)?;
        Ok(Some(packet))
    }

    /// [`Decoder::decode`] on the server side before CONNECT has set the
    /// version.
    #[cold]
    fn decode_learning(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let (nibble, flags) = (first >> 4, first & 0x0F);
        let Some(ptype) = PacketType::from_nibble(nibble, None) else {
            return Err(invalid_type(nibble, None));
        };
        if ptype != PacketType::Connect {
            return Err(Violation::protocol(
                ErrorKind::VersionUnknown(ptype),
                &["MQTT-3.1.0-1"],
                "3.1",
            ));
        }
        // The version is learnt from CONNECT's Protocol Level, inside the
        // body: CONNECT's fixed-header flags are checked once the body is
        // here, so that the error cites the client's version's statements.
        let (remaining, used) = match read_vbi(&buf[1..], None, "remaining length")? {
            VbiRead::Done(n, used) => (n, used),
            VbiRead::Incomplete => return Ok(None),
        };
        let total = 1 + used as u64 + u64::from(remaining);
        if total > u64::from(self.max_packet_size) {
            return Err(too_large(total, self.max_packet_size, None));
        }
        let total = total as usize;
        if buf.len() < total {
            return Ok(None);
        }
        let claimed = claimed_version(&buf[1 + used..total]);
        check_fixed_flags(ptype, flags, claimed)?;
        // Read without a version, the Remaining Length was not checked
        // for minimal encoding, which 5.0 requires (MQTT-1.5.5-1).
        read_vbi(&buf[1..], Some(claimed), "remaining length")?;
        let frame = buf.split_to(total).freeze();
        let mut packet = Packet::PingReq;
        Packet::decode_body(
            ptype,
            flags,
            &frame,
            1 + used,
            ProtocolVersion::V5,
            &mut packet,
        )?;
        if let Packet::Connect(c) = &packet {
            self.version = Some(c.protocol_version);
        }
        Ok(Some(packet))
    }
}

#[cold]
fn invalid_type(nibble: u8, version: Option<ProtocolVersion>) -> Violation {
    Violation::malformed(
        ErrorKind::InvalidPacketType(nibble),
        &[],
        version.map_or("2.2.1", |v| v.pick("2.2.1", "2.1.2")),
    )
}

/// The version a CONNECT body claims by its Protocol Level (the byte after
/// the Protocol Name), 5.0 unless it says 3.1.1.
fn claimed_version(body: &[u8]) -> ProtocolVersion {
    let level = body
        .get(..2)
        .and_then(|n| body.get(2 + usize::from(u16::from_be_bytes([n[0], n[1]]))));
    match level {
        Some(&level) if level == ProtocolVersion::V311.level() => ProtocolVersion::V311,
        _ => ProtocolVersion::V5,
    }
}

#[cold]
fn too_large(size: u64, max: u32, v: Option<ProtocolVersion>) -> Violation {
    Violation::new(
        ErrorKind::PacketTooLarge { size, max },
        match v {
            Some(ProtocolVersion::V5) => &["MQTT-3.1.2-24", "MQTT-3.2.2-15"],
            _ => &[],
        },
        v.map_or("2.2.3", |v| v.pick("2.2.3", "3.1.2.11.4")),
        crate::ReasonCode::PACKET_TOO_LARGE,
    )
}
