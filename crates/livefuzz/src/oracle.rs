//! The oracles of a live case, judged from each connection's side with the
//! strict codec: a malformed packet from the broker; a packet that decodes
//! but that the protocol rules out in context (something before CONNACK, a
//! second CONNACK, packets after a refusing CONNACK, an acknowledgement for
//! nothing we sent, a SUBACK of the wrong size, a QoS > 0 PUBLISH reusing
//! an id in flight); a broker that answers a packet the strict decoder
//! rejects (accepted invalid input: for a person to judge); and a hang
//! (no PINGRESP nor close within the bound on a connection that sent only
//! valid packets). Legal behaviour is never a finding: a broker may close
//! on any protocol error, 3.1.1 closes without a reason, and fewer answers
//! than requests are fine when the connection closed.

use std::collections::BTreeMap;

use bytes::BytesMut;
use mqtt_codec::{Decoder, Packet, PacketType, ProtocolVersion, QoS, Violation};

use super::exec::ConnRecord;

/// What kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The broker process died.
    Crash,
    /// The broker stopped accepting or answering new connections.
    Unresponsive,
    /// No answer within the bound on a valid connection.
    Hang,
    /// The broker sent bytes the strict codec rejects.
    Malformed,
    /// The broker sent a packet the protocol rules out in context.
    Illegal,
    /// The broker answered a packet the strict decoder rejects.
    AcceptedInvalid,
    /// The broker's memory or CPU grew beyond the bound.
    Resource,
    /// Two targets answered differently (differential mode).
    Disagreement,
}

impl Kind {
    /// A short name for file names and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::Unresponsive => "unresponsive",
            Kind::Hang => "hang",
            Kind::Malformed => "malformed-response",
            Kind::Illegal => "illegal-response",
            Kind::AcceptedInvalid => "accepted-invalid",
            Kind::Resource => "resource",
            Kind::Disagreement => "disagreement",
        }
    }
}

/// One finding on one connection of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind.
    pub kind: Kind,
    /// The connection (index in the case), if one.
    pub conn: Option<usize>,
    /// What happened, in a sentence.
    pub detail: String,
    /// The statements it breaks, in the connection's version.
    pub statements: Vec<&'static str>,
    /// Dedupe key: findings with the same key are one finding.
    pub key: String,
    /// The packet a conforming broker would not send (for the replay's
    /// `expect_nothing`), as a scenario matcher in YAML flow style.
    pub forbidden: Option<String>,
}

/// What the client side sent on a connection, as the strict decoder reads it.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// The version (of a valid CONNECT first), if known.
    pub version: Option<ProtocolVersion>,
    /// The CONNECT was valid.
    pub connect_ok: bool,
    /// It asked for enhanced authentication (5.0).
    pub auth: bool,
    /// Packets decoded, in order, before any invalid blob.
    pub packets: Vec<Packet>,
    /// The first invalid blob.
    pub invalid: Option<Bad>,
    /// A DISCONNECT was sent (the broker reads nothing after it).
    pub disconnected: bool,
    /// Packets of blobs after the first invalid one that decode on their own.
    pub maybe: Vec<Packet>,
    /// The Protocol Level byte of the first blob, if it has a CONNECT's
    /// shape (read raw, also when the strict decoder rejects the CONNECT).
    pub level: Option<u8>,
    /// How many blobs were analysed.
    pub blobs: usize,
    /// A blob after the first invalid one is invalid on its own too (its
    /// answers, if any, cannot be told from unsolicited ones).
    pub more_invalid: bool,
}

/// The first blob the strict decoder rejects.
#[derive(Debug, Clone)]
pub struct Bad {
    /// Its index among the connection's blobs.
    pub index: usize,
    /// Why, as the codec says it.
    pub reason: String,
    /// The error's kind, without its details (for dedupe keys).
    pub kind: String,
    /// The statements the codec cites.
    pub statements: Vec<&'static str>,
    /// Its packet type nibble.
    pub nibble: u8,
    /// Its packet id, for types with one right after the fixed header.
    pub id: Option<u16>,
    /// Its Remaining Length matches its size: the broker frames it as we do.
    pub exact: bool,
}

impl Bad {
    fn new(index: usize, v: &Violation, blob: &[u8]) -> Bad {
        let kind = format!("{:?}", v.kind);
        Bad {
            index,
            reason: v.to_string(),
            kind: kind.split(['(', ' ', '{']).next().unwrap_or("").to_owned(),
            statements: v.statements.to_vec(),
            nibble: blob.first().map_or(0, |b| b >> 4),
            id: peek_id(blob),
            exact: exact_frame(blob),
        }
    }
}

impl Sent {
    /// True when every blob was a valid packet.
    pub fn clean(&self) -> bool {
        self.invalid.is_none() && self.connect_ok
    }
}

/// Decodes what a connection sent.
pub fn analyze<B: AsRef<[u8]>>(blobs: &[B]) -> Sent {
    let mut sent = Sent {
        level: blobs.first().and_then(|b| peek_level(b.as_ref())),
        blobs: blobs.len(),
        ..Sent::default()
    };
    let mut decoder = Decoder::server();
    let mut buf = BytesMut::new();
    for (i, blob) in blobs.iter().enumerate() {
        let blob = blob.as_ref();
        if sent.invalid.is_some() || sent.disconnected {
            // Judge later blobs on their own, for "possible" answers.
            if let Some(v) = sent.version {
                let mut b = BytesMut::from(blob);
                match Decoder::new(v).decode(&mut b) {
                    Ok(Some(p)) => sent.maybe.push(p),
                    _ => sent.more_invalid = true,
                }
            }
            continue;
        }
        // A packet begun in an earlier blob (a truncated one, completed by
        // the bytes of the next): if it fails, neither this blob's type
        // nor its framing says what the broker read.
        let mut carried = !buf.is_empty();
        buf.extend_from_slice(blob);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(p)) => {
                    carried = false;
                    if let Packet::Connect(c) = &p {
                        if sent.packets.is_empty() {
                            sent.version = Some(c.protocol_version);
                            sent.connect_ok = true;
                            sent.auth = c.properties.authentication_method.is_some();
                        }
                    }
                    if matches!(p, Packet::Disconnect(_)) {
                        sent.disconnected = true;
                    }
                    sent.packets.push(p);
                    if sent.disconnected {
                        break;
                    }
                }
                Ok(None) => break,
                Err(v) => {
                    let mut bad = Bad::new(i, &v, blob);
                    bad.exact &= !carried;
                    sent.invalid = Some(bad);
                    break;
                }
            }
        }
    }
    if sent.invalid.is_none() && !buf.is_empty() && !sent.disconnected {
        // An incomplete packet at the end: the broker waits for the rest,
        // legally. Treat like an invalid blob without a verdict of its own.
        sent.invalid = Some(Bad {
            index: blobs.len().saturating_sub(1),
            reason: "an incomplete packet at the end".into(),
            kind: "Incomplete".into(),
            statements: Vec::new(),
            nibble: 0,
            id: None,
            exact: false,
        });
    }
    sent
}

/// The packet id of a blob whose type carries one right after the fixed
/// header (acks, SUBSCRIBE, UNSUBSCRIBE).
fn peek_id(blob: &[u8]) -> Option<u16> {
    let t = blob.first()? >> 4;
    if !(4..=11).contains(&t) || t == 9 {
        return None;
    }
    let (_, used) = read_vbi(blob.get(1..)?)?;
    let at = 1 + used;
    Some(u16::from_be_bytes([*blob.get(at)?, *blob.get(at + 1)?]))
}

fn read_vbi(b: &[u8]) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &byte) in b.iter().take(4).enumerate() {
        v |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// True when the blob's Remaining Length matches its size exactly.
fn exact_frame(blob: &[u8]) -> bool {
    match blob.get(1..).and_then(read_vbi) {
        Some((len, used)) => 1 + used + len == blob.len(),
        None => false,
    }
}

/// Counters of requests that expect one answer each.
#[derive(Default)]
struct Pending {
    map: BTreeMap<(u8, u16), u32>,
}

impl Pending {
    fn add(&mut self, key: (u8, u16)) {
        *self.map.entry(key).or_default() += 1;
    }
    fn take(&mut self, key: (u8, u16)) -> bool {
        match self.map.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.map.remove(&key);
                true
            }
            None => false,
        }
    }
}

/// The answer a request expects: (answer type, id).
fn answer_key(p: &Packet) -> Option<(u8, u16)> {
    Some(match p {
        Packet::Subscribe(s) => (9, s.packet_id),
        Packet::Unsubscribe(u) => (11, u.packet_id),
        Packet::Publish(p) if p.qos == QoS::AtLeastOnce => (4, p.packet_id),
        Packet::Publish(p) if p.qos == QoS::ExactlyOnce => (5, p.packet_id),
        Packet::PubRec(r) => (6, r.packet_id),
        Packet::PubRel(r) => (7, r.packet_id),
        Packet::PingReq => (13, 0),
        _ => return None,
    })
}

/// The answer type a request nibble expects, for an invalid request.
fn answer_of_nibble(t: u8) -> Option<u8> {
    Some(match t {
        1 => 2,
        3 => 4, // or 5; checked both below
        5 => 6,
        6 => 7,
        8 => 9,
        10 => 11,
        12 => 13,
        _ => return None,
    })
}

/// Whether `answer` is a SUBACK that refuses every filter (return codes
/// of 0x80 and up) of a SUBSCRIBE the strict decoder rejected only for a
/// misplaced wildcard (`kind` `InvalidTopicFilter`): a legal refusal, not
/// an acceptance. Other faults (U+0000, reserved bits, ...) oblige the
/// server to close, so a refusing SUBACK does not excuse them.
fn refuses_every_filter(answer: &Packet, kind: &str) -> bool {
    kind == "InvalidTopicFilter"
        && matches!(answer, Packet::SubAck(a)
            if !a.reason_codes.is_empty() && a.reason_codes.iter().all(|c| c.0 >= 0x80))
}

fn pick(v: ProtocolVersion, v3: &'static str, v5: &'static str) -> &'static str {
    v.pick(v3, v5)
}

fn name(t: u8) -> &'static str {
    match t {
        2 => "connack",
        4 => "puback",
        5 => "pubrec",
        6 => "pubrel",
        7 => "pubcomp",
        9 => "suback",
        11 => "unsuback",
        13 => "pingresp",
        _ => "any",
    }
}

/// The statement that an unsolicited answer of type `t` breaks.
fn unsolicited_statement(t: u8, v: ProtocolVersion) -> &'static str {
    match t {
        4..=7 => pick(v, "MQTT-2.3.1-6", "MQTT-2.2.1-5"),
        9 => "MQTT-3.8.4-2",
        11 => "MQTT-3.10.4-4",
        13 => "MQTT-3.12.4-1",
        _ => "MQTT-3.2.0-1",
    }
}

fn answer_id(p: &Packet) -> Option<(u8, u16)> {
    Some(match p {
        Packet::PubAck(r) => (4, r.packet_id),
        Packet::PubRec(r) => (5, r.packet_id),
        Packet::PubRel(r) => (6, r.packet_id),
        Packet::PubComp(r) => (7, r.packet_id),
        Packet::SubAck(a) => (9, a.packet_id),
        Packet::UnsubAck(a) => (11, a.packet_id),
        Packet::PingResp => (13, 0),
        _ => return None,
    })
}

/// The broker's bytes as read in one version.
#[derive(Debug, Clone)]
pub struct Reading {
    /// The version they were read in.
    pub version: ProtocolVersion,
    /// The packets decoded, up to the first error.
    pub packets: Vec<Packet>,
    /// The first error, if any.
    pub malformed: Option<mqtt_codec::DecodeError>,
}

fn read_as(received: &[u8], version: ProtocolVersion) -> Reading {
    let mut d = Decoder::new(version);
    let mut buf = BytesMut::from(received);
    let mut packets = Vec::new();
    let mut malformed = None;
    loop {
        match d.decode(&mut buf) {
            Ok(Some(p)) => packets.push(p),
            Ok(None) => break,
            Err(e) => {
                malformed = Some(e);
                break;
            }
        }
    }
    Reading {
        version,
        packets,
        malformed,
    }
}

fn version_name(v: ProtocolVersion) -> &'static str {
    v.pick("3.1.1", "5.0")
}

/// The Protocol Level byte of a blob that has a CONNECT's shape (type,
/// Remaining Length, a length-prefixed protocol name), valid or not.
fn peek_level(blob: &[u8]) -> Option<u8> {
    if blob.first()? >> 4 != 1 {
        return None;
    }
    let (_, used) = read_vbi(blob.get(1..)?)?;
    let at = 1 + used;
    let name = usize::from(u16::from_be_bytes([*blob.get(at)?, *blob.get(at + 1)?]));
    blob.get(at + 2 + name).copied()
}

/// True when the first packet is a CONNACK refusing the protocol version
/// in `version`'s own terms: 3.1.1 return code 0x01 (MQTT-3.1.2-2 of
/// 3.1.1), 5.0 reason code 0x84 (MQTT-3.1.2-2 of 5.0).
fn refuses_version(packets: &[Packet], version: ProtocolVersion) -> bool {
    match packets.first() {
        Some(Packet::ConnAck(a)) => a.reason_code.0 == version.pick(0x01, 0x84),
        _ => false,
    }
}

/// Reads the broker's bytes in the version it may legally answer in. The
/// CONNECT's version (from the strict decoder, else its raw Protocol
/// Level) is the main reading; the other version is a legal reading only
/// as a refusal of the protocol version: a 3.1.1-only broker answers a
/// level-5 CONNECT with a 3.1.1 CONNACK 0x01, a 5.0-only broker may answer
/// a level-4 one with a 5.0 CONNACK 0x84. A CONNECT of another level (3.1,
/// or a mutated byte) may be read either way. Malformed only when no legal
/// reading decodes; then the main reading's error is reported.
pub fn read_answers(received: &[u8], sent: &Sent) -> Reading {
    use ProtocolVersion::{V311, V5};
    let level = sent.version.map(|v| v.pick(4, 5)).or(sent.level);
    let (main, other, other_any) = match level {
        Some(5) => (V5, V311, false),
        Some(4) => (V311, V5, false),
        _ => (V311, V5, true),
    };
    let first = read_as(received, main);
    if first.malformed.is_none() {
        return first;
    }
    let second = read_as(received, other);
    let legal = other_any || refuses_version(&second.packets, other);
    if second.malformed.is_none() && legal {
        second
    } else {
        first
    }
}

/// Judges one connection. `barrier_pings` is 1 when the harness sent the
/// final PINGREQ.
pub fn judge(conn: usize, rec: &ConnRecord, sent: &Sent) -> Vec<Finding> {
    judge_reading(conn, rec, sent, &read_answers(&rec.received, sent))
}

/// [`judge`] with the broker's bytes already read ([`read_answers`]).
pub fn judge_reading(
    conn: usize,
    rec: &ConnRecord,
    sent: &Sent,
    reading: &Reading,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut f = |kind: Kind,
                 detail: String,
                 statements: Vec<&'static str>,
                 key: String,
                 forbidden: Option<String>| {
        out.push(Finding {
            kind,
            conn: Some(conn),
            detail,
            statements,
            key: format!("{}:{key}", kind.as_str()),
            forbidden,
        });
    };
    // Decode what the broker sent, in every version it may legally answer
    // in; malformed only when no legal reading decodes.
    let v = reading.version;
    let received = &reading.packets;
    if let Some(e) = &reading.malformed {
        let kind = format!("{:?}", e.kind);
        let kind = kind.split(['(', ' ', '{']).next().unwrap_or("").to_owned();
        f(
            Kind::Malformed,
            format!(
                "malformed packet from the broker (read as {}) after {} packet(s): {e}",
                version_name(v),
                received.len()
            ),
            e.statements.to_vec(),
            kind,
            None,
        );
    }
    // Requests the broker must answer, and those it might (after an
    // invalid blob, framing may differ).
    let mut pending = Pending::default();
    for p in &sent.packets {
        if let Some(k) = answer_key(p) {
            pending.add(k);
        }
    }
    if rec.barrier.is_some() {
        pending.add((13, 0));
    }
    let mut maybe = Pending::default();
    for p in &sent.maybe {
        if let Some(k) = answer_key(p) {
            maybe.add(k);
        }
    }
    let mut connacks = 0;
    let mut refused = false;
    let mut resumed = false;
    let mut inflight: BTreeMap<u16, bool> = BTreeMap::new();
    let acked_any = sent.packets.iter().chain(&sent.maybe).any(|p| {
        matches!(
            p,
            Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_)
        )
    });
    for (i, p) in received.iter().enumerate() {
        let t = p.packet_type() as u8;
        if refused && !matches!(p, Packet::Disconnect(_)) {
            f(
                Kind::Illegal,
                format!("{} after a CONNACK that refused the connection", name(t)),
                vec![pick(v, "MQTT-3.2.2-5", "MQTT-3.2.2-7")],
                format!("after-refusal:{t}"),
                None,
            );
            break;
        }
        if i == 0
            && !matches!(p, Packet::ConnAck(_))
            && !(sent.auth && matches!(p, Packet::Auth(_)))
        {
            f(
                Kind::Illegal,
                format!(
                    "the first packet from the broker is {:?}, not CONNACK",
                    p.packet_type()
                ),
                vec!["MQTT-3.2.0-1"],
                format!("first-not-connack:{t}"),
                None,
            );
            break;
        }
        match p {
            Packet::ConnAck(ack) => {
                connacks += 1;
                if connacks > 1 {
                    f(
                        Kind::Illegal,
                        "a second CONNACK on one connection".into(),
                        vec![pick(v, "MQTT-3.2.0-1", "MQTT-3.2.0-2")],
                        "second-connack".into(),
                        None,
                    );
                    break;
                }
                let success = ack.reason_code.0 == 0;
                refused = !success;
                resumed = ack.session_present;
                if success && !sent.connect_ok {
                    if let Some(bad) = sent
                        .invalid
                        .as_ref()
                        .filter(|b| b.nibble == 1 && b.index == 0)
                    {
                        f(
                            Kind::AcceptedInvalid,
                            format!(
                                "CONNACK 0x00 to a CONNECT the strict decoder rejects: {}",
                                bad.reason
                            ),
                            bad.statements.clone(),
                            format!("connect:{}", bad.kind),
                            Some("{ type: connack, reason_code: 0 }".into()),
                        );
                    }
                }
            }
            Packet::Publish(pb) if pb.qos != QoS::AtMostOnce && !acked_any && !resumed => {
                if inflight.contains_key(&pb.packet_id) && (!pb.dup || v == ProtocolVersion::V5) {
                    {
                        f(
                                Kind::Illegal,
                                format!("PUBLISH QoS {} reuses packet id {} still in flight on this connection (dup={})", pb.qos.bits(), pb.packet_id, pb.dup),
                                vec![pick(v, "MQTT-2.3.1-2", "MQTT-2.2.1-3")],
                                format!("publish-id-reuse:dup={}", pb.dup),
                                None,
                            );
                    }
                }
                inflight.insert(pb.packet_id, pb.dup);
            }
            Packet::SubAck(a) => {
                // Sizes of every SUBSCRIBE with this id (ids may repeat).
                let sizes: Vec<usize> = sent
                    .packets
                    .iter()
                    .chain(&sent.maybe)
                    .filter_map(|p| match p {
                        Packet::Subscribe(s) if s.packet_id == a.packet_id => Some(s.filters.len()),
                        _ => None,
                    })
                    .collect();
                if let Some(&n) = sizes.first() {
                    if !sizes.contains(&a.reason_codes.len()) {
                        f(
                            Kind::Illegal,
                            format!(
                                "SUBACK {} has {} return codes for {n} filters",
                                a.packet_id,
                                a.reason_codes.len()
                            ),
                            vec![pick(v, "MQTT-3.8.4-5", "MQTT-3.8.4-6")],
                            "suback-size".into(),
                            None,
                        );
                    }
                }
            }
            _ => {}
        }
        if let Some(key) = answer_id(p) {
            // PUBREL answers our PUBREC; a resumed session may re-send its own.
            if key.0 == 6 && resumed {
                continue;
            }
            if pending.take(key) || maybe.take(key) {
                continue;
            }
            // An answer to the invalid blob?
            if let Some(bad) = &sent.invalid {
                let answers_bad =
                    match answer_of_nibble(bad.nibble) {
                        Some(4) => key.0 == 4 || key.0 == 5,
                        Some(a) => key.0 == a,
                        None => false,
                    } && (key.0 == 13 || key.0 == 4 || key.0 == 5 || bad.id == Some(key.1));
                if answers_bad && bad.exact && refuses_every_filter(p, &bad.kind) {
                    // A SUBACK refusing every filter of a SUBSCRIBE whose
                    // only fault is a filter's wildcard placement is the
                    // refusal the library accepts (MQTT-4.7.1-2 / 5.0
                    // MQTT-4.7.1-1 scenarios: 0x80 or a close).
                    continue;
                }
                if answers_bad && bad.exact {
                    f(
                        Kind::AcceptedInvalid,
                        format!(
                            "{} answers a packet the strict decoder rejects: {}",
                            name(key.0).to_uppercase(),
                            bad.reason
                        ),
                        bad.statements.clone(),
                        format!("{}:{}", name(key.0), bad.kind),
                        Some(format!("{{ type: {} }}", name(key.0))),
                    );
                    continue;
                }
                if !bad.exact {
                    // Framing diverged: no verdict on the rest.
                    continue;
                }
            }
            if !sent.connect_ok || (sent.invalid.is_some() && sent.more_invalid) {
                continue;
            }
            let forbidden = if key.0 == 13 {
                format!("{{ type: {} }}", name(key.0))
            } else {
                format!("{{ type: {}, packet_id: {} }}", name(key.0), key.1)
            };
            f(
                Kind::Illegal,
                format!(
                    "{} with packet id {} answers nothing this connection sent",
                    name(key.0).to_uppercase(),
                    key.1
                ),
                vec![unsolicited_statement(key.0, v)],
                format!("unsolicited:{}", name(key.0)),
                Some(forbidden),
            );
        }
    }
    if rec.barrier == Some(false) && sent.clean() && !sent.auth && !rec.closed_by_broker {
        let got_connack = connacks > 0;
        f(
            Kind::Hang,
            if got_connack {
                "no PINGRESP and no close within the hang bound".into()
            } else {
                "no CONNACK, no PINGRESP and no close within the hang bound".into()
            },
            vec![if got_connack {
                "MQTT-3.12.4-1"
            } else {
                "MQTT-3.2.0-1"
            }],
            if got_connack {
                "no-pingresp".into()
            } else {
                "no-connack".into()
            },
            None,
        );
    }
    out
}

/// Packet types, properties and reason codes seen, for the report.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    /// Packets sent, by type name and validity.
    pub sent: BTreeMap<String, u64>,
    /// Packets received, by type name.
    pub received: BTreeMap<String, u64>,
    /// 5.0 properties carried (sent or received), by name.
    pub properties: BTreeMap<String, u64>,
    /// Reason codes received, by packet and code.
    pub reason_codes: BTreeMap<String, u64>,
}

impl Coverage {
    /// Adds what one connection sent and received.
    pub fn add(&mut self, sent: &Sent, rec: &ConnRecord) {
        self.add_reading(sent, &read_answers(&rec.received, sent));
    }

    /// [`Coverage::add`] with the broker's bytes already read.
    pub fn add_reading(&mut self, sent: &Sent, reading: &Reading) {
        for p in sent.packets.iter() {
            *self
                .sent
                .entry(format!("{:?}", p.packet_type()))
                .or_default() += 1;
            self.props(p);
        }
        if let Some(bad) = &sent.invalid {
            let nibble = bad.nibble;
            let t = PacketType::from_nibble(nibble, sent.version)
                .map_or_else(|| format!("type {nibble}"), |t| format!("{t:?}"));
            *self.sent.entry(format!("{t} (invalid)")).or_default() += 1;
        }
        for p in &reading.packets {
            let t = format!("{:?}", p.packet_type());
            let code = match &p {
                Packet::ConnAck(a) => Some(a.reason_code.0),
                Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                    Some(r.reason_code.0)
                }
                Packet::Disconnect(d) => Some(d.reason_code.0),
                Packet::SubAck(a) => a.reason_codes.first().map(|c| c.0),
                Packet::UnsubAck(a) => a.reason_codes.first().map(|c| c.0),
                _ => None,
            };
            if let Some(c) = code {
                *self
                    .reason_codes
                    .entry(format!("{t} 0x{c:02X}"))
                    .or_default() += 1;
            }
            self.props(p);
            *self.received.entry(t).or_default() += 1;
        }
    }

    fn props(&mut self, p: &Packet) {
        let props = match p {
            Packet::Connect(c) => &c.properties,
            Packet::ConnAck(a) => &a.properties,
            Packet::Publish(x) => &x.properties,
            Packet::Subscribe(s) => &s.properties,
            Packet::Disconnect(d) => &d.properties,
            Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                &r.properties
            }
            _ => return,
        };
        if props.is_empty() {
            return;
        }
        let dbg = format!("{props:?}");
        // `name: Some(..)` and non-empty lists, from the Debug form.
        for part in dbg.trim_start_matches("PropertyValues {").split(", ") {
            let mut kv = part.splitn(2, ": ");
            let (Some(k), Some(val)) = (kv.next(), kv.next()) else {
                continue;
            };
            if val.starts_with("Some") || (val.starts_with('[') && !val.starts_with("[]")) {
                *self.properties.entry(k.trim().to_owned()).or_default() += 1;
            }
        }
    }

    /// Merges another coverage in.
    pub fn merge(&mut self, other: &Coverage) {
        for (a, b) in [
            (&mut self.sent, &other.sent),
            (&mut self.received, &other.received),
            (&mut self.properties, &other.properties),
            (&mut self.reason_codes, &other.reason_codes),
        ] {
            for (k, n) in b {
                *a.entry(k.clone()).or_default() += n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{Connect, MqttString, PubResponse};

    fn connect(v: ProtocolVersion) -> Vec<u8> {
        Packet::Connect(Box::new(Connect::new(v, MqttString::from_static("x"))))
            .to_bytes(v)
            .unwrap()
            .to_vec()
    }

    fn rec(sent: Vec<Vec<u8>>, received: &[u8]) -> ConnRecord {
        ConnRecord {
            sent,
            received: received.to_vec(),
            barrier: Some(true),
            ..ConnRecord::default()
        }
    }

    #[test]
    fn a_well_behaved_exchange_has_no_finding() {
        let sent = vec![connect(ProtocolVersion::V311)];
        let r = rec(sent.clone(), &[0x20, 0x02, 0x00, 0x00, 0xD0, 0x00]);
        assert!(judge(0, &r, &analyze(&sent)).is_empty());
    }

    #[test]
    fn an_unsolicited_puback_is_illegal() {
        let sent = vec![connect(ProtocolVersion::V311)];
        let r = rec(
            sent.clone(),
            &[0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0x00, 0x07, 0xD0, 0x00],
        );
        let f = judge(0, &r, &analyze(&sent));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, Kind::Illegal);
        assert_eq!(
            f[0].forbidden.as_deref(),
            Some("{ type: puback, packet_id: 7 }")
        );
    }

    #[test]
    fn a_malformed_answer_and_a_missing_connack_are_findings() {
        let sent = vec![connect(ProtocolVersion::V311)];
        // CONNACK with a reserved bit in its flags byte.
        let r = rec(sent.clone(), &[0x20, 0x02, 0x02, 0x00]);
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.iter().any(|f| f.kind == Kind::Malformed), "{f:?}");
        let r = rec(sent.clone(), &[0xD0, 0x00]);
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.iter().any(|f| f.kind == Kind::Illegal), "{f:?}");
    }

    #[test]
    fn a_suback_refusing_a_misplaced_wildcard_is_legal_but_granting_it_is_not() {
        // SUBSCRIBE id 5 to "a/#/b" (3.1.1 MQTT-4.7.1-2): the library
        // accepts SUBACK 0x80 or a close as the refusal.
        let mut sent = vec![connect(ProtocolVersion::V311)];
        sent.push(vec![
            0x82, 0x0A, 0x00, 0x05, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00,
        ]);
        let a = analyze(&sent);
        assert!(a.invalid.is_some());
        let refused = rec(
            sent.clone(),
            &[
                0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x05, 0x80, 0xD0, 0x00,
            ],
        );
        let f = judge(0, &refused, &a);
        assert!(f.is_empty(), "{f:?}");
        let granted = rec(
            sent.clone(),
            &[
                0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x05, 0x00, 0xD0, 0x00,
            ],
        );
        let f = judge(0, &granted, &a);
        assert!(f.iter().any(|f| f.kind == Kind::AcceptedInvalid), "{f:?}");
    }

    #[test]
    fn answering_an_invalid_packet_is_accepted_invalid_and_a_close_is_legal() {
        // SUBSCRIBE with reserved bits set in its options (3.1.1
        // MQTT-3.8.3-4) is invalid: a SUBACK for it accepts it.
        let mut sent = vec![connect(ProtocolVersion::V311)];
        sent.push(vec![0x82, 0x06, 0x00, 0x05, 0x00, 0x01, b'a', 0xC0]);
        let a = analyze(&sent);
        assert!(a.invalid.is_some());
        let answered = rec(
            sent.clone(),
            &[0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x05, 0x00],
        );
        let f = judge(0, &answered, &a);
        assert!(f.iter().any(|f| f.kind == Kind::AcceptedInvalid), "{f:?}");
        let mut closed = rec(sent.clone(), &[0x20, 0x02, 0x00, 0x00]);
        closed.closed_by_broker = true;
        closed.barrier = None;
        assert!(judge(0, &closed, &a).is_empty());
    }

    #[test]
    fn a_311_refusal_of_a_level_5_connect_is_a_legal_reading() {
        // A 3.1.1-only broker answers a (valid) 5.0 CONNECT with a 3.1.1
        // CONNACK 0x01 and closes (3.1.1 MQTT-3.1.2-2): not malformed,
        // although the bytes do not decode as a 5.0 CONNACK.
        let sent = vec![connect(ProtocolVersion::V5)];
        let a = analyze(&sent);
        assert_eq!(a.version, Some(ProtocolVersion::V5));
        let mut r = rec(sent.clone(), &[0x20, 0x02, 0x00, 0x01]);
        r.closed_by_broker = true;
        r.barrier = None;
        let f = judge(0, &r, &a);
        assert!(f.is_empty(), "{f:?}");
        // The same refusal after a level-5 CONNECT the strict decoder
        // rejects (reserved connect flag set).
        let mut bad = connect(ProtocolVersion::V5);
        let flags = 1 + 1 + 2 + 4 + 1;
        bad[flags] |= 0x01;
        let a = analyze(&[bad.clone()]);
        assert_eq!((a.version, a.level), (None, Some(5)));
        let r = ConnRecord {
            sent: vec![bad],
            ..r
        };
        assert!(judge(0, &r, &a).is_empty());
    }

    #[test]
    fn a_311_connack_accepting_a_5_connect_is_still_malformed() {
        // The 3.1.1 reading is legal only as a refusal of the version: a
        // CONNACK 0x00 without properties is a malformed 5.0 CONNACK.
        let sent = vec![connect(ProtocolVersion::V5)];
        let r = rec(sent.clone(), &[0x20, 0x02, 0x00, 0x00, 0xD0, 0x00]);
        let f = judge(0, &r, &analyze(&sent));
        assert!(
            f.iter()
                .any(|f| f.kind == Kind::Malformed && f.detail.contains("read as 5.0")),
            "{f:?}"
        );
        // A 3.1.1 CONNECT is read as 5.0 only for a refusal of the
        // version (5.0 MQTT-3.1.2-2: CONNACK 0x84), not for an acceptance.
        let sent = vec![connect(ProtocolVersion::V311)];
        let mut r = rec(sent.clone(), &[0x20, 0x03, 0x00, 0x84, 0x00]);
        r.closed_by_broker = true;
        r.barrier = None;
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.is_empty(), "{f:?}");
        let r = rec(sent.clone(), &[0x20, 0x03, 0x00, 0x00, 0x00, 0xD0, 0x00]);
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.iter().any(|f| f.kind == Kind::Malformed), "{f:?}");
    }

    #[test]
    fn answers_to_packets_that_span_blobs_or_follow_an_invalid_one_are_not_unsolicited() {
        // A SUBSCRIBE truncated by one byte, completed by the next blob's
        // first byte: the broker frames one SUBSCRIBE (filter ending in
        // U+0000) and may answer SUBACK 1; that is no unsolicited SUBACK.
        let c = connect(ProtocolVersion::V311);
        let sub = vec![0x82, 0x06, 0x00, 0x01, 0x00, 0x02, b'a'];
        let sent = vec![c.clone(), sub, vec![0x00, 0x00]];
        let r = rec(
            sent.clone(),
            &[0x20, 0x02, 0x00, 0x00, 0x90, 0x03, 0x00, 0x01, 0x00],
        );
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.iter().all(|f| f.kind != Kind::Illegal), "{f:?}");
        // A PINGREQ with a body after an invalid PUBLISH, answered.
        let sent = vec![
            c.clone(),
            vec![0x30, 0x05, 0x00, 0x03, b'a', b'/', 0x00],
            vec![0xC0, 0x02, 0x00, 0x7F],
        ];
        let r = rec(
            sent.clone(),
            &[0x20, 0x02, 0x00, 0x00, 0xD0, 0x00, 0xD0, 0x00],
        );
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.iter().all(|f| f.kind != Kind::Illegal), "{f:?}");
        // Without the invalid blobs, an extra PINGRESP is still unsolicited.
        let sent = vec![c];
        let r = rec(
            sent.clone(),
            &[0x20, 0x02, 0x00, 0x00, 0xD0, 0x00, 0xD0, 0x00],
        );
        let f = judge(0, &r, &analyze(&sent));
        assert!(f.iter().any(|f| f.kind == Kind::Illegal), "{f:?}");
    }

    #[test]
    fn a_silent_broker_is_a_hang_only_on_a_clean_connection() {
        let sent = vec![connect(ProtocolVersion::V5)];
        let mut r = rec(sent.clone(), &[]);
        r.barrier = Some(false);
        let f = judge(0, &r, &analyze(&sent));
        assert_eq!(
            f.iter().filter(|f| f.kind == Kind::Hang).count(),
            1,
            "{f:?}"
        );
        let ack = Packet::PubAck(PubResponse::new(1))
            .to_bytes(ProtocolVersion::V5)
            .unwrap()
            .to_vec();
        let mut dirty = sent.clone();
        dirty.push(ack[..2].to_vec());
        assert!(judge(0, &r, &analyze(&dirty))
            .iter()
            .all(|f| f.kind != Kind::Hang));
    }
}
