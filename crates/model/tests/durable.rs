//! Durable state: export, change tracking and restore.
//!
//! The property: random operation sequences over three clients (3.1.1
//! and 5.0, clean and persistent sessions with expiry, Wills with delays,
//! plain and shared subscriptions, QoS 0/1/2 with retain and Message
//! Expiry, acknowledgements withheld and given) run on broker A with
//! change tracking on. After every input the changes A reports are applied
//! to a mirror store, which must always equal A's full export: no change
//! escapes the record. At a random point the "server crashes": broker B is
//! restored from the mirror, and A has every connection closed abruptly,
//! in client id order, at the same instant. From there on the same
//! operations go to both, and every output of B must equal A's, and their
//! exports must agree at the end.

use std::collections::{BTreeMap, BTreeSet};

use mqtt_codec::{
    Connect, Disconnect, MqttString, Packet, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, RetainHandling, Subscribe, Subscription, SubscriptionOptions, Unsubscribe, Will,
};
use mqtt_model::durable::{DurableMeta, DurableSession};
use mqtt_model::{Broker, Config, ConnId, DurableState, Message, Output, Time, TraceEvent};
use proptest::prelude::*;

/// Wall-clock-like times, as the server gives them when it keeps state.
const START: u64 = 1_700_000_000_000;
const TOPICS: &[&str] = &["a", "b", "a/b"];
const FILTERS: &[&str] = &["a", "+", "#", "a/+", "$share/g/a", "$share/g/#", "b"];
const EXPIRIES: &[u32] = &[0, 3, 60, u32::MAX];

#[derive(Debug, Clone)]
enum Op {
    Connect {
        c: usize,
        v5: bool,
        clean: bool,
        expiry: usize,
        will: Option<(usize, u8, bool, u32)>,
        rmax: u16,
    },
    Subscribe {
        c: usize,
        f: usize,
        qos: u8,
        rh: u8,
    },
    Unsubscribe {
        c: usize,
        f: usize,
    },
    Publish {
        c: usize,
        t: usize,
        qos: u8,
        retain: bool,
        empty: bool,
        expiry: Option<u32>,
    },
    ResendQos2 {
        c: usize,
    },
    Ack {
        c: usize,
        all: bool,
    },
    Disconnect {
        c: usize,
        normal: bool,
    },
    Tick {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..3usize;
    let will = proptest::option::of((0..TOPICS.len(), 0..3u8, any::<bool>(), 0..5u32));
    prop_oneof![
        2 => (c.clone(), any::<bool>(), any::<bool>(), 0..EXPIRIES.len(), will, 1..4u16)
            .prop_map(|(c, v5, clean, expiry, will, rmax)| Op::Connect { c, v5, clean, expiry, will, rmax }),
        2 => (c.clone(), 0..FILTERS.len(), 0..3u8, 0..3u8)
            .prop_map(|(c, f, qos, rh)| Op::Subscribe { c, f, qos, rh }),
        1 => (c.clone(), 0..FILTERS.len()).prop_map(|(c, f)| Op::Unsubscribe { c, f }),
        4 => (c.clone(), 0..TOPICS.len(), 0..3u8, any::<bool>(), prop::bool::weighted(0.1),
              proptest::option::of(1..4u32))
            .prop_map(|(c, t, qos, retain, empty, expiry)| Op::Publish { c, t, qos, retain, empty, expiry }),
        1 => c.clone().prop_map(|c| Op::ResendQos2 { c }),
        3 => (c.clone(), any::<bool>()).prop_map(|(c, all)| Op::Ack { c, all }),
        1 => (c, any::<bool>()).prop_map(|(c, normal)| Op::Disconnect { c, normal }),
        1 => (0..5_000u64).prop_map(|ms| Op::Tick { ms }),
    ]
}

fn s(x: &str) -> MqttString {
    MqttString::new(x).unwrap()
}

fn qos(n: u8) -> QoS {
    QoS::from_bits(n).unwrap_or_default()
}

/// What a client knows and owes.
#[derive(Debug, Default)]
struct Client {
    conn: Option<ConnId>,
    v5: bool,
    next_id: u16,
    /// Acknowledgements owed on the current connection (PUBACK, PUBREC,
    /// PUBCOMP for what the server sent).
    owed: Vec<Packet>,
    /// PUBRELs owed for our own QoS 2 messages: part of the client's
    /// session, re-sent after reconnecting.
    pubrels: BTreeSet<u16>,
    /// Our last QoS 2 PUBLISH, to send again with DUP.
    last_qos2: Option<Publish>,
}

/// The store as a server keeps it: what the change record says to write.
#[derive(Debug, Default, Clone, PartialEq)]
struct Mirror {
    sessions: BTreeMap<String, DurableSession>,
    retained: BTreeMap<String, Message>,
    meta: DurableMeta,
}

impl Mirror {
    fn apply(&mut self, b: &mut Broker) {
        let ch = b.take_changes();
        for id in ch.sessions {
            match b.export_session(&id) {
                Some(d) => self.sessions.insert(id, d),
                None => self.sessions.remove(&id),
            };
        }
        for t in ch.retained {
            match b.export_retained(&t) {
                Some(m) => self.retained.insert(t, m),
                None => self.retained.remove(&t),
            };
        }
        if ch.meta {
            self.meta = b.export_meta();
        }
    }

    fn of(state: DurableState) -> Mirror {
        Mirror {
            sessions: state
                .sessions
                .into_iter()
                .map(|d| (d.client_id.clone(), d))
                .collect(),
            retained: state
                .retained
                .into_iter()
                .map(|m| (m.topic().to_owned(), m))
                .collect(),
            meta: state.meta,
        }
    }

    fn state(&self) -> DurableState {
        DurableState {
            sessions: self.sessions.values().cloned().collect(),
            retained: self.retained.values().cloned().collect(),
            meta: self.meta.clone(),
        }
    }
}

struct World {
    a: Broker,
    b: Option<Broker>,
    mirror: Mirror,
    mirror_b: Mirror,
    saved: Mirror,
    now: u64,
    next_conn: u64,
    clients: Vec<Client>,
    seq: u64,
}

fn config() -> Config {
    Config {
        max_queued_messages: 6,
        ..Config::default()
    }
}

fn drain(b: &mut Broker) -> Vec<Output> {
    std::iter::from_fn(|| b.poll_output()).collect()
}

impl World {
    fn new() -> Self {
        let mut a = Broker::new(config());
        a.set_change_tracking(true);
        World {
            a,
            b: None,
            mirror: Mirror::default(),
            mirror_b: Mirror::default(),
            saved: Mirror::default(),
            now: START,
            next_conn: 0,
            clients: (0..3).map(|_| Client::default()).collect(),
            seq: 0,
        }
    }

    /// Feeds one input to A (and B once it exists), checks the change
    /// record against A's export and B's outputs against A's, and lets the
    /// clients read A's outputs.
    fn input(&mut self, f: impl Fn(&mut Broker)) -> Result<(), TestCaseError> {
        f(&mut self.a);
        let out_a = drain(&mut self.a);
        self.mirror.apply(&mut self.a);
        prop_assert_eq!(
            &self.mirror,
            &Mirror::of(self.a.export_all()),
            "the change record missed a change"
        );
        if let Some(b) = &mut self.b {
            f(b);
            let out_b = drain(b);
            prop_assert_eq!(&out_a, &out_b, "B answers unlike A");
            self.mirror_b.apply(b);
            prop_assert_eq!(&self.mirror_b, &Mirror::of(b.export_all()));
        }
        self.read(out_a);
        Ok(())
    }

    fn read(&mut self, outputs: Vec<Output>) {
        for o in outputs {
            match o {
                Output::Send { conn, packet, .. } => {
                    let Some(c) = self.clients.iter_mut().find(|c| c.conn == Some(conn)) else {
                        continue;
                    };
                    match packet {
                        Packet::Publish(p) => match p.qos {
                            QoS::AtMostOnce => {}
                            QoS::AtLeastOnce => {
                                c.owed.push(Packet::PubAck(PubResponse::new(p.packet_id)))
                            }
                            QoS::ExactlyOnce => {
                                c.owed.push(Packet::PubRec(PubResponse::new(p.packet_id)))
                            }
                        },
                        Packet::PubRel(r) => {
                            c.owed.push(Packet::PubComp(PubResponse::new(r.packet_id)))
                        }
                        Packet::PubRec(r) if !r.reason_code.is_error() => {
                            c.pubrels.insert(r.packet_id);
                        }
                        Packet::PubComp(r) => {
                            c.pubrels.remove(&r.packet_id);
                        }
                        _ => {}
                    }
                }
                Output::Close { conn, .. } => {
                    if let Some(c) = self.clients.iter_mut().find(|c| c.conn == Some(conn)) {
                        c.conn = None;
                        c.owed.clear();
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    fn send(&mut self, c: usize, p: Packet) -> Result<(), TestCaseError> {
        let Some(conn) = self.clients[c].conn else {
            return Ok(());
        };
        let now = Time(self.now);
        self.input(|b| b.packet(conn, p.clone(), now).unwrap())
    }

    fn next_id(&mut self, c: usize) -> u16 {
        let cl = &mut self.clients[c];
        cl.next_id = if cl.next_id >= 60_000 {
            1
        } else {
            cl.next_id + 1
        };
        cl.next_id
    }

    /// The crash: B is restored from the mirror; A loses every
    /// connection at the same instant, in client id order.
    fn mirror_before_crash(&self) -> Mirror {
        self.saved.clone()
    }

    fn crash(&mut self) -> Result<(), TestCaseError> {
        self.saved = self.mirror.clone();
        let mut b = Broker::new(config());
        b.set_change_tracking(true);
        b.restore(self.mirror.state(), Time(self.now))
            .map_err(|e| TestCaseError::fail(format!("restore: {e}")))?;
        let mut out_b = drain(&mut b);
        self.a.all_connections_lost(Time(self.now));
        let mut out_a = drain(&mut self.a);
        for c in &mut self.clients {
            c.conn = None;
            c.owed.clear();
        }
        // A's connections end, and with them the sessions of expiry 0
        // without a Will, which were never stored; B had none of them.
        let stored = &self.saved.sessions;
        let gone = |o: &Output| match o {
            Output::Event(TraceEvent::ConnectionEnded { .. }) => false,
            Output::Event(TraceEvent::SessionEnded { client_id }) => stored.contains_key(client_id),
            _ => true,
        };
        out_a.retain(gone);
        out_b.retain(gone);
        prop_assert_eq!(out_a, out_b, "the restart answers unlike lost connections");
        self.mirror.apply(&mut self.a);
        // B's store: what it was restored from, and what the restart changed.
        let mut mirror_b = self.mirror_before_crash();
        mirror_b.apply(&mut b);
        prop_assert_eq!(
            &mirror_b,
            &Mirror::of(b.export_all()),
            "the restart's changes were not all recorded"
        );
        self.mirror_b = mirror_b;
        prop_assert_eq!(&self.mirror, &Mirror::of(self.a.export_all()));
        prop_assert_eq!(
            Mirror::of(self.a.export_all()),
            Mirror::of(b.export_all()),
            "restored state differs"
        );
        self.b = Some(b);
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Connect {
                c,
                v5,
                clean,
                expiry,
                will,
                rmax,
            } => {
                if self.clients[c].conn.is_some() {
                    return Ok(());
                }
                self.next_conn += 1;
                let conn = ConnId(self.next_conn);
                let now = Time(self.now);
                self.input(|b| b.connection_opened(conn, now).unwrap())?;
                let v = if v5 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V311
                };
                let mut p = Connect::new(v, s(&format!("c{c}")));
                p.clean_start = clean;
                if v5 {
                    p.properties.session_expiry_interval = Some(EXPIRIES[expiry]);
                    p.properties.receive_maximum = Some(rmax);
                }
                if let Some((t, q, retain, delay)) = will {
                    let mut w = Will {
                        topic: s(TOPICS[t]),
                        payload: format!("will-{c}").into_bytes().into(),
                        qos: qos(q),
                        retain,
                        properties: Default::default(),
                    };
                    if v5 {
                        w.properties.will_delay_interval = Some(delay);
                    }
                    p.will = Some(w);
                }
                let cl = &mut self.clients[c];
                cl.conn = Some(conn);
                cl.v5 = v5;
                cl.owed.clear();
                self.input(|b| {
                    b.packet(conn, Packet::Connect(Box::new(p.clone())), now)
                        .unwrap()
                })?;
                // The client's own QoS 2 flows go on (MQTT-4.4.0-1).
                let rels: Vec<u16> = self.clients[c].pubrels.iter().copied().collect();
                for id in rels {
                    self.send(c, Packet::PubRel(PubResponse::new(id)))?;
                }
            }
            Op::Subscribe { c, f, qos: q, rh } => {
                let id = self.next_id(c);
                let mut options = SubscriptionOptions::qos(qos(q));
                if self.clients[c].v5 {
                    options.retain_handling = match rh {
                        0 => RetainHandling::SendAtSubscribe,
                        1 => RetainHandling::SendIfNew,
                        _ => RetainHandling::DoNotSend,
                    };
                }
                let mut sub = Subscribe {
                    packet_id: id,
                    properties: Default::default(),
                    filters: vec![Subscription {
                        filter: s(FILTERS[f]),
                        options,
                    }],
                };
                if self.clients[c].v5 && f % 2 == 0 {
                    sub.properties.subscription_identifiers = vec![u32::from(id)];
                }
                self.send(c, Packet::Subscribe(sub))?;
            }
            Op::Unsubscribe { c, f } => {
                let id = self.next_id(c);
                self.send(
                    c,
                    Packet::Unsubscribe(Unsubscribe {
                        packet_id: id,
                        properties: Default::default(),
                        filters: vec![s(FILTERS[f])],
                    }),
                )?;
            }
            Op::Publish {
                c,
                t,
                qos: q,
                retain,
                empty,
                expiry,
            } => {
                self.seq += 1;
                let id = if q == 0 { 0 } else { self.next_id(c) };
                let payload = if empty && retain {
                    Vec::new()
                } else {
                    format!("m{}", self.seq).into_bytes()
                };
                let mut p = Publish::new(s(TOPICS[t]), payload)
                    .with_qos(qos(q), id)
                    .with_retain(retain);
                if self.clients[c].v5 {
                    p.properties.message_expiry_interval = expiry;
                }
                if q == 2 {
                    self.clients[c].last_qos2 = Some(p.clone());
                }
                self.send(c, Packet::Publish(p))?;
            }
            Op::ResendQos2 { c } => {
                if let Some(mut p) = self.clients[c].last_qos2.clone() {
                    if self.clients[c].pubrels.contains(&p.packet_id) {
                        p.dup = true;
                        self.send(c, Packet::Publish(p))?;
                    }
                }
            }
            Op::Ack { c, all } => {
                let owed = std::mem::take(&mut self.clients[c].owed);
                let n = if all { owed.len() } else { owed.len().min(1) };
                self.clients[c].owed = owed[n..].to_vec();
                for p in owed.into_iter().take(n) {
                    self.send(c, p)?;
                }
                let rels: Vec<u16> = self.clients[c].pubrels.iter().copied().collect();
                for id in rels {
                    self.send(c, Packet::PubRel(PubResponse::new(id)))?;
                }
            }
            Op::Disconnect { c, normal } => {
                let Some(conn) = self.clients[c].conn else {
                    return Ok(());
                };
                let now = Time(self.now);
                if normal {
                    self.send(c, Packet::Disconnect(Disconnect::new(ReasonCode::SUCCESS)))?;
                }
                if self.clients[c].conn.is_some() {
                    self.input(|b| {
                        let _ = b.connection_closed(conn, now);
                    })?;
                }
                self.clients[c].conn = None;
                self.clients[c].owed.clear();
            }
            Op::Tick { ms } => {
                self.now += ms;
                let now = Time(self.now);
                self.input(|b| b.tick(now))?;
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn restored_broker_answers_like_the_original(
        before in proptest::collection::vec(op(), 0..40),
        after in proptest::collection::vec(op(), 0..40),
    ) {
        let mut w = World::new();
        for op in &before {
            w.apply(op)?;
        }
        w.crash()?;
        for op in &after {
            w.apply(op)?;
        }
        let a = Mirror::of(w.a.export_all());
        let b = Mirror::of(w.b.as_ref().map(Broker::export_all).unwrap_or_default());
        prop_assert_eq!(a, b);
    }
}

/// The whole state goes through a serializer and back unchanged (the
/// PUBLISH kept as its 5.0 encoding), for a state with every kind of
/// record in it.
#[test]
fn durable_state_round_trips_through_serde() {
    let mut w = World::new();
    let ops = [
        Op::Connect {
            c: 0,
            v5: true,
            clean: false,
            expiry: 2,
            will: Some((1, 1, true, 3)),
            rmax: 1,
        },
        Op::Subscribe {
            c: 0,
            f: 2,
            qos: 2,
            rh: 0,
        },
        Op::Subscribe {
            c: 0,
            f: 4,
            qos: 1,
            rh: 0,
        },
        Op::Connect {
            c: 1,
            v5: false,
            clean: false,
            expiry: 0,
            will: None,
            rmax: 1,
        },
        Op::Publish {
            c: 1,
            t: 0,
            qos: 2,
            retain: true,
            empty: false,
            expiry: None,
        },
        Op::Publish {
            c: 1,
            t: 2,
            qos: 1,
            retain: false,
            empty: false,
            expiry: None,
        },
        Op::Connect {
            c: 2,
            v5: true,
            clean: true,
            expiry: 1,
            will: None,
            rmax: 2,
        },
        Op::Publish {
            c: 2,
            t: 1,
            qos: 2,
            retain: true,
            empty: false,
            expiry: Some(3),
        },
    ];
    for op in &ops {
        w.apply(op).unwrap();
    }
    let state = w.a.export_all();
    assert!(
        state.sessions.iter().any(|s| !s.queue.is_empty()),
        "{state:?}"
    );
    assert!(state
        .sessions
        .iter()
        .any(|s| !s.inflight.entries.is_empty()));
    assert!(state.sessions.iter().any(|s| !s.inbound_qos2.is_empty()));
    assert!(state.sessions.iter().any(|s| s.live_will.is_some()));
    assert_eq!(state.retained.len(), 2);
    let json = serde_json::to_string(&state).unwrap();
    let back: DurableState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);
}

/// A session with expiry 2 s exported while offline is gone after a
/// restart 3 s later: the interval counts across it.
#[test]
fn session_expiry_counts_across_a_restart() {
    let mut w = World::new();
    w.apply(&Op::Connect {
        c: 0,
        v5: true,
        clean: false,
        expiry: 1,
        will: None,
        rmax: 1,
    })
    .unwrap();
    w.apply(&Op::Subscribe {
        c: 0,
        f: 0,
        qos: 1,
        rh: 0,
    })
    .unwrap();
    w.apply(&Op::Disconnect { c: 0, normal: true }).unwrap();
    let state = w.a.export_all();
    let mut b = Broker::new(config());
    b.restore(state.clone(), Time(START + 2_000)).unwrap();
    b.tick(Time(START + 2_000));
    assert!(b.session("c0").is_some(), "1 s of 3 s left");
    let mut b = Broker::new(config());
    b.restore(state, Time(START + 3_000)).unwrap();
    b.tick(Time(START + 3_000));
    assert!(
        b.session("c0").is_none(),
        "expired while the server was down"
    );
}

/// A state whose bytes are not a PUBLISH is refused by the deserializer,
/// not taken for a message.
#[test]
fn a_corrupt_stored_publish_is_an_error() {
    let json = r#"{"publish":[0,[1,2,3]],"publisher":null,"received_at":0}"#;
    let e = serde_json::from_str::<Message>(json).unwrap_err();
    assert!(e.to_string().contains("PUBLISH"), "{e}");
}

/// Restoring into a broker that already has sessions is refused.
#[test]
fn restore_needs_a_fresh_broker() {
    let mut w = World::new();
    w.apply(&Op::Connect {
        c: 0,
        v5: false,
        clean: false,
        expiry: 0,
        will: None,
        rmax: 1,
    })
    .unwrap();
    let state = w.a.export_all();
    assert_eq!(
        w.a.restore(state, Time(START)),
        Err(mqtt_model::RestoreError::NotFresh)
    );
}
