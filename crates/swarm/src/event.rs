//! What client tasks tell the collector. Times are nanoseconds since the
//! Unix epoch, read from the run's one clock ([`crate::clock::Clock`]).

/// One observation of a client task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CONNACK with Success arrived; `latency_ns` from the TCP connect
    /// attempt to the CONNACK.
    Connected {
        /// The client.
        client: u32,
        /// Connect latency.
        latency_ns: u64,
    },
    /// A connection ended (churn, end of run, or error).
    Disconnected {
        /// The client.
        client: u32,
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
    },
    /// A message was written to the socket.
    Sent {
        /// The publisher.
        publisher: u32,
        /// Its sequence number.
        seq: u64,
        /// Its QoS.
        qos: u8,
        /// Payload bytes.
        bytes: u32,
    },
    /// The broker took ownership of a QoS 1 or 2 message: PUBACK (QoS 1) or
    /// PUBREC (QoS 2) with a success reason code.
    Owned {
        /// The publisher.
        publisher: u32,
        /// Its sequence number.
        seq: u64,
        /// Its QoS.
        qos: u8,
        /// From the intended send time to the acknowledgement.
        corrected_ns: u64,
        /// From the actual send to the acknowledgement.
        raw_ns: u64,
    },
    /// PUBCOMP of a QoS 2 message.
    Completed {
        /// The publisher.
        publisher: u32,
        /// Its sequence number.
        seq: u64,
        /// From the intended send time.
        corrected_ns: u64,
        /// From the actual send.
        raw_ns: u64,
    },
    /// A message arrived at a subscriber.
    Delivered {
        /// The subscriber.
        subscriber: u32,
        /// The PUBLISH's QoS as delivered.
        qos: u8,
        /// The payload header.
        header: crate::payload::Header,
        /// Arrival time.
        at_ns: u64,
    },
    /// A PUBLISH whose payload is not a swarm message.
    Foreign {
        /// The subscriber.
        subscriber: u32,
    },
    /// Something failed (connect refused, decode error, lost connection,
    /// negative acknowledgement).
    Error {
        /// The client.
        client: u32,
        /// What.
        what: String,
    },
}
