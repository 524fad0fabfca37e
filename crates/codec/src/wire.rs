//! Data representations of §1.5 (3.1.1) and §1.5 (5.0): integers, Variable
//! Byte Integers, UTF-8 strings, binary data, read from a packet body that
//! is already complete in memory.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::PacketType;
use crate::reason::ReasonCode;
use crate::string::{MqttString, StringError};
use crate::version::ProtocolVersion;

/// The largest value a Variable Byte Integer holds (268,435,455).
pub const VBI_MAX: u32 = 268_435_455;

/// Bytes a Variable Byte Integer takes for `value`.
pub const fn vbi_len(value: u32) -> usize {
    if value < 128 {
        1
    } else if value < 16_384 {
        2
    } else if value < 2_097_152 {
        3
    } else {
        4
    }
}

/// Writes a Variable Byte Integer (`value` must be at most [`VBI_MAX`]).
pub(crate) fn put_vbi(out: &mut BytesMut, mut value: u32) {
    debug_assert!(value <= VBI_MAX);
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Outcome of reading a Variable Byte Integer from the start of a buffer.
pub(crate) enum VbiRead {
    /// Value and bytes used.
    Done(u32, usize),
    /// More bytes are needed.
    Incomplete,
}

/// Reads a Variable Byte Integer from the start of `buf`, checking the
/// 4-byte limit and, for MQTT 5.0, minimal encoding (MQTT-1.5.5-1).
pub(crate) fn read_vbi(
    buf: &[u8],
    version: Option<ProtocolVersion>,
    field: &'static str,
) -> Result<VbiRead, Violation> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            let used = i + 1;
            if used > 1 && byte == 0 && version == Some(ProtocolVersion::V5) {
                return Err(Violation::malformed(
                    ErrorKind::NonMinimalVariableByteInteger { field },
                    &["MQTT-1.5.5-1"],
                    "1.5.5",
                ));
            }
            return Ok(VbiRead::Done(value, used));
        }
    }
    if buf.len() >= 4 {
        Err(Violation::malformed(
            ErrorKind::VariableByteIntegerTooLong { field },
            &[],
            version.map_or("2.2.3", |v| v.pick("2.2.3", "1.5.5")),
        ))
    } else {
        Ok(VbiRead::Incomplete)
    }
}

/// A cursor over one packet's body. Slices it hands out share the packet's
/// buffer.
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
    pub(crate) packet: PacketType,
    pub(crate) version: ProtocolVersion,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(
        frame: &'a Bytes,
        start: usize,
        packet: PacketType,
        version: ProtocolVersion,
    ) -> Self {
        Reader {
            frame,
            pos: start,
            end: frame.len(),
            packet,
            version,
        }
    }

    /// Where the next read starts, from the start of the frame.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left in the current limit.
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.end
    }

    pub(crate) fn truncated(&self, field: &'static str) -> Violation {
        Violation::malformed(
            ErrorKind::Truncated {
                packet: self.packet,
                field,
            },
            &[],
            self.version.pick("2.2.3", "2.1.4"),
        )
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Violation> {
        if self.pos >= self.end {
            return Err(self.truncated(field));
        }
        let b = self.frame[self.pos];
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Violation> {
        if self.remaining() < 2 {
            return Err(self.truncated(field));
        }
        let v = u16::from_be_bytes([self.frame[self.pos], self.frame[self.pos + 1]]);
        self.pos += 2;
        Ok(v)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Violation> {
        if self.remaining() < 4 {
            return Err(self.truncated(field));
        }
        let b = &self.frame[self.pos..self.pos + 4];
        let v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        self.pos += 4;
        Ok(v)
    }

    /// A Variable Byte Integer; one byte (below 128) in the common case.
    #[inline]
    pub(crate) fn vbi(&mut self, field: &'static str) -> Result<u32, Violation> {
        if self.pos < self.end {
            let b = self.frame[self.pos];
            if b < 0x80 {
                self.pos += 1;
                return Ok(u32::from(b));
            }
        }
        self.vbi_long(field)
    }

    fn vbi_long(&mut self, field: &'static str) -> Result<u32, Violation> {
        match read_vbi(&self.frame[self.pos..self.end], Some(self.version), field)? {
            VbiRead::Done(v, used) => {
                self.pos += used;
                Ok(v)
            }
            VbiRead::Incomplete => Err(self.truncated(field)),
        }
    }

    /// `n` bytes, shared with the frame.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<Bytes, Violation> {
        if self.remaining() < n {
            return Err(self.truncated(field));
        }
        let b = self.frame.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Everything left in the current limit.
    #[inline]
    pub(crate) fn rest(&mut self) -> Bytes {
        let b = self.frame.slice(self.pos..self.end);
        self.pos = self.end;
        b
    }

    /// The whole frame, shared; reading ends here.
    #[inline]
    pub(crate) fn whole_frame(&mut self) -> Bytes {
        self.pos = self.end;
        self.frame.clone()
    }

    /// Binary Data: a two-byte length then that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, Violation> {
        let len = self.u16(field)? as usize;
        self.take(len, field)
    }

    /// A UTF-8 Encoded String, validated (MQTT-1.5.3-1/-2, MQTT-1.5.4-1/-2).
    #[inline]
    pub(crate) fn string(&mut self, field: &'static str) -> Result<MqttString, Violation> {
        let raw = self.binary(field)?;
        MqttString::from_bytes(raw).map_err(|e| string_violation(e, field, self.version))
    }

    /// Restricts reading to the next `len` bytes; returns the old end to
    /// pass to [`Reader::unlimit`].
    pub(crate) fn limit(&mut self, len: usize, field: &'static str) -> Result<usize, Violation> {
        if self.remaining() < len {
            return Err(self.truncated(field));
        }
        let old = self.end;
        self.end = self.pos + len;
        Ok(old)
    }

    pub(crate) fn unlimit(&mut self, old_end: usize) {
        self.end = old_end;
    }

    /// Fails if bytes are left.
    pub(crate) fn finish(&self) -> Result<(), Violation> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Violation::malformed(
                ErrorKind::TrailingBytes {
                    packet: self.packet,
                    extra: self.remaining(),
                },
                &[],
                self.version.pick("2.2.3", "2.1.4"),
            ))
        }
    }
}

/// The violation for a string that broke a UTF-8 string rule.
pub(crate) fn string_violation(
    e: StringError,
    field: &'static str,
    version: ProtocolVersion,
) -> Violation {
    // A User Property is a UTF-8 String Pair, whose strings must each be a
    // valid UTF-8 Encoded String (MQTT-1.5.7-1); Topic Names and Topic
    // Filters have their own ban on U+0000 (MQTT-4.7.3-2).
    let pair = matches!(field, "User Property name" | "User Property value");
    let topic = matches!(field, "topic name" | "topic filter" | "will topic");
    match e {
        StringError::InvalidUtf8 => Violation::malformed(
            ErrorKind::InvalidUtf8 { field },
            match (version, pair) {
                (ProtocolVersion::V5, true) => &["MQTT-1.5.4-1", "MQTT-1.5.7-1"],
                _ => version.pick(&["MQTT-1.5.3-1"], &["MQTT-1.5.4-1"]),
            },
            version.pick("1.5.3", "1.5.4"),
        ),
        StringError::NullCharacter => Violation::malformed(
            ErrorKind::NullCharacter { field },
            match (version, pair, topic) {
                (ProtocolVersion::V5, true, _) => &["MQTT-1.5.4-2", "MQTT-1.5.7-1"],
                (_, _, true) => version.pick(
                    &["MQTT-1.5.3-2", "MQTT-4.7.3-2"],
                    &["MQTT-1.5.4-2", "MQTT-4.7.3-2"],
                ),
                _ => version.pick(&["MQTT-1.5.3-2"], &["MQTT-1.5.4-2"]),
            },
            version.pick("1.5.3", "1.5.4"),
        ),
        StringError::TooLong => Violation::new(
            ErrorKind::FieldTooLong {
                field,
                len: MqttString::MAX_LEN + 1,
            },
            &[],
            version.pick("1.5.3", "1.5.4"),
            ReasonCode::MALFORMED_PACKET,
        ),
    }
}

/// Writes a length-prefixed string.
pub(crate) fn put_string(out: &mut BytesMut, s: &MqttString) {
    put_binary(out, s.as_bytes());
}

/// Writes length-prefixed binary data (the caller checked the length).
pub(crate) fn put_binary(out: &mut BytesMut, b: &[u8]) {
    out.put_u16(b.len() as u16);
    out.put_slice(b);
}

/// Checks a binary field's length before encoding.
pub(crate) fn check_binary_len(
    len: usize,
    field: &'static str,
    version: ProtocolVersion,
) -> Result<(), Violation> {
    if len > u16::MAX as usize {
        Err(Violation::malformed(
            ErrorKind::FieldTooLong { field, len },
            &[],
            version.pick("1.5.3", "1.5.6"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vbi_lengths_match_the_table_of_section_1_5_5() {
        for (v, n) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (VBI_MAX, 4),
        ] {
            let mut out = BytesMut::new();
            put_vbi(&mut out, v);
            assert_eq!(out.len(), n, "value {v}");
            assert_eq!(vbi_len(v), n);
            match read_vbi(&out, Some(ProtocolVersion::V5), "x") {
                Ok(VbiRead::Done(got, used)) => assert_eq!((got, used), (v, n)),
                _ => panic!("value {v} did not read back"),
            }
        }
    }

    #[test]
    fn vbi_non_minimal_is_an_error_in_v5_only() {
        let bytes = [0x80, 0x00];
        assert!(read_vbi(&bytes, Some(ProtocolVersion::V5), "x").is_err());
        assert!(matches!(
            read_vbi(&bytes, Some(ProtocolVersion::V311), "x"),
            Ok(VbiRead::Done(0, 2))
        ));
    }
}
