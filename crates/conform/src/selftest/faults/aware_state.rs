//! The fault-aware faults' state ([`super::aware`]): what the proxy
//! remembers of a client id's connections, of one connection, and what a
//! fault did to a delivery. Plain data, apart from the faults that use it.

use std::collections::HashMap;
use std::time::Instant;

use mqtt_codec::{ProtocolVersion, Publish, Will};

/// What the proxy remembers of one client id's connections.
#[derive(Debug, Default)]
pub(crate) struct ClientRecord {
    /// CONNECTs seen with this client id.
    pub(super) connections: u64,
    /// Packet ids of the PUBRELs the client sent, each with the connection
    /// (its number among this client id's, from 1) that sent it first. A
    /// new QoS 2 PUBLISH (DUP 0) with the id starts a new exchange and
    /// forgets it.
    pub(super) pubrels: HashMap<u16, u64>,
}

/// A will the proxy publishes itself, for
/// [`Fault::WillAfterCleanDisconnect`].
#[derive(Debug, Clone)]
pub(crate) struct WillOut {
    /// The version the client spoke.
    pub(crate) version: ProtocolVersion,
    /// The will of its CONNECT.
    pub(crate) will: Will,
}

impl WillOut {
    /// The PUBLISH that carries the will (packet id left 0 for the
    /// publisher to set).
    pub(crate) fn publish(&self) -> Publish {
        let mut p = Publish::new(self.will.topic.clone(), self.will.payload.clone());
        p.qos = self.will.qos;
        p.retain = self.will.retain;
        if self.version.is_v5() {
            p.properties = self.will.properties.clone();
            p.properties.will_delay_interval = None;
        }
        p
    }
}

/// The fault-aware faults' view of one connection.
#[derive(Debug, Default)]
pub(crate) struct ConnState {
    /// The client id of its CONNECT (none when empty: the server assigns
    /// one, which no later connection can repeat).
    pub(super) client_id: Option<String>,
    /// This connection's number among its client id's, from 1.
    pub(super) index: u64,
    /// An earlier connection used this client id.
    pub(super) returning: bool,
    /// The will of its CONNECT.
    pub(super) will: Option<Will>,
    /// CONNACK said Session Present 1 and the client has sent nothing
    /// since: what the server sends now was queued for the session.
    pub(super) queued_phase: bool,
    /// When the server last sent this connection anything after CONNACK,
    /// answers to the proxy's own PINGREQs aside.
    pub(super) last_from_server: Option<Instant>,
}

/// What the fault-aware faults did to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// Nothing: the other faults may act on it.
    Untouched,
    /// Changed: send the changed packet.
    Altered,
    /// Dropped (and acknowledged to the server if need be).
    Dropped,
}
