//! Mutations of a case: grammar-aware (fields at their boundaries,
//! duplicated or misplaced properties, Remaining Length lies, invalid
//! UTF-8, reserved bits, wrong packet ids), sequence-aware (duplicated,
//! dropped, reordered and moved packets, second CONNECTs, takeovers) and
//! transport-aware (split, byte-wise and slow writes, half-closes, drops).

use bytes::{Bytes, BytesMut};
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{Decoder, MqttString, Packet, ProtocolVersion, PubResponse, QoS};

use super::case::{Action, Case, Event, Transport};
use super::rng::Rng;

/// Applies 1 to 4 random mutations to `case`, recording their names.
pub fn mutate(case: &mut Case, rng: &mut Rng) {
    let n = 1 + rng.below(4);
    for _ in 0..n {
        let name = mutate_once(case, rng);
        case.mutations.push(name);
    }
    // Keep cases bounded: at most 64 events, 12 connections.
    case.events.truncate(64);
    case.events.retain(|e| e.conn < 12);
}

/// The index of a random `Send` event.
fn pick_send(case: &Case, rng: &mut Rng) -> Option<usize> {
    let sends: Vec<usize> = (0..case.events.len())
        .filter(|&i| matches!(case.events[i].action, Action::Send(_)))
        .collect();
    rng.pick(&sends).copied()
}

fn blob_mut(case: &mut Case, i: usize) -> &mut Vec<u8> {
    match &mut case.events[i].action {
        Action::Send(b) => b,
        _ => unreachable!("pick_send returns Send events"),
    }
}

/// Decodes a blob as the server would read it on its connection.
fn decode(case: &Case, i: usize) -> Option<(Packet, ProtocolVersion)> {
    let Action::Send(bytes) = &case.events[i].action else {
        return None;
    };
    let conn = case.events[i].conn;
    let mut buf = BytesMut::from(&bytes[..]);
    let mut decoder = match case.version(conn) {
        Some(v) if bytes.first().map(|b| b >> 4) != Some(1) => Decoder::new(v),
        _ => Decoder::server(),
    };
    let packet = decoder.decode(&mut buf).ok()??;
    let version = match &packet {
        Packet::Connect(c) => c.protocol_version,
        _ => decoder.version()?,
    };
    Some((packet, version))
}

/// Values at the edges of a two-byte integer.
const U16_EDGES: &[u16] = &[0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFE, 0xFFFF];
/// Values at the edges of a four-byte integer and of a Variable Byte Integer.
const U32_EDGES: &[u32] = &[
    0,
    1,
    0x7F,
    0x80,
    0x3FFF,
    0x4000,
    0x1F_FFFF,
    0x0FFF_FFFF,
    0x1000_0000,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];
/// Topics and filters that stress parsers and routers.
const TOPICS: &[&str] = &[
    "",
    "/",
    "#",
    "+",
    "+/+",
    "a/#/b",
    "a+",
    "$SYS/x",
    "$share/g/x",
    "$share//x",
    "$share/g",
    "\u{FEFF}fz",
    "fz/\u{FEFF}",
    "fz//",
    "fz/\u{7F}",
    "fz/\u{10FFFF}",
];

/// Replaces a blob by a packet edited at the field level; the strict
/// encoder writes it when it can.
fn field_edit(case: &mut Case, i: usize, rng: &mut Rng) -> &'static str {
    let Some((mut packet, version)) = decode(case, i) else {
        return raw_edit(case, i, rng);
    };
    let name = match &mut packet {
        Packet::Connect(c) => match rng.below(9) {
            0 => {
                c.keep_alive = *rng.pick(U16_EDGES).unwrap_or(&0);
                "connect keep alive edge"
            }
            1 => {
                c.client_id = MqttString::from_static("");
                "connect empty client id"
            }
            2 => {
                c.properties.session_expiry_interval = Some(*rng.pick(U32_EDGES).unwrap_or(&0));
                "connect session expiry edge"
            }
            3 => {
                c.properties.receive_maximum = Some(*rng.pick(&[1u16, 2, 0xFFFF]).unwrap_or(&1));
                "connect receive maximum edge"
            }
            4 => {
                c.properties.maximum_packet_size =
                    Some(*rng.pick(&[1u32, 2, 5, 20, 64, 0x0FFF_FFFF]).unwrap_or(&1));
                "connect maximum packet size edge"
            }
            5 => {
                c.properties.topic_alias_maximum = Some(*rng.pick(U16_EDGES).unwrap_or(&0));
                "connect topic alias maximum edge"
            }
            6 => {
                // Will Delay longer than the Session Expiry.
                let topic = format!(
                    "{}/will",
                    std::str::from_utf8(super::case::TOKEN).unwrap_or("fz")
                );
                let mut will = c.will.take().unwrap_or(mqtt_codec::Will {
                    topic: MqttString::new(topic).unwrap_or_default(),
                    payload: Bytes::from_static(b"w"),
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    properties: Default::default(),
                });
                will.properties.will_delay_interval = Some(*rng.pick(U32_EDGES).unwrap_or(&0));
                c.properties.session_expiry_interval = Some(rng.below(3) as u32);
                c.will = Some(will);
                "connect will delay beyond session expiry"
            }
            7 => {
                let n = *rng.pick(&[100usize, 1000, 5000]).unwrap_or(&100);
                let k = MqttString::from_static("k");
                let v = MqttString::from_static("v");
                c.properties.user_properties = vec![(k, v); n];
                "connect many user properties"
            }
            _ => {
                c.properties.authentication_method = Some(MqttString::from_static("SCRAM-SHA-1"));
                "connect authentication method"
            }
        },
        Packet::Publish(p) => match rng.below(8) {
            0 => {
                p.set_topic(MqttString::new(*rng.pick(TOPICS).unwrap_or(&"")).unwrap_or_default());
                "publish topic edge"
            }
            1 => {
                p.packet_id = *rng.pick(U16_EDGES).unwrap_or(&0);
                "publish packet id edge"
            }
            2 => {
                p.qos = *rng
                    .pick(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce])
                    .unwrap_or(&QoS::AtMostOnce);
                p.packet_id = if p.qos == QoS::AtMostOnce {
                    0
                } else {
                    1 + rng.below(3) as u16
                };
                "publish qos change"
            }
            3 => {
                p.properties.topic_alias = Some(*rng.pick(U16_EDGES).unwrap_or(&0));
                if rng.one_in(2) {
                    p.set_topic(MqttString::from_static(""));
                }
                "publish topic alias edge"
            }
            4 => {
                p.properties.message_expiry_interval = Some(*rng.pick(U32_EDGES).unwrap_or(&0));
                "publish message expiry edge"
            }
            5 => {
                p.properties.payload_format_indicator = Some(1);
                p.set_payload(Bytes::from_static(b"\xff\xfe\xc0\x80"));
                "publish utf-8 indicator with invalid payload"
            }
            6 => {
                let n = *rng.pick(&[100usize, 1000, 5000]).unwrap_or(&100);
                p.properties.user_properties =
                    vec![(MqttString::from_static("k"), MqttString::from_static("v")); n];
                "publish many user properties"
            }
            _ => {
                p.properties.response_topic =
                    Some(MqttString::new(*rng.pick(TOPICS).unwrap_or(&"#")).unwrap_or_default());
                "publish response topic edge"
            }
        },
        Packet::Subscribe(s) => match rng.below(5) {
            0 => {
                if let Some(f) = s.filters.first_mut() {
                    f.filter =
                        MqttString::new(*rng.pick(TOPICS).unwrap_or(&"#")).unwrap_or_default();
                }
                "subscribe filter edge"
            }
            1 => {
                s.packet_id = *rng.pick(U16_EDGES).unwrap_or(&0);
                "subscribe packet id edge"
            }
            2 => {
                s.properties.subscription_identifiers = vec![*rng.pick(U32_EDGES).unwrap_or(&0)];
                "subscribe subscription identifier edge"
            }
            3 => {
                let f = s.filters.first().cloned();
                if let Some(f) = f {
                    s.filters = vec![f; *rng.pick(&[2usize, 100, 1000]).unwrap_or(&2)];
                }
                "subscribe repeated filters"
            }
            _ => {
                if let Some(f) = s.filters.first_mut() {
                    f.options.no_local = true;
                    f.filter = MqttString::from_static("$share/g/fz/#");
                }
                "subscribe no local on shared"
            }
        },
        Packet::Unsubscribe(u) => {
            u.packet_id = *rng.pick(U16_EDGES).unwrap_or(&0);
            "unsubscribe packet id edge"
        }
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
            if rng.one_in(2) {
                r.packet_id = *rng.pick(U16_EDGES).unwrap_or(&0);
                "ack packet id edge"
            } else {
                r.reason_code =
                    mqtt_codec::ReasonCode(*rng.pick(&[0u8, 0x10, 0x80, 0x92, 0xFF]).unwrap_or(&0));
                "ack reason code edge"
            }
        }
        Packet::Disconnect(d) => {
            d.reason_code =
                mqtt_codec::ReasonCode(*rng.pick(&[0u8, 4, 0x80, 0x8E, 0xFF]).unwrap_or(&0));
            if rng.one_in(2) {
                d.properties.session_expiry_interval = Some(*rng.pick(U32_EDGES).unwrap_or(&0));
            }
            "disconnect reason and expiry edge"
        }
        _ => return raw_edit(case, i, rng),
    };
    match packet.to_bytes(version) {
        Ok(bytes) => *blob_mut(case, i) = bytes.to_vec(),
        // The encoder refuses: write it field by field.
        Err(_) => return raw_edit(case, i, rng),
    }
    name
}

/// Patches the bytes of a blob: flags, Remaining Length, strings, bytes.
fn raw_edit(case: &mut Case, i: usize, rng: &mut Rng) -> &'static str {
    let blob = blob_mut(case, i);
    if blob.len() < 2 {
        blob.push(rng.next_u64() as u8);
        return "raw append byte";
    }
    // Header and body of the blob as written.
    let (rl_len, body_start) = match vbi(&blob[1..]) {
        Some((_, used)) => (used, 1 + used),
        None => (blob.len() - 1, blob.len()),
    };
    let body = blob[body_start..].to_vec();
    let first = blob[0];
    let raw = || RawPacket::new(first >> 4, first & 0x0F).bytes(&body);
    let name = match rng.below(10) {
        0 => {
            *blob = raw().flags(rng.next_u64() as u8).build().to_vec();
            "raw reserved flag bits"
        }
        1 => {
            let len = body.len() as u32;
            let claim = *rng
                .pick(&[len + 1, len.saturating_sub(1), 0, len + 100, 0x0FFF_FFFF])
                .unwrap_or(&0);
            *blob = raw().remaining_length(claim).build().to_vec();
            "raw remaining length lie"
        }
        2 => {
            let mut rl = BytesMut::new();
            let len = body.len() as u32;
            // Non-minimal or five-byte forms of the true length.
            let forms: [&[u8]; 2] = [
                &[
                    0x80 | (len & 0x7F) as u8,
                    0x80 | ((len >> 7) & 0x7F) as u8,
                    0x00,
                ],
                &[0xFF, 0xFF, 0xFF, 0xFF, 0x7F],
            ];
            rl.extend_from_slice(forms[rng.below(2)]);
            *blob = raw().remaining_length_bytes(&rl).build().to_vec();
            "raw remaining length encoding"
        }
        3 => {
            let cut = 1 + rng.below(blob.len() - 1);
            blob.truncate(cut);
            "raw truncate"
        }
        4 if !body.is_empty() => {
            let at = body_start + rng.below(body.len());
            blob[at] = *rng
                .pick(&[0x00u8, 0xFF, 0xC0, 0xED, 0x80, 0x7F])
                .unwrap_or(&0);
            "raw body byte edge"
        }
        5 if body.len() >= 4 => {
            // Invalid UTF-8 in the first string (topic, protocol name).
            let at = body_start + 2 + rng.below(2.min(body.len() - 2));
            blob[at] = *rng.pick(&[0xC0u8, 0xFF, 0xED, 0x00]).unwrap_or(&0xFF);
            "raw invalid utf-8 in first string"
        }
        6 if body.len() >= 2 => {
            // Packet id (after the fixed header, for acks and subscribes)
            // set to 0 or the maximum.
            let v: u16 = if rng.one_in(2) { 0 } else { 0xFFFF };
            blob[body_start..body_start + 2].copy_from_slice(&v.to_be_bytes());
            "raw packet id zero or max"
        }
        7 => {
            let extra: Vec<u8> = (0..1 + rng.below(8))
                .map(|_| rng.next_u64() as u8)
                .collect();
            blob.extend_from_slice(&extra);
            "raw trailing garbage"
        }
        8 if rl_len > 0 && body.len() > 4 => {
            // Duplicate a span of the body (a repeated property or field)
            // and fix the Remaining Length.
            let a = rng.below(body.len());
            let b = (a + 1 + rng.below(8)).min(body.len());
            let mut nb = body.clone();
            let span = body[a..b].to_vec();
            nb.splice(b..b, span);
            *blob = RawPacket::new(first >> 4, first & 0x0F)
                .bytes(&nb)
                .build()
                .to_vec();
            "raw duplicated span"
        }
        _ => {
            let qos3 = (first & 0xF0) == 0x30;
            if qos3 {
                blob[0] = first | 0x06;
                "raw publish qos 3"
            } else {
                let t = rng.below(16) as u8;
                blob[0] = (t << 4) | (first & 0x0F);
                "raw packet type"
            }
        }
    };
    name
}

/// Reads a Variable Byte Integer: value and bytes used.
fn vbi(b: &[u8]) -> Option<(u32, usize)> {
    let mut v = 0u32;
    for (i, &byte) in b.iter().take(4).enumerate() {
        v |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Inserts an acknowledgement with a stray or edge packet id.
fn stray_ack(case: &mut Case, rng: &mut Rng) -> &'static str {
    let conns = case.conns().max(1);
    let conn = rng.below(conns);
    let version = case.version(conn).unwrap_or(ProtocolVersion::V311);
    let id = if rng.one_in(2) {
        1 + rng.below(3) as u16
    } else {
        *rng.pick(U16_EDGES).unwrap_or(&1)
    };
    let r = PubResponse::new(id.max(1));
    let p = match rng.below(4) {
        0 => Packet::PubAck(r),
        1 => Packet::PubRec(r),
        2 => Packet::PubRel(r),
        _ => Packet::PubComp(r),
    };
    let Ok(bytes) = p.to_bytes(version) else {
        return "stray ack (not encodable)";
    };
    let at = rng.below(case.events.len() + 1);
    case.events.insert(
        at,
        Event {
            conn,
            action: Action::Send(bytes.to_vec()),
        },
    );
    "sequence stray acknowledgement"
}

fn mutate_once(case: &mut Case, rng: &mut Rng) -> &'static str {
    let Some(i) = pick_send(case, rng) else {
        return "none (no blob)";
    };
    match rng.below(14) {
        0..=3 => field_edit(case, i, rng),
        4..=6 => raw_edit(case, i, rng),
        7 => {
            let e = case.events[i].clone();
            case.events.insert(i, e);
            "sequence duplicate packet"
        }
        8 => {
            case.events.remove(i);
            "sequence drop packet"
        }
        9 => {
            let j = rng.below(case.events.len());
            case.events.swap(i, j);
            "sequence swap events"
        }
        10 => stray_ack(case, rng),
        11 => {
            // Another connection re-sends this connection's first blob
            // (its CONNECT): a takeover, or a second CONNECT.
            let conn = case.events[i].conn;
            let Some(first) = case.blobs(conn).first().map(|b| b.to_vec()) else {
                return "none";
            };
            let target = if rng.one_in(2) { case.conns() } else { conn };
            let at = i + 1 + rng.below(case.events.len() - i);
            case.events.insert(
                at.min(case.events.len()),
                Event {
                    conn: target,
                    action: Action::Send(first),
                },
            );
            if target == conn {
                "sequence second connect"
            } else {
                "sequence takeover"
            }
        }
        12 => {
            let conn = case.events[i].conn;
            let action = if rng.one_in(2) {
                Action::HalfClose
            } else {
                Action::Drop
            };
            let at = i + 1 + rng.below(case.events.len() - i);
            let half = action == Action::HalfClose;
            case.events
                .insert(at.min(case.events.len()), Event { conn, action });
            if half {
                "transport half close"
            } else {
                "transport drop mid-session"
            }
        }
        _ => {
            let conn = case.events[i].conn;
            if case.transports.len() <= conn {
                case.transports.resize(conn + 1, Transport::Whole);
            }
            case.transports[conn] = match rng.below(3) {
                0 => Transport::Bytewise,
                1 => Transport::Split(2 + rng.below(5) as u8),
                _ => Transport::Slow,
            };
            "transport split or slow writes"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::Connect;

    fn case() -> Case {
        let connect = Packet::Connect(Box::new(Connect::new(
            ProtocolVersion::V5,
            MqttString::from_static("fz00000000a"),
        )));
        let publish = Packet::Publish(mqtt_codec::Publish::new(
            MqttString::from_static("fz00000000/t"),
            "x",
        ));
        Case {
            origin: "t".into(),
            transports: vec![Transport::Whole],
            events: vec![
                Event {
                    conn: 0,
                    action: Action::Send(connect.to_bytes(ProtocolVersion::V5).unwrap().to_vec()),
                },
                Event {
                    conn: 0,
                    action: Action::Sync,
                },
                Event {
                    conn: 0,
                    action: Action::Send(publish.to_bytes(ProtocolVersion::V5).unwrap().to_vec()),
                },
            ],
            mutations: vec![],
        }
    }

    #[test]
    fn mutations_change_the_case_and_stay_bounded() {
        let original = case();
        let mut changed = 0;
        for seed in 0..500 {
            let mut c = original.clone();
            let mut rng = Rng::new(seed);
            mutate(&mut c, &mut rng);
            assert!(!c.mutations.is_empty());
            assert!(c.events.len() <= 64 && c.conns() <= 12);
            if c != original {
                changed += 1;
            }
        }
        assert!(changed > 400, "only {changed} of 500 mutated cases differ");
    }

    #[test]
    fn vbi_reads_lengths() {
        assert_eq!(vbi(&[0x00]), Some((0, 1)));
        assert_eq!(vbi(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(vbi(&[0xFF, 0xFF, 0xFF, 0xFF]), None);
    }
}
