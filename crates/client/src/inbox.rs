//! The inbox: every packet the reader task decoded and no expect has
//! consumed yet, in arrival order, then how the stream ended (a malformed
//! packet, a close).
//!
//! Race-free by construction: the reader queues from the moment the
//! connection opens, and every wait first looks at what is already queued
//! (under the same lock the reader takes), then sleeps until the reader
//! signals a change, so nothing that arrived before a test asked for it is
//! lost, and no change is missed between looking and sleeping.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use mqtt_codec::{Packet, Violation};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::close::CloseKind;

/// A queued packet and when it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Arrived {
    pub(crate) at: Duration,
    pub(crate) packet: Packet,
}

/// What the reader has seen and the client has not consumed.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Decoded packets, oldest first.
    pub(crate) packets: VecDeque<Arrived>,
    /// The broker's malformed packet, after which nothing is decoded.
    pub(crate) malformed: Option<(Duration, Violation)>,
    /// How and when the stream ended.
    pub(crate) closed: Option<(Duration, CloseKind)>,
}

impl State {
    /// The packets still queued, cloned.
    pub(crate) fn unmatched(&self) -> Vec<Packet> {
        self.packets.iter().map(|a| a.packet.clone()).collect()
    }
}

/// The queue shared by the reader task (producer) and the client
/// (consumer).
#[derive(Debug, Default)]
pub(crate) struct Inbox {
    state: Mutex<State>,
    changed: Notify,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a decoded packet.
    pub(crate) fn push(&self, at: Duration, packet: Packet) {
        self.lock().packets.push_back(Arrived { at, packet });
        self.changed.notify_waiters();
    }

    /// Records the broker's malformed packet (the first one only).
    pub(crate) fn set_malformed(&self, at: Duration, violation: Violation) {
        self.lock().malformed.get_or_insert((at, violation));
        self.changed.notify_waiters();
    }

    /// Records the end of the stream (the first end only); returns false
    /// when it had already ended.
    pub(crate) fn set_closed(&self, at: Duration, kind: CloseKind) -> bool {
        let first = {
            let mut s = self.lock();
            let first = s.closed.is_none();
            s.closed.get_or_insert((at, kind));
            first
        };
        self.changed.notify_waiters();
        first
    }

    /// Runs `f` on the state now and after every change until it returns
    /// `Some` or `deadline` passes; at the deadline `f` runs once more, so
    /// its answer reflects everything that arrived in time.
    pub(crate) async fn wait_for<T>(
        &self,
        deadline: Instant,
        mut f: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        loop {
            // Registered before looking, so a change made between the look
            // and the sleep still wakes us.
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t) = f(&mut self.lock()) {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return f(&mut self.lock());
            }
        }
    }

    /// Runs `f` on the state once.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.lock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_packet_queued_before_the_wait_is_found_at_once() {
        let inbox = Inbox::default();
        inbox.push(Duration::ZERO, Packet::PingResp);
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = inbox
            .wait_for(deadline, |s| s.packets.pop_front().map(|a| a.packet))
            .await;
        assert_eq!(got, Some(Packet::PingResp));
    }

    #[tokio::test]
    async fn a_packet_queued_during_the_wait_wakes_it() {
        let inbox = std::sync::Arc::new(Inbox::default());
        let producer = inbox.clone();
        let task = tokio::spawn(async move {
            producer.push(Duration::ZERO, Packet::PingResp);
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        let got = inbox
            .wait_for(deadline, |s| s.packets.pop_front().map(|a| a.packet))
            .await;
        assert_eq!(got, Some(Packet::PingResp));
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_arriving_ends_at_the_deadline() {
        let inbox = Inbox::default();
        let deadline = Instant::now() + Duration::from_secs(5);
        let got = inbox
            .wait_for(deadline, |s| s.packets.pop_front().map(|a| a.packet))
            .await;
        assert_eq!(got, None);
    }
}
