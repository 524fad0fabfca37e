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

use crate::error::Violation;
use crate::packet::publish::Message;
use crate::packet::{
    PacketType, PubResponse, Publish, Subscribe, Subscription, SubscriptionOptions,
};
use crate::properties::{Properties, PropertyContext};
use crate::qos::QoS;
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::ProtocolVersion;
use crate::wire::{string_violation, Reader};

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
/// header included; the body starts at `start`). The PUBLISH holds the
/// frame itself, and where its topic and payload are in it: one reference
/// to count.
/// Gives the frame back when the general decoder must decide.
#[inline(always)]
pub(super) fn publish(
    frame: Bytes,
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
    // Always: the body starts at most 5 bytes into the frame.
    let Ok(topic_at) = u8::try_from(topic_start) else {
        return Err(frame);
    };
    let topic_end = topic_start + usize::from(topic_len);
    // Not empty (MQTT-4.7.3-1, or a Topic Alias stands in: general path),
    // no U+0000 (MQTT-1.5.3-2 / MQTT-1.5.4-2), no wildcard (MQTT-3.3.2-2)
    // and well-formed UTF-8 (MQTT-1.5.3-1 / MQTT-1.5.4-1): ASCII, the
    // common case, is told in the same scan.
    match b.get(topic_start..topic_end) {
        Some(t) if !t.is_empty() => {
            let (clean, ascii) = scan_topic(t);
            if !clean || (!ascii && std::str::from_utf8(t).is_err()) {
                return Err(frame);
            }
        }
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
        match properties_at(
            &frame,
            pos,
            PacketType::Publish,
            PropertyContext::Publish,
            v,
            &mut properties,
        ) {
            Some(end) => pos = end,
            None => return Err(frame),
        }
    }
    Ok(Publish {
        dup,
        qos,
        retain: flags & 0x01 != 0,
        packet_id,
        properties,
        message: Message::Frame {
            frame,
            topic_at,
            topic_len,
            payload_at: pos,
        },
    })
}

/// Why a fast path did not return a packet.
pub(super) enum GiveUp {
    /// The general decoder must decide, from this frame.
    General(Bytes),
    /// The packet breaks a rule, and this is the error the general decoder
    /// would report.
    Error(Violation),
}

/// Reads a property length at `pos` and the properties after it into
/// `props`; the position after them, or `None` on anything unusual.
#[inline]
fn properties_at(
    frame: &Bytes,
    pos: usize,
    ptype: PacketType,
    ctx: PropertyContext,
    v: ProtocolVersion,
    props: &mut Properties,
) -> Option<usize> {
    match frame.get(pos) {
        Some(0) => Some(pos + 1),
        Some(_) => {
            let mut r = Reader::new(frame, pos, ptype, v);
            props.decode_into(&mut r, ctx).ok()?;
            Some(r.position())
        }
        None => None,
    }
}

/// A SUBSCRIBE, from its whole `frame` (the body starts at `start`). The
/// last filter is the frame itself, cut down to the filter: one reference
/// fewer to count than a slice of it.
#[inline(never)]
pub(super) fn subscribe(
    mut frame: Bytes,
    start: usize,
    v: ProtocolVersion,
) -> Result<Subscribe, GiveUp> {
    let packet_id = match u16_at(&frame, start) {
        Some(id) if id != 0 => id,
        _ => return Err(GiveUp::General(frame)),
    };
    let mut properties = Properties::new();
    let mut pos = start + 2;
    if v.is_v5() {
        match properties_at(
            &frame,
            pos,
            PacketType::Subscribe,
            PropertyContext::Subscribe,
            v,
            &mut properties,
        ) {
            Some(end) => pos = end,
            None => return Err(GiveUp::General(frame)),
        }
    }
    let mut filters = Vec::with_capacity(4);
    let last = loop {
        let Some((range, options)) = filter_at(&frame, pos, v) else {
            return Err(GiveUp::General(frame));
        };
        pos = range.end + 1;
        if pos == frame.len() {
            break (range, options);
        }
        filters.push(Subscription {
            filter: match MqttString::from_checked_bytes(frame.slice(range)) {
                Ok(f) => f,
                Err(_) => return Err(GiveUp::General(frame)),
            },
            options,
        });
    };
    frame.truncate(last.0.end);
    frame.advance(last.0.start);
    let filter = MqttString::from_checked_bytes(frame)
        .map_err(|e| GiveUp::Error(string_violation(e, "topic filter", v)))?;
    filters.push(Subscription {
        filter,
        options: last.1,
    });
    Ok(Subscribe {
        packet_id,
        properties,
        filters,
    })
}

/// The range of a topic filter whose length is at `pos` and which keeps
/// the rules (UTF-8 is checked when it becomes a string), and its valid
/// subscription options; `None` for anything else, `$share/` filters
/// included.
#[inline]
fn filter_at(
    b: &[u8],
    pos: usize,
    v: ProtocolVersion,
) -> Option<(std::ops::Range<usize>, SubscriptionOptions)> {
    let len = usize::from(u16_at(b, pos)?);
    let range = pos + 2..pos + 2 + len;
    let filter = b.get(range.clone())?;
    if !plain_filter(filter) || (v.is_v5() && filter.starts_with(b"$share/")) {
        return None;
    }
    let options = SubscriptionOptions::from_byte(*b.get(range.end)?, v).ok()?;
    Some((range, options))
}

/// True for a non-empty filter without U+0000 whose every `+` is a whole
/// level and whose only `#` is a whole last level (MQTT-4.7.1-2/-3 in
/// 3.1.1, MQTT-4.7.1-1/-2 in 5.0). Only the flagged bytes of each word
/// are looked at.
#[inline]
fn plain_filter(f: &[u8]) -> bool {
    let Some(last) = f.len().checked_sub(1) else {
        return false;
    };
    let keeps_rules = |i: usize| {
        let whole = |ends: bool| (i == 0 || f.get(i - 1) == Some(&b'/')) && ends;
        match f.get(i) {
            Some(0) => false,
            Some(b'+') => whole(i == last || f.get(i + 1) == Some(&b'/')),
            Some(b'#') => whole(i == last),
            _ => true,
        }
    };
    let mut chunks = f.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Every flagged byte is checked, so a false flag (possible above a
        // true one) only costs a look.
        let mut flags = nul_or_wildcard_flags(w);
        while flags != 0 {
            if !keeps_rules(base + (flags.trailing_zeros() / 8) as usize) {
                return false;
            }
            flags &= flags - 1;
        }
        base += 8;
    }
    (base..f.len()).all(keeps_rules)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that may be U+0000, `+` or `#`: every
/// such byte is flagged, and a flag is false only above a true one.
/// `b | 0x08 == b'+'` holds for exactly `+` (0x2B) and `#` (0x23), so one
/// "has zero byte" test covers both wildcards, another U+0000.
#[inline(always)]
fn nul_or_wildcard_flags(w: u64) -> u64 {
    const PLUS: u64 = ONES * b'+' as u64;
    const BIT3: u64 = ONES * 0x08;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    zero_byte(w) | zero_byte((w | BIT3) ^ PLUS)
}

/// Whether `t` is free of U+0000, `+` and `#` (all ASCII, so a byte scan
/// is exact on UTF-8), and whether it is all ASCII: one pass, eight bytes
/// at a time without a branch per word.
#[inline(always)]
fn scan_topic(t: &[u8]) -> (bool, bool) {
    let mut chunks = t.chunks_exact(8);
    let mut found = 0;
    let mut high = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        found |= nul_or_wildcard_flags(w);
        high |= w;
    }
    let rest = chunks.remainder();
    let clean = found == 0 && !rest.iter().any(|&b| b == 0 || b | 0x08 == b'+');
    let ascii = high & HIGH == 0 && rest.iter().all(u8::is_ascii);
    (clean, ascii)
}

/// True when `t` holds U+0000, `+` or `#`.
#[cfg(test)]
fn has_nul_or_wildcard(t: &[u8]) -> bool {
    !scan_topic(t).0
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

    /// A SUBSCRIBE frame of 0 to 3 filters drawn like the topics above,
    /// with options and property bytes that break each rule.
    fn subscribe_frame() -> impl Strategy<Value = Vec<u8>> {
        let filter_byte = prop::sample::select(vec![b'a', b'/', 0, b'+', b'#', 0xC3, 0xA9, b'$']);
        let filter = (
            prop::collection::vec(filter_byte, 0..8),
            prop::sample::select(vec![0u8, 1, 2, 3, 0x04, 0x05, 0x0A, 0x30, 0x40]),
            any::<bool>(),
        )
            .prop_map(|(f, opt, shared)| {
                let mut t = if shared {
                    b"$share/g/".to_vec()
                } else {
                    vec![]
                };
                t.extend(f);
                let mut out = (t.len() as u16).to_be_bytes().to_vec();
                out.extend(t);
                out.push(opt);
                out
            });
        (
            prop::sample::select(vec![vec![0, 0], vec![0, 9]]),
            prop::sample::select(vec![
                vec![],
                vec![0],
                vec![2, 0x0B, 7],
                vec![4, 0x0B, 7, 0x0B, 8],
                vec![2, 0x0B, 0],
                vec![2, 0x1F, 0],
            ]),
            prop::collection::vec(filter, 0..4),
            prop::collection::vec(any::<u8>(), 0..2),
        )
            .prop_map(|(id, props, filters, tail)| {
                let mut body = id;
                body.extend(props);
                body.extend(filters.concat());
                body.extend(tail);
                let mut frame = vec![0x82, body.len() as u8];
                frame.extend(body);
                frame
            })
    }

    proptest! {
        /// The same for SUBSCRIBE; and an error the fast path reports is
        /// the general decoder's.
        #[test]
        fn the_subscribe_fast_path_agrees_with_the_general_decoder(
            frame in subscribe_frame(),
            v5 in any::<bool>(),
        ) {
            let v = if v5 { ProtocolVersion::V5 } else { ProtocolVersion::V311 };
            let frame = Bytes::from(frame);
            let mut general = Packet::PingReq;
            let general = Packet::decode_body(PacketType::Subscribe, 2, &frame, 2, v, &mut general)
                .map(|()| general);
            match subscribe(frame.clone(), 2, v) {
                Ok(fast) => prop_assert_eq!(general, Ok(Packet::Subscribe(fast))),
                Err(GiveUp::Error(e)) => prop_assert_eq!(general, Err(e)),
                Err(GiveUp::General(_)) => {}
            }
        }
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
    fn plain_filters_are_exactly_the_valid_ones() {
        // Every filter of up to 6 characters over an alphabet of the
        // characters the rules are about.
        let alphabet = [b'a', b'/', b'+', b'#', 0];
        let mut filters = vec![vec![]];
        for _ in 0..6 {
            let longer: Vec<Vec<u8>> = filters
                .iter()
                .filter(|f| f.len() == filters.last().map_or(0, Vec::len))
                .flat_map(|f| {
                    alphabet.iter().map(move |&c| {
                        let mut g = f.clone();
                        g.push(c);
                        g
                    })
                })
                .collect();
            filters.extend(longer);
        }
        // Around them, text that puts them across word boundaries.
        let prefixes: [&[u8]; 4] = [b"", b"abc/", b"abcdefg/", b"abcdefghijklmn/"];
        let suffixes: [&[u8]; 2] = [b"", b"/abcdefghij"];
        for core in filters {
            for (p, s) in prefixes
                .iter()
                .flat_map(|p| suffixes.iter().map(move |s| (p, s)))
            {
                let f = [*p, &core, *s].concat();
                let text = std::str::from_utf8(&f).unwrap_or_default();
                for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
                    let general =
                        !f.contains(&0) && crate::topic::validate_topic_filter(text, v).is_ok();
                    assert_eq!(plain_filter(&f), general, "{f:?} in {v}");
                }
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
        // And whether it is ASCII, at every position.
        for len in 1..20 {
            for at in 0..len {
                for (byte, ascii) in [(0x7F, true), (0x80, false), (0xC3, false), (0xFF, false)] {
                    let mut t = vec![b'a'; len];
                    t[at] = byte;
                    assert_eq!(scan_topic(&t).1, ascii, "{t:?}");
                }
            }
        }
    }
}
