//! Deliberately invalid bytes, for tests that check how a broker treats a
//! packet a strict encoder refuses to write: lying Remaining Lengths,
//! reserved bits, broken strings, duplicated properties.
//!
//! Start from a valid packet and patch it ([`RawPacket::from_packet`]), or
//! build one field by field.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::EncodeError;
use crate::packet::Packet;
use crate::version::ProtocolVersion;
use crate::wire::{put_vbi, read_vbi, VbiRead};

/// A packet as bytes: first byte, Remaining Length (computed unless
/// overridden) and body, each settable to anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket {
    first: u8,
    remaining_length: Option<Vec<u8>>,
    body: BytesMut,
}

impl RawPacket {
    /// An empty packet with the given type nibble and flag bits (any
    /// values; both are masked to four bits).
    pub fn new(packet_type: u8, flags: u8) -> Self {
        RawPacket {
            first: ((packet_type & 0x0F) << 4) | (flags & 0x0F),
            remaining_length: None,
            body: BytesMut::new(),
        }
    }

    /// The bytes of a valid packet, split into header and body for patching.
    pub fn from_packet(packet: &Packet, version: ProtocolVersion) -> Result<Self, EncodeError> {
        let bytes = packet.to_bytes(version)?;
        let used = match read_vbi(&bytes[1..], None, "remaining length") {
            Ok(VbiRead::Done(_, used)) => used,
            _ => unreachable!("the encoder writes a valid remaining length"),
        };
        Ok(RawPacket {
            first: bytes[0],
            remaining_length: None,
            body: BytesMut::from(&bytes[1 + used..]),
        })
    }

    /// Replaces the four flag bits.
    pub fn flags(mut self, flags: u8) -> Self {
        self.first = (self.first & 0xF0) | (flags & 0x0F);
        self
    }

    /// Claims a Remaining Length other than the body's.
    pub fn remaining_length(mut self, claimed: u32) -> Self {
        let mut b = BytesMut::new();
        put_vbi(&mut b, claimed.min(crate::wire::VBI_MAX));
        self.remaining_length = Some(b.to_vec());
        self
    }

    /// Writes the Remaining Length as these exact bytes (for example a
    /// five-byte or non-minimal encoding).
    pub fn remaining_length_bytes(mut self, bytes: &[u8]) -> Self {
        self.remaining_length = Some(bytes.to_vec());
        self
    }

    /// Appends a byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.body.put_u8(v);
        self
    }

    /// Appends a big-endian two-byte integer.
    pub fn u16(mut self, v: u16) -> Self {
        self.body.put_u16(v);
        self
    }

    /// Appends a big-endian four-byte integer.
    pub fn u32(mut self, v: u32) -> Self {
        self.body.put_u32(v);
        self
    }

    /// Appends a Variable Byte Integer in its minimal form.
    pub fn vbi(mut self, v: u32) -> Self {
        put_vbi(&mut self.body, v.min(crate::wire::VBI_MAX));
        self
    }

    /// Appends raw bytes.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.body.put_slice(b);
        self
    }

    /// Appends a two-byte length and the bytes, unvalidated (so it may hold
    /// ill-formed UTF-8 or U+0000). The length is truncated to 16 bits.
    pub fn string(mut self, s: &[u8]) -> Self {
        self.body.put_u16(s.len() as u16);
        self.body.put_slice(s);
        self
    }

    /// The body, to patch in place.
    pub fn body_mut(&mut self) -> &mut BytesMut {
        &mut self.body
    }

    /// The bytes to send.
    pub fn build(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(5 + self.body.len());
        out.put_u8(self.first);
        match &self.remaining_length {
            Some(rl) => out.put_slice(rl),
            None => put_vbi(
                &mut out,
                self.body.len().min(crate::wire::VBI_MAX as usize) as u32,
            ),
        }
        out.put_slice(&self.body);
        out.freeze()
    }
}
