//! The state a client shares with its reader and writer tasks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Mutex;

use mqtt_codec::ProtocolVersion;
use tokio::time::Instant;

use crate::inbox::Inbox;
use crate::trace::Recorder;

/// Shared between [`TestClient`](crate::TestClient), the reader task and
/// the writer task.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The trace.
    pub(crate) recorder: Recorder,
    /// Received packets not yet consumed, and how the stream ended.
    pub(crate) inbox: Inbox,
    /// The Protocol Level packets are encoded and decoded in.
    version: AtomicU8,
    /// Auto-acknowledge incoming QoS 1/2 PUBLISH and PUBREL.
    pub(crate) auto_ack: AtomicBool,
    /// One entry per PINGREQ sent and not yet answered, oldest first: true
    /// for a keep-alive ping (whose PINGRESP the client consumes itself).
    pings: Mutex<VecDeque<bool>>,
}

impl Shared {
    /// State for a connection opened at `start`.
    pub(crate) fn new(start: Instant, version: ProtocolVersion) -> Self {
        Shared {
            recorder: Recorder::new(start),
            inbox: Inbox::default(),
            version: AtomicU8::new(version.level()),
            auto_ack: AtomicBool::new(false),
            pings: Mutex::new(VecDeque::new()),
        }
    }

    /// The version in force.
    pub(crate) fn version(&self) -> ProtocolVersion {
        ProtocolVersion::from_level(self.version.load(Ordering::Acquire))
            .unwrap_or(ProtocolVersion::V5)
    }

    /// Sets the version; the reader decodes in it from its next packet on.
    pub(crate) fn set_version(&self, version: ProtocolVersion) {
        self.version.store(version.level(), Ordering::Release);
    }

    /// Notes a PINGREQ about to be written.
    pub(crate) fn ping_sent(&self, keep_alive: bool) {
        self.pings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(keep_alive);
    }

    /// Notes a PINGRESP received; true when it answers a keep-alive ping.
    pub(crate) fn pong_received(&self) -> bool {
        self.pings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
            .unwrap_or(false)
    }
}
