//! The broker misbehaviours the self-check injects, and the per-connection
//! logic that injects them.
//!
//! Each [`Fault`] is something a real broker could get wrong, with the
//! normative statements it breaks. A [`Session`] sits on one proxied
//! connection: it sees every decoded packet in both directions and decides
//! what actually reaches the other side. Without a fault it forwards each
//! packet's original bytes untouched. Sans-IO: the proxy feeds it packets
//! and the time, and writes out what it returns.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{
    Packet, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode, Subscribe, UnsubAck,
};
use mqtt_netfault::{Out, PacketTap};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

pub mod aware;
mod aware_state;
#[cfg(test)]
mod aware_tests;

pub(crate) use aware_state::{ClientRecord, WillOut};

/// How long [`Fault::DeliveriesSwapped`] holds a delivery back, waiting for
/// the next one on the same topic to overtake it.
const HOLD: Duration = Duration::from_millis(150);

/// A broker misbehaviour the proxy can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// The PUBACK answering a client's QoS 1 PUBLISH never arrives.
    LostPuback,
    /// The PUBACK answering a client's PUBLISH carries another packet id.
    PubackWrongId,
    /// The PUBCOMP answering a client's PUBREL never arrives.
    NoPubcomp,
    /// A QoS 2 message is delivered twice, the copy with a new packet id.
    Qos2DeliveredTwice,
    /// Deliveries to established subscriptions carry RETAIN 1.
    RetainSetOnLiveDelivery,
    /// Deliveries that carry RETAIN 1 (retained messages sent at
    /// subscription) lose it.
    RetainClearedOnRetainedDelivery,
    /// Two consecutive deliveries of one topic and QoS reach the
    /// subscriber in the wrong order.
    DeliveriesSwapped,
    /// UNSUBSCRIBE is acknowledged but never acted on.
    UnsubscribeIgnored,
    /// Will messages are never delivered.
    WillsDropped,
    /// A DISCONNECT does not discard the will: it is published anyway.
    WillOnNormalDisconnect,
    /// SUBACK grants a higher maximum QoS than the subscriber requested.
    SubackQosRaised,
    /// SUBACK carries another packet id than the SUBSCRIBE's.
    SubackWrongId,
    /// UNSUBACK carries another packet id than the UNSUBSCRIBE's.
    UnsubackWrongId,
    /// CONNACK's Session Present flag is inverted on accepted connections.
    SessionPresentFlipped,
    /// A refused CONNECT is answered with a success CONNACK (then closed).
    ConnackRefusalAccepted,
    /// Messages are delivered one QoS level above the one they are due.
    DeliveryQosRaised,
    /// First deliveries at QoS 1 and 2 carry DUP 1.
    DupOnFirstDelivery,
    /// QoS 0 deliveries carry DUP 1, which makes them malformed.
    Qos0DupSet,
    /// User properties of a message are forwarded in reverse order (5.0).
    UserPropertiesReordered,
    /// User properties of a message are not forwarded (5.0).
    UserPropertiesDropped,
    /// The Message Expiry Interval is not forwarded (5.0).
    MessageExpiryDropped,
    /// The Message Expiry Interval is forwarded as published, not reduced
    /// by the time the message waited (5.0).
    MessageExpiryNotDecreased,
    /// Subscription identifiers are not sent with deliveries (5.0).
    SubscriptionIdentifiersDropped,
    /// A malformed packet from a client is skipped instead of closing the
    /// connection.
    MalformedSwallowed,
    /// PINGREQ is never answered.
    NoPingresp,
    /// A client silent for longer than its keep alive is never disconnected.
    KeepAliveNotEnforced,
    /// Wildcard subscriptions (`#`, `+/...`) receive messages of `$` topics.
    DollarTopicsLeaked,
    /// A PUBREL a client re-sends on a later connection is never answered
    /// (see [`aware`]).
    RetransmittedPubrelDropped,
    /// Messages queued for a resumed session are acknowledged but never
    /// delivered (see [`aware`]).
    QueuedLostOnReconnect,
    /// Re-deliveries reach the client with DUP 0 (see [`aware`]).
    DupCleared,
    /// A returning client's will is published after its normal DISCONNECT
    /// (see [`aware`]).
    WillAfterCleanDisconnect,
    /// A stalled link the broker keeps writing to is never timed out (see
    /// [`aware`]).
    StallAnsweredAsLive,
    /// Session Present 1 is answered as 0 to returning clients (see
    /// [`aware`]).
    SessionPresentForgotten,
}

/// What the catalogue says about a fault.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FaultInfo {
    /// Stable kebab-case name (`lost-puback`).
    pub name: &'static str,
    /// The misbehaviour, in one line.
    pub description: &'static str,
    /// MQTT 3.1.1 statements it breaks (empty when it cannot happen in 3.1.1).
    #[serde(rename = "3.1.1")]
    pub v311: &'static [&'static str],
    /// MQTT 5.0 statements it breaks.
    #[serde(rename = "5.0")]
    pub v5: &'static [&'static str],
    /// What a scenario must do to catch it.
    pub catch_hint: &'static str,
}

/// A catalogue entry: name, description, 3.1.1 and 5.0 statements, hint.
type Entry = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

impl Fault {
    /// Every fault, in catalogue order: [`Self::PER_CONNECTION`], then
    /// [`Self::FAULT_AWARE`].
    pub const ALL: &'static [Fault] = &concat::<
        { Fault::PER_CONNECTION.len() + Fault::FAULT_AWARE.len() },
    >(Fault::PER_CONNECTION, Fault::FAULT_AWARE);

    /// The faults a proxy injects from what one connection shows.
    pub const PER_CONNECTION: &'static [Fault] = &[
        Fault::LostPuback,
        Fault::PubackWrongId,
        Fault::NoPubcomp,
        Fault::Qos2DeliveredTwice,
        Fault::RetainSetOnLiveDelivery,
        Fault::RetainClearedOnRetainedDelivery,
        Fault::DeliveriesSwapped,
        Fault::UnsubscribeIgnored,
        Fault::WillsDropped,
        Fault::WillOnNormalDisconnect,
        Fault::SubackQosRaised,
        Fault::SubackWrongId,
        Fault::UnsubackWrongId,
        Fault::SessionPresentFlipped,
        Fault::ConnackRefusalAccepted,
        Fault::DeliveryQosRaised,
        Fault::DupOnFirstDelivery,
        Fault::Qos0DupSet,
        Fault::UserPropertiesReordered,
        Fault::UserPropertiesDropped,
        Fault::MessageExpiryDropped,
        Fault::MessageExpiryNotDecreased,
        Fault::SubscriptionIdentifiersDropped,
        Fault::MalformedSwallowed,
        Fault::NoPingresp,
        Fault::KeepAliveNotEnforced,
        Fault::DollarTopicsLeaked,
    ];

    /// The faults that need state across the connections of one client id
    /// (or a stalled link) to show: only a suite that reconnects, resumes
    /// sessions or stalls links can catch them. See [`aware`].
    pub const FAULT_AWARE: &'static [Fault] = &[
        Fault::RetransmittedPubrelDropped,
        Fault::QueuedLostOnReconnect,
        Fault::DupCleared,
        Fault::WillAfterCleanDisconnect,
        Fault::StallAnsweredAsLive,
        Fault::SessionPresentForgotten,
    ];

    /// The fault's catalogue entry.
    pub fn info(self) -> FaultInfo {
        let (name, description, v311, v5, catch_hint): Entry = match self {
            Fault::LostPuback => (
                "lost-puback",
                "the PUBACK answering a client's QoS 1 PUBLISH is never sent",
                &["MQTT-4.3.2-2", "MQTT-3.3.4-1"],
                &["MQTT-4.3.2-4", "MQTT-3.3.4-1"],
                "publish at QoS 1 and expect the PUBACK",
            ),
            Fault::PubackWrongId => (
                "puback-wrong-id",
                "the PUBACK carries a packet id other than the PUBLISH's",
                &["MQTT-2.3.1-6", "MQTT-4.3.2-2"],
                &["MQTT-2.2.1-5", "MQTT-4.3.2-4"],
                "publish at QoS 1 and expect a PUBACK with the same packet id",
            ),
            Fault::NoPubcomp => (
                "no-pubcomp",
                "the PUBCOMP answering a client's PUBREL is never sent",
                &["MQTT-4.3.3-2"],
                &["MQTT-4.3.3-11"],
                "publish at QoS 2, expect PUBREC, send PUBREL and expect PUBCOMP",
            ),
            Fault::Qos2DeliveredTwice => (
                "qos2-delivered-twice",
                "a QoS 2 message reaches the subscriber twice, the copy with a new packet id",
                &["MQTT-4.3.3-2"],
                &["MQTT-4.3.3-10"],
                "deliver one QoS 2 message, complete the flow, then expect no further PUBLISH",
            ),
            Fault::RetainSetOnLiveDelivery => (
                "retain-set-on-live-delivery",
                "deliveries to established subscriptions carry RETAIN 1",
                &["MQTT-3.3.1-9"],
                &["MQTT-3.3.1-12"],
                "publish (retained or not) to an existing subscription and expect retain: false",
            ),
            Fault::RetainClearedOnRetainedDelivery => (
                "retain-cleared-on-retained-delivery",
                "retained messages sent because of a new subscription carry RETAIN 0",
                &["MQTT-3.3.1-8"],
                &["MQTT-3.3.1-9", "MQTT-3.3.1-13"],
                "store a retained message, subscribe, and expect it with retain: true",
            ),
            Fault::DeliveriesSwapped => (
                "deliveries-swapped",
                "two consecutive deliveries of one topic and QoS arrive in the wrong order",
                &["MQTT-4.6.0-5", "MQTT-4.6.0-6"],
                &["MQTT-4.6.0-5", "MQTT-4.6.0-6"],
                "publish several messages on one topic and expect them in order (expect with next: true)",
            ),
            Fault::UnsubscribeIgnored => (
                "unsubscribe-ignored",
                "UNSUBSCRIBE is acknowledged but the subscription stays",
                &["MQTT-3.10.4-1", "MQTT-3.10.4-2"],
                &["MQTT-3.10.4-1", "MQTT-3.10.4-2"],
                "subscribe, unsubscribe, publish, and expect nothing",
            ),
            Fault::WillsDropped => (
                "wills-dropped",
                "the will message is never delivered",
                &["MQTT-3.1.2-8"],
                &["MQTT-3.1.2-8"],
                "connect with a will, drop the connection, expect the will at a subscriber",
            ),
            Fault::WillOnNormalDisconnect => (
                "will-on-normal-disconnect",
                "the will is published even after a normal DISCONNECT",
                &["MQTT-3.1.2-10", "MQTT-3.14.4-3"],
                &["MQTT-3.1.2-10", "MQTT-3.14.4-3"],
                "connect with a will, send DISCONNECT, and expect no will at a subscriber",
            ),
            Fault::SubackQosRaised => (
                "suback-qos-raised",
                "SUBACK grants one QoS level more than the subscriber requested",
                &["MQTT-3.8.4-5"],
                &["MQTT-3.8.4-7"],
                "subscribe at QoS 0 or 1 and expect reason_codes equal to (or below) the request",
            ),
            Fault::SubackWrongId => (
                "suback-wrong-id",
                "SUBACK carries a packet id other than the SUBSCRIBE's",
                &["MQTT-3.8.4-2", "MQTT-2.3.1-7"],
                &["MQTT-3.8.4-2", "MQTT-2.2.1-6"],
                "subscribe and expect a SUBACK with the same packet id",
            ),
            Fault::UnsubackWrongId => (
                "unsuback-wrong-id",
                "UNSUBACK carries a packet id other than the UNSUBSCRIBE's",
                &["MQTT-3.10.4-4", "MQTT-2.3.1-7"],
                &["MQTT-3.10.4-5", "MQTT-2.2.1-6"],
                "unsubscribe and expect an UNSUBACK with the same packet id",
            ),
            Fault::SessionPresentFlipped => (
                "session-present-flipped",
                "CONNACK's Session Present is inverted on accepted connections",
                &["MQTT-3.2.2-1", "MQTT-3.2.2-2", "MQTT-3.2.2-3"],
                &["MQTT-3.2.2-2", "MQTT-3.2.2-3"],
                "connect (clean or resuming) with a connack matcher on session_present",
            ),
            Fault::ConnackRefusalAccepted => (
                "connack-refusal-accepted",
                "a refused CONNECT is answered with a success CONNACK before the close",
                &["MQTT-3.1.2-2", "MQTT-3.1.3-8", "MQTT-3.1.3-9"],
                &["MQTT-3.1.4-1", "MQTT-3.1.4-2", "MQTT-4.13.2-1"],
                "send a CONNECT the server must refuse (bad protocol level, bad credentials) and expect the refusal code",
            ),
            Fault::DeliveryQosRaised => (
                "delivery-qos-raised",
                "messages are delivered one QoS level above the lower of published and granted QoS",
                &["MQTT-3.8.4-6"],
                &["MQTT-3.8.4-8"],
                "subscribe at QoS 0 (or publish at QoS 1) and expect the delivery at the lower QoS",
            ),
            Fault::DupOnFirstDelivery => (
                "dup-on-first-delivery",
                "first deliveries at QoS 1 and 2 carry DUP 1",
                &["MQTT-3.3.1-3", "MQTT-4.3.2-1", "MQTT-4.3.3-1"],
                &["MQTT-3.3.1-3", "MQTT-4.3.2-2", "MQTT-4.3.3-2"],
                "expect a first delivery at QoS 1 or 2 with dup: false",
            ),
            Fault::Qos0DupSet => (
                "qos0-dup-set",
                "QoS 0 deliveries carry DUP 1 (a malformed PUBLISH)",
                &["MQTT-3.3.1-2", "MQTT-4.3.1-1"],
                &["MQTT-3.3.1-2", "MQTT-4.3.1-1"],
                "deliver any QoS 0 message (the strict client rejects the malformed PUBLISH)",
            ),
            Fault::UserPropertiesReordered => (
                "user-properties-reordered",
                "a message's user properties are forwarded in reverse order",
                &[],
                &["MQTT-3.3.2-18"],
                "publish with two or more user properties and expect them in order",
            ),
            Fault::UserPropertiesDropped => (
                "user-properties-dropped",
                "a message's user properties are not forwarded",
                &[],
                &["MQTT-3.3.2-17"],
                "publish with user properties and expect them at the subscriber",
            ),
            Fault::MessageExpiryDropped => (
                "message-expiry-dropped",
                "the Message Expiry Interval is not forwarded",
                &[],
                &["MQTT-3.3.2-6"],
                "publish with message_expiry_interval and expect it (reduced) at the subscriber",
            ),
            Fault::MessageExpiryNotDecreased => (
                "message-expiry-not-decreased",
                "the Message Expiry Interval is forwarded as published, not reduced by the time waited",
                &[],
                &["MQTT-3.3.2-6"],
                "store a retained message with an expiry, sleep 2s, subscribe, expect a smaller interval",
            ),
            Fault::SubscriptionIdentifiersDropped => (
                "subscription-identifiers-dropped",
                "subscription identifiers are not sent with deliveries",
                &[],
                &["MQTT-3.3.4-3", "MQTT-3.3.4-4", "MQTT-3.3.4-5"],
                "subscribe with a subscription identifier and expect it on the delivery",
            ),
            Fault::MalformedSwallowed => (
                "malformed-swallowed",
                "a malformed packet from the client is skipped and the connection kept open",
                &["MQTT-4.8.0-1"],
                &["MQTT-4.13.1-1"],
                "send a malformed packet (send_raw) and expect the close",
            ),
            Fault::NoPingresp => (
                "no-pingresp",
                "PINGREQ is never answered",
                &["MQTT-3.12.4-1"],
                &["MQTT-3.12.4-1"],
                "send PINGREQ and expect PINGRESP",
            ),
            Fault::KeepAliveNotEnforced => (
                "keep-alive-not-enforced",
                "a client silent for 1.5 times its keep alive is never disconnected",
                &["MQTT-3.1.2-24"],
                &["MQTT-3.1.2-22"],
                "connect with keep_alive: 1, stay silent, and expect the close within 3s",
            ),
            Fault::DollarTopicsLeaked => (
                "dollar-topics-leaked",
                "subscriptions starting with a wildcard receive messages on `$` topics",
                &["MQTT-4.7.2-1"],
                &["MQTT-4.7.2-1"],
                "subscribe to `#` or `+/...` and expect nothing whose topic begins with `$`",
            ),
            aware => aware_info(aware),
        };
        FaultInfo {
            name,
            description,
            v311,
            v5,
            catch_hint,
        }
    }

    /// The stable name (`lost-puback`).
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The fault with this name.
    pub fn from_name(name: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.name() == name)
    }
}

/// `a` then `b`, as one array of `N` faults (`N` must be the sum of their
/// lengths): one list of each kind of fault, and [`Fault::ALL`] made of
/// them, not a third copy.
const fn concat<const N: usize>(a: &[Fault], b: &[Fault]) -> [Fault; N] {
    assert!(a.len() + b.len() == N, "N is not the sum of the lengths");
    let mut out = [Fault::LostPuback; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A connection's subscriptions that begin with a wildcard, for
/// [`Fault::DollarTopicsLeaked`]: where to send it messages on `$` topics.
#[derive(Debug)]
struct LeakTarget {
    tx: UnboundedSender<Publish>,
    /// Filter and the subscription identifiers of its SUBSCRIBE.
    filters: Vec<(String, Vec<u32>)>,
}

/// State every connection of one proxy shares.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Leading-wildcard subscribers, by connection number.
    leak_targets: Mutex<HashMap<u64, LeakTarget>>,
    /// Will topics seen in CONNECTs.
    will_topics: Mutex<HashSet<String>>,
    /// Message Expiry Interval each message was published with, by topic
    /// and payload.
    expiry: Mutex<HashMap<(String, Bytes), u32>>,
    /// What earlier connections of each client id did (the fault-aware
    /// faults' memory, see [`aware`]), by client id.
    pub(crate) clients: Mutex<HashMap<String, ClientRecord>>,
    /// Where [`Fault::WillAfterCleanDisconnect`] sends the wills the proxy
    /// is to publish itself, on a fresh connection to the broker.
    pub(crate) will_out: Mutex<Option<UnboundedSender<WillOut>>>,
    /// How many times the fault changed what a side saw.
    pub(crate) triggered: AtomicU64,
}

/// The fault logic of one proxied connection.
#[derive(Debug)]
pub(crate) struct Session {
    fault: Option<Fault>,
    shared: Arc<Shared>,
    /// This connection's number, and where other connections send it
    /// messages leaked to it.
    conn: u64,
    leak_tx: Option<UnboundedSender<Publish>>,
    version: Option<ProtocolVersion>,
    /// Deliveries the proxy made up, by packet id: the client's answers to
    /// them must not reach the server.
    fake: HashSet<u16>,
    next_fake: u16,
    /// QoS 1 deliveries the proxy raised to QoS 2.
    upgraded: HashSet<u16>,
    /// Packet ids whose PUBREL the proxy sent the client: its PUBCOMP stays here.
    pending_comp: HashSet<u16>,
    /// QoS 2 deliveries the proxy accepted in the client's place: the
    /// server's PUBREL is answered here.
    absorbed: HashSet<u16>,
    /// SUBSCRIBEs awaiting their SUBACK, by packet id.
    subscribes: HashMap<u16, Subscribe>,
    /// A delivery held back, to be overtaken by the next one.
    held: Option<(Publish, Bytes, Instant)>,
    /// The client's CONNECT carried a will.
    has_will: bool,
    /// Keep alive in force (seconds), once CONNACK accepted the connection.
    keep_alive: u16,
    connected: bool,
    /// When the server last heard from this connection.
    last_to_server: Instant,
    /// PINGREQs the proxy sent in the client's place, not yet answered.
    fake_pings: u32,
    /// The fault-aware faults' view of this connection.
    aware: aware_state::ConnState,
}

impl Session {
    /// A session for a new connection.
    pub(crate) fn new(fault: Option<Fault>, shared: Arc<Shared>, now: Instant) -> Self {
        Session {
            fault,
            shared,
            conn: 0,
            leak_tx: None,
            version: None,
            fake: HashSet::new(),
            next_fake: u16::MAX,
            upgraded: HashSet::new(),
            pending_comp: HashSet::new(),
            absorbed: HashSet::new(),
            subscribes: HashMap::new(),
            held: None,
            has_will: false,
            keep_alive: 0,
            connected: false,
            last_to_server: now,
            fake_pings: 0,
            aware: aware_state::ConnState::default(),
        }
    }

    /// Numbers the session `conn` and gives it where messages leaked to it
    /// (by [`Fault::DollarTopicsLeaked`]) are to be sent.
    pub(crate) fn with_leaks(mut self, conn: u64, tx: UnboundedSender<Publish>) -> Self {
        self.conn = conn;
        self.leak_tx = Some(tx);
        self
    }

    /// Whether a malformed packet from the client is dropped (and the
    /// connection kept) rather than passed on for the server to close.
    fn swallows_malformed(&self) -> bool {
        self.fault == Some(Fault::MalformedSwallowed)
    }

    /// Counts one injection of the fault.
    pub(crate) fn hit(&self) {
        self.shared.triggered.fetch_add(1, Ordering::Relaxed);
    }

    fn is(&self, f: Fault) -> bool {
        self.fault == Some(f)
    }

    fn v(&self) -> ProtocolVersion {
        self.version.unwrap_or(ProtocolVersion::V5)
    }

    fn v5(&self) -> bool {
        self.v().is_v5()
    }

    fn encode(&self, p: &Packet) -> Option<Bytes> {
        match p.to_bytes(self.v()) {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::warn!("selftest proxy: cannot encode {}: {e}", p.packet_type());
                None
            }
        }
    }

    /// Sends `p` to the client; counts a hit, or sends `raw` if `p` cannot
    /// be encoded.
    fn altered_to_client(&self, out: &mut Out, p: &Packet, raw: Bytes) {
        match self.encode(p) {
            Some(b) => {
                out.to_client.push(b);
                self.hit();
            }
            None => out.to_client.push(raw),
        }
    }

    /// Sends a packet the proxy made up to the client.
    fn inject_client(&self, out: &mut Out, p: &Packet) {
        if let Some(b) = self.encode(p) {
            out.to_client.push(b);
        }
    }

    /// Sends a packet the proxy made up to the server.
    fn inject_server(&mut self, out: &mut Out, p: &Packet, now: Instant) {
        if let Some(b) = self.encode(p) {
            out.to_server.push(b);
            self.last_to_server = now;
        }
    }

    fn fake_id(&mut self) -> u16 {
        loop {
            let id = self.next_fake;
            self.next_fake = if id <= 1 { u16::MAX } else { id - 1 };
            if !self.fake.contains(&id) && !self.pending_comp.contains(&id) {
                return id;
            }
        }
    }

    /// A packet from the client.
    fn handle_client(&mut self, p: Packet, raw: Bytes, now: Instant, out: &mut Out) {
        if self.aware_client(&p) {
            return;
        }
        match &p {
            Packet::Connect(c) => {
                self.version = Some(c.protocol_version);
                self.keep_alive = c.keep_alive;
                self.has_will = c.will.is_some();
                if let Some(w) = &c.will {
                    self.shared
                        .will_topics
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(w.topic.as_str().to_owned());
                }
            }
            Packet::PubAck(a) if self.fake.remove(&a.packet_id) => return,
            Packet::PubRec(a) if self.fake.remove(&a.packet_id) => {
                if !a.reason_code.is_error() {
                    self.pending_comp.insert(a.packet_id);
                    self.inject_client(out, &Packet::PubRel(PubResponse::new(a.packet_id)));
                }
                return;
            }
            Packet::PubRec(a) if self.upgraded.remove(&a.packet_id) => {
                let mut ack = PubResponse::new(a.packet_id);
                ack.reason_code = a.reason_code;
                self.inject_server(out, &Packet::PubAck(ack), now);
                if !a.reason_code.is_error() {
                    self.pending_comp.insert(a.packet_id);
                    self.inject_client(out, &Packet::PubRel(PubResponse::new(a.packet_id)));
                }
                return;
            }
            Packet::PubComp(a) if self.pending_comp.remove(&a.packet_id) => return,
            Packet::Subscribe(s) => {
                self.subscribes.insert(s.packet_id, s.clone());
            }
            Packet::Unsubscribe(u) if self.is(Fault::UnsubscribeIgnored) => {
                let codes = if self.v5() {
                    vec![ReasonCode::SUCCESS; u.filters.len()]
                } else {
                    Vec::new()
                };
                let ack = Packet::UnsubAck(UnsubAck {
                    packet_id: u.packet_id,
                    properties: Default::default(),
                    reason_codes: codes,
                });
                self.inject_client(out, &ack);
                self.hit();
                return;
            }
            Packet::Disconnect(d)
                if self.is(Fault::WillOnNormalDisconnect)
                    && self.has_will
                    && d.reason_code == ReasonCode::SUCCESS =>
            {
                // Not passed on: the client closes next, and the server sees
                // a connection lost without DISCONNECT.
                self.hit();
                return;
            }
            Packet::Publish(pb)
                if self.is(Fault::DollarTopicsLeaked) && pb.topic().starts_with('$') =>
            {
                self.shared.leak(pb);
            }
            Packet::Publish(pb) if self.is(Fault::MessageExpiryNotDecreased) => {
                if let Some(e) = pb.properties.message_expiry_interval {
                    self.shared
                        .expiry
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert((pb.topic().to_owned(), pb.payload_bytes()), e);
                }
            }
            _ => {}
        }
        out.to_server.push(raw);
        self.last_to_server = now;
    }

    /// A packet from the server.
    fn handle_server(&mut self, p: Packet, raw: Bytes, now: Instant, out: &mut Out) {
        if !matches!(p, Packet::Publish(_)) {
            self.flush_held(out);
        }
        let fake_pingresp = matches!(p, Packet::PingResp) && self.fake_pings > 0;
        if self.connected && !fake_pingresp {
            self.aware.last_from_server = Some(now);
        }
        match p {
            Packet::Publish(pb) => self.deliver(pb, raw, now, out),
            Packet::ConnAck(mut c) => {
                if c.reason_code == ReasonCode::SUCCESS {
                    self.connected = true;
                    if let Some(k) = c.properties.server_keep_alive {
                        self.keep_alive = k;
                    }
                    self.last_to_server = now;
                    if self.aware_connack(&mut c) {
                        return self.altered_to_client(out, &Packet::ConnAck(c), raw);
                    }
                    if self.is(Fault::SessionPresentFlipped) {
                        c.session_present = !c.session_present;
                        return self.altered_to_client(out, &Packet::ConnAck(c), raw);
                    }
                } else if self.is(Fault::ConnackRefusalAccepted) {
                    c.reason_code = ReasonCode::SUCCESS;
                    c.session_present = false;
                    return self.altered_to_client(out, &Packet::ConnAck(c), raw);
                }
                out.to_client.push(raw);
            }
            Packet::PubAck(mut a) => {
                if self.is(Fault::LostPuback) {
                    self.hit();
                } else if self.is(Fault::PubackWrongId) {
                    a.packet_id = other_id(a.packet_id);
                    self.altered_to_client(out, &Packet::PubAck(a), raw);
                } else {
                    out.to_client.push(raw);
                }
            }
            Packet::PubComp(_) if self.is(Fault::NoPubcomp) => self.hit(),
            Packet::PubRel(r) if self.absorbed.remove(&r.packet_id) => {
                self.inject_server(out, &Packet::PubComp(PubResponse::new(r.packet_id)), now);
            }
            Packet::PingResp if self.fake_pings > 0 => self.fake_pings -= 1,
            Packet::PingResp if self.is(Fault::NoPingresp) => self.hit(),
            Packet::SubAck(mut s) => {
                let request = self.subscribes.remove(&s.packet_id);
                if self.is(Fault::SubackWrongId) {
                    s.packet_id = other_id(s.packet_id);
                    return self.altered_to_client(out, &Packet::SubAck(s), raw);
                }
                if self.is(Fault::SubackQosRaised) {
                    if let Some(req) = &request {
                        let mut changed = false;
                        for (code, sub) in s.reason_codes.iter_mut().zip(&req.filters) {
                            let asked = sub.options.qos.bits();
                            if code.0 <= asked && asked < 2 {
                                *code = ReasonCode(asked + 1);
                                changed = true;
                            }
                        }
                        if changed {
                            return self.altered_to_client(out, &Packet::SubAck(s), raw);
                        }
                    }
                }
                out.to_client.push(raw);
                if self.is(Fault::DollarTopicsLeaked) {
                    if let Some(req) = request {
                        self.leak(&req, &s.reason_codes, out);
                    }
                }
            }
            Packet::UnsubAck(mut u) if self.is(Fault::UnsubackWrongId) => {
                u.packet_id = other_id(u.packet_id);
                self.altered_to_client(out, &Packet::UnsubAck(u), raw);
            }
            _ => out.to_client.push(raw),
        }
    }

    /// After a SUBACK: each granted filter that begins with a wildcard now
    /// receives messages on `$` topics, as if it matched them: those
    /// clients publish from now on, and one on a `$SYS` topic straight away
    /// (as a broker publishing `$SYS` statistics would).
    fn leak(&self, req: &Subscribe, codes: &[ReasonCode], out: &mut Out) {
        for (sub, code) in req.filters.iter().zip(codes) {
            if code.0 >= 0x80 {
                continue;
            }
            let Some(topic) = leak_topic(sub.filter.as_str()) else {
                continue;
            };
            if let Some(tx) = &self.leak_tx {
                let ids = if self.v5() {
                    req.properties.subscription_identifiers.clone()
                } else {
                    Vec::new()
                };
                self.shared
                    .leak_targets
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(self.conn)
                    .or_insert_with(|| LeakTarget {
                        tx: tx.clone(),
                        filters: Vec::new(),
                    })
                    .filters
                    .push((sub.filter.as_str().to_owned(), ids));
            }
            let Ok(topic) = mqtt_codec::MqttString::new(topic) else {
                continue;
            };
            let mut p = Publish::new(topic, Bytes::from_static(b"leaked"));
            if self.v5() {
                p.properties.subscription_identifiers =
                    req.properties.subscription_identifiers.clone();
            }
            self.inject_client(out, &Packet::Publish(p));
            self.hit();
        }
    }

    /// A PUBLISH from the server to the client.
    fn deliver(&mut self, mut p: Publish, raw: Bytes, now: Instant, out: &mut Out) {
        match self.aware_deliver(&mut p, now, out) {
            aware_state::Delivery::Altered => {
                return self.altered_to_client(out, &Packet::Publish(p), raw)
            }
            aware_state::Delivery::Dropped => return,
            aware_state::Delivery::Untouched => {}
        }
        let v5 = self.v5();
        match self.fault {
            Some(Fault::Qos2DeliveredTwice) if p.qos == QoS::ExactlyOnce => {
                out.to_client.push(raw);
                let id = self.fake_id();
                self.fake.insert(id);
                p.packet_id = id;
                p.dup = false;
                self.inject_client(out, &Packet::Publish(p));
                self.hit();
            }
            Some(Fault::RetainSetOnLiveDelivery) if !p.retain => {
                p.retain = true;
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            Some(Fault::RetainClearedOnRetainedDelivery) if p.retain => {
                p.retain = false;
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            Some(Fault::DeliveriesSwapped) => {
                if let Some((h, hraw, _)) = self.held.take() {
                    if h.topic() == p.topic() && h.qos == p.qos {
                        out.to_client.push(raw);
                        out.to_client.push(hraw);
                        self.hit();
                        return;
                    }
                    out.to_client.push(hraw);
                }
                self.held = Some((p, raw, now + HOLD));
            }
            Some(Fault::WillsDropped) if self.is_will_topic(&p) => {
                // Accepted in the client's place, so the server does not
                // keep it in flight.
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => {
                        self.inject_server(out, &Packet::PubAck(PubResponse::new(p.packet_id)), now)
                    }
                    QoS::ExactlyOnce => {
                        self.absorbed.insert(p.packet_id);
                        self.inject_server(
                            out,
                            &Packet::PubRec(PubResponse::new(p.packet_id)),
                            now,
                        );
                    }
                }
                self.hit();
            }
            Some(Fault::DeliveryQosRaised) if p.qos != QoS::ExactlyOnce => {
                if p.qos == QoS::AtMostOnce {
                    let id = self.fake_id();
                    self.fake.insert(id);
                    p.qos = QoS::AtLeastOnce;
                    p.packet_id = id;
                } else {
                    self.upgraded.insert(p.packet_id);
                    p.qos = QoS::ExactlyOnce;
                }
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            Some(Fault::DupOnFirstDelivery) if p.qos != QoS::AtMostOnce && !p.dup => {
                p.dup = true;
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            Some(Fault::Qos0DupSet) if p.qos == QoS::AtMostOnce => {
                let bad = RawPacket::from_packet(&Packet::Publish(p), self.v()).map(|r| {
                    let flags = raw.first().map_or(0, |b| b & 0x0F);
                    r.flags(flags | 0x08).build()
                });
                match bad {
                    Ok(b) => {
                        out.to_client.push(b);
                        self.hit();
                    }
                    Err(_) => out.to_client.push(raw),
                }
            }
            Some(Fault::UserPropertiesReordered)
                if v5 && p.properties.user_properties.len() >= 2 =>
            {
                let before = p.properties.user_properties.clone();
                p.properties.user_properties.reverse();
                if p.properties.user_properties == before {
                    // A palindrome: rotate instead.
                    p.properties.user_properties.rotate_left(1);
                }
                if p.properties.user_properties == before {
                    out.to_client.push(raw);
                } else {
                    self.altered_to_client(out, &Packet::Publish(p), raw);
                }
            }
            Some(Fault::UserPropertiesDropped)
                if v5 && !p.properties.user_properties.is_empty() =>
            {
                p.properties.user_properties.clear();
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            Some(Fault::MessageExpiryDropped)
                if v5 && p.properties.message_expiry_interval.is_some() =>
            {
                p.properties.message_expiry_interval = None;
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            Some(Fault::MessageExpiryNotDecreased) if v5 => {
                let published = p.properties.message_expiry_interval.and_then(|_| {
                    self.shared
                        .expiry
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&(p.topic().to_owned(), p.payload_bytes()))
                        .copied()
                });
                match (published, p.properties.message_expiry_interval) {
                    (Some(orig), Some(now_left)) if orig != now_left => {
                        p.properties.message_expiry_interval = Some(orig);
                        self.altered_to_client(out, &Packet::Publish(p), raw);
                    }
                    _ => out.to_client.push(raw),
                }
            }
            Some(Fault::SubscriptionIdentifiersDropped)
                if v5 && !p.properties.subscription_identifiers.is_empty() =>
            {
                p.properties.subscription_identifiers.clear();
                self.altered_to_client(out, &Packet::Publish(p), raw);
            }
            _ => out.to_client.push(raw),
        }
    }

    /// A message on a `$` topic another connection published, leaked to
    /// this one's leading-wildcard subscription.
    fn handle_leak(&mut self, p: Publish, out: &mut Out) {
        let p = Packet::Publish(p);
        if let Some(b) = self.encode(&p) {
            out.to_client.push(b);
            self.hit();
        }
    }

    fn is_will_topic(&self, p: &Publish) -> bool {
        self.shared
            .will_topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(p.topic())
    }

    fn flush_held(&mut self, out: &mut Out) {
        if let Some((_, raw, _)) = self.held.take() {
            out.to_client.push(raw);
        }
    }

    fn ping_due(&self) -> Option<Instant> {
        if !(self.connected && self.keep_alive > 0) {
            return None;
        }
        let due = self.last_to_server + Duration::from_millis(u64::from(self.keep_alive) * 500);
        if self.is(Fault::KeepAliveNotEnforced) {
            Some(due)
        } else {
            self.stall_ping_due(due)
        }
    }

    /// When [`Self::on_timer`] next has something to do.
    fn next_deadline(&self) -> Option<Instant> {
        let held = self.held.as_ref().map(|h| h.2);
        match (held, self.ping_due()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Time has passed: release a held delivery, keep a silent client alive.
    fn handle_timer(&mut self, now: Instant, out: &mut Out) {
        if self.held.as_ref().is_some_and(|h| h.2 <= now) {
            self.flush_held(out);
        }
        if self.ping_due().is_some_and(|d| d <= now) {
            self.fake_pings += 1;
            self.inject_server(out, &Packet::PingReq, now);
            self.hit();
        }
    }

    /// The server closed: whatever is held goes out now.
    fn handle_finish(&mut self, out: &mut Out) {
        self.flush_held(out);
    }
}

impl PacketTap for Session {
    type Inject = Publish;

    fn client_packet(&mut self, p: Packet, raw: Bytes, now: Instant, out: &mut Out) {
        self.handle_client(p, raw, now, out);
    }

    fn server_packet(&mut self, p: Packet, raw: Bytes, now: Instant, out: &mut Out) {
        self.handle_server(p, raw, now, out);
    }

    fn swallow_malformed(&mut self) -> bool {
        let swallow = self.swallows_malformed();
        if swallow {
            self.hit();
        }
        swallow
    }

    fn injected(&mut self, p: Publish, out: &mut Out) {
        self.handle_leak(p, out);
    }

    fn deadline(&self) -> Option<Instant> {
        self.next_deadline()
    }

    fn on_timer(&mut self, now: Instant, out: &mut Out) {
        self.handle_timer(now, out);
    }

    fn finish(&mut self, out: &mut Out) {
        self.handle_finish(out);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.leak_tx.is_some() {
            self.shared
                .leak_targets
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.conn);
        }
    }
}

impl Shared {
    /// Sends a copy of a message on a `$` topic to every leading-wildcard
    /// subscription that would match it but for the `$`.
    fn leak(&self, p: &Publish) {
        let targets = self
            .leak_targets
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for target in targets.values() {
            for (filter, ids) in &target.filters {
                if matches_ignoring_dollar(filter, p.topic()) {
                    let mut copy = Publish::new(p.topic_string(), p.payload_bytes());
                    copy.properties.subscription_identifiers = ids.clone();
                    let _ = target.tx.send(copy);
                    break;
                }
            }
        }
    }
}

/// Whether `filter` matches `topic` by the wildcard rules alone, as if a
/// topic beginning with `$` were like any other (MQTT-4.7.2-1 says not).
pub(crate) fn matches_ignoring_dollar(filter: &str, topic: &str) -> bool {
    let mut t = topic.split('/');
    for f in filter.split('/') {
        match (f, t.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (f, Some(level)) if f == level => {}
            _ => return false,
        }
    }
    t.next().is_none()
}

/// Another valid packet id than `id`.
fn other_id(id: u16) -> u16 {
    if id == u16::MAX {
        1
    } else {
        id + 1
    }
}

/// A `$` topic the filter would match if `$` topics were not special, for
/// filters that begin with a wildcard (`#` -> `$SYS/leak`, `+/a/#` ->
/// `$SYS/a/leak`); `None` for other filters.
pub(crate) fn leak_topic(filter: &str) -> Option<String> {
    if !(filter.starts_with('#') || filter.starts_with('+')) {
        return None;
    }
    let mut levels: Vec<&str> = Vec::new();
    for (i, level) in filter.split('/').enumerate() {
        match level {
            "+" if i == 0 => levels.push("$SYS"),
            "+" => levels.push("x"),
            "#" => {
                if i == 0 {
                    levels.push("$SYS");
                }
                levels.push("leak");
                break;
            }
            other => levels.push(other),
        }
    }
    Some(levels.join("/"))
}

/// The catalogue entry of a fault of [`Fault::FAULT_AWARE`].
fn aware_info(f: Fault) -> Entry {
    match f {
        Fault::RetransmittedPubrelDropped => (
            "retransmitted-pubrel-dropped",
            "a PUBREL the client re-sends on a later connection is ignored: no PUBCOMP",
            &["MQTT-4.3.3-2"],
            &["MQTT-4.3.3-11"],
            "release a QoS 2 message (PUBREL), reconnect, re-send the PUBREL and expect PUBCOMP",
        ),
        Fault::QueuedLostOnReconnect => (
            "queued-lost-on-reconnect",
            "messages queued for a resumed session are acknowledged in the client's place, never delivered",
            &["MQTT-3.1.2-5", "MQTT-4.1.0-1", "MQTT-4.4.0-1"],
            &["MQTT-3.1.2-5", "MQTT-3.1.2-23", "MQTT-4.4.0-1"],
            "queue a QoS 1 message for an offline session, resume it, expect the message after CONNACK",
        ),
        Fault::DupCleared => (
            "dup-cleared",
            "a re-delivery after reconnect reaches the client with DUP 0",
            &["MQTT-3.3.1-1"],
            &["MQTT-3.3.1-1"],
            "leave a QoS 1 delivery unacknowledged, resume the session, expect it again with dup: true",
        ),
        Fault::WillAfterCleanDisconnect => (
            "will-after-clean-disconnect",
            "a returning client's will is published after its normal DISCONNECT",
            &["MQTT-3.1.2-10", "MQTT-3.14.4-3"],
            &["MQTT-3.1.2-10", "MQTT-3.14.4-3"],
            "connect twice with one client id and a will, DISCONNECT normally, expect no will",
        ),
        Fault::StallAnsweredAsLive => (
            "stall-answered-as-live",
            "a stalled link the broker keeps writing to is never timed out; its will waits",
            &["MQTT-3.1.2-24", "MQTT-3.1.2-8"],
            &["MQTT-3.1.2-22", "MQTT-3.1.2-8"],
            "stall a subscriber with Keep Alive 1 and a will, keep publishing to it, expect the will",
        ),
        Fault::SessionPresentForgotten => (
            "session-present-forgotten",
            "a returning client's resumed session is reported with Session Present 0",
            &["MQTT-3.2.2-2"],
            &["MQTT-3.2.2-3"],
            "resume a session and expect the connack with session_present: true",
        ),
        other => unreachable!("{other:?} is not in Fault::FAULT_AWARE"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{ConnAck, Connect, MqttString};

    fn bytes(p: &Packet, v: ProtocolVersion) -> Bytes {
        p.to_bytes(v).unwrap()
    }

    fn connected(fault: Option<Fault>, shared: &Arc<Shared>, v: ProtocolVersion) -> Session {
        let now = Instant::now();
        let mut s = Session::new(fault, shared.clone(), now);
        let c = Packet::Connect(Box::new(Connect::new(v, MqttString::from_static("c"))));
        let mut out = Out::default();
        s.client_packet(c.clone(), bytes(&c, v), now, &mut out);
        let ack = Packet::ConnAck(ConnAck::default());
        s.server_packet(ack.clone(), bytes(&ack, v), now, &mut out);
        s
    }

    fn publish(topic: &'static str, qos: QoS, id: u16) -> Publish {
        let mut p = Publish::new(MqttString::from_static(topic), "x");
        p.qos = qos;
        p.packet_id = id;
        p
    }

    #[test]
    fn every_fault_has_a_unique_name_and_statements() {
        let mut names = HashSet::new();
        for f in Fault::ALL {
            let i = f.info();
            assert!(names.insert(i.name), "duplicate {}", i.name);
            assert_eq!(Fault::from_name(i.name), Some(*f));
            assert!(!i.v5.is_empty(), "{} cites no statement", i.name);
        }
        assert!(Fault::ALL.len() >= 15);
    }

    #[test]
    fn without_a_fault_bytes_pass_untouched() {
        let shared = Arc::new(Shared::default());
        let v = ProtocolVersion::V5;
        let mut s = connected(None, &shared, v);
        let p = Packet::Publish(publish("a/b", QoS::AtLeastOnce, 3));
        let raw = bytes(&p, v);
        let mut out = Out::default();
        s.server_packet(p.clone(), raw.clone(), Instant::now(), &mut out);
        s.client_packet(p, raw.clone(), Instant::now(), &mut out);
        assert_eq!(out.to_client, vec![raw.clone()]);
        assert_eq!(out.to_server, vec![raw]);
        assert_eq!(shared.triggered.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn swapped_deliveries_overtake_and_the_client_acks_are_kept() {
        let shared = Arc::new(Shared::default());
        let v = ProtocolVersion::V311;
        let mut s = connected(Some(Fault::DeliveriesSwapped), &shared, v);
        let now = Instant::now();
        let a = Packet::Publish(publish("t", QoS::AtLeastOnce, 1));
        let b = Packet::Publish(publish("t", QoS::AtLeastOnce, 2));
        let mut out = Out::default();
        s.server_packet(a.clone(), bytes(&a, v), now, &mut out);
        assert!(out.to_client.is_empty());
        assert!(s.deadline().is_some());
        s.server_packet(b.clone(), bytes(&b, v), now, &mut out);
        assert_eq!(out.to_client, vec![bytes(&b, v), bytes(&a, v)]);
        // A lone delivery is released by the timer.
        let mut out = Out::default();
        s.server_packet(a.clone(), bytes(&a, v), now, &mut out);
        s.on_timer(now + HOLD, &mut out);
        assert_eq!(out.to_client, vec![bytes(&a, v)]);
    }

    #[test]
    fn a_duplicated_qos2_copy_is_acknowledged_by_the_proxy() {
        let shared = Arc::new(Shared::default());
        let v = ProtocolVersion::V5;
        let mut s = connected(Some(Fault::Qos2DeliveredTwice), &shared, v);
        let now = Instant::now();
        let p = Packet::Publish(publish("t", QoS::ExactlyOnce, 1));
        let mut out = Out::default();
        s.server_packet(p.clone(), bytes(&p, v), now, &mut out);
        assert_eq!(out.to_client.len(), 2);
        let copy_id = u16::MAX;
        let rec = Packet::PubRec(PubResponse::new(copy_id));
        let mut out = Out::default();
        s.client_packet(rec.clone(), bytes(&rec, v), now, &mut out);
        assert!(out.to_server.is_empty());
        let rel = Packet::PubRel(PubResponse::new(copy_id));
        assert_eq!(out.to_client, vec![bytes(&rel, v)]);
        let comp = Packet::PubComp(PubResponse::new(copy_id));
        let mut out = Out::default();
        s.client_packet(comp.clone(), bytes(&comp, v), now, &mut out);
        assert!(out.to_server.is_empty());
        // The real delivery's answers go through.
        let rec = Packet::PubRec(PubResponse::new(1));
        s.client_packet(rec.clone(), bytes(&rec, v), now, &mut out);
        assert_eq!(out.to_server, vec![bytes(&rec, v)]);
    }

    #[test]
    fn qos0_dup_set_makes_a_publish_the_strict_decoder_rejects() {
        let shared = Arc::new(Shared::default());
        let v = ProtocolVersion::V311;
        let mut s = connected(Some(Fault::Qos0DupSet), &shared, v);
        let p = Packet::Publish(publish("t", QoS::AtMostOnce, 0));
        let mut out = Out::default();
        s.server_packet(p.clone(), bytes(&p, v), Instant::now(), &mut out);
        let mut buf = bytes::BytesMut::from(&out.to_client[0][..]);
        assert!(mqtt_codec::Decoder::new(v).decode(&mut buf).is_err());
    }

    #[test]
    fn keep_alive_is_faked_only_when_the_client_is_silent() {
        let shared = Arc::new(Shared::default());
        let v = ProtocolVersion::V311;
        let now = Instant::now();
        let mut s = Session::new(Some(Fault::KeepAliveNotEnforced), shared.clone(), now);
        let mut c = Connect::new(v, MqttString::from_static("c"));
        c.keep_alive = 2;
        let c = Packet::Connect(Box::new(c));
        let mut out = Out::default();
        s.client_packet(c.clone(), bytes(&c, v), now, &mut out);
        assert_eq!(s.deadline(), None);
        let ack = Packet::ConnAck(ConnAck::default());
        s.server_packet(ack.clone(), bytes(&ack, v), now, &mut out);
        assert_eq!(s.deadline(), Some(now + Duration::from_secs(1)));
        let mut out = Out::default();
        s.on_timer(now + Duration::from_secs(1), &mut out);
        assert_eq!(out.to_server, vec![bytes(&Packet::PingReq, v)]);
        let mut out = Out::default();
        s.server_packet(Packet::PingResp, bytes(&Packet::PingResp, v), now, &mut out);
        assert!(out.to_client.is_empty());
    }

    #[test]
    fn wildcards_match_dollar_topics_when_leaking() {
        assert!(matches_ignoring_dollar("#", "$x/t"));
        assert!(matches_ignoring_dollar("+/t", "$x/t"));
        assert!(matches_ignoring_dollar("a/#", "a"));
        assert!(!matches_ignoring_dollar("+/t", "$x/t/u"));
        assert!(!matches_ignoring_dollar("+/u", "$x/t"));
    }

    #[test]
    fn leaked_topics_match_the_filter_but_for_the_dollar() {
        assert_eq!(leak_topic("#").as_deref(), Some("$SYS/leak"));
        assert_eq!(leak_topic("+").as_deref(), Some("$SYS"));
        assert_eq!(leak_topic("+/a/+/#").as_deref(), Some("$SYS/a/x/leak"));
        assert_eq!(leak_topic("a/#"), None);
        assert_eq!(leak_topic("$share/g/#"), None);
    }
}
