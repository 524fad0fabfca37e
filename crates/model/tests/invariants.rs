//! Property tests: random operation sequences over three clients and a
//! small topic alphabet, checking the invariants every verdict relies on.
//!
//! * every delivery matches a subscription its receiver held
//!   (MQTT-3.3.2-3 in 5.0; 3.1.1 §3.3.2.1);
//! * no QoS 2 message is delivered twice (MQTT-4.3.3-10; 3.1.1 MQTT-4.3.3-2);
//! * packet ids in flight per session are unique and non-zero
//!   (MQTT-2.2.1-4; 3.1.1 MQTT-2.3.1-2);
//! * a clean-session client leaves nothing behind once disconnected
//!   (3.1.1 MQTT-3.1.2-6; 5.0 Session Expiry 0);
//! * every packet the model sends encodes with the codec in the
//!   connection's version.

use std::collections::BTreeSet;

use mqtt_codec::topic::{matches, split_shared};
use mqtt_codec::{
    Connect, Disconnect, MqttString, Packet, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, Subscribe, Subscription, SubscriptionOptions, Unsubscribe,
};
use mqtt_model::{Broker, Config, ConnId, Output, Time};
use proptest::prelude::*;

const TOPICS: &[&str] = &["a", "b", "a/b", "$s/a"];
const FILTERS: &[&str] = &["a", "+", "#", "a/+", "a/#", "$s/#", "b"];

#[derive(Debug, Clone)]
enum Op {
    Connect {
        c: usize,
        v5: bool,
        clean: bool,
        rmax: u16,
    },
    Subscribe {
        c: usize,
        f: usize,
        qos: u8,
        no_local: bool,
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
    },
    ResendQos2 {
        c: usize,
    },
    Ack {
        c: usize,
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
    prop_oneof![
        1 => (c.clone(), any::<bool>(), any::<bool>(), 1..4u16)
            .prop_map(|(c, v5, clean, rmax)| Op::Connect { c, v5, clean, rmax }),
        2 => (c.clone(), 0..FILTERS.len(), 0..3u8, any::<bool>())
            .prop_map(|(c, f, qos, no_local)| Op::Subscribe { c, f, qos, no_local }),
        1 => (c.clone(), 0..FILTERS.len()).prop_map(|(c, f)| Op::Unsubscribe { c, f }),
        3 => (c.clone(), 0..TOPICS.len(), 0..3u8, any::<bool>())
            .prop_map(|(c, t, qos, retain)| Op::Publish { c, t, qos, retain }),
        1 => c.clone().prop_map(|c| Op::ResendQos2 { c }),
        3 => c.clone().prop_map(|c| Op::Ack { c }),
        1 => (c, any::<bool>()).prop_map(|(c, normal)| Op::Disconnect { c, normal }),
        1 => (0..20_000u64).prop_map(|ms| Op::Tick { ms }),
    ]
}

#[derive(Default)]
struct Client {
    conn: Option<ConnId>,
    v5: bool,
    clean: bool,
    next_id: u16,
    /// Acks the client owes the server.
    owed: Vec<Packet>,
    /// Last QoS 2 PUBLISH sent and not yet released (for re-sending).
    last_qos2: Option<Publish>,
    /// Server packet ids not yet completed from the client's side.
    outstanding: BTreeSet<u16>,
    /// Every filter ever granted.
    granted: BTreeSet<String>,
    /// QoS 2 payloads received (non-DUP).
    qos2_seen: BTreeSet<Vec<u8>>,
}

struct World {
    broker: Broker,
    now: u64,
    next_conn: u64,
    clients: Vec<Client>,
    seq: u64,
    /// Every connection opened: its client and whether it speaks 5.0.
    owners: std::collections::BTreeMap<ConnId, (usize, bool)>,
}

fn id(c: usize) -> String {
    format!("c{c}")
}

fn qos(n: u8) -> QoS {
    QoS::from_bits(n).unwrap_or_default()
}

impl World {
    fn new() -> Self {
        World {
            broker: Broker::new(Config {
                max_queued_messages: 8,
                ..Config::default()
            }),
            now: 0,
            next_conn: 0,
            clients: (0..3).map(|_| Client::default()).collect(),
            seq: 0,
            owners: Default::default(),
        }
    }

    fn send(&mut self, c: usize, p: Packet) -> Result<(), TestCaseError> {
        if let Some(conn) = self.clients[c].conn {
            self.broker.packet(conn, p, Time(self.now)).unwrap();
        }
        self.process()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Connect { c, v5, clean, rmax } => {
                if self.clients[c].conn.is_some() && (c + rmax as usize) % 2 == 0 {
                    // Sometimes take over the live connection, sometimes skip.
                    return Ok(());
                }
                self.next_conn += 1;
                let conn = ConnId(self.next_conn);
                let v = if v5 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V311
                };
                let mut p = Connect::new(v, MqttString::new(id(c)).unwrap());
                p.clean_start = clean;
                p.keep_alive = 0;
                if v5 {
                    p.properties.receive_maximum = Some(rmax);
                    p.properties.session_expiry_interval = (!clean).then_some(30);
                }
                self.broker.connection_opened(conn, Time(self.now)).unwrap();
                self.owners.insert(conn, (c, v5));
                let cl = &mut self.clients[c];
                cl.conn = Some(conn);
                cl.v5 = v5;
                cl.clean = clean;
                cl.owed.clear();
                self.broker
                    .packet(conn, Packet::Connect(Box::new(p)), Time(self.now))
                    .unwrap();
                self.process()
            }
            Op::Subscribe {
                c,
                f,
                qos: q,
                no_local,
            } => {
                let options = SubscriptionOptions {
                    no_local: no_local && self.clients[c].v5,
                    ..SubscriptionOptions::qos(qos(q))
                };
                let p = Subscribe {
                    packet_id: 1,
                    properties: Default::default(),
                    filters: vec![Subscription {
                        filter: MqttString::new(FILTERS[f]).unwrap(),
                        options,
                    }],
                };
                if self.clients[c].conn.is_some() {
                    self.clients[c].granted.insert(FILTERS[f].to_owned());
                }
                self.send(c, Packet::Subscribe(p))
            }
            Op::Unsubscribe { c, f } => self.send(
                c,
                Packet::Unsubscribe(Unsubscribe {
                    packet_id: 2,
                    properties: Default::default(),
                    filters: vec![MqttString::new(FILTERS[f]).unwrap()],
                }),
            ),
            Op::Publish {
                c,
                t,
                qos: q,
                retain,
            } => {
                if self.clients[c].conn.is_none() {
                    return Ok(());
                }
                self.seq += 1;
                let mut p = Publish::new(
                    MqttString::new(TOPICS[t]).unwrap(),
                    format!("{}:{}", id(c), self.seq),
                );
                p.qos = qos(q);
                p.retain = retain;
                if p.qos != QoS::AtMostOnce {
                    let cl = &mut self.clients[c];
                    cl.next_id = cl.next_id % 1000 + 1;
                    p.packet_id = cl.next_id;
                }
                if p.qos == QoS::ExactlyOnce {
                    self.clients[c].last_qos2 = Some(p.clone());
                }
                self.send(c, Packet::Publish(p))
            }
            Op::ResendQos2 { c } => match self.clients[c].last_qos2.clone() {
                Some(mut p) => {
                    p.dup = true;
                    self.send(c, Packet::Publish(p))
                }
                None => Ok(()),
            },
            Op::Ack { c } => {
                let owed = std::mem::take(&mut self.clients[c].owed);
                for p in owed {
                    match &p {
                        Packet::PubAck(r) | Packet::PubComp(r) => {
                            self.clients[c].outstanding.remove(&r.packet_id);
                        }
                        Packet::PubRel(_) => self.clients[c].last_qos2 = None,
                        _ => {}
                    }
                    self.send(c, p)?;
                }
                Ok(())
            }
            Op::Disconnect { c, normal } => {
                let Some(conn) = self.clients[c].conn else {
                    return Ok(());
                };
                if normal {
                    self.send(c, Packet::Disconnect(Disconnect::new(ReasonCode::SUCCESS)))?;
                } else {
                    self.broker.connection_closed(conn, Time(self.now)).unwrap();
                    self.clients[c].conn = None;
                    self.process()?;
                }
                self.check_clean_left_nothing(c)
            }
            Op::Tick { ms } => {
                self.now += ms;
                self.broker.tick(Time(self.now));
                self.process()
            }
        }
    }

    fn check_clean_left_nothing(&self, c: usize) -> Result<(), TestCaseError> {
        let cl = &self.clients[c];
        if cl.clean && cl.conn.is_none() {
            prop_assert!(self.broker.session(&id(c)).is_none(), "clean session kept");
        }
        Ok(())
    }

    fn client_of(&self, conn: ConnId) -> Option<usize> {
        self.clients.iter().position(|c| c.conn == Some(conn))
    }

    fn process(&mut self) -> Result<(), TestCaseError> {
        while let Some(o) = self.broker.poll_output() {
            match o {
                Output::Send {
                    conn,
                    version,
                    packet,
                } => {
                    if let Err(e) = packet.to_bytes(version) {
                        return Err(TestCaseError::fail(format!(
                            "encode refused: {e} {packet:?}"
                        )));
                    }
                    let Some(&(owner, v5)) = self.owners.get(&conn) else {
                        return Err(TestCaseError::fail(format!("send to unknown {conn}")));
                    };
                    prop_assert_eq!(version.is_v5(), v5);
                    match self.client_of(conn) {
                        Some(c) => self.on_packet(c, packet)?,
                        // A connection being taken over gets DISCONNECT only.
                        None => prop_assert!(
                            matches!(packet, Packet::Disconnect(_)),
                            "{packet:?} to c{owner}'s old {conn}"
                        ),
                    }
                }
                Output::Close { conn, .. } => {
                    if let Some(c) = self.client_of(conn) {
                        self.clients[c].conn = None;
                        self.check_clean_left_nothing(c)?;
                    }
                }
                Output::Event(_) => {}
            }
        }
        self.check_global()
    }

    fn on_packet(&mut self, c: usize, packet: Packet) -> Result<(), TestCaseError> {
        let cl = &mut self.clients[c];
        match packet {
            Packet::ConnAck(a) if !a.session_present => {
                cl.outstanding.clear();
                cl.qos2_seen.clear();
                cl.last_qos2 = None;
                cl.granted.clear();
            }
            Packet::Publish(p) => {
                let topic = p.topic().to_string();
                let ok = cl.granted.iter().any(|f| {
                    let inner = split_shared(f)
                        .filter(|_| cl.v5)
                        .map_or(f.as_str(), |s| s.filter);
                    matches(inner, &topic)
                });
                prop_assert!(ok, "{topic} delivered to c{c} without a subscription");
                match p.qos {
                    QoS::AtMostOnce => prop_assert_eq!(p.packet_id, 0),
                    q => {
                        prop_assert_ne!(p.packet_id, 0);
                        if !p.dup {
                            prop_assert!(
                                cl.outstanding.insert(p.packet_id),
                                "packet id {} reused while in flight",
                                p.packet_id
                            );
                        }
                        if q == QoS::ExactlyOnce && !p.dup && !p.retain {
                            prop_assert!(
                                cl.qos2_seen.insert(p.payload().to_vec()),
                                "QoS 2 duplicate {:?}",
                                p.payload()
                            );
                        }
                        cl.owed.push(if q == QoS::AtLeastOnce {
                            Packet::PubAck(PubResponse::new(p.packet_id))
                        } else {
                            Packet::PubRec(PubResponse::new(p.packet_id))
                        });
                    }
                }
            }
            Packet::PubRel(r) => cl.owed.push(Packet::PubComp(PubResponse::new(r.packet_id))),
            Packet::PubRec(r) => cl.owed.push(Packet::PubRel(PubResponse::new(r.packet_id))),
            _ => {}
        }
        Ok(())
    }

    fn check_global(&self) -> Result<(), TestCaseError> {
        let mut held = 0;
        for s in self.broker.sessions() {
            held += s.subscriptions.len();
            prop_assert!(s.inflight.ids().all(|i| i != 0));
            let ids: BTreeSet<u16> = s.inflight.ids().collect();
            prop_assert_eq!(ids.len(), s.inflight.len());
            prop_assert!(s.queue.len() <= 8);
        }
        prop_assert_eq!(held, self.broker.subscriptions().len());
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_sequences(ops in proptest::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        for op in &ops {
            w.apply(op)?;
        }
    }

    #[test]
    fn same_inputs_same_outputs(ops in proptest::collection::vec(op(), 1..40)) {
        let run = |ops: &[Op]| {
            let mut w = World::new();
            let mut trace = Vec::new();
            for op in ops {
                let _ = w.apply(op);
                trace.push(format!("{:?}", w.broker.sessions().map(|s| (s.client_id.clone(), s.inflight.len(), s.queue.len())).collect::<Vec<_>>()));
            }
            trace
        };
        prop_assert_eq!(run(&ops), run(&ops));
    }
}
