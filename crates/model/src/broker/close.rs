//! Ending connections and sessions (MQTT 3.1.1 §3.14, §3.1.2.5; MQTT 5.0
//! §3.14, §3.1.2.5, §3.1.3.2.2, §4.1), keep alive (3.1.1 §3.1.2.10,
//! 5.0 §3.1.2.10) and the timers of [`Broker::tick`].

use mqtt_codec::{Disconnect, Packet, ReasonCode};

use super::{Broker, WillAction};
use crate::connection::ConnState;
use crate::message::Message;
use crate::output::{CloseKind, CloseReason, DropReason, Output, TraceEvent};
use crate::will::PendingWill;
use crate::ConnId;

impl Broker {
    /// Closes `conn` (an output) and ends it.
    pub(super) fn drop_connection(&mut self, conn: ConnId, reason: CloseReason, will: WillAction) {
        self.detach(conn, Some(reason), will, false);
    }

    /// A rule broken by a well-formed packet or found by the decoder after
    /// CONNACK: 5.0 sends DISCONNECT with `code` first (MQTT-4.13.1-1,
    /// never before CONNACK: MQTT-3.14.0-1); the Will is published.
    pub(super) fn violation(
        &mut self,
        conn: ConnId,
        code: ReasonCode,
        kind: CloseKind,
        statements: &'static [&'static str],
    ) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.version.is_v5() && c.client_id().is_some() {
            self.send(conn, Packet::Disconnect(Disconnect::new(code)));
        }
        let reason = CloseReason {
            kind,
            reason_code: code,
            statements,
        };
        self.drop_connection(conn, reason, WillAction::Publish);
    }

    /// Forgets `conn`. `reason` is `Some` when the server closes it (a
    /// `Close` output), `None` when the peer already did. Its session is
    /// detached and ends now if its expiry interval is 0, unless
    /// `keep_session` (takeover: the new connection takes it).
    pub(super) fn detach(
        &mut self,
        conn: ConnId,
        reason: Option<CloseReason>,
        will: WillAction,
        keep_session: bool,
    ) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(reason) = reason {
            self.outputs.push_back(Output::Close { conn, reason });
        }
        let ConnState::Connected { client_id } = c.state else {
            self.event(TraceEvent::ConnectionEnded {
                conn,
                client_id: None,
            });
            return;
        };
        self.event(TraceEvent::ConnectionEnded {
            conn,
            client_id: Some(client_id.clone()),
        });
        let now = self.now;
        let owned = self
            .sessions
            .get(&client_id)
            .is_some_and(|s| s.conn == Some(conn));
        let will_msg = c.will.as_ref().map(|w| {
            let delay = if c.version.is_v5() {
                w.properties.will_delay_interval.unwrap_or(0)
            } else {
                0
            };
            (Message::from_will(w, &client_id, now), delay)
        });
        self.went_offline(&client_id, owned, keep_session, will, will_msg, c.username);
    }

    /// The connection serving `client_id` is gone (`owned`: the session
    /// was still its own), with `will_msg` its Will and Will Delay and
    /// `owner` the user that set it: the session goes offline (and ends
    /// now if its expiry interval is 0, unless `keep_session`), and the
    /// Will is published, scheduled or discarded per `will`. Shared by a
    /// connection's end and a restart's restore.
    pub(super) fn went_offline(
        &mut self,
        client_id: &str,
        owned: bool,
        keep_session: bool,
        will: WillAction,
        will_msg: Option<(Message, u32)>,
        owner: Option<String>,
    ) {
        let now = self.now;
        let client_id = client_id.to_owned();
        let mut ends_now = false;
        if owned {
            if let Some(s) = self.sessions.get_mut(&client_id) {
                s.conn = None;
                ends_now = s.expiry_interval == 0 && !keep_session;
                s.expires_at = if keep_session {
                    None
                } else {
                    s.expiry_from(now)
                };
            }
        }
        if ends_now {
            self.end_session(&client_id);
        }
        match (will, will_msg) {
            (WillAction::Publish, Some((msg, delay))) => {
                let expiry = self
                    .sessions
                    .get(&client_id)
                    .map_or(0, |s| s.expiry_interval);
                // Published when the delay passes or the session ends,
                // whichever is first (MQTT-3.1.2-8).
                let wait = delay.min(expiry);
                if wait == 0 || ends_now {
                    self.publish_will(&client_id, owner.as_deref(), msg);
                } else {
                    self.sessions.mark(&client_id);
                    self.wills.schedule(
                        &client_id,
                        PendingWill {
                            message: msg,
                            due: now.plus_secs(u64::from(wait)),
                            username: owner,
                        },
                    );
                }
            }
            (WillAction::Discard, Some(_)) => {
                self.event(TraceEvent::WillDiscarded { client_id });
            }
            (_, None) => {}
        }
    }

    /// Ends a session: its state is discarded (MQTT-4.1.0-2 in 5.0,
    /// MQTT-3.1.2-6 in 3.1.1); a Will still waiting for its delay is
    /// published now (MQTT-3.1.2-8).
    pub(super) fn end_session(&mut self, client_id: &str) {
        let Some(s) = self.sessions.remove(client_id) else {
            return;
        };
        for (filter, stored) in &s.subscriptions {
            self.subs.remove(client_id, filter, stored.shared);
        }
        self.event(TraceEvent::SessionEnded {
            client_id: client_id.to_owned(),
        });
        if let Some(w) = self.wills.take(client_id) {
            self.publish_will(client_id, w.username.as_deref(), w.message);
        }
    }

    /// Publishes a Will Message as if the client had published it
    /// (MQTT-3.1.2-14/15 in 5.0: RETAIN as set in the Will flags): only if
    /// its owner, logged in as `username`, may publish on its topic now
    /// (else it is dropped, `DropReason::NotAuthorized`); each copy then
    /// goes only to sessions that may read the topic, like any message.
    pub(super) fn publish_will(&mut self, client_id: &str, username: Option<&str>, msg: Message) {
        if !self.authorizer.is_open()
            && !self
                .authorizer
                .can_publish(client_id, username, msg.topic())
        {
            return self.event(TraceEvent::Dropped {
                client_id: client_id.to_owned(),
                topic: msg.topic().to_owned(),
                reason: DropReason::NotAuthorized,
            });
        }
        self.event(TraceEvent::WillPublished {
            client_id: client_id.to_owned(),
            topic: msg.topic().to_owned(),
        });
        self.route(msg);
    }

    /// DISCONNECT from the client (3.1.1 §3.14, 5.0 §3.14.4).
    pub(super) fn on_disconnect(&mut self, conn: ConnId, d: Disconnect) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let v = c.version;
        let client_id = c.client_id().map(str::to_owned);
        if v.is_v5() {
            if let Some(e) = d.properties.session_expiry_interval {
                // §3.14.2.2.2: non-zero after a CONNECT with 0 is a Protocol Error.
                if c.connect_expiry_zero && e != 0 {
                    return self.violation(
                        conn,
                        ReasonCode::PROTOCOL_ERROR,
                        CloseKind::ProtocolViolation,
                        &[],
                    );
                }
                let e = self.config.maximum_session_expiry.map_or(e, |m| e.min(m));
                if let Some(s) = client_id.as_ref().and_then(|id| self.sessions.get_mut(id)) {
                    s.expiry_interval = e;
                }
            }
        }
        let will = if v.is_v5() && d.reason_code != ReasonCode::SUCCESS {
            WillAction::Publish
        } else {
            WillAction::Discard
        };
        let reason = CloseReason {
            kind: CloseKind::ClientDisconnect,
            reason_code: d.reason_code,
            statements: v.pick(
                &["MQTT-3.14.4-3", "MQTT-3.1.2-10"],
                &["MQTT-3.14.4-3", "MQTT-3.1.2-10"],
            ),
        };
        self.drop_connection(conn, reason, will);
    }

    /// Keep alive (3.1.1 MQTT-3.1.2-24, 5.0 MQTT-3.1.2-22), Will Delay
    /// and Session Expiry timers.
    /// Acts on `client_id`'s timers that are due by now, as a timely
    /// [`Broker::tick`] would have: its delayed Will published once its
    /// Will Delay Interval has passed, its session ended once its Session
    /// Expiry Interval has (MQTT-3.1.2-8, MQTT-3.1.3-9, MQTT-4.1.0-2).
    ///
    /// A server's ticks may lag its inputs (the reference server caches
    /// its next timer, and a restored broker has not ticked yet), so a
    /// CONNECT for a client id calls this first: it must never resume a
    /// session that has already expired, nor cancel a Will already due.
    pub(super) fn settle_due(&mut self, client_id: &str) {
        let now = self.now;
        if self.wills.get(client_id).is_some_and(|w| w.due <= now) {
            if let Some(w) = self.wills.take(client_id) {
                self.sessions.mark(client_id);
                self.publish_will(client_id, w.username.as_deref(), w.message);
            }
        }
        let expired = self
            .sessions
            .get(client_id)
            .is_some_and(|s| s.conn.is_none() && s.expires_at.is_some_and(|t| t <= now));
        if expired {
            self.end_session(client_id);
        }
    }

    pub(super) fn on_tick(&mut self) {
        let now = self.now;
        let late: Vec<ConnId> = self
            .conns
            .values()
            .filter(|c| c.keep_alive_deadline().is_some_and(|d| d <= now))
            .map(|c| c.id)
            .collect();
        for conn in late {
            let v = self.version_of(conn);
            self.violation(
                conn,
                ReasonCode::KEEP_ALIVE_TIMEOUT,
                CloseKind::KeepAliveTimeout,
                v.pick(&["MQTT-3.1.2-24"], &["MQTT-3.1.2-22"]),
            );
        }
        for (client_id, w) in self.wills.take_due(now) {
            self.sessions.mark(&client_id);
            self.publish_will(&client_id, w.username.as_deref(), w.message);
        }
        let expired: Vec<String> = self
            .sessions
            .values()
            .filter(|s| s.conn.is_none() && s.expires_at.is_some_and(|t| t <= now))
            .map(|s| s.client_id.clone())
            .collect();
        for client_id in expired {
            self.end_session(&client_id);
        }
    }
}
