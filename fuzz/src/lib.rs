//! The checks behind the fuzz targets in `fuzz_targets/`, kept here so that
//! each target is a line or two and the properties are stated once.
//!
//! Every `assert!` is a property of the codec; its failure is a finding.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod model;
pub mod server;

use bytes::BytesMut;
use mqtt_codec::topic::{validate_topic_filter, validate_topic_name};
use mqtt_codec::{DecodeError, Decoder, ErrorKind, Packet, ProtocolVersion, QoS};

/// What decoding a byte stream gave: each packet with the bytes it took,
/// then why decoding stopped.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// The packets decoded, in order, with their sizes on the wire.
    pub packets: Vec<(Packet, usize)>,
    /// The error that ended the stream, or `None` when the input ran out
    /// (nothing left, or an incomplete packet).
    pub error: Option<DecodeError>,
}

/// The decoder that reads `packet` back: a server-side one for CONNECT,
/// which carries its own version, else one in `version`.
pub fn decoder_for(version: ProtocolVersion, packet: &Packet) -> Decoder {
    match packet {
        Packet::Connect(_) => Decoder::server(),
        _ => Decoder::new(version),
    }
}

/// Decodes `data` fed to `decoder` in pieces of `chunk` bytes (at least
/// one), until an error or the end of the input. Checks the streaming
/// contract on the way: a packet consumes bytes, `Ok(None)` consumes none,
/// and every decoded packet re-encodes (see [`check_reencodes`]).
pub fn decode_all(mut decoder: Decoder, data: &[u8], chunk: usize) -> Outcome {
    let chunk = chunk.max(1);
    let mut fed = 0;
    let mut buf = BytesMut::new();
    let mut packets = Vec::new();
    loop {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(packet)) => {
                let used = before - buf.len();
                assert!(used >= 2, "{packet:?} took {used} bytes");
                let version = match &packet {
                    Packet::Connect(c) => c.protocol_version,
                    _ => decoder
                        .version()
                        .expect("a packet other than CONNECT decoded without a version"),
                };
                check_reencodes(&packet, version);
                packets.push((packet, used));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                if fed == data.len() {
                    return Outcome {
                        packets,
                        error: None,
                    };
                }
                let end = (fed + chunk).min(data.len());
                buf.extend_from_slice(&data[fed..end]);
                fed = end;
            }
            Err(error) => {
                // Display must not panic either.
                let _ = error.to_string();
                return Outcome {
                    packets,
                    error: Some(error),
                };
            }
        }
    }
}

/// A Topic Name by the rules of §4.7, written independently of the codec:
/// not empty (unless a 5.0 Topic Alias stands in), no wildcard, no U+0000.
pub fn naive_topic_name_ok(name: &str, version: ProtocolVersion, alias: bool) -> bool {
    if name.is_empty() {
        return version.is_v5() && alias;
    }
    !name.contains(['+', '#', '\0'])
}

/// A Topic Filter by the rules of §4.7 (and, in 5.0, §4.8.2 for
/// `$share/{ShareName}/{filter}`), written independently of the codec.
pub fn naive_topic_filter_ok(filter: &str, version: ProtocolVersion) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let mut filter = filter;
    if version.is_v5() {
        if let Some(rest) = filter.strip_prefix("$share/") {
            let Some((group, inner)) = rest.split_once('/') else {
                return false;
            };
            if group.is_empty() || group.contains(['+', '#']) || inner.is_empty() {
                return false;
            }
            filter = inner;
        }
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| {
        let hash_ok = !level.contains('#') || (*level == "#" && i + 1 == levels.len());
        let plus_ok = !level.contains('+') || *level == "+";
        hash_ok && plus_ok
    })
}

/// The codec's topic validation agrees with the naive rules on every topic
/// and filter `packet` carries, whether or not the packet is valid.
pub fn check_topic_rules(packet: &Packet, version: ProtocolVersion) {
    let name = |t: &str, v: ProtocolVersion, alias: bool| {
        let codec = validate_topic_name(t, v, alias).is_ok();
        assert_eq!(
            codec,
            naive_topic_name_ok(t, v, alias),
            "topic name {t:?} in {v}, alias {alias}"
        );
    };
    let filter = |f: &str| {
        let codec = validate_topic_filter(f, version).is_ok();
        assert_eq!(
            codec,
            naive_topic_filter_ok(f, version),
            "topic filter {f:?} in {version}"
        );
    };
    match packet {
        Packet::Publish(p) => name(p.topic(), version, p.properties.topic_alias.is_some()),
        Packet::Connect(c) => {
            if let Some(w) = &c.will {
                name(&w.topic, c.protocol_version, false);
            }
        }
        Packet::Subscribe(s) => s.filters.iter().for_each(|f| filter(&f.filter)),
        Packet::Unsubscribe(u) => u.filters.iter().for_each(|f| filter(f)),
        _ => {}
    }
}

/// Rules any packet the codec accepts (decodes, or encodes) must keep,
/// checked naively: topic names and filters, packet identifiers, DUP at
/// QoS 0, at least one filter or reason code where one is required.
pub fn check_rules(packet: &Packet, version: ProtocolVersion) {
    match packet {
        Packet::Publish(p) => {
            let alias = p.properties.topic_alias.is_some();
            assert!(naive_topic_name_ok(p.topic(), version, alias), "{p:?}");
            if p.qos == QoS::AtMostOnce {
                assert!(!p.dup && p.packet_id == 0, "{p:?}");
            } else {
                assert_ne!(p.packet_id, 0, "{p:?}");
            }
        }
        Packet::Connect(c) => {
            if let Some(w) = &c.will {
                assert!(
                    naive_topic_name_ok(&w.topic, c.protocol_version, false),
                    "{c:?}"
                );
            }
        }
        Packet::Subscribe(s) => {
            assert!(s.packet_id != 0 && !s.filters.is_empty(), "{s:?}");
            for f in &s.filters {
                assert!(naive_topic_filter_ok(&f.filter, version), "{s:?}");
            }
        }
        Packet::Unsubscribe(u) => {
            assert!(u.packet_id != 0 && !u.filters.is_empty(), "{u:?}");
            for f in &u.filters {
                assert!(naive_topic_filter_ok(f, version), "{u:?}");
            }
        }
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
            assert_ne!(r.packet_id, 0, "{packet:?}");
        }
        Packet::SubAck(s) => assert!(s.packet_id != 0 && !s.reason_codes.is_empty(), "{s:?}"),
        Packet::UnsubAck(u) => {
            assert_ne!(u.packet_id, 0, "{u:?}");
            assert_eq!(u.reason_codes.is_empty(), !version.is_v5(), "{u:?}");
        }
        _ => {}
    }
}

/// A packet the decoder accepted breaks no rule, so the strict encoder must
/// accept it too, and its canonical encoding must decode back to it.
pub fn check_reencodes(packet: &Packet, version: ProtocolVersion) {
    check_rules(packet, version);
    check_topic_rules(packet, version);
    let bytes = match packet.to_bytes(version) {
        Ok(b) => b,
        Err(e) => panic!("decoded {packet:?} in {version}, but the encoder refuses it: {e}"),
    };
    assert_eq!(packet.encoded_len(version), bytes.len(), "{packet:?}");
    let mut buf = BytesMut::from(&bytes[..]);
    match decoder_for(version, packet).decode(&mut buf) {
        Ok(Some(again)) => assert_eq!(&again, packet, "re-encoded as {bytes:02X?}"),
        other => panic!("{packet:?} re-encoded as {bytes:02X?} decodes to {other:?}"),
    }
    assert!(buf.is_empty(), "re-encoded {packet:?} left bytes");
}

/// The decode targets' properties for one input: decoding never panics or
/// hangs; whole or in pieces it gives the same outcome; and a decoder with a
/// small Maximum Packet Size gives exactly the packets that fit, then
/// rejects the first that does not, as too large.
pub fn check_stream(make: impl Fn() -> Decoder, data: &[u8]) {
    let whole = decode_all(make(), data, data.len());
    let pieces = decode_all(make(), data, 1 + data.len() % 7);
    assert_eq!(whole, pieces, "decoding in pieces differs");

    let max = 2 + u32::from(data.last().copied().unwrap_or(0));
    let limited = decode_all(make().with_max_packet_size(max), data, data.len());
    let fit = whole
        .packets
        .iter()
        .take_while(|(_, size)| *size as u64 <= u64::from(max))
        .count();
    assert_eq!(limited.packets, whole.packets[..fit], "limit {max}");
    match &limited.error {
        Some(e) if matches!(e.kind, ErrorKind::PacketTooLarge { .. }) => {
            let ErrorKind::PacketTooLarge { size, max: m } = e.kind else {
                unreachable!()
            };
            assert!(size > u64::from(max) && m == max, "{e}");
            if let Some((_, s)) = whole.packets.get(fit) {
                assert_eq!(size, *s as u64, "{e}");
            }
        }
        other => {
            assert_eq!(fit, whole.packets.len(), "a packet over {max} passed");
            assert_eq!(other, &whole.error, "limit {max}");
        }
    }
}

/// The roundtrip target's properties for one packet. If the encoder refuses
/// it, it writes nothing. Otherwise the bytes are `encoded_len` long, decode
/// back to the same packet (and a server-side decoder learns CONNECT's
/// version), re-encode to the same bytes, every strict prefix is incomplete
/// (`Ok(None)`, nothing consumed), and a Maximum Packet Size of exactly the
/// packet's size admits it while one byte less rejects it.
pub fn check_roundtrip(version: ProtocolVersion, packet: &Packet) {
    let effective = match packet {
        Packet::Connect(c) => c.protocol_version,
        _ => version,
    };
    check_topic_rules(packet, effective);
    let mut out = BytesMut::new();
    if let Err(e) = packet.encode(version, &mut out) {
        assert!(
            out.is_empty(),
            "refused {packet:?} ({e}) but wrote {out:02X?}"
        );
        return;
    }
    check_rules(packet, effective);
    let bytes = out.freeze();
    assert_eq!(packet.encoded_len(version), bytes.len(), "{packet:?}");

    let mut decoder = decoder_for(version, packet);
    let mut buf = BytesMut::from(&bytes[..]);
    let decoded = match decoder.decode(&mut buf) {
        Ok(Some(p)) => p,
        other => panic!("{packet:?} encoded as {bytes:02X?} decodes to {other:?}"),
    };
    assert!(buf.is_empty(), "{packet:?}: {} bytes left", buf.len());
    assert_eq!(&decoded, packet, "encoded as {bytes:02X?}");
    if let Packet::Connect(c) = packet {
        assert_eq!(decoder.version(), Some(c.protocol_version));
    }
    let again = decoded
        .to_bytes(version)
        .expect("a decoded packet re-encodes");
    assert_eq!(again, bytes, "{packet:?}");

    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        let mut prefix = BytesMut::from(&bytes[..cut]);
        let got = decoder_for(version, packet).decode(&mut prefix);
        assert!(matches!(got, Ok(None)), "prefix of {cut}: {got:?}");
        assert_eq!(prefix.len(), cut, "a prefix of {cut} bytes was consumed");
    }

    let size = u32::try_from(bytes.len()).expect("packets are under 4 GiB");
    let mut buf = BytesMut::from(&bytes[..]);
    let fits = decoder_for(version, packet)
        .with_max_packet_size(size)
        .decode(&mut buf);
    assert!(matches!(fits, Ok(Some(_))), "at max {size}: {fits:?}");
    let mut buf = BytesMut::from(&bytes[..]);
    match decoder_for(version, packet)
        .with_max_packet_size(size - 1)
        .decode(&mut buf)
    {
        Err(e) if matches!(e.kind, ErrorKind::PacketTooLarge { .. }) => {}
        other => panic!("{size} bytes at max {}: {other:?}", size - 1),
    }
}
