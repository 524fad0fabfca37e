//! Test driver: a broker, a clock, and helpers that build packets and
//! collect outputs. Every packet the broker sends is encoded with the codec
//! in the connection's version; a refusal fails the test.

#![allow(dead_code, unreachable_pub)]

use mqtt_codec::{
    Connect, Disconnect, MqttString, Packet, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, Subscribe, Subscription, SubscriptionOptions, Unsubscribe,
};
use mqtt_model::{Broker, CloseReason, Config, ConnId, Output, Time, TraceEvent};

pub use ProtocolVersion::{V311, V5};

pub fn s(x: &str) -> MqttString {
    MqttString::new(x).unwrap()
}

pub struct H {
    pub broker: Broker,
    pub now: u64,
    pub log: Vec<Output>,
}

impl H {
    pub fn new() -> Self {
        H::with(Config::default())
    }

    pub fn with(config: Config) -> Self {
        H {
            broker: Broker::new(config),
            now: 0,
            log: Vec::new(),
        }
    }

    pub fn t(&self) -> Time {
        Time(self.now)
    }

    /// Advances the clock by `ms` and ticks.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        let t = self.t();
        self.broker.tick(t);
    }

    pub fn open(&mut self, conn: u64) {
        let t = self.t();
        self.broker.connection_opened(ConnId(conn), t).unwrap();
    }

    pub fn send(&mut self, conn: u64, p: Packet) {
        let t = self.t();
        self.broker.packet(ConnId(conn), p, t).unwrap();
    }

    pub fn close(&mut self, conn: u64) {
        let t = self.t();
        self.broker.connection_closed(ConnId(conn), t).unwrap();
    }

    /// Opens `conn` and connects `client` with clean start/session `clean`;
    /// returns the CONNACK.
    pub fn connect_with(
        &mut self,
        conn: u64,
        v: ProtocolVersion,
        client: &str,
        f: impl FnOnce(&mut Connect),
    ) -> mqtt_codec::ConnAck {
        self.open(conn);
        let mut c = Connect::new(v, s(client));
        f(&mut c);
        self.send(conn, Packet::Connect(Box::new(c)));
        self.drain();
        let pos = self
            .log
            .iter()
            .position(|o| {
                matches!(o, Output::Send { conn: c, packet: Packet::ConnAck(_), .. } if c.0 == conn)
            })
            .expect("CONNACK");
        match self.log.remove(pos) {
            Output::Send {
                packet: Packet::ConnAck(a),
                ..
            } => a,
            _ => unreachable!(),
        }
    }

    pub fn connect(&mut self, conn: u64, v: ProtocolVersion, client: &str, clean: bool) -> bool {
        let ack = self.connect_with(conn, v, client, |c| {
            c.clean_start = clean;
            if v == V5 && !clean {
                c.properties.session_expiry_interval = Some(3600);
            }
        });
        assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
        ack.session_present
    }

    pub fn subscribe(&mut self, conn: u64, filter: &str, qos: QoS) -> Vec<ReasonCode> {
        self.subscribe_opts(conn, filter, SubscriptionOptions::qos(qos), None)
    }

    pub fn subscribe_opts(
        &mut self,
        conn: u64,
        filter: &str,
        options: SubscriptionOptions,
        id: Option<u32>,
    ) -> Vec<ReasonCode> {
        let mut sub = Subscribe {
            packet_id: 77,
            properties: Default::default(),
            filters: vec![Subscription {
                filter: s(filter),
                options,
            }],
        };
        sub.properties.subscription_identifiers = id.into_iter().collect();
        self.send(conn, Packet::Subscribe(sub));
        match self.take(conn, |p| matches!(p, Packet::SubAck(_))) {
            Some(Packet::SubAck(a)) => a.reason_codes,
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    pub fn unsubscribe(&mut self, conn: u64, filter: &str) -> Packet {
        self.send(
            conn,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 78,
                properties: Default::default(),
                filters: vec![s(filter)],
            }),
        );
        self.sent(conn).pop().expect("UNSUBACK")
    }

    pub fn publish(
        &mut self,
        conn: u64,
        topic: &str,
        payload: &str,
        qos: QoS,
        retain: bool,
        id: u16,
    ) {
        let mut p = Publish::new(s(topic), payload.to_owned());
        p.qos = qos;
        p.retain = retain;
        p.packet_id = if qos == QoS::AtMostOnce { 0 } else { id };
        self.send(conn, Packet::Publish(p));
    }

    pub fn disconnect(&mut self, conn: u64, code: ReasonCode) {
        self.send(conn, Packet::Disconnect(Disconnect::new(code)));
    }

    pub fn ack(&mut self, conn: u64, p: Packet) {
        self.send(conn, p);
    }

    /// Drains outputs into the log (checking every Send encodes).
    pub fn drain(&mut self) {
        while let Some(o) = self.broker.poll_output() {
            if let Output::Send {
                version, packet, ..
            } = &o
            {
                if let Err(e) = packet.to_bytes(*version) {
                    panic!("model sent a packet the codec refuses: {e}\n{packet:?}");
                }
            }
            self.log.push(o);
        }
    }

    /// Removes and returns the first packet sent to `conn` that `f` accepts.
    pub fn take(&mut self, conn: u64, f: impl Fn(&Packet) -> bool) -> Option<Packet> {
        self.drain();
        let pos = self.log.iter().position(
            |o| matches!(o, Output::Send { conn: c, packet, .. } if c.0 == conn && f(packet)),
        )?;
        match self.log.remove(pos) {
            Output::Send { packet, .. } => Some(packet),
            _ => None,
        }
    }

    /// Packets sent to `conn` since the last call (drains and removes them).
    pub fn sent(&mut self, conn: u64) -> Vec<Packet> {
        self.drain();
        let mut out = Vec::new();
        self.log.retain(|o| match o {
            Output::Send {
                conn: c, packet, ..
            } if c.0 == conn => {
                out.push(packet.clone());
                false
            }
            _ => true,
        });
        out
    }

    /// PUBLISH packets sent to `conn` since the last call.
    pub fn publishes(&mut self, conn: u64) -> Vec<Publish> {
        self.sent(conn)
            .into_iter()
            .filter_map(|p| match p {
                Packet::Publish(p) => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The close reason of `conn`, if the broker closed it (drains it).
    pub fn closed(&mut self, conn: u64) -> Option<CloseReason> {
        self.drain();
        let mut r = None;
        self.log.retain(|o| match o {
            Output::Close { conn: c, reason } if c.0 == conn => {
                r = Some(*reason);
                false
            }
            _ => true,
        });
        r
    }

    /// Trace events since the last call.
    pub fn events(&mut self) -> Vec<TraceEvent> {
        self.drain();
        let mut out = Vec::new();
        self.log.retain(|o| match o {
            Output::Event(e) => {
                out.push(e.clone());
                false
            }
            _ => true,
        });
        out
    }

    pub fn clear(&mut self) {
        self.drain();
        self.log.clear();
    }
}

pub fn puback(id: u16) -> Packet {
    Packet::PubAck(PubResponse::new(id))
}
pub fn pubrec(id: u16) -> Packet {
    Packet::PubRec(PubResponse::new(id))
}
pub fn pubrel(id: u16) -> Packet {
    Packet::PubRel(PubResponse::new(id))
}
pub fn pubcomp(id: u16) -> Packet {
    Packet::PubComp(PubResponse::new(id))
}
