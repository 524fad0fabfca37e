//! Property: whatever the ACL, the subscriptions and the traffic, every
//! PUBLISH the model sends goes to a client whose user may read its topic,
//! every message it accepts and every Will it publishes comes from a user
//! who may publish there (MQTT 3.1.1 §5.4.2, MQTT 5.0 §5.4.2).
//!
//! Random rule lists over a small topic alphabet; three client ids shared
//! by four identities (alice, bob, carol, anonymous), so that sessions are
//! also resumed under another user; both versions; wildcard and shared
//! subscriptions, retained messages and Wills.

use std::collections::BTreeMap;

use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion, Publish, QoS, Will};
use mqtt_codec::{Subscribe, Subscription, SubscriptionOptions};
use mqtt_model::policy::{Access, AclRule, Authorizer, PasswordTable, TopicAcl};
use mqtt_model::{Broker, Config, ConnId, Output, Time, TraceEvent};
use proptest::prelude::*;

const USERS: &[Option<&str>] = &[Some("alice"), Some("bob"), Some("carol"), None];
const TOPICS: &[&str] = &[
    "private/alice/x",
    "private/bob/x",
    "private/alice",
    "public/a",
    "a",
];
const FILTERS: &[&str] = &[
    "#",
    "+",
    "+/+/+",
    "private/#",
    "+/alice/x",
    "public/#",
    "a",
    "$share/g/#",
    "$share/g/+/+/x",
];
const RULE_FILTERS: &[&str] = &[
    "#",
    "private/#",
    "private/alice/#",
    "private/+/x",
    "public/#",
    "a",
    "+",
];

fn rule() -> impl Strategy<Value = AclRule> {
    (0..USERS.len(), 0..RULE_FILTERS.len(), 0..3u8, any::<bool>()).prop_map(|(u, f, a, allow)| {
        AclRule {
            username: USERS[u].map(str::to_owned),
            filter: RULE_FILTERS[f].to_owned(),
            access: match a {
                0 => Access::Publish,
                1 => Access::Subscribe,
                _ => Access::Both,
            },
            allow,
        }
    })
}

fn acl() -> impl Strategy<Value = TopicAcl> {
    (proptest::collection::vec(rule(), 0..5), any::<bool>()).prop_map(|(rules, default_allow)| {
        TopicAcl {
            rules,
            default_allow,
        }
    })
}

#[derive(Debug, Clone)]
enum Op {
    Connect {
        c: usize,
        user: usize,
        v5: bool,
        clean: bool,
        will: Option<(usize, bool)>,
    },
    Subscribe {
        c: usize,
        f: usize,
        qos: u8,
    },
    Publish {
        c: usize,
        t: usize,
        qos: u8,
        retain: bool,
    },
    Drop {
        c: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let c = 0..3usize;
    prop_oneof![
        2 => (
            c.clone(),
            0..USERS.len(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of((0..TOPICS.len(), any::<bool>()))
        )
            .prop_map(|(c, user, v5, clean, will)| Op::Connect { c, user, v5, clean, will }),
        3 => (c.clone(), 0..FILTERS.len(), 0..3u8).prop_map(|(c, f, qos)| Op::Subscribe { c, f, qos }),
        4 => (c.clone(), 0..TOPICS.len(), 0..3u8, any::<bool>())
            .prop_map(|(c, t, qos, retain)| Op::Publish { c, t, qos, retain }),
        1 => c.prop_map(|c| Op::Drop { c }),
    ]
}

fn client_id(c: usize) -> String {
    format!("c{c}")
}

struct World {
    broker: Broker,
    acl: TopicAcl,
    next_conn: u64,
    /// The live connection of each client id.
    live: [Option<ConnId>; 3],
    /// Every connection opened: its client id and user name.
    conns: BTreeMap<ConnId, (String, Option<String>)>,
    /// The connection of each client id that ended last (its Will follows).
    ended: BTreeMap<String, ConnId>,
    next_id: u16,
}

impl World {
    fn new(acl: TopicAcl) -> Self {
        let mut users = PasswordTable::new();
        for u in USERS.iter().flatten() {
            users = users.with_user(u, b"pw");
        }
        users.allow_anonymous = true;
        World {
            broker: Broker::with_policies(
                Config::default(),
                Box::new(users),
                Box::new(acl.clone()),
            ),
            acl,
            next_conn: 0,
            live: [None; 3],
            conns: BTreeMap::new(),
            ended: BTreeMap::new(),
            next_id: 0,
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Connect {
                c,
                user,
                v5,
                clean,
                will,
            } => {
                self.next_conn += 1;
                let conn = ConnId(self.next_conn);
                let v = if v5 {
                    ProtocolVersion::V5
                } else {
                    ProtocolVersion::V311
                };
                let mut p = Connect::new(v, MqttString::new(client_id(c)).unwrap());
                p.clean_start = clean;
                p.keep_alive = 0;
                if v5 && !clean {
                    p.properties.session_expiry_interval = Some(60);
                }
                p.username = USERS[user].map(|u| MqttString::new(u).unwrap());
                p.password = USERS[user].map(|_| b"pw".to_vec().into());
                p.will = will.map(|(t, retain)| Will {
                    topic: MqttString::new(TOPICS[t]).unwrap(),
                    payload: "will".into(),
                    qos: QoS::AtLeastOnce,
                    retain,
                    properties: Default::default(),
                });
                self.broker.connection_opened(conn, Time(0)).unwrap();
                self.conns
                    .insert(conn, (client_id(c), USERS[user].map(str::to_owned)));
                self.live[c] = Some(conn);
                self.broker
                    .packet(conn, Packet::Connect(Box::new(p)), Time(0))
                    .unwrap();
                self.process(None)
            }
            Op::Subscribe { c, f, qos } => {
                let Some(conn) = self.live[c] else {
                    return Ok(());
                };
                let p = Subscribe {
                    packet_id: 1,
                    properties: Default::default(),
                    filters: vec![Subscription {
                        filter: MqttString::new(FILTERS[f]).unwrap(),
                        options: SubscriptionOptions::qos(QoS::from_bits(qos).unwrap_or_default()),
                    }],
                };
                self.broker
                    .packet(conn, Packet::Subscribe(p), Time(0))
                    .unwrap();
                self.process(None)
            }
            Op::Publish { c, t, qos, retain } => {
                let Some(conn) = self.live[c] else {
                    return Ok(());
                };
                let mut p = Publish::new(MqttString::new(TOPICS[t]).unwrap(), "m");
                p.qos = QoS::from_bits(qos).unwrap_or_default();
                p.retain = retain;
                if p.qos != QoS::AtMostOnce {
                    self.next_id = self.next_id % 1000 + 1;
                    p.packet_id = self.next_id;
                }
                self.broker
                    .packet(conn, Packet::Publish(p), Time(0))
                    .unwrap();
                self.process(Some(conn))
            }
            Op::Drop { c } => {
                let Some(conn) = self.live[c].take() else {
                    return Ok(());
                };
                self.broker.connection_closed(conn, Time(0)).unwrap();
                self.process(None)
            }
        }
    }

    /// Checks every output; `publisher` is the connection that just sent
    /// a PUBLISH, if any.
    fn process(&mut self, publisher: Option<ConnId>) -> Result<(), TestCaseError> {
        while let Some(o) = self.broker.poll_output() {
            match o {
                Output::Send {
                    conn,
                    packet: Packet::Publish(p),
                    ..
                } => {
                    let (client, user) = &self.conns[&conn];
                    prop_assert!(
                        self.acl.can_read(client, user.as_deref(), p.topic()),
                        "{} delivered to {client} ({user:?}), who may not read it",
                        p.topic()
                    );
                }
                Output::Send { .. } => {}
                Output::Close { conn, .. } => {
                    for l in &mut self.live {
                        if *l == Some(conn) {
                            *l = None;
                        }
                    }
                }
                Output::Event(TraceEvent::ConnectionEnded {
                    conn,
                    client_id: Some(id),
                }) => {
                    self.ended.insert(id, conn);
                }
                Output::Event(TraceEvent::WillPublished { client_id, topic }) => {
                    let owner = &self.conns[&self.ended[&client_id]].1;
                    prop_assert!(
                        self.acl.can_publish(&client_id, owner.as_deref(), &topic),
                        "{client_id}'s will on {topic} published for {owner:?}"
                    );
                }
                Output::Event(TraceEvent::Published {
                    client_id, topic, ..
                }) => {
                    let sender = publisher.and_then(|c| self.conns[&c].1.clone());
                    prop_assert!(
                        self.acl.can_publish(&client_id, sender.as_deref(), &topic),
                        "{client_id} ({sender:?}) published on {topic}"
                    );
                }
                Output::Event(_) => {}
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_delivery_is_readable_by_its_receiver(
        acl in acl(),
        ops in proptest::collection::vec(op(), 1..50),
    ) {
        let mut w = World::new(acl);
        for op in &ops {
            w.apply(op)?;
        }
    }
}
