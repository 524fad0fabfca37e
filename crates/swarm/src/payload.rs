//! The header every load message carries at the front of its payload, so
//! that a subscriber can account for it and time it without any shared
//! state: publisher id, sequence number, the QoS it was published at, the
//! intended send time and the actual send time.
//!
//! Layout (big endian, 32 bytes): magic `b"MS"`, version 1, QoS, publisher
//! (u32), sequence (u64), intended time (u64, ns since the Unix epoch),
//! actual send time (u64, ns since the Unix epoch).

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes of the header.
pub const HEADER_LEN: usize = 32;
const MAGIC: [u8; 2] = *b"MS";
const FORMAT: u8 = 1;

/// What a payload header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The QoS the message was published at.
    pub qos: u8,
    /// The publisher (its index in the profile).
    pub publisher: u32,
    /// The publisher's sequence number, from 0.
    pub seq: u64,
    /// When the schedule meant it to be sent (ns since the Unix epoch).
    pub intended_ns: u64,
    /// When it was handed to the socket (ns since the Unix epoch).
    pub sent_ns: u64,
}

impl Header {
    /// Writes the header and `size - HEADER_LEN` bytes of `filler` (repeated
    /// as needed) into a payload of `size` bytes.
    pub fn payload(&self, size: usize, filler: &[u8], out: &mut BytesMut) -> Bytes {
        let size = size.max(HEADER_LEN);
        out.reserve(size);
        out.put_slice(&MAGIC);
        out.put_u8(FORMAT);
        out.put_u8(self.qos);
        out.put_u32(self.publisher);
        out.put_u64(self.seq);
        out.put_u64(self.intended_ns);
        out.put_u64(self.sent_ns);
        let mut left = size - HEADER_LEN;
        while left > 0 && !filler.is_empty() {
            let n = left.min(filler.len());
            out.put_slice(&filler[..n]);
            left -= n;
        }
        out.put_bytes(0, left);
        out.split().freeze()
    }

    /// Reads a header; `None` for a payload that is not a swarm message.
    pub fn parse(payload: &[u8]) -> Option<Header> {
        let h = payload.get(..HEADER_LEN)?;
        if h[..2] != MAGIC || h[2] != FORMAT || h[3] > 2 {
            return None;
        }
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[i..i + 8]);
            u64::from_be_bytes(b)
        };
        Some(Header {
            qos: h[3],
            publisher: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
            seq: u64_at(8),
            intended_ns: u64_at(16),
            sent_ns: u64_at(24),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn header_roundtrips_at_any_size(
            qos in 0u8..3, publisher: u32, seq: u64, intended_ns: u64, sent_ns: u64,
            size in 0usize..300,
        ) {
            let h = Header { qos, publisher, seq, intended_ns, sent_ns };
            let mut buf = BytesMut::new();
            let p = h.payload(size, b"xyz", &mut buf);
            prop_assert_eq!(p.len(), size.max(HEADER_LEN));
            prop_assert_eq!(Header::parse(&p), Some(h));
        }
    }

    #[test]
    fn foreign_payloads_are_not_headers() {
        assert_eq!(Header::parse(b"hello"), None);
        assert_eq!(Header::parse(&[0u8; 40]), None);
    }
}
