//! The `model` target: the broker model fed arbitrary operation sequences
//! from several connections, every packet passing through the strict codec
//! exactly as the server passes it (encode, then the connection's
//! server-side decoder: a decoded packet goes to `Broker::packet`, a
//! rejected one to `Broker::decode_error`).
//!
//! Checked after every input: no panic; the model never returns an error
//! for a connection its own outputs left open; every packet it sends goes
//! to an open connection, is a server-to-client type, encodes in the
//! connection's version and decodes back to itself; CONNACK comes first and
//! once; QoS 1/2 PUBLISH ids are non-zero and not in use on the connection
//! (MQTT-2.2.1-3/4 in 5.0, MQTT-2.3.1-2 in 3.1.1); PUBREL only follows our
//! PUBREC; acknowledgements answer something we sent; in-flight windows
//! respect the client's Receive Maximum and queues their bound.

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::Arbitrary;
use bytes::BytesMut;
use mqtt_codec::{
    Connect, Decoder, Disconnect, MqttString, Packet, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, RetainHandling, Subscribe, Subscription, SubscriptionOptions, Unsubscribe, Will,
};
use mqtt_model::{Broker, Config, ConnId, Output, Time};

/// Connection slots the operations address (`conn % SLOTS`).
const SLOTS: usize = 4;
/// Client ids the operations choose from (so that takeovers happen).
const CLIENTS: &[&str] = &["a", "b", "c", ""];
/// Topics and filters chosen by index: overlapping, wildcards, `$`, shared.
const TOPICS: &[&str] = &["t", "t/a", "t/b", "$SYS/x", "u", "t/a/b"];
const FILTERS: &[&str] = &[
    "t",
    "t/+",
    "#",
    "t/#",
    "+/a",
    "$share/g/t/#",
    "$share/g/#",
    "$SYS/#",
    "u",
];

/// One input to the broker.
#[derive(Debug, Arbitrary)]
pub enum Op {
    /// Opens a network connection in slot `conn` (if free).
    Open {
        /// Slot.
        conn: u8,
    },
    /// Sends a CONNECT built from a few choices.
    Connect {
        /// Slot.
        conn: u8,
        /// 5.0 (else 3.1.1).
        v5: bool,
        /// Client id index.
        client: u8,
        /// Clean Start / Clean Session.
        clean: bool,
        /// Keep Alive seconds.
        keep_alive: u8,
        /// Session Expiry choice (5.0): none, 0, 5 s, never.
        expiry: u8,
        /// Receive Maximum (5.0; 0 = absent).
        receive_max: u8,
        /// Topic Alias Maximum the client accepts (5.0).
        alias_max: u8,
        /// Will: topic index, QoS, retain, delay seconds.
        will: Option<(u8, u8, bool, u8)>,
    },
    /// SUBSCRIBE to one filter.
    Subscribe {
        /// Slot.
        conn: u8,
        /// Filter index.
        filter: u8,
        /// Options byte: QoS, No Local, RAP, Retain Handling.
        options: u8,
        /// Subscription Identifier (5.0; 0 = none).
        sub_id: u8,
        /// Packet id.
        id: u8,
    },
    /// UNSUBSCRIBE one filter.
    Unsubscribe {
        /// Slot.
        conn: u8,
        /// Filter index.
        filter: u8,
        /// Packet id.
        id: u8,
    },
    /// PUBLISH.
    Publish {
        /// Slot.
        conn: u8,
        /// Topic index.
        topic: u8,
        /// QoS bits (3 is sent as 2).
        qos: u8,
        /// RETAIN.
        retain: bool,
        /// DUP.
        dup: bool,
        /// Packet id.
        id: u8,
        /// Topic Alias (5.0; 0 = none; with `alias_only` the topic is empty).
        alias: u8,
        /// Send only the alias.
        alias_only: bool,
        /// Message Expiry Interval (5.0; 0 = none).
        expiry: u8,
        /// Empty payload (clears a retained message).
        empty: bool,
    },
    /// Acknowledges what the server sent: the `which`-th outstanding id.
    Ack {
        /// Slot.
        conn: u8,
        /// Index into the outstanding ids.
        which: u8,
        /// Reason code (5.0).
        reason: u8,
    },
    /// Any acknowledgement, with any id.
    RawAck {
        /// Slot.
        conn: u8,
        /// 0 PUBACK, 1 PUBREC, 2 PUBREL, 3 PUBCOMP.
        kind: u8,
        /// Packet id.
        id: u16,
        /// Reason code (5.0).
        reason: u8,
    },
    /// PINGREQ.
    Ping {
        /// Slot.
        conn: u8,
    },
    /// DISCONNECT.
    Disconnect {
        /// Slot.
        conn: u8,
        /// Reason code (5.0; 0x04 sends the Will).
        reason: u8,
        /// Session Expiry on DISCONNECT (5.0).
        expiry: Option<u8>,
    },
    /// Any packet the `arbitrary` crate makes.
    Packet {
        /// Slot.
        conn: u8,
        /// The packet.
        packet: Packet,
    },
    /// Any bytes, into the connection's decoder.
    Bytes {
        /// Slot.
        conn: u8,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The network connection closes.
    Close {
        /// Slot.
        conn: u8,
    },
    /// Time passes (milliseconds, times 100).
    Tick {
        /// Hundreds of milliseconds.
        ms: u16,
    },
}

/// A connection as the fuzzer's client sees it.
struct Slot {
    id: ConnId,
    decoder: Decoder,
    buf: BytesMut,
    version: ProtocolVersion,
    /// Stopped reading after a decode error (as the server does).
    stopped: bool,
    /// A CONNECT was decoded.
    connected: bool,
    /// CONNACKs received.
    connacks: u32,
    /// Packets received.
    received: u32,
    /// CONNACK said Session Present.
    resumed: bool,
    /// Server QoS 1 PUBLISH ids not yet PUBACKed by us.
    out_qos1: BTreeSet<u16>,
    /// Server QoS 2 PUBLISH ids not yet PUBRECed by us.
    out_qos2: BTreeSet<u16>,
    /// Server QoS 2 ids we PUBRECed, awaiting PUBREL, then PUBCOMP.
    pubreced: BTreeSet<u16>,
    /// Our SUBSCRIBE / UNSUBSCRIBE ids not answered, with filter counts.
    subs: BTreeMap<u16, usize>,
    unsubs: BTreeMap<u16, usize>,
    /// Our QoS 1 / QoS 2 PUBLISH ids (counts) and PUBRELs not answered.
    pub1: BTreeMap<u16, u32>,
    pub2: BTreeMap<u16, u32>,
    rels: BTreeMap<u16, u32>,
    /// Our PUBRECs not answered by a PUBREL.
    recs: BTreeMap<u16, u32>,
    pings: u32,
}

impl Slot {
    fn new(id: ConnId) -> Self {
        Slot {
            id,
            decoder: Decoder::server(),
            buf: BytesMut::new(),
            version: ProtocolVersion::V311,
            stopped: false,
            connected: false,
            connacks: 0,
            received: 0,
            resumed: false,
            out_qos1: BTreeSet::new(),
            out_qos2: BTreeSet::new(),
            pubreced: BTreeSet::new(),
            subs: BTreeMap::new(),
            unsubs: BTreeMap::new(),
            pub1: BTreeMap::new(),
            pub2: BTreeMap::new(),
            rels: BTreeMap::new(),
            recs: BTreeMap::new(),
            pings: 0,
        }
    }
}

/// The world: the model and the connections.
struct World {
    broker: Broker,
    slots: [Option<Slot>; SLOTS],
    next_conn: u64,
    now: u64,
    max_queued: usize,
}

fn s(text: &str) -> MqttString {
    MqttString::new(text).expect("constant strings are valid")
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn qos(bits: u8) -> QoS {
    QoS::from_bits(bits & 3).unwrap_or(QoS::ExactlyOnce)
}

/// Decrements a counter in a multiset; false if absent.
fn take(map: &mut BTreeMap<u16, u32>, id: u16) -> bool {
    match map.get_mut(&id) {
        Some(n) if *n > 1 => {
            *n -= 1;
            true
        }
        Some(_) => {
            map.remove(&id);
            true
        }
        None => false,
    }
}

impl World {
    fn new(config_bits: u8) -> Self {
        let max_queued = 1 + usize::from(config_bits & 7);
        let config = Config {
            max_queued_messages: max_queued,
            receive_maximum: if config_bits & 8 != 0 { 2 } else { 65_535 },
            topic_alias_maximum: if config_bits & 16 != 0 { 0 } else { 4 },
            max_inflight_v311: if config_bits & 32 != 0 { 2 } else { 65_535 },
            maximum_packet_size: (config_bits & 64 != 0).then_some(200),
            ..Config::default()
        };
        World {
            broker: Broker::new(config),
            slots: Default::default(),
            next_conn: 1,
            now: 0,
            max_queued,
        }
    }

    fn slot(&mut self, conn: u8) -> Option<&mut Slot> {
        self.slots[usize::from(conn) % SLOTS].as_mut()
    }

    /// Encodes `packet` in the slot's version and feeds the bytes.
    fn send(&mut self, conn: u8, packet: Packet) {
        let Some(slot) = self.slot(conn) else { return };
        let version = match &packet {
            Packet::Connect(c) => c.protocol_version,
            _ => slot.decoder.version().unwrap_or(slot.version),
        };
        let mut bytes = BytesMut::new();
        if packet.encode(version, &mut bytes).is_err() {
            return;
        }
        self.feed(conn, &bytes);
    }

    /// Bytes arrive on a connection: decoded as the server decodes them.
    fn feed(&mut self, conn: u8, bytes: &[u8]) {
        let now = Time(self.now);
        let Some(slot) = self.slots[usize::from(conn) % SLOTS].as_mut() else {
            return;
        };
        if slot.stopped {
            return;
        }
        slot.buf.extend_from_slice(bytes);
        loop {
            let slot = self.slots[usize::from(conn) % SLOTS]
                .as_mut()
                .expect("checked above");
            match slot.decoder.decode(&mut slot.buf) {
                Ok(Some(packet)) => {
                    note_sent(slot, &packet);
                    let id = slot.id;
                    let r = self.broker.packet(id, packet, now);
                    assert!(r.is_ok(), "model refused a packet on open {id}: {r:?}");
                    self.drain();
                    if self.slots[usize::from(conn) % SLOTS].is_none() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(violation) => {
                    slot.stopped = true;
                    let id = slot.id;
                    let r = self.broker.decode_error(id, &violation, now);
                    assert!(
                        r.is_ok(),
                        "model refused a decode error on open {id}: {r:?}"
                    );
                    self.drain();
                    return;
                }
            }
        }
    }

    fn slot_of(&mut self, id: ConnId) -> Option<&mut Slot> {
        self.slots.iter_mut().flatten().find(|s| s.id == id)
    }

    /// Takes every output, checking each.
    fn drain(&mut self) {
        while let Some(out) = self.broker.poll_output() {
            match out {
                Output::Send {
                    conn,
                    version,
                    packet,
                } => {
                    if std::env::var_os("FUZZ_DEBUG").is_some() {
                        eprintln!("  -> {conn}: {packet:?}");
                    }
                    let slot = self
                        .slot_of(conn)
                        .unwrap_or_else(|| panic!("sent {packet:?} to closed {conn}"));
                    check_received(slot, version, &packet);
                }
                Output::Close { conn, .. } => {
                    let i = self
                        .slots
                        .iter()
                        .position(|s| s.as_ref().is_some_and(|s| s.id == conn))
                        .unwrap_or_else(|| panic!("closed {conn}, which is not open"));
                    self.slots[i] = None;
                }
                Output::Event(_) => {}
            }
        }
        self.check_sessions();
    }

    /// Session-wide invariants.
    fn check_sessions(&self) {
        for session in self.broker.sessions() {
            assert!(
                session.inflight.ids().all(|id| id != 0),
                "packet id 0 in flight"
            );
            assert!(
                session.queue.len() <= self.max_queued,
                "{} queued, limit {}",
                session.queue.len(),
                self.max_queued
            );
            // Held entries (after a resumption, MQTT-3.3.4-9) wait outside
            // the window; the rest must fit the client's Receive Maximum.
            if let Some(conn) = session.conn.and_then(|c| self.broker.connection(c)) {
                assert!(
                    session.inflight.sent_count() <= usize::from(conn.receive_maximum),
                    "{} in flight over Receive Maximum {}",
                    session.inflight.sent_count(),
                    conn.receive_maximum
                );
            }
        }
        for conn in self.broker.connections() {
            assert!(
                self.slots.iter().flatten().any(|s| s.id == conn.id),
                "the model holds {} that it closed",
                conn.id
            );
        }
    }

    fn apply(&mut self, op: Op) {
        let v5 = |w: &mut World, conn: u8| {
            w.slot(conn)
                .is_some_and(|s| s.decoder.version() == Some(ProtocolVersion::V5))
        };
        match op {
            Op::Open { conn } => {
                let i = usize::from(conn) % SLOTS;
                if self.slots[i].is_none() {
                    let id = ConnId(self.next_conn);
                    self.next_conn += 1;
                    self.broker
                        .connection_opened(id, Time(self.now))
                        .expect("fresh connection id");
                    self.slots[i] = Some(Slot::new(id));
                }
            }
            Op::Connect {
                conn,
                v5,
                client,
                clean,
                keep_alive,
                expiry,
                receive_max,
                alias_max,
                will,
            } => {
                let version = if v5 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V311
                };
                let mut c = Connect::new(version, s(pick(CLIENTS, client)));
                c.clean_start = clean;
                c.keep_alive = u16::from(keep_alive % 8);
                if v5 {
                    c.properties.session_expiry_interval = match expiry % 4 {
                        0 => None,
                        1 => Some(0),
                        2 => Some(5),
                        _ => Some(u32::MAX),
                    };
                    c.properties.receive_maximum =
                        (receive_max != 0).then_some(1 + u16::from(receive_max % 3));
                    c.properties.topic_alias_maximum =
                        (alias_max != 0).then_some(u16::from(alias_max % 4));
                }
                if let Some((topic, q, retain, delay)) = will {
                    let mut w = Will {
                        topic: s(pick(TOPICS, topic)),
                        payload: bytes::Bytes::from_static(b"will"),
                        qos: qos(q % 3),
                        retain,
                        properties: Default::default(),
                    };
                    if v5 && delay != 0 {
                        w.properties.will_delay_interval = Some(u32::from(delay % 8));
                    }
                    c.will = Some(w);
                }
                self.send(conn, Packet::Connect(Box::new(c)));
            }
            Op::Subscribe {
                conn,
                filter,
                options,
                sub_id,
                id,
            } => {
                let is_v5 = v5(self, conn);
                let mut sub = Subscribe {
                    packet_id: u16::from(id),
                    properties: Default::default(),
                    filters: vec![Subscription {
                        filter: s(pick(FILTERS, filter)),
                        options: SubscriptionOptions {
                            qos: qos(options % 3),
                            no_local: is_v5 && options & 4 != 0,
                            retain_as_published: is_v5 && options & 8 != 0,
                            retain_handling: match (is_v5, (options >> 4) % 3) {
                                (true, 1) => RetainHandling::SendIfNew,
                                (true, 2) => RetainHandling::DoNotSend,
                                _ => RetainHandling::SendAtSubscribe,
                            },
                        },
                    }],
                };
                if is_v5 && sub_id != 0 {
                    sub.properties.subscription_identifiers = vec![u32::from(sub_id)];
                }
                self.send(conn, Packet::Subscribe(sub));
            }
            Op::Unsubscribe { conn, filter, id } => {
                self.send(
                    conn,
                    Packet::Unsubscribe(Unsubscribe {
                        packet_id: u16::from(id),
                        properties: Default::default(),
                        filters: vec![s(pick(FILTERS, filter))],
                    }),
                );
            }
            Op::Publish {
                conn,
                topic,
                qos: q,
                retain,
                dup,
                id,
                alias,
                alias_only,
                expiry,
                empty,
            } => {
                let is_v5 = v5(self, conn);
                let q = qos(q.min(2));
                let topic_name = if is_v5 && alias_only && alias != 0 {
                    ""
                } else {
                    pick(TOPICS, topic)
                };
                let mut p = Publish::new(
                    s(topic_name),
                    if empty {
                        bytes::Bytes::new()
                    } else {
                        bytes::Bytes::from_static(b"m")
                    },
                );
                p.qos = q;
                p.retain = retain;
                p.dup = dup && q != QoS::AtMostOnce;
                p.packet_id = if q == QoS::AtMostOnce {
                    0
                } else {
                    u16::from(id)
                };
                if is_v5 {
                    p.properties.topic_alias = (alias != 0).then_some(u16::from(alias % 6));
                    p.properties.message_expiry_interval =
                        (expiry != 0).then_some(u32::from(expiry % 4));
                }
                self.send(conn, Packet::Publish(p));
            }
            Op::Ack {
                conn,
                which,
                reason,
            } => {
                let is_v5 = v5(self, conn);
                let Some(slot) = self.slot(conn) else { return };
                let code = ReasonCode(if is_v5 { reason & 0x80 } else { 0 });
                let pick = |set: &BTreeSet<u16>| {
                    set.iter()
                        .nth(usize::from(which) % set.len().max(1))
                        .copied()
                };
                let packet = if let Some(id) = pick(&slot.out_qos1) {
                    Packet::PubAck(PubResponse {
                        packet_id: id,
                        reason_code: code,
                        properties: Default::default(),
                    })
                } else if let Some(id) = pick(&slot.out_qos2) {
                    Packet::PubRec(PubResponse {
                        packet_id: id,
                        reason_code: code,
                        properties: Default::default(),
                    })
                } else if let Some(id) = pick(&slot.pubreced) {
                    Packet::PubComp(PubResponse::new(id))
                } else {
                    return;
                };
                self.send(conn, packet);
            }
            Op::RawAck {
                conn,
                kind,
                id,
                reason,
            } => {
                let is_v5 = v5(self, conn);
                let r = PubResponse {
                    packet_id: id.max(1),
                    reason_code: ReasonCode(if is_v5 { reason & 0x80 } else { 0 }),
                    properties: Default::default(),
                };
                let packet = match kind % 4 {
                    0 => Packet::PubAck(r),
                    1 => Packet::PubRec(r),
                    2 => Packet::PubRel(PubResponse::new(id.max(1))),
                    _ => Packet::PubComp(PubResponse::new(id.max(1))),
                };
                self.send(conn, packet);
            }
            Op::Ping { conn } => self.send(conn, Packet::PingReq),
            Op::Disconnect {
                conn,
                reason,
                expiry,
            } => {
                let mut d = Disconnect::new(ReasonCode(if reason % 2 == 1 { 0x04 } else { 0 }));
                d.properties.session_expiry_interval = expiry.map(|e| u32::from(e % 4));
                self.send(conn, Packet::Disconnect(d));
            }
            Op::Packet { conn, packet } => self.send(conn, packet),
            Op::Bytes { conn, bytes } => self.feed(conn, &bytes),
            Op::Close { conn } => {
                let i = usize::from(conn) % SLOTS;
                if let Some(slot) = self.slots[i].take() {
                    let r = self.broker.connection_closed(slot.id, Time(self.now));
                    assert!(
                        r.is_ok(),
                        "model refused the close of open {}: {r:?}",
                        slot.id
                    );
                    self.drain();
                }
            }
            Op::Tick { ms } => {
                self.now += u64::from(ms) * 100;
                self.broker.tick(Time(self.now));
                self.drain();
            }
        }
    }
}

/// Records what the client sent (a packet the server decoded).
fn note_sent(slot: &mut Slot, packet: &Packet) {
    match packet {
        // The first CONNECT sets the version; a second one is a protocol
        // error, answered in the first one's version.
        Packet::Connect(c) if !slot.connected => {
            slot.connected = true;
            slot.version = c.protocol_version;
        }
        Packet::Subscribe(s) => *slot.subs.entry(s.packet_id).or_default() = s.filters.len(),
        Packet::Unsubscribe(u) => *slot.unsubs.entry(u.packet_id).or_default() = u.filters.len(),
        Packet::Publish(p) => match p.qos {
            QoS::AtLeastOnce => *slot.pub1.entry(p.packet_id).or_default() += 1,
            QoS::ExactlyOnce => *slot.pub2.entry(p.packet_id).or_default() += 1,
            QoS::AtMostOnce => {}
        },
        Packet::PubRel(r) => *slot.rels.entry(r.packet_id).or_default() += 1,
        Packet::PubAck(r) => {
            slot.out_qos1.remove(&r.packet_id);
        }
        Packet::PubRec(r) => {
            *slot.recs.entry(r.packet_id).or_default() += 1;
            if slot.out_qos2.remove(&r.packet_id) && !r.reason_code.is_error() {
                slot.pubreced.insert(r.packet_id);
            }
        }
        Packet::PubComp(r) => {
            slot.pubreced.remove(&r.packet_id);
        }
        Packet::PingReq => slot.pings += 1,
        _ => {}
    }
}

/// Checks one packet the model sends to `slot`'s client.
fn check_received(slot: &mut Slot, version: ProtocolVersion, packet: &Packet) {
    let bytes = packet
        .to_bytes(version)
        .unwrap_or_else(|e| panic!("the model sent {packet:?}, which does not encode: {e}"));
    let mut buf = BytesMut::from(&bytes[..]);
    let back = Decoder::new(version).decode(&mut buf);
    assert_eq!(
        back.as_ref().ok().and_then(Option::as_ref),
        Some(packet),
        "decodes back: {back:?}"
    );
    slot.received += 1;
    if !matches!(packet, Packet::ConnAck(_)) {
        assert!(slot.connacks > 0, "{packet:?} before CONNACK");
        assert_eq!(version, slot.version, "sent in another version");
    }
    match packet {
        Packet::ConnAck(ack) => {
            assert_eq!(slot.connacks, 0, "a second CONNACK");
            assert_eq!(slot.received, 1, "CONNACK not first");
            slot.connacks += 1;
            slot.resumed = ack.session_present;
        }
        Packet::Publish(p) => match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce | QoS::ExactlyOnce => {
                assert_ne!(p.packet_id, 0, "QoS > 0 PUBLISH with id 0");
                let in_use = slot.out_qos1.contains(&p.packet_id)
                    || slot.out_qos2.contains(&p.packet_id)
                    || slot.pubreced.contains(&p.packet_id);
                assert!(!in_use, "PUBLISH reuses id {} in flight", p.packet_id);
                if p.qos == QoS::AtLeastOnce {
                    slot.out_qos1.insert(p.packet_id);
                } else {
                    slot.out_qos2.insert(p.packet_id);
                }
            }
        },
        Packet::PubRel(r) => {
            // Each PUBREC is answered by a PUBREL (5.0: 0x92 for an
            // unknown id); a resumed session re-sends its PUBRELs.
            assert!(
                take(&mut slot.recs, r.packet_id) || slot.resumed,
                "PUBREL {} answers no PUBREC of ours",
                r.packet_id
            );
        }
        Packet::PubAck(r) => assert!(
            take(&mut slot.pub1, r.packet_id),
            "unsolicited PUBACK {}",
            r.packet_id
        ),
        Packet::PubRec(r) => assert!(
            take(&mut slot.pub2, r.packet_id),
            "unsolicited PUBREC {}",
            r.packet_id
        ),
        Packet::PubComp(r) => assert!(
            take(&mut slot.rels, r.packet_id),
            "unsolicited PUBCOMP {}",
            r.packet_id
        ),
        Packet::SubAck(a) => {
            let n = slot.subs.remove(&a.packet_id);
            assert_eq!(
                n,
                Some(a.reason_codes.len()),
                "SUBACK {} answers no SUBSCRIBE of that size",
                a.packet_id
            );
        }
        Packet::UnsubAck(a) => {
            let n = slot.unsubs.remove(&a.packet_id);
            assert!(
                n.is_some(),
                "UNSUBACK {} answers no UNSUBSCRIBE",
                a.packet_id
            );
        }
        Packet::PingResp => {
            assert!(slot.pings > 0, "unsolicited PINGRESP");
            slot.pings -= 1;
        }
        Packet::Disconnect(_) | Packet::Auth(_) => {}
        Packet::Connect(_) | Packet::Subscribe(_) | Packet::Unsubscribe(_) | Packet::PingReq => {
            panic!("the server sent a client-only packet: {packet:?}")
        }
    }
}

/// Runs one input: a broker configuration choice and the operations.
pub fn check_model(config_bits: u8, ops: Vec<Op>) {
    let mut world = World::new(config_bits);
    let debug = std::env::var_os("FUZZ_DEBUG").is_some();
    for op in ops.into_iter().take(256) {
        if debug {
            eprintln!("op: {op:?}");
        }
        world.apply(op);
    }
}
