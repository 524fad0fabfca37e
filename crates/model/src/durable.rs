//! The broker's durable state as plain serializable values, and the record
//! of what an input changed.
//!
//! A server that keeps its state across restarts (the reference server's
//! `--data DIR`) turns change tracking on
//! ([`Broker::set_change_tracking`](crate::Broker::set_change_tracking)),
//! feeds inputs, then asks [`Broker::take_changes`](crate::Broker::take_changes)
//! which sessions, retained topics and broker counters changed, exports
//! those ([`Broker::export_session`](crate::Broker::export_session),
//! [`Broker::export_retained`](crate::Broker::export_retained),
//! [`Broker::export_meta`](crate::Broker::export_meta)) and writes them in
//! one transaction **before** it acts on the outputs. On start it gives
//! what it read back to a fresh broker with
//! [`Broker::restore`](crate::Broker::restore).
//!
//! The model never does IO: these are values, serialized with serde by the
//! caller. The types here (and the model types they hold: [`Message`],
//! [`Queued`], [`StoredSub`], [`OutFlight`](crate::inflight::OutFlight), [`PendingWill`]) *are* the
//! format: a change to any of their fields is a change of format and needs
//! a new schema version in the store. A PUBLISH is kept as its MQTT 5.0
//! encoding (the codec's own, stable, format), so the format does not
//! depend on the codec's internal types.
//!
//! What is durable: sessions that outlive their connection (Session Expiry
//! Interval above 0; 3.1.1 clean session 0) with their user name,
//! subscriptions, queued messages, outbound QoS 1/2 messages in flight,
//! inbound QoS 2 packet ids awaiting PUBREL, expiry and the Will of the
//! connection serving them (or their Will waiting for its delay); retained
//! messages; the counters that make the broker deterministic (assigned
//! client ids, shared subscription round robin). Not durable: connections
//! (keep alive, topic aliases, negotiated limits), and sessions with
//! expiry 0, which end with their connection anyway.

use std::collections::BTreeSet;

use mqtt_codec::Publish;
use serde::{Deserialize, Serialize};

pub use crate::inflight::DurableInflight;
use crate::message::Message;
use crate::session::{Queued, StoredSub};
use crate::time::Time;
use crate::will::PendingWill;

/// Everything durable in a broker, as [`Broker::export_all`](crate::Broker::export_all)
/// gives it and [`Broker::restore`](crate::Broker::restore) takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableState {
    /// Durable sessions, by client id.
    pub sessions: Vec<DurableSession>,
    /// Retained messages, by topic.
    pub retained: Vec<Message>,
    /// Broker counters.
    pub meta: DurableMeta,
}

/// One durable session (MQTT 5.0 §4.1: the Session State in the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableSession {
    /// The client id.
    pub client_id: String,
    /// The user name of the CONNECT that last took it (its read access
    /// filters what it receives).
    pub username: Option<String>,
    /// Subscriptions by filter as subscribed.
    pub subscriptions: Vec<(String, StoredSub)>,
    /// Outbound QoS 1/2 deliveries in flight.
    pub inflight: DurableInflight,
    /// Messages not yet sent.
    pub queue: Vec<Queued>,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub inbound_qos2: Vec<u16>,
    /// Session Expiry Interval, seconds.
    pub expiry_interval: u32,
    /// When the session expires, if it is offline (absolute time: the
    /// server's times are wall-clock milliseconds when it keeps state, so
    /// the interval counts across a restart).
    pub expires_at: Option<Time>,
    /// A connection was serving it when exported: restored, it is offline
    /// as if that connection had closed at the restart.
    pub connected: bool,
    /// The Will of the connection serving it, published (after its delay)
    /// when restored, as for a connection lost (MQTT-3.1.2-8).
    pub live_will: Option<LiveWill>,
    /// Its Will waiting for the Will Delay Interval, if offline.
    pub pending_will: Option<PendingWill>,
}

/// The Will Message of an open connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveWill {
    /// The message as it will be published (packet id 0).
    #[serde(with = "wire")]
    pub publish: Publish,
    /// Will Delay Interval in seconds (0 in 3.1.1).
    pub delay: u32,
    /// The user name of the connection that set it.
    pub username: Option<String>,
}

/// Broker-wide counters, kept so that a restored broker answers exactly as
/// the original would have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableMeta {
    /// Client identifiers assigned so far (MQTT-3.2.2-16).
    pub assigned_ids: u64,
    /// Round-robin position per shared subscription: group, filter, position.
    pub shared_cursor: Vec<(String, String, u64)>,
}

/// What the inputs since the last [`Broker::take_changes`](crate::Broker::take_changes)
/// changed: the keys to export and write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// Client ids whose session changed (or ended: then
    /// [`Broker::export_session`](crate::Broker::export_session) is `None`).
    pub sessions: BTreeSet<String>,
    /// Topics whose retained message changed (or was cleared).
    pub retained: BTreeSet<String>,
    /// The broker counters changed.
    pub meta: bool,
}

impl Changes {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.retained.is_empty() && !self.meta
    }
}

/// Why [`Broker::restore`](crate::Broker::restore) refused a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The broker already has sessions, connections or retained messages:
    /// restoring is for a fresh broker only.
    #[error("the broker is not fresh: restore only into a new broker")]
    NotFresh,
    /// Two sessions with one client id.
    #[error("session {0:?} appears twice")]
    DuplicateSession(String),
    /// An in-flight entry with packet id 0, or two with one id.
    #[error("session {client_id:?}: in-flight packet id {packet_id} is 0 or repeated")]
    BadInflight {
        /// The session.
        client_id: String,
        /// The packet id.
        packet_id: u16,
    },
}

/// Serde for a PUBLISH: its packet id and its MQTT 5.0 encoding (with a
/// placeholder id where a stored message at QoS 1/2 has packet id 0), read
/// back with the codec's strict decoder.
pub mod wire {
    use bytes::BytesMut;
    use mqtt_codec::{Decoder, Packet, ProtocolVersion, Publish, QoS};
    use serde::de::{Error as _, SeqAccess, Visitor};
    use serde::ser::Error as _;
    use serde::{Deserializer, Serializer};

    /// Serializes `p` as (packet id, bytes of its 5.0 encoding).
    pub fn serialize<S: Serializer>(p: &Publish, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let id = p.packet_id;
        let bytes = if p.qos != QoS::AtMostOnce && id == 0 {
            let mut q = p.clone();
            q.packet_id = 1;
            Packet::Publish(q).to_bytes(ProtocolVersion::V5)
        } else {
            // Encoding borrows; cloning a Publish is a reference count.
            Packet::Publish(p.clone()).to_bytes(ProtocolVersion::V5)
        }
        .map_err(|e| S::Error::custom(format!("PUBLISH does not encode: {e}")))?;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&id)?;
        t.serialize_element(&Raw(&bytes))?;
        t.end()
    }

    /// Reads what [`serialize`] wrote; bytes that are not exactly one
    /// valid 5.0 PUBLISH are an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Publish, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Publish;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a packet id and an encoded PUBLISH")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Publish, A::Error> {
                let id: u16 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("missing packet id"))?;
                let buf: Buf = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("missing PUBLISH bytes"))?;
                let mut b = BytesMut::from(&buf.0[..]);
                match Decoder::new(ProtocolVersion::V5).decode(&mut b) {
                    Ok(Some(Packet::Publish(mut p))) if b.is_empty() => {
                        p.packet_id = id;
                        Ok(p)
                    }
                    Ok(_) => Err(A::Error::custom("stored bytes are not one PUBLISH")),
                    Err(e) => Err(A::Error::custom(format!("stored PUBLISH: {e}"))),
                }
            }
        }
        d.deserialize_tuple(2, V)
    }

    struct Raw<'a>(&'a [u8]);

    impl serde::Serialize for Raw<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    struct Buf(Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Buf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct BV;
            impl<'de> Visitor<'de> for BV {
                type Value = Buf;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Buf, E> {
                    Ok(Buf(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Buf, E> {
                    Ok(Buf(v))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Buf, A::Error> {
                    let mut v = Vec::new();
                    while let Some(b) = seq.next_element::<u8>()? {
                        v.push(b);
                    }
                    Ok(Buf(v))
                }
            }
            d.deserialize_bytes(BV)
        }
    }
}

/// Serde for a [`QoS`](mqtt_codec::QoS): its bits; 3 is an error.
pub mod qos_bits {
    use mqtt_codec::QoS;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes the QoS as 0, 1 or 2.
    pub fn serialize<S: Serializer>(q: &QoS, s: S) -> Result<S::Ok, S::Error> {
        q.bits().serialize(s)
    }

    /// Reads 0, 1 or 2.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<QoS, D::Error> {
        let b = u8::deserialize(d)?;
        QoS::from_bits(b).ok_or_else(|| D::Error::custom(format!("QoS {b}")))
    }
}

/// Serde for [`SubscriptionOptions`](mqtt_codec::SubscriptionOptions):
/// (QoS, No Local, Retain As Published, Retain Handling).
pub mod sub_options {
    use mqtt_codec::{QoS, RetainHandling, SubscriptionOptions};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serializes the four options.
    pub fn serialize<S: Serializer>(o: &SubscriptionOptions, s: S) -> Result<S::Ok, S::Error> {
        (
            o.qos.bits(),
            o.no_local,
            o.retain_as_published,
            o.retain_handling as u8,
        )
            .serialize(s)
    }

    /// Reads the four options; out-of-range values are an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SubscriptionOptions, D::Error> {
        let (q, no_local, retain_as_published, rh) = <(u8, bool, bool, u8)>::deserialize(d)?;
        let qos = QoS::from_bits(q).ok_or_else(|| D::Error::custom(format!("QoS {q}")))?;
        let retain_handling = match rh {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(D::Error::custom(format!("Retain Handling {rh}"))),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local,
            retain_as_published,
            retain_handling,
        })
    }
}
