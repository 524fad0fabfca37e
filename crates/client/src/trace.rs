//! The timestamped record of a connection: every packet and raw byte string
//! sent, every packet received, decode errors and the close, in the order
//! they happened, each with its time since the connection was opened.
//!
//! `Display` writes one line per entry:
//!
//! ```text
//!     0.210ms -> CONNECT MQTT 5.0 client_id="a" clean_start=true keep_alive=0
//!     1.032ms <- CONNACK 0x00 Success session_present=false
//!     1.377ms -> raw 4B 30 ff ff ff
//!     2.004ms <- DISCONNECT 0x81 Malformed Packet
//!     2.150ms -- closed: EOF
//! ```

use std::fmt;
use std::ops::Deref;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{Packet, Violation};
use tokio::time::Instant;

use crate::close::CloseKind;
use crate::describe;

/// Which way an entry went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From this client to the broker.
    Sent,
    /// From the broker to this client.
    Received,
    /// Neither: the connection's state changed.
    Local,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    /// A packet was written.
    Sent {
        /// The packet.
        packet: Packet,
        /// Sent by the client by itself (auto-acknowledge, keep-alive ping),
        /// not by the test.
        auto: bool,
    },
    /// Raw bytes were written (possibly deliberately invalid).
    SentRaw(Bytes),
    /// A packet was received and decoded.
    Received {
        /// The packet.
        packet: Packet,
        /// Answered by the client itself and not queued for expects (a
        /// PUBREL under auto-acknowledge, the PINGRESP to a keep-alive ping).
        handled: bool,
    },
    /// The broker sent bytes the strict decoder rejects. Nothing after
    /// them is decoded (the stream position is lost); the client keeps
    /// reading only to see the connection end.
    Malformed {
        /// The rule broken.
        violation: Violation,
        /// The undecodable bytes, from the start of the offending packet
        /// (with whatever followed it in the same read), at most 1 KiB.
        bytes: Bytes,
    },
    /// The connection ended.
    Closed(CloseKind),
}

/// One timestamped event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// Time since the connection was opened.
    pub at: Duration,
    /// What happened.
    pub event: TraceEvent,
}

impl TraceEntry {
    /// Which way the entry went.
    pub fn direction(&self) -> Direction {
        match self.event {
            TraceEvent::Sent { .. } | TraceEvent::SentRaw(_) => Direction::Sent,
            TraceEvent::Received { .. } | TraceEvent::Malformed { .. } => Direction::Received,
            TraceEvent::Closed(_) => Direction::Local,
        }
    }

    /// The packet sent or received, if the entry is one.
    pub fn packet(&self) -> Option<&Packet> {
        match &self.event {
            TraceEvent::Sent { packet, .. } | TraceEvent::Received { packet, .. } => Some(packet),
            _ => None,
        }
    }
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:>12.3}ms ", self.at.as_secs_f64() * 1000.0)?;
        match &self.event {
            TraceEvent::Sent { packet, auto } => write!(
                f,
                "-> {}{}",
                if *auto { "(auto) " } else { "" },
                describe::describe(packet)
            ),
            TraceEvent::SentRaw(bytes) => write!(f, "-> raw {}", describe::preview(bytes)),
            TraceEvent::Received { packet, handled } => write!(
                f,
                "<- {}{}",
                describe::describe(packet),
                if *handled {
                    " (handled by the client)"
                } else {
                    ""
                }
            ),
            TraceEvent::Malformed { violation, bytes } => write!(
                f,
                "<- MALFORMED {violation}; bytes: {}",
                describe::preview(bytes)
            ),
            TraceEvent::Closed(kind) => write!(f, "-- closed: {kind}"),
        }
    }
}

/// A snapshot of a connection's trace, oldest entry first. Derefs to a
/// slice of entries; `Display` writes one line per entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace(pub Vec<TraceEntry>);

impl Deref for Trace {
    type Target = [TraceEntry];

    fn deref(&self) -> &[TraceEntry] {
        &self.0
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The trace being written, shared by the client and its tasks. The time
/// is taken under the lock, so entries are in time order.
#[derive(Debug)]
pub(crate) struct Recorder {
    start: Instant,
    entries: Mutex<Vec<TraceEntry>>,
}

impl Recorder {
    /// A recorder whose clock starts now.
    pub(crate) fn new(start: Instant) -> Self {
        Recorder {
            start,
            entries: Mutex::new(Vec::new()),
        }
    }

    /// Time since the connection was opened.
    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Appends an event; returns its timestamp.
    pub(crate) fn record(&self, event: TraceEvent) -> Duration {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let at = self.start.elapsed();
        tracing::trace!(target: "mqtt_client", "{}", TraceEntry { at, event: event.clone() });
        entries.push(TraceEntry { at, event });
        at
    }

    /// A copy of every entry so far.
    pub(crate) fn snapshot(&self) -> Trace {
        Trace(
            self.entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}
