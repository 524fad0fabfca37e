//! `cargo xtask codec`: the project's main job until the conformance runner
//! arrives. The codec describes itself, decodes a sample conversation in
//! each version and shows how it rejects malformed input, naming the
//! statements broken. With `--hex` it decodes the user's bytes instead.

use std::process::ExitCode;

use anyhow::{bail, Result};
use bytes::BytesMut;
use mqtt_codec::properties::property_name;
use mqtt_codec::raw::RawPacket;
use mqtt_codec::reason::allowed;
use mqtt_codec::{
    Decoder, MqttString, Packet, PacketType, ProtocolVersion, Publish, QoS, ReasonCode,
    MAX_POSSIBLE_PACKET_SIZE, VBI_MAX,
};

use crate::{describe, samples};

/// The versions the codec speaks.
const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// Runs the whole demonstration.
pub(crate) fn run() -> Result<()> {
    self_description();
    for v in VERSIONS {
        sample_stream(v)?;
    }
    malformed()?;
    size_limit()?;
    Ok(())
}

/// Bytes as spaced hex.
fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Number with thousands separators.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Versions, packet types, properties, reason codes, packet size.
fn self_description() {
    println!("mqtt-codec: the strict, sans-IO MQTT codec of mqtt-harness");
    println!();
    println!("Versions");
    for v in VERSIONS {
        let types: Vec<&str> = (0..16)
            .filter_map(|n| PacketType::from_nibble(n, Some(v)))
            .map(PacketType::name)
            .collect();
        println!(
            "  {v:<10} protocol level {}, {} packet types: {}",
            v.level(),
            types.len(),
            types.join(" ")
        );
    }

    let properties: Vec<String> = (0u8..=0x7F)
        .filter_map(|id| property_name(id).map(|n| format!("0x{id:02X} {n}")))
        .collect();
    println!();
    println!("MQTT 5.0 properties: {}", properties.len());
    for chunk in properties.chunks(3) {
        println!("  {}", chunk.join(", "));
    }

    let defined = (0..=255u8)
        .filter(|&b| ReasonCode(b).name() != "undefined reason code")
        .count();
    let per_packet = [
        ("CONNACK", allowed::CONNACK),
        ("PUBACK", allowed::PUBACK),
        ("PUBREC", allowed::PUBACK),
        ("PUBREL", allowed::PUBREL),
        ("PUBCOMP", allowed::PUBREL),
        ("SUBACK", allowed::SUBACK),
        ("UNSUBACK", allowed::UNSUBACK),
        ("DISCONNECT", allowed::DISCONNECT),
        ("AUTH", allowed::AUTH),
    ]
    .map(|(p, codes)| format!("{p} {}", codes.len()));
    println!();
    println!("Reason codes");
    println!(
        "  MQTT 5.0: {defined} codes; allowed per packet: {}",
        per_packet.join(", ")
    );
    println!(
        "  MQTT 3.1.1: CONNACK return codes {}; SUBACK return codes {}",
        hex(allowed::CONNACK_V311),
        hex(allowed::SUBACK_V311)
    );

    println!();
    println!("Packet size");
    println!(
        "  a Remaining Length holds at most {} in at most 4 bytes, so the largest packet is {} bytes;",
        thousands(VBI_MAX.into()),
        thousands(MAX_POSSIBLE_PACKET_SIZE.into())
    );
    println!(
        "  Decoder::with_max_packet_size(n) rejects a larger packet as soon as its fixed header is read,"
    );
    println!("  before any of its body is buffered (MQTT 5.0 reason 0x95 Packet too large)");
}

/// Encodes the sample conversation of `v` into one buffer and decodes it as
/// a server does, printing each packet.
fn sample_stream(v: ProtocolVersion) -> Result<()> {
    let packets = samples::conversation(v);
    let mut buf = BytesMut::new();
    for p in &packets {
        p.encode(v, &mut buf)?;
    }
    println!();
    println!(
        "Sample stream, {v}: {} packets, {} bytes, decoded by a server-side decoder",
        packets.len(),
        buf.len()
    );
    let mut decoder = Decoder::server();
    let mut offset = 0;
    for expected in &packets {
        let before = buf.len();
        let Some(p) = decoder.decode(&mut buf)? else {
            bail!("the sample stream of {v} ended early");
        };
        let size = before - buf.len();
        println!(
            "  @{offset:<4} {size:>3} B  {}",
            describe::packet(&p, decoder.version().unwrap_or(v))
        );
        if &p != expected {
            bail!("decoded {p:?}, expected {expected:?}");
        }
        offset += size;
    }
    Ok(())
}

/// Malformed inputs: a label, the decoder's version (`None`: server side)
/// and the bytes.
fn malformed_inputs() -> Vec<(&'static str, Option<ProtocolVersion>, Vec<u8>)> {
    use ProtocolVersion::{V311, V5};
    vec![
        (
            "PUBLISH with QoS 3",
            Some(V311),
            RawPacket::new(3, 0b0110)
                .string(b"a/b")
                .u16(1)
                .build()
                .to_vec(),
        ),
        (
            "PUBLISH to a topic with a wildcard",
            Some(V5),
            RawPacket::new(3, 0)
                .string(b"a/+")
                .vbi(0)
                .bytes(b"hi")
                .build()
                .to_vec(),
        ),
        (
            "PUBREL with flags 0000 (reserved: 0010)",
            Some(V311),
            RawPacket::new(6, 0).u16(1).build().to_vec(),
        ),
        (
            "a Remaining Length of 5 bytes",
            Some(V5),
            RawPacket::new(3, 0)
                .remaining_length_bytes(&[0x80, 0x80, 0x80, 0x80, 0x01])
                .build()
                .to_vec(),
        ),
        (
            "a Remaining Length not in its shortest form",
            Some(V5),
            RawPacket::new(12, 0)
                .remaining_length_bytes(&[0x80, 0x00])
                .build()
                .to_vec(),
        ),
        (
            "CONNECT with the MQTT 3.1 protocol name MQIsdp",
            None,
            RawPacket::new(1, 0)
                .string(b"MQIsdp")
                .u8(3)
                .u8(0x02)
                .u16(60)
                .string(b"c1")
                .build()
                .to_vec(),
        ),
        (
            "PUBLISH before CONNECT",
            None,
            RawPacket::new(3, 0).string(b"a/b").build().to_vec(),
        ),
        (
            "a topic name containing U+0000",
            Some(V311),
            RawPacket::new(3, 0).string(b"a\0b").build().to_vec(),
        ),
        (
            "a property given twice (Message Expiry Interval)",
            Some(V5),
            RawPacket::new(3, 0)
                .string(b"a/b")
                .vbi(10)
                .u8(0x02)
                .u32(60)
                .u8(0x02)
                .u32(60)
                .build()
                .to_vec(),
        ),
        (
            "SUBSCRIBE without a topic filter",
            Some(V311),
            RawPacket::new(8, 0b0010).u16(1).build().to_vec(),
        ),
    ]
}

/// Decodes each malformed input and prints the error.
fn malformed() -> Result<()> {
    println!();
    println!("Malformed input, rejected with the statements it breaks");
    for (label, version, bytes) in malformed_inputs() {
        let mut decoder = version.map_or_else(Decoder::server, Decoder::new);
        let mut buf = BytesMut::from(&bytes[..]);
        let mode = version.map_or_else(|| "server".to_owned(), |v| v.to_string());
        println!("  {mode}, {label}: {}", hex(&bytes));
        match decoder.decode(&mut buf) {
            Err(e) => println!("    -> {e}"),
            Ok(got) => bail!("the codec accepted {label}: {got:?}"),
        }
    }
    Ok(())
}

/// Shows a too-large packet rejected from its fixed header alone.
fn size_limit() -> Result<()> {
    let big = Packet::Publish(
        Publish::new(MqttString::from_static("big"), vec![0u8; 1000]).with_qos(QoS::AtMostOnce, 0),
    );
    let bytes = big.to_bytes(ProtocolVersion::V5)?;
    let mut head = BytesMut::from(&bytes[..3]);
    println!();
    println!(
        "A {}-byte PUBLISH against a maximum packet size of 256, after its first 3 bytes",
        bytes.len()
    );
    match Decoder::new(ProtocolVersion::V5)
        .with_max_packet_size(256)
        .decode(&mut head)
    {
        Err(e) => println!("  -> {e}"),
        Ok(got) => bail!("a packet over the maximum size was not rejected: {got:?}"),
    }
    Ok(())
}

/// Parses hex bytes: pairs of digits, optionally separated by spaces,
/// commas, colons or dashes, each group optionally prefixed by `0x`.
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let mut digits = String::new();
    for group in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '-')) {
        let group = group
            .strip_prefix("0x")
            .or_else(|| group.strip_prefix("0X"))
            .unwrap_or(group);
        if let Some(bad) = group.chars().find(|c| !c.is_ascii_hexdigit()) {
            bail!("invalid hex: {bad:?} in {group:?} is not a hex digit");
        }
        digits.push_str(group);
    }
    if digits.is_empty() {
        bail!("invalid hex: no bytes given");
    }
    if digits.len() % 2 != 0 {
        bail!(
            "invalid hex: {} digits, an odd number (each byte is two digits)",
            digits.len()
        );
    }
    Ok((0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("checked hex digits"))
        .collect())
}

/// `cargo xtask codec --hex HEX [--version V]`: decodes the bytes and prints
/// each packet; exits with 1 if they break a rule or end inside a packet.
pub(crate) fn decode_hex(text: &str, version: Option<ProtocolVersion>) -> Result<ExitCode> {
    let bytes = parse_hex(text)?;
    let mut decoder = version.map_or_else(Decoder::server, Decoder::new);
    match version {
        Some(v) => println!("{} bytes, decoded in {v}", bytes.len()),
        None => println!(
            "{} bytes, decoded as a server does (the version comes from CONNECT)",
            bytes.len()
        ),
    }
    let mut buf = BytesMut::from(&bytes[..]);
    let mut offset = 0;
    loop {
        let before = buf.len();
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                let size = before - buf.len();
                let v = decoder.version().unwrap_or(ProtocolVersion::V5);
                println!("  @{offset:<4} {size:>3} B  {}", describe::packet(&p, v));
                offset += size;
            }
            Ok(None) if buf.is_empty() => return Ok(ExitCode::SUCCESS),
            Ok(None) => {
                println!(
                    "  @{offset:<4} incomplete: {} bytes start a packet that needs more bytes",
                    buf.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => {
                println!("  @{offset:<4} error: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_parses_in_common_spellings() {
        let want = vec![0x30, 0x07, 0xab];
        for s in [
            "30 07 ab",
            "3007ab",
            "0x30 0x07 0xAB",
            "30:07:ab",
            " 30,07,ab\n",
        ] {
            assert_eq!(parse_hex(s).unwrap(), want, "{s}");
        }
    }

    #[test]
    fn bad_hex_is_an_error_not_a_panic() {
        for s in ["", "3", "30 0", "zz", "30 07 é1", "0x"] {
            assert!(parse_hex(s).is_err(), "{s}");
        }
    }

    #[test]
    fn every_malformed_sample_is_rejected() {
        for (label, version, bytes) in malformed_inputs() {
            let mut decoder = version.map_or_else(Decoder::server, Decoder::new);
            let got = decoder.decode(&mut BytesMut::from(&bytes[..]));
            assert!(got.is_err(), "{label}: {got:?}");
        }
    }

    #[test]
    fn the_demo_runs() {
        run().unwrap();
    }
}
