//! Outbound QoS 1 and 2 messages awaiting acknowledgement, and packet
//! identifier allocation (MQTT 5.0 §2.2.1, §4.3.2-4.3.3, §4.9).

use std::collections::BTreeMap;

use crate::time::Time;
use mqtt_codec::Publish;

/// Where an outbound QoS 1 or 2 delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OutState {
    /// QoS 1 PUBLISH sent, PUBACK awaited (MQTT-4.3.2-3).
    AwaitingPubAck,
    /// QoS 2 PUBLISH sent, PUBREC awaited (MQTT-4.3.3-3).
    AwaitingPubRec,
    /// PUBREL sent, PUBCOMP awaited (MQTT-4.3.3-5).
    AwaitingPubComp,
}

/// One in-flight delivery: the PUBLISH as first sent (DUP 0), its state and
/// its place in sending order (redelivery keeps it, MQTT-4.6.0-1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutFlight {
    /// The PUBLISH sent.
    #[serde(with = "crate::durable::wire")]
    pub publish: Publish,
    /// Where it stands.
    pub state: OutState,
    /// Sending order.
    pub seq: u64,
    /// When the message's Message Expiry Interval runs out (5.0), so that a
    /// re-sent PUBLISH carries the interval still remaining (MQTT-3.3.2-6).
    pub expires_at: Option<Time>,
    /// Not yet re-sent on the current connection: after a session
    /// resumption, re-sending waits while the client's Receive Maximum is
    /// used up (MQTT-3.3.4-9), keeping the original packet id and order
    /// (MQTT-4.4.0-1, MQTT-4.6.0-1).
    pub held: bool,
}

/// The in-flight window of one session. Every in-flight entry counts
/// against the client's Receive Maximum until PUBACK, PUBCOMP, or a
/// PUBREC with a code of 0x80 or more (MQTT-3.3.4-9, MQTT-4.9.0-2).
#[derive(Debug, Clone, Default)]
pub struct Inflight {
    entries: BTreeMap<u16, OutFlight>,
    last_id: u16,
    seq: u64,
}

impl Inflight {
    /// An empty window.
    pub fn new() -> Self {
        Inflight::default()
    }

    /// How many deliveries are in flight.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A non-zero packet id not in flight (MQTT-2.2.1-4 in 5.0,
    /// MQTT-2.3.1-2 in 3.1.1), chosen after the last one allocated, or
    /// `None` when all 65,535 are in use.
    pub fn allocate_id(&mut self) -> Option<u16> {
        if self.entries.len() >= usize::from(u16::MAX) {
            return None;
        }
        let mut id = self.last_id;
        loop {
            id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.entries.contains_key(&id) {
                self.last_id = id;
                return Some(id);
            }
        }
    }

    /// Records a PUBLISH just sent with the id from [`Self::allocate_id`].
    pub fn insert(&mut self, publish: Publish, state: OutState, expires_at: Option<Time>) {
        self.seq += 1;
        let seq = self.seq;
        self.entries.insert(
            publish.packet_id,
            OutFlight {
                publish,
                state,
                seq,
                expires_at,
                held: false,
            },
        );
    }

    /// How many entries count as sent on the current connection (all but
    /// the held ones): the number the client's Receive Maximum bounds.
    pub fn sent_count(&self) -> usize {
        self.entries.values().filter(|e| !e.held).count()
    }

    /// The held entry first in sending order, if any.
    pub fn first_held(&self) -> Option<u16> {
        self.entries
            .values()
            .filter(|e| e.held)
            .min_by_key(|e| e.seq)
            .map(|e| e.publish.packet_id)
    }

    /// The entry for `id`.
    pub fn get(&self, id: u16) -> Option<&OutFlight> {
        self.entries.get(&id)
    }

    /// The entry for `id`, to change its state.
    pub fn get_mut(&mut self, id: u16) -> Option<&mut OutFlight> {
        self.entries.get_mut(&id)
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: u16) -> Option<OutFlight> {
        self.entries.remove(&id)
    }

    /// Packet ids in flight.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.entries.keys().copied()
    }

    /// The window as a durable value: every entry and the counters.
    pub fn export(&self) -> DurableInflight {
        DurableInflight {
            entries: self.entries.values().cloned().collect(),
            last_id: self.last_id,
            seq: self.seq,
        }
    }

    /// The window [`Inflight::export`] gave; `Err` with the packet id of an
    /// entry whose id is 0 or repeated.
    pub fn import(d: DurableInflight) -> Result<Self, u16> {
        let mut entries = BTreeMap::new();
        for e in d.entries {
            let id = e.publish.packet_id;
            if id == 0 || entries.insert(id, e).is_some() {
                return Err(id);
            }
        }
        Ok(Inflight {
            entries,
            last_id: d.last_id,
            seq: d.seq,
        })
    }

    /// Entries in the order they were first sent, for redelivery on
    /// reconnect (MQTT-4.4.0-1, MQTT-4.6.0-1).
    pub fn in_send_order(&self) -> Vec<OutFlight> {
        let mut v: Vec<OutFlight> = self.entries.values().cloned().collect();
        v.sort_by_key(|e| e.seq);
        v
    }
}

/// The in-flight window of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DurableInflight {
    /// Entries by packet id.
    pub entries: Vec<OutFlight>,
    /// The last packet id allocated.
    pub last_id: u16,
    /// The last sending-order number given.
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{MqttString, QoS};

    fn publish(id: u16) -> Publish {
        let mut p = Publish::new(MqttString::from_static("t"), "x");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = id;
        p
    }

    #[test]
    fn ids_are_non_zero_and_unused_mqtt_2_2_1_4() {
        let mut w = Inflight::new();
        w.last_id = u16::MAX - 1;
        let a = w.allocate_id().unwrap();
        w.insert(publish(a), OutState::AwaitingPubAck, None);
        let b = w.allocate_id().unwrap();
        assert_eq!((a, b), (u16::MAX, 1));
        w.insert(publish(b), OutState::AwaitingPubAck, None);
        w.last_id = u16::MAX - 1;
        assert_eq!(w.allocate_id(), Some(2));
    }
}
