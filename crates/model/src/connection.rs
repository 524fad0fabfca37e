//! One network connection (MQTT 5.0 §4.1, §3.1.2.10, §3.3.2.3.4): the
//! negotiated version and limits, keep alive and inbound topic aliases.
//! None of it survives the connection (MQTT-3.3.2-7).

use std::collections::BTreeMap;

use mqtt_codec::{MqttString, ProtocolVersion, Will};

use crate::time::{ConnId, Time};

/// Where a connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnState {
    /// Opened; CONNECT awaited (MQTT-3.1.0-1).
    AwaitingConnect,
    /// CONNACK 0x00 sent; serving `client_id`.
    Connected {
        /// The client id (assigned, for a zero-length one).
        client_id: String,
    },
}

/// A network connection.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Its id.
    pub id: ConnId,
    /// Its state.
    pub state: ConnState,
    /// The version of its CONNECT (3.1.1 until then).
    pub version: ProtocolVersion,
    /// Last time a packet arrived.
    pub last_activity: Time,
    /// Keep Alive in effect, seconds (0: none): the client's, or the
    /// Server Keep Alive (MQTT-3.2.2-21/22).
    pub keep_alive: u16,
    /// The client's Receive Maximum (5.0 §3.1.2.11.3; 65,535 if absent),
    /// or the configured window for 3.1.1.
    pub receive_maximum: u16,
    /// The client's Maximum Packet Size (5.0 §3.1.2.11.4).
    pub maximum_packet_size: Option<u32>,
    /// Inbound topic aliases (5.0 §3.3.2.3.4).
    pub topic_aliases: BTreeMap<u16, MqttString>,
    /// The Will Message, until published or discarded.
    pub will: Option<Will>,
    /// The user name of CONNECT, for authorisation.
    pub username: Option<String>,
    /// True if the CONNECT had a Session Expiry Interval of 0 (5.0: a
    /// non-zero value on DISCONNECT is then a Protocol Error, §3.14.2.2.2).
    pub connect_expiry_zero: bool,
    /// The Authentication Method of CONNECT (5.0 §4.12), when accepted.
    pub auth_method: Option<MqttString>,
}

impl Connection {
    /// A connection just opened.
    pub fn new(id: ConnId, now: Time) -> Self {
        Connection {
            id,
            state: ConnState::AwaitingConnect,
            version: ProtocolVersion::V311,
            last_activity: now,
            keep_alive: 0,
            receive_maximum: u16::MAX,
            maximum_packet_size: None,
            topic_aliases: BTreeMap::new(),
            will: None,
            username: None,
            connect_expiry_zero: true,
            auth_method: None,
        }
    }

    /// The client id, once connected.
    pub fn client_id(&self) -> Option<&str> {
        match &self.state {
            ConnState::Connected { client_id } => Some(client_id),
            ConnState::AwaitingConnect => None,
        }
    }

    /// When the Keep Alive runs out: one and a half times the interval
    /// after the last packet (MQTT-3.1.2-24 in 3.1.1, MQTT-3.1.2-22 in 5.0).
    pub fn keep_alive_deadline(&self) -> Option<Time> {
        if self.keep_alive == 0 || self.client_id().is_none() {
            return None;
        }
        Some(
            self.last_activity
                .plus_millis(u64::from(self.keep_alive) * 1500),
        )
    }
}
