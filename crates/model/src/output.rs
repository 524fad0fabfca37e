//! What the model asks its caller to do, and the events it records for
//! traces. Drained with [`crate::Broker::poll_output`].

use mqtt_codec::{Packet, ProtocolVersion, QoS, ReasonCode};

use crate::time::ConnId;

/// One thing the caller must do, in order.
// `Send` is by far the most frequent output; boxing its packet would cost an
// allocation per packet to shrink the rarer variants.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Encode `packet` in `version` and write it to `conn`.
    Send {
        /// The connection.
        conn: ConnId,
        /// The version to encode in (the connection's negotiated version;
        /// before CONNECT is understood, 3.1.1 for a CONNACK 0x01).
        version: ProtocolVersion,
        /// The packet.
        packet: Packet,
    },
    /// Close the network connection `conn` after writing what precedes.
    /// The model has forgotten the connection.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why, with the statements that require it.
        reason: CloseReason,
    },
    /// Something a trace checker wants to know.
    Event(TraceEvent),
}

/// Why the server closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// The first packet was not CONNECT.
    FirstPacketNotConnect,
    /// A second CONNECT.
    SecondConnect,
    /// CONNECT refused with the CONNACK code carried in `reason_code`.
    ConnectRejected,
    /// Another connection took over the client id.
    SessionTakenOver,
    /// No packet within 1.5 times the Keep Alive.
    KeepAliveTimeout,
    /// The client sent DISCONNECT.
    ClientDisconnect,
    /// The server's decoder found a malformed packet or a protocol error.
    DecodeError,
    /// A well-formed packet broke a rule of the protocol (the code says which).
    ProtocolViolation,
}

/// Why a connection is closed: the kind, the reason code sent (5.0) or
/// implied, and the normative statements that require closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// What happened.
    pub kind: CloseKind,
    /// The reason code of the CONNACK or DISCONNECT sent before closing
    /// (in 3.1.1, the CONNACK return code, or the 5.0 code that would have
    /// applied when nothing is sent).
    pub reason_code: ReasonCode,
    /// Normative statement ids, in the numbering of the connection's version.
    pub statements: &'static [&'static str],
}

/// Why a message was not delivered to a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The session's queue was full (`Config::max_queued_messages`).
    QueueFull,
    /// The Message Expiry Interval passed before delivery (MQTT-3.3.2-5).
    Expired,
    /// The PUBLISH would exceed the client's Maximum Packet Size
    /// (MQTT-3.1.2-24/25 in 5.0).
    PacketTooLarge,
    /// QoS 0 towards an offline session (the model does not queue QoS 0).
    Qos0Offline,
    /// The publisher was not authorised to publish on the topic (also a
    /// Will Message whose owner may not publish on its topic).
    NotAuthorized,
    /// The receiving client may not read the topic
    /// ([`Authorizer::can_read`](crate::policy::Authorizer::can_read)): the
    /// copy is not given to it, and it is not told.
    ReceiverNotAuthorized,
}

/// An event for traces: what a checker needs beyond the packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    /// CONNACK 0x00 sent: `client_id` is now served on `conn`.
    Connected {
        /// The connection.
        conn: ConnId,
        /// The (possibly assigned) client id.
        client_id: String,
        /// The version.
        version: ProtocolVersion,
        /// Session Present of the CONNACK.
        session_present: bool,
    },
    /// A connection ended (any cause).
    ConnectionEnded {
        /// The connection.
        conn: ConnId,
        /// Its client id, if CONNECT was accepted.
        client_id: Option<String>,
    },
    /// An Application Message was accepted from a publisher and routed.
    Published {
        /// The publisher's client id.
        client_id: String,
        /// The topic.
        topic: String,
        /// The QoS it was published at.
        qos: QoS,
        /// How many sessions received a copy.
        receivers: usize,
    },
    /// A QoS 2 PUBLISH re-sent with a packet id still awaiting PUBREL:
    /// acknowledged, not delivered again (MQTT-4.3.3-10 in 5.0,
    /// MQTT-4.3.3-2 in 3.1.1).
    DuplicateQos2Ignored {
        /// The publisher.
        client_id: String,
        /// The packet id.
        packet_id: u16,
    },
    /// A message was not delivered to a session.
    Dropped {
        /// The receiving session.
        client_id: String,
        /// The topic.
        topic: String,
        /// Why.
        reason: DropReason,
    },
    /// The retained message of a topic was stored or replaced.
    RetainedStored {
        /// The topic.
        topic: String,
    },
    /// The retained message of a topic was cleared.
    RetainedCleared {
        /// The topic.
        topic: String,
    },
    /// A Will Message was published.
    WillPublished {
        /// Whose will.
        client_id: String,
        /// Its topic.
        topic: String,
    },
    /// A Will Message was discarded (DISCONNECT 0x00, or a reconnect within
    /// the Will Delay Interval, MQTT-3.1.3-9).
    WillDiscarded {
        /// Whose will.
        client_id: String,
    },
    /// A session ended and its state was discarded.
    SessionEnded {
        /// The client id.
        client_id: String,
    },
}
