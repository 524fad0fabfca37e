//! CONNECT and CONNACK (MQTT 3.1.1 §3.1-3.2, MQTT 5.0 §3.1-3.2, §4.12).

use mqtt_codec::{ConnAck, Connect, Disconnect, Packet, ProtocolVersion, QoS, ReasonCode};

use super::{Broker, WillAction};
use crate::connection::ConnState;
use crate::inflight::OutState;
use crate::output::{CloseKind, CloseReason, DropReason, Output, TraceEvent};
use crate::policy::AuthDecision;
use crate::session::{Session, NEVER_EXPIRES};
use crate::ConnId;

impl Broker {
    /// Refuses a CONNECT: CONNACK with `code` and Session Present 0
    /// (3.1.1 MQTT-3.2.2-4, 5.0 MQTT-3.2.2-6), then close (3.1.1
    /// MQTT-3.2.2-5, 5.0 MQTT-3.2.2-7).
    fn reject(&mut self, conn: ConnId, code: ReasonCode, statements: &'static [&'static str]) {
        self.send(
            conn,
            Packet::ConnAck(ConnAck {
                session_present: false,
                reason_code: code,
                properties: Default::default(),
            }),
        );
        let reason = CloseReason {
            kind: CloseKind::ConnectRejected,
            reason_code: code,
            statements,
        };
        self.drop_connection(conn, reason, WillAction::Discard);
    }

    fn assign_client_id(&mut self) -> String {
        loop {
            self.assigned_ids += 1;
            self.mark_meta();
            let id = format!("{}{}", self.config.assigned_id_prefix, self.assigned_ids);
            if !self.sessions.contains_key(&id) {
                return id;
            }
        }
    }

    pub(super) fn on_connect(&mut self, conn: ConnId, c: Connect) {
        let v = c.protocol_version;
        let v5 = v.is_v5();
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.version = v;
        }
        // Enhanced authentication (5.0 §4.12).
        let auth_method = if v5 {
            c.properties.authentication_method.clone()
        } else {
            None
        };
        if let Some(m) = &auth_method {
            if self.config.authentication_method.as_deref() != Some(m.as_str()) {
                return self.reject(
                    conn,
                    ReasonCode::BAD_AUTHENTICATION_METHOD,
                    &["MQTT-4.12.0-1"],
                );
            }
        }
        // Client identifier (§3.1.3.1).
        let mut assigned = None;
        let client_id = if c.client_id.is_empty() {
            if !v5 && !c.clean_start {
                return self.reject(conn, ReasonCode(0x02), &["MQTT-3.1.3-8"]);
            }
            if !self.config.allow_empty_client_id {
                let code = v.pick(ReasonCode(0x02), ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
                return self.reject(conn, code, v.pick(&["MQTT-3.1.3-9"], &["MQTT-3.1.3-8"]));
            }
            // MQTT-3.1.3-6/7, 5.0 MQTT-3.2.2-16: a new, unused id.
            let id = self.assign_client_id();
            assigned = Some(id.clone());
            id
        } else {
            c.client_id.to_string()
        };
        // Will capabilities (5.0 MQTT-3.2.2-12/13).
        if let (true, Some(w)) = (v5, &c.will) {
            if w.qos > self.config.maximum_qos {
                return self.reject(conn, ReasonCode::QOS_NOT_SUPPORTED, &["MQTT-3.2.2-12"]);
            }
            if w.retain && !self.config.retain_available {
                return self.reject(conn, ReasonCode::RETAIN_NOT_SUPPORTED, &["MQTT-3.2.2-13"]);
            }
        }
        // Authentication (3.1.1 §3.1.4, 5.0 MQTT-3.1.4-2).
        let username = c.username.as_ref().map(|u| u.to_string());
        let decision =
            self.authenticator
                .authenticate(&client_id, username.as_deref(), c.password.as_deref());
        match decision {
            AuthDecision::Accept => {}
            AuthDecision::BadCredentials => {
                let code = v.pick(ReasonCode(0x04), ReasonCode::BAD_USER_NAME_OR_PASSWORD);
                return self.reject(conn, code, v.pick(&["MQTT-3.2.2-5"], &["MQTT-3.1.4-2"]));
            }
            AuthDecision::NotAuthorized => {
                let code = v.pick(ReasonCode(0x05), ReasonCode::NOT_AUTHORIZED);
                return self.reject(conn, code, v.pick(&["MQTT-3.2.2-5"], &["MQTT-3.1.4-2"]));
            }
        }
        // A Will its owner may not publish (5.0 §3.2.2.2, 0x87): refused
        // now, where the client learns why, rather than dropped silently
        // when it would be published. 3.1.1 accepts the CONNECT; the Will
        // is checked again when published (`publish_will`).
        if let (true, Some(w)) = (v5, &c.will) {
            if !self.authorizer.is_open()
                && !self
                    .authorizer
                    .can_publish(&client_id, username.as_deref(), w.topic.as_str())
            {
                return self.reject(conn, ReasonCode::NOT_AUTHORIZED, &[]);
            }
        }
        // What was due for this client id by now has happened.
        self.settle_due(&client_id);
        // Takeover (3.1.1 MQTT-3.1.4-2, 5.0 MQTT-3.1.4-3).
        if let Some(old) = self.sessions.get(&client_id).and_then(|s| s.conn) {
            if old != conn {
                let old_v = self.version_of(old);
                if old_v.is_v5() {
                    self.send(
                        old,
                        Packet::Disconnect(Disconnect::new(ReasonCode::SESSION_TAKEN_OVER)),
                    );
                }
                let reason = CloseReason {
                    kind: CloseKind::SessionTakenOver,
                    reason_code: ReasonCode::SESSION_TAKEN_OVER,
                    statements: old_v.pick(&["MQTT-3.1.4-2"], &["MQTT-3.1.4-3"]),
                };
                self.detach(old, Some(reason), WillAction::Publish, true);
            }
        }
        // A new connection cancels a delayed Will (5.0 MQTT-3.1.3-9).
        if self.wills.take(&client_id).is_some() {
            self.event(TraceEvent::WillDiscarded {
                client_id: client_id.clone(),
            });
        }
        // Session (3.1.1 MQTT-3.1.2-4/6, 5.0 MQTT-3.1.2-4/5/6).
        let requested = if v5 {
            c.properties.session_expiry_interval.unwrap_or(0)
        } else if c.clean_start {
            0
        } else {
            NEVER_EXPIRES
        };
        let expiry = self
            .config
            .maximum_session_expiry
            .map_or(requested, |m| requested.min(m));
        if c.clean_start {
            self.end_session(&client_id);
        }
        let session_present = self.sessions.contains_key(&client_id);
        let session = self
            .sessions
            .get_or_insert_with(&client_id, || Session::new(&client_id, expiry));
        session.expiry_interval = expiry;
        session.expires_at = None;
        session.conn = Some(conn);
        let previous_user = std::mem::replace(&mut session.username, username.clone());
        if session_present && previous_user != username && !self.authorizer.is_open() {
            self.forget_unreadable(&client_id);
        }
        // The connection.
        let keep_alive = match (v5, self.config.server_keep_alive) {
            (true, Some(k)) => k,
            _ => c.keep_alive,
        };
        let receive_maximum = if v5 {
            c.properties.receive_maximum.unwrap_or(u16::MAX)
        } else {
            self.config.max_inflight_v311
        }
        .max(1);
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.state = ConnState::Connected {
                client_id: client_id.clone(),
            };
            cn.keep_alive = keep_alive;
            cn.receive_maximum = receive_maximum;
            cn.maximum_packet_size = if v5 {
                c.properties.maximum_packet_size
            } else {
                None
            };
            cn.will = c.will.clone();
            cn.username = username;
            cn.connect_expiry_zero = requested == 0;
            cn.auth_method = auth_method.clone();
        }
        // CONNACK (3.1.1 MQTT-3.2.2-1..3, 5.0 MQTT-3.2.2-2/3).
        let mut ack = ConnAck {
            session_present,
            reason_code: ReasonCode::SUCCESS,
            properties: Default::default(),
        };
        if v5 {
            let p = &mut ack.properties;
            let cfg = &self.config;
            p.assigned_client_identifier = assigned.and_then(|a| a.try_into().ok());
            p.server_keep_alive = cfg.server_keep_alive;
            if cfg.receive_maximum != u16::MAX {
                p.receive_maximum = Some(cfg.receive_maximum.max(1));
            }
            if cfg.maximum_qos != QoS::ExactlyOnce {
                p.maximum_qos = Some(cfg.maximum_qos.bits());
            }
            if !cfg.retain_available {
                p.retain_available = Some(0);
            }
            p.maximum_packet_size = cfg.maximum_packet_size.filter(|&m| m > 0);
            if cfg.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(cfg.topic_alias_maximum);
            }
            if !cfg.wildcard_subscription_available {
                p.wildcard_subscription_available = Some(0);
            }
            if !cfg.subscription_identifier_available {
                p.subscription_identifier_available = Some(0);
            }
            if !cfg.shared_subscription_available {
                p.shared_subscription_available = Some(0);
            }
            if expiry != requested {
                p.session_expiry_interval = Some(expiry);
            }
            p.authentication_method = auth_method;
        }
        self.send(conn, Packet::ConnAck(ack));
        self.event(TraceEvent::Connected {
            conn,
            client_id: client_id.clone(),
            version: v,
            session_present,
        });
        if session_present {
            self.redeliver(conn, &client_id, v);
        }
        self.pump(&client_id);
    }

    /// A session resumed under another user name keeps only the messages
    /// the new user may read: queued ones and unacknowledged PUBLISH
    /// packets on other topics are forgotten (a PUBREL awaiting PUBCOMP
    /// carries no message and stays). Its subscriptions stay; every later
    /// delivery is checked for the new user.
    fn forget_unreadable(&mut self, client_id: &str) {
        let Some(s) = self.sessions.get(client_id) else {
            return;
        };
        let username = s.username.as_deref();
        let queued: Vec<bool> = s
            .queue
            .iter()
            .map(|q| {
                self.authorizer
                    .can_read(client_id, username, q.message.topic())
            })
            .collect();
        let inflight: Vec<(u16, String)> = s
            .inflight
            .in_send_order()
            .into_iter()
            .filter(|e| e.state != OutState::AwaitingPubComp)
            .filter(|e| {
                !self
                    .authorizer
                    .can_read(client_id, username, e.publish.topic())
            })
            .map(|e| (e.publish.packet_id, e.publish.topic().to_owned()))
            .collect();
        let mut dropped = Vec::new();
        if let Some(s) = self.sessions.get_mut(client_id) {
            let mut keep = queued.into_iter();
            s.queue.retain(|q| {
                let ok = keep.next().unwrap_or(false);
                if !ok {
                    dropped.push(q.message.topic().to_owned());
                }
                ok
            });
            for (id, topic) in inflight {
                s.inflight.remove(id);
                dropped.push(topic);
            }
        }
        for topic in dropped {
            self.event(TraceEvent::Dropped {
                client_id: client_id.to_owned(),
                topic,
                reason: DropReason::ReceiverNotAuthorized,
            });
        }
    }

    /// On resuming a session, re-send unacknowledged PUBLISH packets with
    /// DUP 1 and PUBREL packets, with their original packet ids and in
    /// their original order (MQTT-4.4.0-1, MQTT-3.3.1-1, MQTT-4.6.0-1).
    /// Every entry counts against the new connection's Receive Maximum
    /// (MQTT-3.3.4-9): PUBLISH packets beyond it are held, and re-sent by
    /// the delivery pump as acknowledgements free the window.
    fn redeliver(&mut self, conn: ConnId, client_id: &str, v: ProtocolVersion) {
        let Some(window) = self
            .conns
            .get(&conn)
            .map(|c| usize::from(c.receive_maximum))
        else {
            return;
        };
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        let mut sent = 0usize;
        let mut order = Vec::new();
        for e in s.inflight.in_send_order() {
            let id = e.publish.packet_id;
            let hold = e.state != OutState::AwaitingPubComp && sent >= window;
            if let Some(entry) = s.inflight.get_mut(id) {
                entry.held = hold;
            }
            if !hold {
                sent += 1;
                order.push(id);
            }
        }
        for id in order {
            self.resend(conn, client_id, id, v);
        }
    }

    /// Re-sends in-flight entry `id` of `client_id`'s session on `conn`: a
    /// PUBREL when PUBCOMP is awaited, else the PUBLISH with DUP 1 and, in
    /// 5.0, the expiry interval still remaining. A PUBLISH now larger than
    /// the client's Maximum Packet Size is forgotten instead.
    pub(super) fn resend(&mut self, conn: ConnId, client_id: &str, id: u16, v: ProtocolVersion) {
        let max = self.conns.get(&conn).and_then(|c| c.maximum_packet_size);
        let now = self.now;
        let Some(s) = self.sessions.get_mut(client_id) else {
            return;
        };
        let Some(e) = s.inflight.get_mut(id) else {
            return;
        };
        e.held = false;
        let packet = match e.state {
            OutState::AwaitingPubComp => Packet::PubRel(mqtt_codec::PubResponse::new(id)),
            OutState::AwaitingPubAck | OutState::AwaitingPubRec => {
                let mut p = e.publish.clone();
                p.dup = true;
                if !v.is_v5() {
                    p.properties = Default::default();
                } else if let Some(at) = e.expires_at {
                    // MQTT-3.3.2-6: the received interval minus the time
                    // waited, in whole seconds as on first sending. A
                    // QoS 2 message already sent is not expired
                    // (MQTT-4.3.3-7): it goes out with what remains.
                    let ms = at.millis_since(now);
                    p.properties.message_expiry_interval =
                        Some(u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX));
                }
                let packet = Packet::Publish(p);
                if max.is_some_and(|m| packet.encoded_len(v) as u64 > u64::from(m)) {
                    s.inflight.remove(id);
                    return;
                }
                packet
            }
        };
        self.outputs.push_back(Output::Send {
            conn,
            version: v,
            packet,
        });
    }
}
