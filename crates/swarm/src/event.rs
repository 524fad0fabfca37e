//! What client tasks and the nemesis tell the collector. Times are
//! nanoseconds since the Unix epoch, read from the run's one clock
//! ([`crate::clock::Clock`]); `at_ns` is when the task saw it happen, which
//! orders the trace ([`crate::trace`]).

/// One observation of a client task, or a fault of the nemesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CONNACK with Success arrived; `latency_ns` from the TCP connect
    /// attempt to the CONNACK.
    Connected {
        /// The client.
        client: u32,
        /// Connect latency.
        latency_ns: u64,
        /// Clean Start / CleanSession of the CONNECT.
        clean: bool,
        /// The CONNACK's Session Present.
        session_present: bool,
        /// After a lost connection: from the loss to this CONNACK (backoff
        /// and failed attempts included).
        down_ns: Option<u64>,
        /// When.
        at_ns: u64,
    },
    /// A connection ended: `lost` when the link failed or the broker closed
    /// it, not by our DISCONNECT (churn, end of run).
    Disconnected {
        /// The client.
        client: u32,
        /// Not by our DISCONNECT.
        lost: bool,
        /// When.
        at_ns: u64,
    },
    /// A client that had a session (Clean Start 0, and a session the broker
    /// had confirmed) reconnected and was told Session Present 0: the broker
    /// lost it (MQTT-3.2.2-5 makes the client discard its own state).
    SessionLost {
        /// The client.
        client: u32,
        /// When.
        at_ns: u64,
    },
    /// A SUBACK arrived; `granted` is the QoS granted, `None` for a failure
    /// reason code.
    SubAcked {
        /// The subscriber.
        client: u32,
        /// From SUBSCRIBE to SUBACK.
        latency_ns: u64,
        /// The granted QoS.
        granted: Option<u8>,
        /// When.
        at_ns: u64,
    },
    /// A message was written to the socket (again, with `dup`, after a
    /// reconnect that resumed the session: MQTT-4.4.0-1).
    Sent {
        /// The publisher.
        publisher: u32,
        /// Its sequence number.
        seq: u64,
        /// Its QoS.
        qos: u8,
        /// Payload bytes.
        bytes: u32,
        /// A retransmission (DUP 1).
        dup: bool,
        /// When.
        at_ns: u64,
    },
    /// The broker took responsibility for a message: PUBACK (QoS 1) or
    /// PUBREC (QoS 2) with a success code.
    Owned {
        /// The publisher.
        publisher: u32,
        /// Its sequence number.
        seq: u64,
        /// Its QoS.
        qos: u8,
        /// From the intended send time.
        corrected_ns: u64,
        /// From the actual send time.
        raw_ns: u64,
        /// When.
        at_ns: u64,
    },
    /// PUBCOMP arrived for a QoS 2 message.
    Completed {
        /// The publisher.
        publisher: u32,
        /// Its sequence number.
        seq: u64,
        /// From the intended send time.
        corrected_ns: u64,
        /// From the actual send time.
        raw_ns: u64,
        /// When.
        at_ns: u64,
    },
    /// A subscriber got a message of ours (once per QoS 2 delivery: a
    /// PUBLISH repeated before PUBREL is the same delivery).
    Delivered {
        /// The subscriber.
        subscriber: u32,
        /// QoS as delivered.
        qos: u8,
        /// DUP as delivered.
        dup: bool,
        /// What the payload says.
        header: crate::payload::Header,
        /// When it was read.
        at_ns: u64,
    },
    /// A subscriber got a message that is not ours.
    Foreign {
        /// The subscriber.
        subscriber: u32,
    },
    /// Something failed.
    Error {
        /// The client.
        client: u32,
        /// What.
        what: String,
    },
    /// The nemesis began or ended a fault.
    Fault(FaultEvent),
}

/// A fault's beginning or end, as the nemesis tells
/// it to the collector and the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultEvent {
    /// The occurrence, from 0, in schedule order.
    pub index: usize,
    /// The schedule's action name (`kill_restart`, `partition`...).
    pub action: &'static str,
    /// The trace's fault kind of this step: `kill`, `stop`, `restart`,
    /// `pause`, `resume`, `partition`, `heal`, `latency`.
    pub kind: &'static str,
    /// The fault ends here (the broker is back, the link healed).
    pub end: bool,
    /// What was done, in words.
    pub detail: String,
    /// The clients a partition cuts off (profile numbers).
    pub clients: Vec<u32>,
    /// When.
    pub at_ns: u64,
}
