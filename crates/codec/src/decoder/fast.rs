//! Fast paths for the packets that dominate traffic, in their common valid
//! forms: a PUBLISH with a non-empty topic name, and a bare
//! acknowledgement (packet identifier only).
//!
//! They check exactly what the general decoder checks, only in one pass
//! and without intermediate values. Anything they do not handle, valid or
//! not, makes them give up, and the general decoder ([`Packet::decode_body`])
//! decodes the same frame from the start: so every error, and the order in
//! which the rules are checked, is the general decoder's.
//!
//! [`Packet::decode_body`]: crate::Packet

use bytes::{Buf, Bytes};

use crate::packet::{PacketType, PubResponse, Publish};
use crate::properties::{Properties, PropertyContext};
use crate::qos::QoS;
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// Two big-endian bytes at `at`, if there.
#[inline(always)]
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo])),
        _ => None,
    }
}

/// A PUBACK, PUBREC, PUBREL or PUBCOMP whose body (`body`) is a non-zero
/// packet identifier and nothing else: Success and no properties in 5.0
/// (§3.4.2.1), the only form in 3.1.1.
#[inline]
pub(super) fn bare_ack(ptype: PacketType, body: &[u8]) -> Option<crate::Packet> {
    let packet_id = match body {
        &[hi, lo] => u16::from_be_bytes([hi, lo]),
        _ => return None,
    };
    if packet_id == 0 {
        return None;
    }
    let r = PubResponse {
        packet_id,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties::new(),
    };
    Some(match ptype {
        PacketType::PubAck => crate::Packet::PubAck(r),
        PacketType::PubRec => crate::Packet::PubRec(r),
        PacketType::PubRel => crate::Packet::PubRel(r),
        PacketType::PubComp => crate::Packet::PubComp(r),
        _ => return None,
    })
}

/// A PUBLISH whose topic name is not empty, from its whole `frame` (fixed
/// header included; the body starts at `start`). The payload is the frame
/// itself, advanced past the headers: no second reference to count.
/// Gives the frame back when the general decoder must decide.
#[inline]
pub(super) fn publish(
    mut frame: Bytes,
    flags: u8,
    start: usize,
    v: ProtocolVersion,
) -> Result<Publish, Bytes> {
    let qos = match (flags >> 1) & 0x03 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        2 => QoS::ExactlyOnce,
        _ => return Err(frame),
    };
    let dup = flags & 0x08 != 0;
    if dup && qos == QoS::AtMostOnce {
        return Err(frame);
    }
    let b: &[u8] = &frame;
    let Some(topic_len) = u16_at(b, start) else {
        return Err(frame);
    };
    let topic_start = start + 2;
    let topic_end = topic_start + usize::from(topic_len);
    // Not empty (MQTT-4.7.3-1, or a Topic Alias stands in: general path),
    // no U+0000 (MQTT-1.5.3-2 / MQTT-1.5.4-2) and no wildcard
    // (MQTT-3.3.2-2), in one scan; UTF-8 is checked below.
    match b.get(topic_start..topic_end) {
        Some(t) if !t.is_empty() && !has_nul_or_wildcard(t) => {}
        _ => return Err(frame),
    }
    let mut pos = topic_end;
    let mut packet_id = 0;
    if qos != QoS::AtMostOnce {
        match u16_at(b, pos) {
            Some(id) if id != 0 => packet_id = id,
            _ => return Err(frame),
        }
        pos += 2;
    }
    let mut properties = Properties::new();
    if v.is_v5() {
        match b.get(pos) {
            Some(0) => pos += 1,
            Some(_) => {
                let mut r = Reader::new(&frame, pos, PacketType::Publish, v);
                if properties
                    .decode_into(&mut r, PropertyContext::Publish)
                    .is_err()
                {
                    return Err(frame);
                }
                pos = r.position();
            }
            None => return Err(frame),
        }
    }
    let Ok(topic) = MqttString::from_checked_bytes(frame.slice(topic_start..topic_end)) else {
        return Err(frame);
    };
    frame.advance(pos);
    Ok(Publish {
        dup,
        qos,
        retain: flags & 0x01 != 0,
        topic,
        packet_id,
        properties,
        payload: frame,
    })
}

/// True when `t` holds U+0000, `+` or `#` (all ASCII, so a byte scan is
/// exact on UTF-8), eight bytes at a time and without branching on each
/// word: `b | 0x08 == b'+'` holds for exactly `+` (0x2B) and `#` (0x23),
/// so one "has zero byte" test covers both wildcards, another U+0000.
#[inline(always)]
fn has_nul_or_wildcard(t: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const PLUS: u64 = ONES * b'+' as u64;
    const BIT3: u64 = ONES * 0x08;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = t.chunks_exact(8);
    let mut found = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        found |= zero_byte(w) | zero_byte((w | BIT3) ^ PLUS);
    }
    found != 0
        || chunks
            .remainder()
            .iter()
            .any(|&b| b == 0 || b | 0x08 == b'+')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Packet;
    use proptest::prelude::*;

    /// A PUBLISH frame whose topic, flags, identifier and property bytes
    /// are drawn from values that break each rule the fast path checks.
    fn publish_frame() -> impl Strategy<Value = (u8, Vec<u8>)> {
        let topic_byte = prop::sample::select(vec![b'a', b'/', 0, b'+', b'#', 0xC3, 0xA9, 0xFF]);
        (
            0u8..16,
            prop::collection::vec(topic_byte, 0..20),
            prop::sample::select(vec![vec![], vec![0], vec![0, 0], vec![0, 7]]),
            prop::sample::select(vec![
                vec![],
                vec![0],
                vec![2, 0x23, 0],
                vec![3, 0x23, 0, 5],
                vec![3, 0x23, 0, 5, 9],
                vec![5, 0x02, 0, 0, 0, 9],
                vec![2, 0x01, 2],
                vec![1, 0x7F],
            ]),
            prop::collection::vec(any::<u8>(), 0..4),
        )
            .prop_map(|(flags, topic, id, props, payload)| {
                let mut body = (topic.len() as u16).to_be_bytes().to_vec();
                body.extend(topic);
                body.extend(id);
                body.extend(props);
                body.extend(payload);
                let mut frame = vec![0x30 | flags, body.len() as u8];
                frame.extend(body);
                (flags, frame)
            })
    }

    proptest! {
        /// Whatever the fast path accepts, the general decoder decodes to
        /// the same packet: it checks nothing less.
        #[test]
        fn the_fast_path_accepts_only_what_the_general_decoder_accepts(
            (flags, frame) in publish_frame(),
            v5 in any::<bool>(),
        ) {
            let v = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
            let frame = Bytes::from(frame);
            let mut general = Packet::PingReq;
            let general = Packet::decode_body(PacketType::Publish, flags, &frame, 2, v, &mut general)
                .map(|()| general);
            if let Ok(fast) = publish(frame.clone(), flags, 2, v) {
                prop_assert_eq!(general, Ok(Packet::Publish(fast)));
            }
        }
    }

    #[test]
    fn the_topic_scan_finds_exactly_nul_and_wildcards() {
        // Every byte value, at every position of strings long enough for
        // whole words and tails, among fillers that must not match.
        for target in 0..=u8::MAX {
            let expected = matches!(target, 0 | b'+' | b'#');
            for filler in [b'a', b'/', 0x7F, 0x80, 0xFF, b'*', b'"'] {
                for len in 1..20 {
                    for at in 0..len {
                        let mut t = vec![filler; len];
                        t[at] = target;
                        assert_eq!(has_nul_or_wildcard(&t), expected, "{t:?}");
                    }
                }
            }
        }
        assert!(!has_nul_or_wildcard(b""));
    }
}
