//! The broker: inputs (connection opened, packet, decode error, connection
//! closed, tick), outputs drained with [`Broker::poll_output`], and the
//! next time it needs a tick. One file per area of the specification:
//! `connect.rs` (§3.1-3.2), `publish.rs` (§3.3-3.7, §4.3), `deliver.rs`
//! (routing, §4.5-4.7, §4.8.2), `subscribe.rs` (§3.8-3.11), `close.rs`
//! (§3.14, §4.1, wills, keep alive).

mod close;
mod connect;
mod deliver;
mod durable;
mod publish;
mod sessions;
mod subscribe;
mod will_action;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mqtt_codec::{Auth, Packet, ProtocolVersion, ReasonCode, Violation};

use crate::config::Config;
use crate::connection::{ConnState, Connection};
use crate::error::ModelError;
use crate::output::{CloseKind, CloseReason, Output, TraceEvent};
use crate::policy::{AllowAll, Authenticator, Authorizer};
use crate::retained::RetainedStore;
use crate::session::Session;
use crate::subscriptions::Subscriptions;
use crate::time::{ConnId, Time};
use crate::will::PendingWills;
use sessions::SessionMap;

pub use will_action::WillAction;

/// The broker as a deterministic state machine. Feed it inputs with the
/// current time; drain [`Output`]s; call [`Broker::tick`] at
/// [`Broker::next_timeout`]. The same inputs always give the same outputs.
#[derive(Debug)]
pub struct Broker {
    config: Config,
    authenticator: Box<dyn Authenticator>,
    authorizer: Box<dyn Authorizer>,
    conns: BTreeMap<ConnId, Connection>,
    sessions: SessionMap,
    subs: Subscriptions,
    retained: RetainedStore,
    wills: PendingWills,
    outputs: VecDeque<Output>,
    /// Round-robin position per shared subscription (`group`, `filter`).
    shared_cursor: BTreeMap<(String, String), usize>,
    assigned_ids: u64,
    now: Time,
    /// Retained topics changed, while change tracking is on.
    retained_changed: Option<BTreeSet<String>>,
    /// The counters of [`crate::durable::DurableMeta`] changed.
    meta_changed: bool,
}

impl Broker {
    /// A broker with `config` that accepts every client and allows every
    /// topic.
    pub fn new(config: Config) -> Self {
        Broker::with_policies(config, Box::new(AllowAll), Box::new(AllowAll))
    }

    /// A broker with the given authentication and authorisation policies.
    pub fn with_policies(
        config: Config,
        authenticator: Box<dyn Authenticator>,
        authorizer: Box<dyn Authorizer>,
    ) -> Self {
        Broker {
            config,
            authenticator,
            authorizer,
            conns: BTreeMap::new(),
            sessions: SessionMap::default(),
            subs: Subscriptions::new(),
            retained: RetainedStore::new(),
            wills: PendingWills::new(),
            outputs: VecDeque::new(),
            shared_cursor: BTreeMap::new(),
            assigned_ids: 0,
            now: Time::ZERO,
            retained_changed: None,
            meta_changed: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The latest time seen (time never goes backwards: an earlier `now`
    /// is read as the latest one).
    pub fn now(&self) -> Time {
        self.now
    }

    fn advance(&mut self, now: Time) {
        self.now = self.now.max(now);
    }

    /// A network connection was accepted.
    pub fn connection_opened(&mut self, conn: ConnId, now: Time) -> Result<(), ModelError> {
        self.advance(now);
        if self.conns.contains_key(&conn) {
            return Err(ModelError::ConnectionExists(conn));
        }
        self.conns.insert(conn, Connection::new(conn, self.now));
        Ok(())
    }

    /// A packet arrived on `conn`, decoded in the connection's version.
    pub fn packet(&mut self, conn: ConnId, packet: Packet, now: Time) -> Result<(), ModelError> {
        self.advance(now);
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(ModelError::UnknownConnection(conn));
        };
        c.last_activity = self.now;
        let connected = matches!(c.state, ConnState::Connected { .. });
        let v = c.version;
        match packet {
            Packet::Connect(p) if !connected => self.on_connect(conn, *p),
            _ if !connected => self.drop_connection(
                conn,
                CloseReason {
                    kind: CloseKind::FirstPacketNotConnect,
                    reason_code: ReasonCode::PROTOCOL_ERROR,
                    statements: &["MQTT-3.1.0-1"],
                },
                WillAction::Discard,
            ),
            Packet::Connect(_) => self.violation(
                conn,
                ReasonCode::PROTOCOL_ERROR,
                CloseKind::SecondConnect,
                &["MQTT-3.1.0-2"],
            ),
            Packet::Publish(p) => self.on_publish(conn, p),
            Packet::PubAck(r) => self.on_puback(conn, r),
            Packet::PubRec(r) => self.on_pubrec(conn, r),
            Packet::PubRel(r) => self.on_pubrel(conn, r),
            Packet::PubComp(r) => self.on_pubcomp(conn, r),
            Packet::Subscribe(s) => self.on_subscribe(conn, s),
            Packet::Unsubscribe(u) => self.on_unsubscribe(conn, u),
            // MQTT-3.12.4-1: PINGREQ is answered with PINGRESP.
            Packet::PingReq => self.send(conn, Packet::PingResp),
            Packet::Disconnect(d) => self.on_disconnect(conn, d),
            Packet::Auth(a) => self.on_auth(conn, a, v),
            // Packets only a server sends.
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => self
                .violation(
                    conn,
                    ReasonCode::PROTOCOL_ERROR,
                    CloseKind::ProtocolViolation,
                    v.pick(&["MQTT-4.8.0-1"], &["MQTT-4.13.1-1"]),
                ),
        }
        Ok(())
    }

    /// The server's decoder rejected the bytes arriving on `conn`. Before
    /// CONNECT: an unsupported protocol level gets a 3.1.1 CONNACK 0x01
    /// (3.1.1 MQTT-3.1.2-2) and the connection closes; anything else
    /// closes it. After: 5.0 sends DISCONNECT with the violation's reason
    /// code (MQTT-4.13.1-1), 3.1.1 closes (MQTT-4.8.0-1); the Will is
    /// published.
    pub fn decode_error(
        &mut self,
        conn: ConnId,
        violation: &Violation,
        now: Time,
    ) -> Result<(), ModelError> {
        self.advance(now);
        let Some(c) = self.conns.get(&conn) else {
            return Err(ModelError::UnknownConnection(conn));
        };
        if c.client_id().is_none() {
            let level = violation.statements.contains(&"MQTT-3.1.2-2");
            if level {
                self.outputs.push_back(Output::Send {
                    conn,
                    version: ProtocolVersion::V311,
                    packet: Packet::ConnAck(mqtt_codec::ConnAck {
                        session_present: false,
                        reason_code: ReasonCode(0x01),
                        properties: Default::default(),
                    }),
                });
            }
            let reason = CloseReason {
                kind: if level {
                    CloseKind::ConnectRejected
                } else {
                    CloseKind::DecodeError
                },
                reason_code: violation.reason_code,
                statements: violation.statements,
            };
            self.drop_connection(conn, reason, WillAction::Discard);
            return Ok(());
        }
        let code = if mqtt_codec::reason::allowed::DISCONNECT.contains(&violation.reason_code.0)
            && violation.reason_code.is_error()
        {
            violation.reason_code
        } else {
            ReasonCode::MALFORMED_PACKET
        };
        self.violation(conn, code, CloseKind::DecodeError, violation.statements);
        Ok(())
    }

    /// The network connection closed without DISCONNECT (or after one the
    /// model already handled): the Will is published (MQTT-3.1.2-8).
    pub fn connection_closed(&mut self, conn: ConnId, now: Time) -> Result<(), ModelError> {
        self.advance(now);
        if !self.conns.contains_key(&conn) {
            return Err(ModelError::UnknownConnection(conn));
        }
        self.detach(conn, None, WillAction::Publish, false);
        Ok(())
    }

    /// Time passed: keep alive, Will Delay and Session Expiry timers fire.
    pub fn tick(&mut self, now: Time) {
        self.advance(now);
        self.on_tick();
    }

    /// The next output, in the order the caller must act on them.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Broker::tick`] must next be called, if ever.
    pub fn next_timeout(&self) -> Option<Time> {
        let keep_alive = self
            .conns
            .values()
            .filter_map(Connection::keep_alive_deadline)
            .min();
        let sessions = self.sessions.values().filter_map(|s| s.expires_at).min();
        [keep_alive, sessions, self.wills.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The session of `client_id`.
    pub fn session(&self, client_id: &str) -> Option<&Session> {
        self.sessions.get(client_id)
    }

    /// Every session, by client id.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// The open connection `conn`.
    pub fn connection(&self, conn: ConnId) -> Option<&Connection> {
        self.conns.get(&conn)
    }

    /// Every open connection.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        self.conns.values()
    }

    /// The retained messages.
    pub fn retained(&self) -> &RetainedStore {
        &self.retained
    }

    /// All subscriptions.
    pub fn subscriptions(&self) -> &Subscriptions {
        &self.subs
    }

    /// Wills waiting for their delay.
    pub fn pending_wills(&self) -> &PendingWills {
        &self.wills
    }

    // ---- helpers shared by the submodules ----

    fn send(&mut self, conn: ConnId, packet: Packet) {
        if let Some(c) = self.conns.get(&conn) {
            self.outputs.push_back(Output::Send {
                conn,
                version: c.version,
                packet,
            });
        }
    }

    fn event(&mut self, e: TraceEvent) {
        self.outputs.push_back(Output::Event(e));
    }

    fn version_of(&self, conn: ConnId) -> ProtocolVersion {
        self.conns
            .get(&conn)
            .map_or(ProtocolVersion::V311, |c| c.version)
    }

    /// May the session of `client_id` receive a message on `topic`? Asked
    /// for every copy given to a session, with the user name of the
    /// session's last CONNECT; callers skip it when the authorizer
    /// [is open](Authorizer::is_open).
    fn may_read(&self, client_id: &str, topic: &str) -> bool {
        let username = self
            .sessions
            .get(client_id)
            .and_then(|s| s.username.as_deref());
        self.authorizer.can_read(client_id, username, topic)
    }

    fn client_of(&self, conn: ConnId) -> Option<String> {
        self.conns
            .get(&conn)
            .and_then(|c| c.client_id().map(str::to_owned))
    }

    /// AUTH after CONNACK (5.0 §4.12.1): re-authentication with the method
    /// of CONNECT is accepted at once; AUTH without a method in CONNECT is
    /// a Protocol Error (MQTT-4.12.0-7).
    fn on_auth(&mut self, conn: ConnId, a: Auth, v: ProtocolVersion) {
        let method = self.conns.get(&conn).and_then(|c| c.auth_method.clone());
        match method {
            Some(m)
                if v.is_v5()
                    && a.reason_code == ReasonCode::RE_AUTHENTICATE
                    && a.properties.authentication_method.as_ref() == Some(&m) =>
            {
                let mut reply = Auth::default();
                reply.properties.authentication_method = Some(m);
                self.send(conn, Packet::Auth(reply));
            }
            _ => self.violation(
                conn,
                ReasonCode::PROTOCOL_ERROR,
                CloseKind::ProtocolViolation,
                &["MQTT-4.12.0-7", "MQTT-4.12.1-1"],
            ),
        }
    }
}
