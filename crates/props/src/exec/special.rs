//! The operations outside the ordinary flow of a session: a CONNECT the
//! server must refuse ([`Op::Refused`](super::Op)), malformed bytes after
//! CONNECT, a wait for a Message Expiry Interval to pass, and a keep alive
//! left to lapse. The model judges each: it is given the packet, or the
//! violation the server's decoder finds in the bytes, and the time.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_client::{ClientError, CloseReport, Matcher, TestClient};
use mqtt_codec::{
    Connect, Decoder, Packet, PacketType, Publish, QoS, Subscribe, Subscription,
    SubscriptionOptions,
};
use mqtt_model::{ConnId, Output, Time};
use serde_yaml::Value;

use super::{mstr, qos, Exec, Step, Stop};
use crate::case::{filter, topic, BadConnect, Malformed, PubProps, EXPIRE_WAIT_MS, LAPSE_BOUND_MS};
use crate::script::map;
use crate::want::Rule;

/// What the model did with a connection of its own (not a party's).
#[derive(Debug, Default)]
struct Alone {
    /// The reason code of the CONNACK it sent, if any.
    connack: Option<u8>,
    /// Whether it closed the connection.
    closed: bool,
}

/// Hex of `bytes`, for `send_raw` steps.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sets byte `at` of an encoded packet (`f` of its old value).
fn patch(bytes: &Bytes, at: usize, f: impl Fn(u8) -> u8) -> Bytes {
    let mut b = BytesMut::from(&bytes[..]);
    if let Some(x) = b.get_mut(at) {
        *x = f(*x);
    }
    b.freeze()
}

/// What the CONNACKs received before a close may be: `model` is the code
/// the model sent (or none). 3.1.1 allows exactly that; 5.0 also allows a
/// CONNACK of 0x80 or above where the model sends none (MQTT-3.1.4-1,
/// §4.13: the server MAY send one before closing).
pub(crate) fn refusal_fits(got: &[u8], model: Option<u8>, v5: bool) -> bool {
    match (got, model) {
        ([], None) => true,
        ([g], Some(m)) => *g == m,
        ([g], None) => v5 && *g >= 0x80,
        _ => false,
    }
}

impl Exec<'_> {
    /// Polls the model's outputs for `conn`, a connection no party holds;
    /// outputs for parties become wants as usual.
    fn drain_alone(&mut self, conn: ConnId, into: &mut Alone) -> Step<()> {
        while let Some(o) = self.model.poll_output() {
            match o {
                Output::Send {
                    conn: x, packet, ..
                } if x == conn => {
                    if let Packet::ConnAck(a) = packet {
                        into.connack = Some(a.reason_code.0);
                    }
                }
                Output::Close { conn: x, .. } if x == conn => into.closed = true,
                Output::Send {
                    conn: x, packet, ..
                } => {
                    if let Some(&party) = self.conn_of.get(&x) {
                        self.want_from_model(party, packet)?;
                    }
                }
                Output::Close { conn: x, reason } => {
                    return Err(Stop::Error(format!(
                        "the model closed connection {x:?} ({reason:?}) during another's step"
                    )))
                }
                Output::Event(_) => {}
            }
        }
        Ok(())
    }

    fn fresh_conn(&mut self) -> Step<ConnId> {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let now = self.now();
        self.model
            .connection_opened(conn, now)
            .map_err(|e| Stop::Error(format!("model: {e}")))?;
        Ok(conn)
    }

    /// Gives the model bytes as a server's decoder sees them.
    fn model_bytes(&mut self, conn: ConnId, bytes: &Bytes, decoder: &mut Decoder) -> Step<()> {
        let now = self.now();
        let mut buf = BytesMut::from(&bytes[..]);
        let r = match decoder.decode(&mut buf) {
            Ok(Some(p)) => self.model.packet(conn, p, now),
            Ok(None) => {
                return Err(Stop::Error(
                    "the generator made an incomplete packet".into(),
                ))
            }
            Err(v) => self.model.decode_error(conn, &v, now),
        };
        r.map_err(|e| Stop::Error(format!("model: {e}")))
    }

    /// Records in the scenario script that `name` sends `bytes` raw.
    fn script_send_raw(&mut self, name: &str, bytes: &Bytes) {
        self.script.step(
            name,
            "send_raw",
            map(vec![("client", name.into()), ("hex", hex(bytes).into())]),
        );
    }

    async fn open(&mut self, name: &str) -> Step<TestClient> {
        let options = self.s.client.clone().version(self.case.version.protocol());
        TestClient::open(self.endpoint, &options)
            .await
            .map_err(|e| Stop::Error(format!("{name}: cannot connect: {e}")))
    }

    fn close_divergence(
        &self,
        party: usize,
        rule: Rule,
        expected: String,
        r: Result<CloseReport, ClientError>,
        pending: &[Packet],
        waited: Duration,
    ) -> Stop {
        let queued = pending
            .iter()
            .map(mqtt_client::describe::describe)
            .collect::<Vec<_>>()
            .join(", ");
        let observed = match r {
            Ok(c) => format!("closed ({:?}) after {queued}", c.kind),
            Err(e) if e.is_timeout() => {
                format!("the connection still open after {waited:?}; received: [{queued}]")
            }
            Err(e) => e.to_string(),
        };
        self.diverged(party, rule, expected, observed)
    }

    /// [`Op::Refused`](super::Op): a CONNECT the server must refuse.
    pub(super) async fn refused(&mut self, c: usize, kind: BadConnect) -> Step<bool> {
        let v = self.case.version.protocol();
        if self.v5 && kind != BadConnect::ReservedFlag {
            return Ok(false);
        }
        self.drain_all().await?;
        let name = format!("{}r", self.parties[c].name);
        let id = if kind == BadConnect::EmptyIdPersistent {
            String::new()
        } else {
            self.b.client_id(&name)
        };
        let mut connect = Connect::new(v, mstr(&id));
        connect.clean_start = kind != BadConnect::EmptyIdPersistent;
        let good = Packet::Connect(Box::new(connect))
            .to_bytes(v)
            .map_err(|e| Stop::Error(format!("encode: {e}")))?;
        if good.get(1).is_none_or(|l| *l >= 0x80) {
            return Err(Stop::Error("CONNECT longer than expected".into()));
        }
        // 10 LL 00 04 'MQTT' level flags ...
        let bytes = match kind {
            BadConnect::Level => patch(&good, 8, |_| 6),
            BadConnect::ReservedFlag => patch(&good, 9, |f| f | 0x01),
            BadConnect::EmptyIdPersistent => good,
        };
        let conn = self.fresh_conn()?;
        let mut live = self.open(&name).await?;
        self.script
            .step(&name, "open", map(vec![("client", name.as_str().into())]));
        self.script_send_raw(&name, &bytes);
        let sent = live.send_raw(bytes.clone()).await;
        self.model_bytes(conn, &bytes, &mut Decoder::server())?;
        let mut model = Alone::default();
        self.drain_alone(conn, &mut model)?;
        if !model.closed {
            return Err(Stop::Error(
                "the model accepted a CONNECT it must refuse".into(),
            ));
        }
        if let Some(code) = model.connack {
            self.script.step(
                &name,
                "expect",
                map(vec![
                    ("client", name.as_str().into()),
                    (
                        "packet",
                        map(vec![
                            ("type", "connack".into()),
                            ("session_present", false.into()),
                            ("reason_code", code.into()),
                        ]),
                    ),
                ]),
            );
        }
        self.script.step(
            &name,
            "expect_close",
            map(vec![("client", name.as_str().into())]),
        );
        let closed = match sent {
            Ok(()) => live.expect_closed(self.s.wait).await,
            Err(e) => Err(e),
        };
        let pending = live.pending();
        live.drop_connection().await;
        let codes: Vec<u8> = pending
            .iter()
            .filter_map(|p| match p {
                Packet::ConnAck(a) if !a.session_present => Some(a.reason_code.0),
                _ => None,
            })
            .collect();
        let only_connacks = codes.len() == pending.len();
        let expected = match model.connack {
            Some(code) => format!("CONNACK 0x{code:02x}, then the close"),
            None if self.v5 => "the close, at most a CONNACK of 0x80 or above first".into(),
            None => "the close without CONNACK".into(),
        };
        match closed {
            Ok(r)
                if r.disconnect.is_none()
                    && only_connacks
                    && refusal_fits(&codes, model.connack, self.v5) =>
            {
                Ok(true)
            }
            r => Err(self.close_divergence(c, Rule::Refusal, expected, r, &pending, self.s.wait)),
        }
    }

    /// [`Op::Malformed`](super::Op): bytes the server's decoder rejects,
    /// on `c`'s connection.
    pub(super) async fn malformed(&mut self, c: usize, kind: Malformed) -> Step<bool> {
        let v = self.case.version.protocol();
        self.drain_all().await?;
        let Some(conn) = self.parties[c].conn else {
            return Ok(false);
        };
        self.will_template(c);
        let t = self.bind(&topic(0));
        let good = match kind {
            Malformed::PublishQos3 => {
                let mut p = Publish::new(mstr(&t), Bytes::from_static(b"bad"));
                p.qos = QoS::AtLeastOnce;
                p.packet_id = self.parties[c].packet_id();
                Packet::Publish(p)
            }
            Malformed::SubscribeFlags => Packet::Subscribe(Subscribe {
                packet_id: self.parties[c].packet_id(),
                properties: Default::default(),
                filters: vec![Subscription {
                    filter: mstr(&t),
                    options: SubscriptionOptions::qos(QoS::AtMostOnce),
                }],
            }),
        }
        .to_bytes(v)
        .map_err(|e| Stop::Error(format!("encode: {e}")))?;
        let bytes = match kind {
            Malformed::PublishQos3 => patch(&good, 0, |b| b | 0x06),
            Malformed::SubscribeFlags => patch(&good, 0, |b| b & 0xF0),
        };
        let name = self.parties[c].name.clone();
        self.script_send_raw(&name, &bytes);
        self.script.step(
            &name,
            "expect_close",
            map(vec![("client", name.as_str().into())]),
        );
        let sent = match self.parties[c].live.as_mut() {
            Some(live) => live.send_raw(bytes.clone()).await,
            None => return Ok(false),
        };
        self.closing = Some(conn);
        self.closing_party = Some(c);
        self.model_bytes(conn, &bytes, &mut Decoder::new(v))?;
        let closed = match (sent, self.parties[c].live.as_mut()) {
            (Ok(()), Some(live)) => live.expect_closed(self.s.wait).await,
            (Err(e), _) => Err(e),
            (Ok(()), None) => return Ok(false),
        };
        let disconnect_ok = |r: &CloseReport| {
            r.disconnect
                .as_ref()
                .is_none_or(|d| self.v5 && d.reason_code.0 >= 0x80)
        };
        match closed {
            Ok(r) if disconnect_ok(&r) => {}
            r => {
                let pending = self.parties[c]
                    .live
                    .as_ref()
                    .map(TestClient::pending)
                    .unwrap_or_default();
                let expected = if self.v5 {
                    "the close, at most a DISCONNECT of 0x80 or above first"
                } else {
                    "the close"
                };
                return Err(self.close_divergence(
                    c,
                    Rule::MalformedInput,
                    expected.into(),
                    r,
                    &pending,
                    self.s.wait,
                ));
            }
        }
        // What was queued before the close is judged; then the model's
        // close (and the Will it publishes).
        let drained = self.drain_all().await;
        self.closing = None;
        self.closing_party = None;
        drained?;
        self.detach(c);
        self.settle().await?;
        Ok(true)
    }

    /// [`Op::Expire`](super::Op): a retained message with an expiry, a
    /// wait, a subscription to its topic.
    pub(super) async fn expire(
        &mut self,
        c: usize,
        i: usize,
        t: u8,
        q: u8,
        expiry: u32,
    ) -> Step<bool> {
        if !self.v5 || t as usize >= 4 {
            return Ok(false);
        }
        let props = PubProps {
            expiry: Some(expiry),
            user: Vec::new(),
            alias: crate::case::AliasOp::None,
            content_type: false,
        };
        self.publish(c, topic(t), q, true, format!("e{i}"), &props)
            .await?;
        self.settle().await?;
        self.script.sleep(EXPIRE_WAIT_MS);
        tokio::time::sleep(Duration::from_millis(EXPIRE_WAIT_MS)).await;
        let now = self.now();
        self.model.tick(now);
        // Anything arriving during the wait is judged now.
        self.settle().await?;
        // Filters 0..4 are the topics themselves.
        let options = SubscriptionOptions::qos(qos(q));
        self.subscribe(c, vec![(filter(t), options)], None).await?;
        Ok(true)
    }

    /// [`Op::Lapse`](super::Op): a silent connection with Keep Alive 1 s.
    pub(super) async fn lapse(&mut self, c: usize) -> Step<bool> {
        let v = self.case.version.protocol();
        self.drain_all().await?;
        let name = format!("{}k", self.parties[c].name);
        let mut connect = Connect::new(v, mstr(&self.b.client_id(&name)));
        connect.keep_alive = 1;
        let conn = self.fresh_conn()?;
        let mut live = self.open(&name).await?;
        self.script.step(
            &name,
            "connect",
            map(vec![
                ("client", name.as_str().into()),
                ("keep_alive", 1.into()),
                (
                    "expect",
                    map(vec![("type", "connack".into()), ("reason_code", 0.into())]),
                ),
            ]),
        );
        let packet = Packet::Connect(Box::new(connect));
        let sent = live.send(&packet).await;
        let now = self.now();
        self.model
            .packet(conn, packet, now)
            .map_err(|e| Stop::Error(format!("model: {e}")))?;
        let mut model = Alone::default();
        self.drain_alone(conn, &mut model)?;
        if model.connack != Some(0) {
            return Err(Stop::Error("the model refused a plain CONNECT".into()));
        }
        let ack = match sent {
            Ok(()) => live
                .expect(&Matcher::of_type(PacketType::ConnAck), self.s.wait)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let server_keep_alive = match &ack {
            Ok(Packet::ConnAck(a)) if a.reason_code.0 == 0 => a.properties.server_keep_alive,
            Ok(other) => {
                let d = mqtt_client::describe::describe(other);
                live.drop_connection().await;
                return Err(self.diverged(c, Rule::Connack, "CONNACK 0x00".into(), d));
            }
            Err(e) => {
                let e = e.clone();
                live.drop_connection().await;
                return Err(self.diverged(c, Rule::Connack, "CONNACK 0x00".into(), e));
            }
        };
        if server_keep_alive.is_some_and(|k| k != 1) {
            // The server set another keep alive (MQTT-3.2.2-21): the bound
            // does not apply, and a long one would hold the case.
            live.drop_connection().await;
            let now = self.now();
            let _ = self.model.connection_closed(conn, now);
            self.drain_alone(conn, &mut model)?;
            return Ok(false);
        }
        self.script.step(
            &name,
            "expect_close",
            map(vec![
                ("client", name.as_str().into()),
                ("within", Value::from(format!("{LAPSE_BOUND_MS}ms"))),
            ]),
        );
        let bound = Duration::from_millis(LAPSE_BOUND_MS);
        let closed = live.expect_closed(bound).await;
        let pending = live.pending();
        live.drop_connection().await;
        let disconnect_ok = |r: &CloseReport| {
            r.disconnect
                .as_ref()
                .is_none_or(|d| self.v5 && d.reason_code.0 >= 0x80)
        };
        match closed {
            Ok(r) if disconnect_ok(&r) && pending.is_empty() && r.at <= bound => {
                // Told the time, the model closes the connection too (its
                // deadline is 1.5 keep alives after the CONNECT).
                let due = self
                    .model
                    .connection(conn)
                    .and_then(mqtt_model::connection::Connection::keep_alive_deadline)
                    .unwrap_or(Time(0));
                let now = self.now();
                self.model.tick(Time(now.0.max(due.0)));
                self.drain_alone(conn, &mut model)?;
                if !model.closed {
                    return Err(Stop::Error("the model kept a lapsed connection".into()));
                }
                self.settle().await?;
                Ok(true)
            }
            r => {
                let now = self.now();
                let _ = self.model.connection_closed(conn, now);
                self.drain_alone(conn, &mut model)?;
                Err(self.close_divergence(
                    c,
                    Rule::KeepAlive,
                    format!(
                        "the close within 1.5 × Keep Alive 1 s (checked up to {LAPSE_BOUND_MS} ms)"
                    ),
                    r,
                    &pending,
                    bound,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_allow_what_each_version_allows() {
        // 3.1.1: exactly the model's CONNACK, or none.
        assert!(refusal_fits(&[1], Some(1), false));
        assert!(!refusal_fits(&[], Some(1), false));
        assert!(!refusal_fits(&[0], Some(1), false));
        assert!(refusal_fits(&[], None, false));
        assert!(!refusal_fits(&[0x80], None, false));
        // 5.0: a refusal CONNACK may precede the close.
        assert!(refusal_fits(&[0x81], None, true));
        assert!(!refusal_fits(&[0], None, true), "never a success");
        assert!(!refusal_fits(&[0x81, 0x81], None, true));
    }

    #[test]
    fn patched_bytes_are_what_the_decoder_rejects() {
        let v = mqtt_codec::ProtocolVersion::V311;
        let good = Packet::Connect(Box::new(Connect::new(v, mstr("x"))))
            .to_bytes(v)
            .unwrap();
        for (at, f) in [(8, 6u8), (9, 0x03)] {
            let bad = patch(&good, at, |_| f);
            let mut buf = BytesMut::from(&bad[..]);
            assert!(Decoder::server().decode(&mut buf).is_err(), "{at}");
        }
        assert_eq!(hex(&[0x10, 0x0d]), "10 0d");
    }
}
