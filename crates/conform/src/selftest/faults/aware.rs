//! The fault-aware faults: broker misbehaviours that show only across the
//! connections of one client id (a reconnect, a resumed session) or on a
//! link that stalls while the broker writes to it, so that only a suite
//! that reconnects, resumes sessions or stalls links can catch them.
//!
//! The proxy's taps are per connection; these faults remember what earlier
//! connections of the same client id did in the proxy's [`Shared`] state
//! (a [`ClientRecord`] per client id, behind the mutex every [`Session`]
//! of one proxy shares). A first connection of a client id is never
//! touched by the reconnect faults: a suite that never comes back with the
//! same client id sees a correct broker.
//!
//! - [`Fault::RetransmittedPubrelDropped`]: a broker that keeps the QoS 2
//!   receiver state per network connection instead of per session: a PUBREL
//!   re-sent on a new connection (the client never saw the PUBCOMP) finds
//!   nothing and is silently ignored, so the client's exchange never
//!   completes. Breaks the receiver's duty to answer every PUBREL with a
//!   PUBCOMP (3.1.1 MQTT-4.3.3-2, 5.0 MQTT-4.3.3-11).
//! - [`Fault::QueuedLostOnReconnect`]: a broker that marks the messages it
//!   queued for an offline session as sent when the session is resumed,
//!   before writing them: the client gets CONNACK with Session Present 1
//!   and never the messages (the proxy acknowledges them in the client's
//!   place, so the broker thinks they arrived). Breaks keeping QoS 1 and 2
//!   messages for a resumed session and re-sending unacknowledged ones
//!   (3.1.1 MQTT-3.1.2-5, MQTT-4.1.0-1, MQTT-4.4.0-1; 5.0 MQTT-3.1.2-5,
//!   MQTT-3.1.2-23, MQTT-4.4.0-1).
//! - [`Fault::DupCleared`]: a broker that rebuilds a re-delivered PUBLISH
//!   from the stored message and loses the DUP flag: a retransmission
//!   after reconnect looks new. Breaks MQTT-3.3.1-1 (both versions).
//! - [`Fault::WillAfterCleanDisconnect`]: a broker that keeps a copy of
//!   the will in the persistent session record and, for a client id it has
//!   seen before, publishes that copy when the connection ends although the
//!   DISCONNECT (reason 0) discarded the connection's will. The proxy passes
//!   the DISCONNECT on and publishes the will itself on a fresh connection
//!   to the broker. Unlike [`Fault::WillOnNormalDisconnect`] (every client,
//!   the DISCONNECT swallowed so the broker itself publishes), it acts only
//!   on a reconnecting client id. Breaks MQTT-3.1.2-10 and MQTT-3.14.4-3.
//! - [`Fault::StallAnsweredAsLive`]: a broker whose idle timer counts its
//!   own writes as activity: a link that stalls while the broker still
//!   writes to it (deliveries to a subscriber) is never timed out, so the
//!   half-open connection stays and the will is not published until the
//!   broker has nothing more to send. The proxy keeps the broker's real
//!   timer from firing by sending PINGREQ every half Keep Alive in the
//!   client's place, for as long as the broker wrote to the client within
//!   the last one and a half Keep Alive. Unlike
//!   [`Fault::KeepAliveNotEnforced`] (any silent client), a client that is
//!   silent and gets nothing is still timed out. Breaks 3.1.1 MQTT-3.1.2-24,
//!   5.0 MQTT-3.1.2-22, and the will on a network failure (MQTT-3.1.2-8).
//! - [`Fault::SessionPresentForgotten`]: a broker that resumes the session
//!   but reports Session Present 0 to a returning client id (as if it
//!   answered from the connection instead of the session store). Unlike
//!   [`Fault::SessionPresentFlipped`], first connections are untouched.
//!   Breaks 3.1.1 MQTT-3.2.2-2, 5.0 MQTT-3.2.2-3.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use mqtt_codec::{ConnAck, Connect, Packet, PubResponse, Publish, QoS, ReasonCode, Will};
use mqtt_netfault::Out;

use super::aware_state::{ClientRecord, Delivery, WillOut};
#[cfg(doc)]
use super::Shared;
use super::{Fault, Session};

impl Session {
    /// The record of this connection's client id, if it has one.
    fn with_record<T>(&self, f: impl FnOnce(&mut ClientRecord) -> T) -> Option<T> {
        let id = self.aware.client_id.as_ref()?;
        let mut clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(f(clients.entry(id.clone()).or_default()))
    }

    /// Numbers the connection among its client id's, keeps its will.
    fn note_connect(&mut self, c: &Connect) {
        self.aware.will = c.will.clone();
        let id = c.client_id.as_str();
        if id.is_empty() {
            return;
        }
        self.aware.client_id = Some(id.to_owned());
        let index = self
            .with_record(|r| {
                r.connections += 1;
                r.connections
            })
            .unwrap_or(1);
        self.aware.index = index;
        self.aware.returning = index > 1;
    }

    /// A packet from the client, seen first by the fault-aware faults;
    /// `true` when it is consumed (not passed on).
    pub(super) fn aware_client(&mut self, p: &Packet) -> bool {
        if self.connected {
            // The client speaks: what the server sends from now on may be
            // an answer, not the session's queue.
            self.aware.queued_phase = false;
        }
        match p {
            Packet::Connect(c) => self.note_connect(c),
            Packet::Publish(pb)
                if self.is(Fault::RetransmittedPubrelDropped)
                    && pb.qos == QoS::ExactlyOnce
                    && !pb.dup =>
            {
                self.with_record(|r| r.pubrels.remove(&pb.packet_id));
            }
            Packet::PubRel(r) if self.is(Fault::RetransmittedPubrelDropped) => {
                let index = self.aware.index;
                let earlier = self
                    .with_record(|rec| *rec.pubrels.entry(r.packet_id).or_insert(index) != index)
                    .unwrap_or(false);
                if earlier {
                    self.hit();
                    return true;
                }
            }
            Packet::Disconnect(d)
                if self.is(Fault::WillAfterCleanDisconnect)
                    && self.aware.returning
                    && d.reason_code == ReasonCode::SUCCESS =>
            {
                // The DISCONNECT goes on (the server discards its will);
                // the proxy publishes the will itself.
                if let Some(will) = self.aware.will.take() {
                    self.send_will(will);
                }
            }
            _ => {}
        }
        false
    }

    /// Hands a will to the proxy's will publisher.
    fn send_will(&self, will: Will) {
        let version = self.v();
        let sent = self
            .shared
            .will_out
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|tx| tx.send(WillOut { version, will }).is_ok());
        if sent {
            self.hit();
        } else {
            tracing::warn!("selftest proxy: no will publisher; the will is not published");
        }
    }

    /// A success CONNACK, seen first by the fault-aware faults; `true` when
    /// it was changed.
    pub(super) fn aware_connack(&mut self, c: &mut ConnAck) -> bool {
        if !c.session_present || !self.aware.returning {
            return false;
        }
        if self.is(Fault::QueuedLostOnReconnect) {
            self.aware.queued_phase = true;
        }
        if self.is(Fault::SessionPresentForgotten) {
            c.session_present = false;
            return true;
        }
        false
    }

    /// A delivery, seen first by the fault-aware faults.
    pub(super) fn aware_deliver(
        &mut self,
        p: &mut Publish,
        now: Instant,
        out: &mut Out,
    ) -> Delivery {
        if self.aware.queued_phase && self.is(Fault::QueuedLostOnReconnect) {
            // Accepted in the client's place, so the server forgets it.
            match p.qos {
                QoS::AtMostOnce => {}
                QoS::AtLeastOnce => {
                    self.inject_server(out, &Packet::PubAck(PubResponse::new(p.packet_id)), now);
                }
                QoS::ExactlyOnce => {
                    self.absorbed.insert(p.packet_id);
                    self.inject_server(out, &Packet::PubRec(PubResponse::new(p.packet_id)), now);
                }
            }
            self.hit();
            return Delivery::Dropped;
        }
        if p.dup && self.aware.returning && self.is(Fault::DupCleared) {
            p.dup = false;
            return Delivery::Altered;
        }
        Delivery::Untouched
    }

    /// For [`Fault::StallAnsweredAsLive`]: `due` (when the proxy would ping
    /// in the client's place) if the server wrote to the client within one
    /// and a half Keep Alive before it.
    pub(super) fn stall_ping_due(&self, due: Instant) -> Option<Instant> {
        if !self.is(Fault::StallAnsweredAsLive) {
            return None;
        }
        let wrote = self.aware.last_from_server?;
        let window = Duration::from_millis(u64::from(self.keep_alive) * 1500);
        (due < wrote + window).then_some(due)
    }
}
