//! Inbound PUBLISH and the acknowledgement flows in both directions
//! (MQTT 3.1.1 §3.3-3.7, §4.3; MQTT 5.0 §3.3-3.7, §4.3, §4.4).

use mqtt_codec::topic::validate_topic_name;
use mqtt_codec::{Packet, PubResponse, Publish, QoS, ReasonCode};

use super::Broker;
use crate::inflight::OutState;
use crate::message::Message;
use crate::output::{CloseKind, DropReason, TraceEvent};
use crate::ConnId;

fn response(packet_id: u16, code: ReasonCode) -> PubResponse {
    PubResponse {
        packet_id,
        reason_code: code,
        properties: Default::default(),
    }
}

impl Broker {
    /// PUBLISH from a client.
    pub(super) fn on_publish(&mut self, conn: ConnId, p: Publish) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let v = c.version;
        let Some(client_id) = c.client_id().map(str::to_owned) else {
            return;
        };
        let username = c.username.clone();
        let proto = |code, st: &'static [&'static str]| (code, st);
        let mut error = None;
        // Topic Alias (5.0 §3.3.2.3.4): MQTT-3.3.2-12, aliases are per
        // connection (MQTT-3.3.2-7).
        let mut topic = p.topic_string();
        match (v.is_v5(), p.properties.topic_alias) {
            (true, Some(alias)) => {
                if alias == 0 || alias > self.config.topic_alias_maximum {
                    error = Some(proto(ReasonCode::TOPIC_ALIAS_INVALID, &["MQTT-3.3.2-12"]));
                } else if p.topic().is_empty() {
                    match c.topic_aliases.get(&alias) {
                        Some(t) => topic = t.clone(),
                        None => error = Some(proto(ReasonCode::TOPIC_ALIAS_INVALID, &[])),
                    }
                } else {
                    c.topic_aliases.insert(alias, topic.clone());
                }
            }
            (false, Some(_)) => error = Some(proto(ReasonCode::MALFORMED_PACKET, &[])),
            _ => {}
        }
        if error.is_none() {
            if let Err(e) = validate_topic_name(&topic, v, false) {
                error = Some((e.reason_code, e.statements));
            } else if p.qos != QoS::AtMostOnce && p.packet_id == 0 {
                error = Some((
                    ReasonCode::PROTOCOL_ERROR,
                    v.pick(&["MQTT-2.3.1-1"], &["MQTT-2.2.1-3"]),
                ));
            } else if v.is_v5() && !p.properties.subscription_identifiers.is_empty() {
                error = Some(proto(ReasonCode::PROTOCOL_ERROR, &["MQTT-3.3.4-6"]));
            } else if v.is_v5() && p.qos > self.config.maximum_qos {
                error = Some(proto(ReasonCode::QOS_NOT_SUPPORTED, &["MQTT-3.2.2-11"]));
            } else if v.is_v5() && p.retain && !self.config.retain_available {
                error = Some(proto(ReasonCode::RETAIN_NOT_SUPPORTED, &["MQTT-3.2.2-14"]));
            }
        }
        if let Some((code, statements)) = error {
            return self.violation(conn, code, CloseKind::ProtocolViolation, statements);
        }
        let allowed = self
            .authorizer
            .can_publish(&client_id, username.as_deref(), &topic);
        let id = p.packet_id;
        let msg = Message::from_publish(&p, topic, &client_id, self.now);
        match p.qos {
            QoS::AtMostOnce => {
                if allowed {
                    self.accept(&client_id, msg);
                } else {
                    self.refused(&client_id, &msg);
                }
            }
            // MQTT-4.3.2-4 (5.0) / MQTT-4.3.2-2 (3.1.1): PUBACK with the id.
            QoS::AtLeastOnce => {
                let code = if allowed {
                    self.accept(&client_id, msg);
                    ReasonCode::SUCCESS
                } else {
                    self.refused(&client_id, &msg);
                    v.pick(ReasonCode::SUCCESS, ReasonCode::NOT_AUTHORIZED)
                };
                self.send(conn, Packet::PubAck(response(id, code)));
            }
            QoS::ExactlyOnce => {
                let Some(s) = self.sessions.get_mut(&client_id) else {
                    return;
                };
                if s.inbound_qos2.contains(&id) {
                    // MQTT-4.3.3-10 (5.0), MQTT-4.3.3-2 (3.1.1): PUBREC
                    // again, no second delivery.
                    self.event(TraceEvent::DuplicateQos2Ignored {
                        client_id,
                        packet_id: id,
                    });
                    return self.send(conn, Packet::PubRec(response(id, ReasonCode::SUCCESS)));
                }
                if v.is_v5() && s.inbound_qos2.len() >= usize::from(self.config.receive_maximum) {
                    // 5.0 §3.3.4: more than Receive Maximum unacknowledged.
                    return self.violation(
                        conn,
                        ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                        CloseKind::ProtocolViolation,
                        &["MQTT-3.3.4-7"],
                    );
                }
                if allowed || !v.is_v5() {
                    // Refused 5.0 messages are not remembered: after a
                    // PUBREC >= 0x80 the id is free (MQTT-4.3.3-9).
                    s.inbound_qos2.insert(id);
                }
                let code = if allowed {
                    self.accept(&client_id, msg);
                    ReasonCode::SUCCESS
                } else {
                    self.refused(&client_id, &msg);
                    v.pick(ReasonCode::SUCCESS, ReasonCode::NOT_AUTHORIZED)
                };
                self.send(conn, Packet::PubRec(response(id, code)));
            }
        }
    }

    fn accept(&mut self, client_id: &str, msg: Message) {
        let topic = msg.topic().to_owned();
        let qos = msg.qos();
        let receivers = self.route(msg);
        self.event(TraceEvent::Published {
            client_id: client_id.to_owned(),
            topic,
            qos,
            receivers,
        });
    }

    fn refused(&mut self, client_id: &str, msg: &Message) {
        self.event(TraceEvent::Dropped {
            client_id: client_id.to_owned(),
            topic: msg.topic().to_owned(),
            reason: DropReason::NotAuthorized,
        });
    }

    /// PUBREL from the client: the QoS 2 id is released and PUBCOMP sent
    /// (MQTT-4.3.3-11 in 5.0, MQTT-4.3.3-2 in 3.1.1); an unknown id gets
    /// PUBCOMP 0x92 in 5.0.
    pub(super) fn on_pubrel(&mut self, conn: ConnId, r: PubResponse) {
        let v = self.version_of(conn);
        let Some(client_id) = self.client_of(conn) else {
            return;
        };
        let known = self
            .sessions
            .get_mut(&client_id)
            .is_some_and(|s| s.inbound_qos2.remove(&r.packet_id));
        let code = if known || !v.is_v5() {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        };
        self.send(conn, Packet::PubComp(response(r.packet_id, code)));
    }

    /// PUBACK from the client ends a QoS 1 delivery (MQTT-4.3.2-3) and
    /// frees a place in the window.
    pub(super) fn on_puback(&mut self, conn: ConnId, r: PubResponse) {
        self.complete(conn, r.packet_id, OutState::AwaitingPubAck);
    }

    /// PUBCOMP from the client ends a QoS 2 delivery (MQTT-4.3.3-5).
    pub(super) fn on_pubcomp(&mut self, conn: ConnId, r: PubResponse) {
        self.complete(conn, r.packet_id, OutState::AwaitingPubComp);
    }

    fn complete(&mut self, conn: ConnId, id: u16, expected: OutState) {
        let Some(client_id) = self.client_of(conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&client_id) else {
            return;
        };
        if s.inflight.get(id).is_some_and(|e| e.state == expected) {
            s.inflight.remove(id);
            self.pump(&client_id);
        }
    }

    /// PUBREC from the client: PUBREL follows (MQTT-4.3.3-4); a code of
    /// 0x80 or more ends the delivery (MQTT-4.4.0-2); an unknown id gets
    /// PUBREL 0x92 in 5.0 and is ignored in 3.1.1.
    pub(super) fn on_pubrec(&mut self, conn: ConnId, r: PubResponse) {
        let v = self.version_of(conn);
        let Some(client_id) = self.client_of(conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&client_id) else {
            return;
        };
        let id = r.packet_id;
        match s.inflight.get_mut(id) {
            Some(e) if e.state == OutState::AwaitingPubRec && r.reason_code.is_error() => {
                s.inflight.remove(id);
                self.pump(&client_id);
            }
            Some(e) if e.state != OutState::AwaitingPubAck => {
                e.state = OutState::AwaitingPubComp;
                self.send(conn, Packet::PubRel(response(id, ReasonCode::SUCCESS)));
            }
            _ if v.is_v5() => self.send(
                conn,
                Packet::PubRel(response(id, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)),
            ),
            _ => {}
        }
    }
}
