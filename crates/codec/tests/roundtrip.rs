//! Property tests of the codec's round trips and streaming behaviour, over
//! valid packets of every type in MQTT 3.1.1 and 5.0 (see `strategies`):
//!
//! * `decode(encode(p)) == p`, for client decoders and, for CONNECT, a
//!   server decoder that learns the version;
//! * `encode(decode(b)) == b` for canonical bytes (bytes the encoder wrote);
//! * the encoded length is `Packet::encoded_len`;
//! * a stream of packets split anywhere (in two, or byte by byte) decodes
//!   to the same packets, and an incomplete prefix yields `Ok(None)` without
//!   consuming anything;
//! * decoding arbitrary or mutated bytes never panics, and whatever it
//!   accepts the encoder accepts too;
//! * the maximum packet size is enforced from the fixed header alone.

mod strategies;

use bytes::{BufMut, BytesMut};
use mqtt_codec::{Decoder, ErrorKind, Packet, PacketType, ProtocolVersion, VBI_MAX};
use proptest::prelude::*;
use strategies::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn encode(p: &Packet, v: ProtocolVersion) -> BytesMut {
    let mut buf = BytesMut::new();
    p.encode(v, &mut buf)
        .unwrap_or_else(|e| panic!("valid packet refused in {v}: {e}\n{p:#?}"));
    buf
}

/// Decodes every complete packet at the front of `buf`, checking that each
/// `Ok(None)` leaves the buffer untouched.
fn decode_available(
    decoder: &mut Decoder,
    buf: &mut BytesMut,
) -> Result<Vec<Packet>, TestCaseError> {
    let mut out = Vec::new();
    loop {
        let before = buf.len();
        match decoder.decode(buf) {
            Ok(Some(p)) => {
                prop_assert!(buf.len() < before, "a decoded packet consumed no bytes");
                out.push(p);
            }
            Ok(None) => {
                prop_assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return Ok(out);
            }
            Err(e) => return Err(TestCaseError::fail(format!("decode error: {e}"))),
        }
    }
}

/// One valid packet of every type in every version (29 in all: 14 in
/// 3.1.1, 15 in 5.0), so every case covers every type.
fn one_of_every_type_and_version() -> Vec<BoxedStrategy<(ProtocolVersion, Packet)>> {
    [ProtocolVersion::V311, ProtocolVersion::V5]
        .into_iter()
        .flat_map(|v| {
            packet_types(v)
                .into_iter()
                .map(move |t| packet_of(v, t).prop_map(move |p| (v, p)).boxed())
        })
        .collect()
}

/// The decoder a connection in `mode` uses: `None` is a server that has not
/// seen CONNECT yet.
fn decoder_for(mode: Option<ProtocolVersion>) -> Decoder {
    match mode {
        Some(v) => Decoder::new(v),
        None => Decoder::server(),
    }
}

fn decoder_mode() -> impl Strategy<Value = Option<ProtocolVersion>> {
    prop_oneof![
        Just(Some(ProtocolVersion::V311)),
        Just(Some(ProtocolVersion::V5)),
        Just(None),
    ]
}

/// A stream as a connection carries it, with the decoder mode to read it:
/// for a client decoder any packets of its version; for a server decoder a
/// CONNECT first, then packets of the CONNECT's version.
fn stream(max: usize) -> impl Strategy<Value = (Option<ProtocolVersion>, Vec<Packet>)> {
    (any::<bool>(), versioned_packets(max)).prop_flat_map(|(server, (v, packets))| {
        if server {
            connect(v)
                .prop_map(move |c| {
                    let mut all = vec![Packet::Connect(Box::new(c))];
                    all.extend(packets.iter().cloned());
                    (None, all)
                })
                .boxed()
        } else {
            Just((Some(v), packets)).boxed()
        }
    })
}

fn stream_bytes(mode: Option<ProtocolVersion>, packets: &[Packet]) -> BytesMut {
    let mut bytes = BytesMut::new();
    for p in packets {
        // A server stream starts with CONNECT, which carries its version.
        let v = match (mode, p) {
            (Some(v), _) => v,
            (None, Packet::Connect(c)) => c.protocol_version,
            (None, _) => match &packets[0] {
                Packet::Connect(c) => c.protocol_version,
                _ => unreachable!("a server stream starts with CONNECT"),
            },
        };
        p.encode(v, &mut bytes)
            .unwrap_or_else(|e| panic!("valid packet refused in {v}: {e}\n{p:#?}"));
    }
    bytes
}

/// A Variable Byte Integer in its minimal form.
fn vbi(mut value: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return out;
        }
    }
}

/// Reads a Variable Byte Integer: value and bytes used.
fn read_vbi(bytes: &[u8]) -> (u32, usize) {
    let mut value = 0u32;
    for (i, &b) in bytes.iter().enumerate().take(4) {
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("invalid variable byte integer");
}

/// Decodes until the buffer is exhausted, incomplete or in error, checking
/// the decoder's contract along the way: `Ok(None)` consumes nothing, a
/// packet consumes something, and every packet it accepts the encoder
/// accepts too and decodes back to the same packet.
fn decode_without_panicking(
    mode: Option<ProtocolVersion>,
    bytes: &[u8],
) -> Result<(), TestCaseError> {
    let mut decoder = decoder_for(mode);
    let mut buf = BytesMut::from(bytes);
    loop {
        let before = buf.len();
        let version_before = decoder.version();
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                prop_assert!(buf.len() < before);
                let v = decoder
                    .version()
                    .expect("a decoded packet fixes the version");
                // What the decoder accepts is valid: the encoder takes it
                // and it decodes back to itself (its bytes may differ from
                // the input, which need not be canonical).
                let again = p.to_bytes(v).map_err(|e| {
                    TestCaseError::fail(format!(
                        "decoder accepted what the encoder refuses: {e}\n{p:#?}"
                    ))
                })?;
                prop_assert_eq!(again.len(), p.encoded_len(v));
                let mut redecoder = decoder_for(version_before);
                let mut again = BytesMut::from(&again[..]);
                prop_assert_eq!(redecoder.decode(&mut again).ok().flatten(), Some(p));
                prop_assert!(again.is_empty());
            }
            Ok(None) => {
                prop_assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return Ok(());
            }
            Err(_) => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

proptest! {
    // Each case checks 29 packets, one per (version, type) pair.
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `decode(encode(p)) == p` for one packet of each of the 29
    /// (version, type) pairs per case, with the whole buffer consumed.
    #[test]
    fn decode_of_encode_is_identity_for_every_type_and_version(
        packets in one_of_every_type_and_version()
    ) {
        for (v, p) in packets {
            let bytes = encode(&p, v);
            let mut buf = bytes.clone();
            let mut decoder = Decoder::new(v);
            prop_assert_eq!(decoder.decode(&mut buf).map_err(|e| e.to_string()), Ok(Some(p.clone())));
            prop_assert!(buf.is_empty(), "bytes left after the packet");
            prop_assert_eq!(decoder.version(), Some(v));
            if let Packet::Connect(_) = p {
                // A server learns the version from the CONNECT itself.
                let mut buf = bytes;
                let mut server = Decoder::server();
                prop_assert_eq!(server.decode(&mut buf).map_err(|e| e.to_string()), Ok(Some(p)));
                prop_assert!(buf.is_empty());
                prop_assert_eq!(server.version(), Some(v));
            }
        }
    }

    /// A server decoder, which starts without a version, decodes a CONNECT
    /// of either version back to itself and then knows the version.
    #[test]
    fn server_decoder_decodes_connect_and_learns_its_version(
        (v, c) in version().prop_flat_map(|v| connect(v).prop_map(move |c| (v, c)))
    ) {
        let p = Packet::Connect(Box::new(c));
        let mut buf = encode(&p, v);
        let mut decoder = Decoder::server();
        prop_assert_eq!(decoder.version(), None);
        prop_assert_eq!(decoder.decode(&mut buf).map_err(|e| e.to_string()), Ok(Some(p)));
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoder.version(), Some(v));
    }

    /// A CONNECT encodes in its own version whatever version `encode` is
    /// given, and any client decoder reads it back in that version.
    #[test]
    fn connect_is_encoded_and_decoded_in_its_own_version(
        (v, c) in version().prop_flat_map(|v| connect(v).prop_map(move |c| (v, c))),
        other in version(),
    ) {
        let p = Packet::Connect(Box::new(c));
        let bytes = encode(&p, v);
        prop_assert_eq!(&encode(&p, other), &bytes);
        let mut buf = bytes.clone();
        prop_assert_eq!(Decoder::new(other).decode(&mut buf).map_err(|e| e.to_string()), Ok(Some(p)));
        prop_assert!(buf.is_empty());
    }

    /// `encode(decode(b)) == b` for canonical bytes `b` (bytes the encoder
    /// wrote), for one packet of each (version, type) pair per case.
    #[test]
    fn encode_of_decode_reproduces_canonical_bytes(packets in one_of_every_type_and_version()) {
        for (v, p) in packets {
            let bytes = encode(&p, v).freeze();
            let mut buf = BytesMut::from(&bytes[..]);
            let decoded = Decoder::new(v).decode(&mut buf);
            let decoded = decoded.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let decoded = decoded.ok_or_else(|| TestCaseError::fail("incomplete"))?;
            prop_assert_eq!(&encode(&decoded, v)[..], &bytes[..]);
        }
    }

    /// The bytes `encode` writes number exactly `encoded_len`, and `encode`
    /// appends without disturbing what the buffer already held; `to_bytes`
    /// writes the same bytes.
    #[test]
    fn encoded_len_equals_bytes_written(
        packets in one_of_every_type_and_version(),
        prefix in proptest::collection::vec(any::<u8>(), 0..8),
    ) {
        for (v, p) in packets {
            let mut buf = BytesMut::from(&prefix[..]);
            p.encode(v, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(buf.len(), prefix.len() + p.encoded_len(v), "{:?} in {}", p.packet_type(), v);
            prop_assert_eq!(&buf[..prefix.len()], &prefix[..]);
            let fresh = p.to_bytes(v).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&buf[prefix.len()..], &fresh[..]);
            // The fixed header is the type and flags, then the Remaining
            // Length of the rest in its minimal form.
            let (remaining, used) = read_vbi(&fresh[1..]);
            prop_assert_eq!(remaining as usize, fresh.len() - 1 - used);
            prop_assert_eq!(&fresh[1..1 + used], &vbi(remaining)[..]);
            prop_assert_eq!(fresh[0] >> 4, p.packet_type() as u8);
        }
    }
}

/// The Remaining Length changes size at 128, 16,384 and 2,097,152 bytes
/// (§1.5.5 / §2.2.3): packets whose body sits on either side of each step
/// round-trip, and their length is `encoded_len`.
#[test]
fn packets_round_trip_at_every_remaining_length_size_step() {
    use bytes::Bytes;
    use mqtt_codec::{MqttString, Publish, QoS};
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        // Topic "t" (3 bytes), packet id (2), properties (1 in 5.0).
        let overhead = 5 + usize::from(v.is_v5());
        for body in [127usize, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let p = Packet::Publish(
                Publish::new(
                    MqttString::from_static("t"),
                    Bytes::from(vec![0xA5; body - overhead]),
                )
                .with_qos(QoS::AtLeastOnce, 7),
            );
            let bytes = encode(&p, v);
            let (remaining, used) = read_vbi(&bytes[1..]);
            assert_eq!(remaining as usize, body, "{v}");
            assert_eq!(used, vbi(remaining).len(), "{v}: body {body}");
            assert_eq!(bytes.len(), p.encoded_len(v), "{v}: body {body}");
            let mut buf = bytes;
            assert_eq!(
                Decoder::new(v).decode(&mut buf),
                Ok(Some(p)),
                "{v}: body {body}"
            );
            assert!(buf.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A stream of packets fed in two parts, split at EVERY byte boundary,
    /// decodes to the same packets; nothing is consumed while a packet is
    /// incomplete.
    #[test]
    fn stream_split_in_two_at_every_byte_decodes_the_same_packets(
        (mode, packets) in stream(3)
    ) {
        let bytes = stream_bytes(mode, &packets);
        for split in 0..=bytes.len() {
            let mut decoder = decoder_for(mode);
            let mut buf = BytesMut::from(&bytes[..split]);
            let mut got = decode_available(&mut decoder, &mut buf)?;
            buf.extend_from_slice(&bytes[split..]);
            got.extend(decode_available(&mut decoder, &mut buf)?);
            prop_assert!(buf.is_empty(), "split at {}: {} bytes left", split, buf.len());
            prop_assert_eq!(&got, &packets, "split at {}", split);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A stream of packets fed one byte at a time decodes to the same
    /// packets, each exactly when its last byte arrives.
    #[test]
    fn stream_fed_byte_by_byte_decodes_the_same_packets((mode, packets) in stream(4)) {
        let bytes = stream_bytes(mode, &packets);
        // Offsets at which each packet completes.
        let mut ends = Vec::new();
        let mut end = 0;
        for p in &packets {
            let v = match (mode, p) {
                (Some(v), _) => v,
                (None, Packet::Connect(c)) => c.protocol_version,
                (None, _) => match &packets[0] {
                    Packet::Connect(c) => c.protocol_version,
                    _ => unreachable!(),
                },
            };
            end += p.encoded_len(v);
            ends.push(end);
        }
        prop_assert_eq!(end, bytes.len());
        let mut decoder = decoder_for(mode);
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            buf.put_u8(b);
            let new = decode_available(&mut decoder, &mut buf)?;
            if ends.contains(&(i + 1)) {
                prop_assert_eq!(new.len(), 1, "no packet when byte {} completed one", i);
            } else {
                prop_assert!(new.is_empty(), "packet before its last byte ({})", i);
            }
            got.extend(new);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, packets);
    }

    /// Every strict prefix of a packet's bytes decodes to `Ok(None)` and
    /// leaves the buffer exactly as it was (nothing consumed, same bytes).
    #[test]
    fn incomplete_prefix_returns_none_and_consumes_nothing(
        (mode, packets) in stream(1)
    ) {
        let bytes = stream_bytes(mode, &packets[..1]);
        for len in 0..bytes.len() {
            let mut decoder = decoder_for(mode);
            let mut buf = BytesMut::from(&bytes[..len]);
            let got = decoder.decode(&mut buf).map_err(|e| e.to_string());
            prop_assert_eq!(got, Ok(None), "prefix of {} bytes", len);
            prop_assert_eq!(&buf[..], &bytes[..len]);
            prop_assert_eq!(decoder.version(), mode, "version learnt from an incomplete CONNECT");
        }
    }
}

// ---------------------------------------------------------------------------
// Robustness and limits
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Decoding arbitrary bytes never panics, in either version or in
    /// server mode; `Ok(None)` never consumes; anything accepted is valid.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        mode in decoder_mode(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        decode_without_panicking(mode, &bytes)?;
    }

    /// Same, for bytes that start like a real packet: a valid header with a
    /// small Remaining Length and arbitrary body bytes, which reaches the
    /// body decoders far more often than fully random bytes.
    #[test]
    fn decoding_arbitrary_bodies_never_panics(
        mode in decoder_mode(),
        type_index in 0usize..15,
        odd_flags in proptest::option::weighted(0.2, 0u8..16),
        body in proptest::collection::vec(any::<u8>(), 0..48),
    ) {
        // A server decoder accepts nothing but CONNECT before CONNECT.
        let types = match mode {
            Some(v) => packet_types(v),
            None => vec![PacketType::Connect],
        };
        let t = types[type_index % types.len()];
        let flags = match (t, odd_flags) {
            (_, Some(f)) => f,
            (PacketType::Publish, None) => (type_index as u8) & 0x0F,
            (_, None) => t.fixed_flags(),
        };
        let mut bytes = vec![((t as u8) << 4) | flags];
        bytes.extend(vbi(body.len() as u32));
        bytes.extend(&body);
        decode_without_panicking(mode, &bytes)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Valid packets with zero to three bytes overwritten, and sometimes cut
    /// short with the Remaining Length rewritten to match, never make the
    /// decoder panic, and whatever it still accepts is valid.
    #[test]
    fn decoding_mutated_valid_packets_never_panics(
        (v, p) in versioned_packet(),
        server in any::<bool>(),
        cut in proptest::option::of(any::<prop::sample::Index>()),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..=3),
    ) {
        let mode = match (&p, server) {
            (Packet::Connect(_), true) => None,
            _ => Some(v),
        };
        let mut bytes = encode(&p, v).to_vec();
        if let Some(cut) = cut {
            let (_, used) = read_vbi(&bytes[1..]);
            let mut body = bytes.split_off(1 + used);
            body.truncate(cut.index(body.len() + 1));
            bytes.truncate(1);
            bytes.extend(vbi(body.len() as u32));
            bytes.extend(body);
        }
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        decode_without_panicking(mode, &bytes)?;
    }

    /// A decoder with `with_max_packet_size(n)` rejects a packet whose
    /// Remaining Length makes it larger than `n` with `PacketTooLarge`, as
    /// soon as the fixed header is in (at most 5 bytes present), before any
    /// body arrives.
    #[test]
    fn max_packet_size_rejects_oversized_packet_from_its_header_alone(
        mode in decoder_mode(),
        type_index in 0usize..15,
        max in prop_oneof![0u32..64, 0u32..100_000, 0u32..VBI_MAX],
        extra in prop_oneof![1u32..16, 1u32..=VBI_MAX],
    ) {
        let types = match mode {
            Some(v) => packet_types(v),
            None => vec![PacketType::Connect],
        };
        let t = types[type_index % types.len()];
        let first = ((t as u8) << 4) | t.fixed_flags();
        // A Remaining Length that claims more than `max`.
        let remaining = max.saturating_add(extra).min(VBI_MAX);
        prop_assume!(remaining > max);
        let header_len = 1 + vbi(remaining).len();
        let mut bytes = vec![first];
        bytes.extend(vbi(remaining));
        // Pad to 5 bytes with body bytes, never a whole body.
        let pad = (5 - header_len).min(remaining as usize - 1);
        bytes.extend(std::iter::repeat_n(0u8, pad));
        let mut buf = BytesMut::from(&bytes[..]);
        let mut decoder = decoder_for(mode).with_max_packet_size(max);
        prop_assert_eq!(decoder.max_packet_size(), max);
        match decoder.decode(&mut buf) {
            Err(e) => {
                let size = (header_len as u64) + u64::from(remaining);
                prop_assert_eq!(e.kind, ErrorKind::PacketTooLarge { size, max });
                if mode == Some(ProtocolVersion::V5) {
                    prop_assert_eq!(e.reason_code, mqtt_codec::ReasonCode::PACKET_TOO_LARGE);
                }
            }
            Ok(p) => prop_assert!(false, "oversized packet not rejected: {:?}", p),
        }
    }

    /// The limit counts the whole packet, fixed header included: a valid
    /// packet of exactly `max` bytes decodes, and one byte less of limit
    /// rejects it with `PacketTooLarge` even when all of it is present.
    #[test]
    fn max_packet_size_is_inclusive_of_the_whole_packet((v, p) in versioned_packet()) {
        let bytes = encode(&p, v);
        let len = bytes.len() as u32;
        let mut buf = bytes.clone();
        let got = Decoder::new(v).with_max_packet_size(len).decode(&mut buf);
        prop_assert_eq!(got.map_err(|e| e.to_string()), Ok(Some(p)));
        let mut buf = bytes.clone();
        let err = Decoder::new(v).with_max_packet_size(len - 1).decode(&mut buf);
        prop_assert_eq!(
            err.map_err(|e| e.kind),
            Err(ErrorKind::PacketTooLarge { size: u64::from(len), max: len - 1 })
        );
    }
}
