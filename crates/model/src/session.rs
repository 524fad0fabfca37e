//! Session state (MQTT 3.1.1 §3.1.2.4, MQTT 5.0 §4.1): what the server
//! keeps for a client id across network connections.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mqtt_codec::QoS;

use crate::inflight::Inflight;
use crate::message::Message;
use crate::subscriptions::SubEntry;
use crate::time::{ConnId, Time};

/// Session Expiry Interval meaning "never expires" (5.0 §3.1.2.11.2).
pub const NEVER_EXPIRES: u32 = u32::MAX;

/// A subscription as recorded in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredSub {
    /// Granted options and identifier.
    pub entry: SubEntry,
    /// True for a 5.0 shared subscription (`$share/`).
    pub shared: bool,
}

/// A message waiting for the in-flight window or for the client to come
/// back: the message, the QoS and RETAIN it will be sent with and the
/// Subscription Identifiers to attach.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Queued {
    /// The message.
    pub message: Message,
    /// Delivery QoS (min of published and granted, MQTT-3.8.4-8 in 5.0).
    #[serde(with = "crate::durable::qos_bits")]
    pub qos: QoS,
    /// RETAIN flag to send.
    pub retain: bool,
    /// Subscription Identifiers to send (5.0, MQTT-3.3.4-3).
    pub subscription_ids: Vec<u32>,
}

/// The server's Session State for one client id (5.0 §4.1): subscriptions,
/// QoS 1/2 messages sent and not completely acknowledged, messages
/// pending, QoS 2 messages received and not completely acknowledged.
#[derive(Debug, Clone)]
pub struct Session {
    /// The client id.
    pub client_id: String,
    /// The connection serving it, if any (MQTT-4.1.0-1: kept while open).
    pub conn: Option<ConnId>,
    /// The user name of the CONNECT that last took the session: the
    /// identity whose read access decides what it receives, also while it
    /// is disconnected.
    pub username: Option<String>,
    /// Subscriptions by filter as subscribed.
    pub subscriptions: BTreeMap<String, StoredSub>,
    /// Outbound QoS 1/2 deliveries in flight.
    pub inflight: Inflight,
    /// Messages not yet sent.
    pub queue: VecDeque<Queued>,
    /// Inbound QoS 2 packet ids awaiting PUBREL (MQTT-4.3.3-10 in 5.0,
    /// MQTT-4.3.3-2 in 3.1.1).
    pub inbound_qos2: BTreeSet<u16>,
    /// Session Expiry Interval in seconds; [`NEVER_EXPIRES`] for never
    /// (3.1.1 clean session 0), 0 for "ends with the connection".
    pub expiry_interval: u32,
    /// When a disconnected session expires (`None` while connected, or
    /// never).
    pub expires_at: Option<Time>,
}

impl Session {
    /// A new, empty session.
    pub fn new(client_id: &str, expiry_interval: u32) -> Self {
        Session {
            client_id: client_id.to_owned(),
            conn: None,
            username: None,
            subscriptions: BTreeMap::new(),
            inflight: Inflight::new(),
            queue: VecDeque::new(),
            inbound_qos2: BTreeSet::new(),
            expiry_interval,
            expires_at: None,
        }
    }

    /// When a session disconnected at `now` expires: `None` for never.
    pub fn expiry_from(&self, now: Time) -> Option<Time> {
        if self.expiry_interval == NEVER_EXPIRES {
            None
        } else {
            Some(now.plus_secs(u64::from(self.expiry_interval)))
        }
    }
}
