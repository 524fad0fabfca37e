//! Routing an Application Message to the sessions whose subscriptions
//! match it, and sending it to each client within its in-flight window
//! (MQTT 3.1.1 §3.3.5, §4.3, §4.7; MQTT 5.0 §3.3.4, §4.3, §4.5, §4.7,
//! §4.8.2, §4.9).

use std::collections::BTreeMap;

use mqtt_codec::{Packet, Properties, PropertyValues, Publish, QoS};

use super::Broker;
use crate::inflight::OutState;
use crate::message::Message;
use crate::output::{DropReason, Output, TraceEvent};
use crate::retained::RetainChange;
use crate::session::Queued;

/// One copy of a message for one session.
#[derive(Debug)]
struct Copy {
    client_id: String,
    qos: QoS,
    retain: bool,
    ids: Vec<u32>,
}

/// The properties forwarded unchanged to subscribers (MQTT-3.3.2-4/15/16/
/// 17/18/20), with the remaining Message Expiry Interval (MQTT-3.3.2-6).
fn forwarded(p: &Properties, remaining_expiry: Option<u32>, ids: &[u32]) -> Properties {
    Properties::from(PropertyValues {
        payload_format_indicator: p.payload_format_indicator,
        message_expiry_interval: remaining_expiry,
        content_type: p.content_type.clone(),
        response_topic: p.response_topic.clone(),
        correlation_data: p.correlation_data.clone(),
        subscription_identifiers: ids.to_vec(),
        user_properties: p.user_properties.clone(),
        ..PropertyValues::default()
    })
}

impl Broker {
    /// Takes ownership of a message (MQTT-4.5.0-1): updates the retained
    /// store if RETAIN is 1 and adds a copy to the session of every
    /// matching subscriber. Returns how many sessions got a copy.
    ///
    /// Overlapping subscriptions of one session give ONE copy at the
    /// highest granted QoS (3.1.1 MQTT-3.3.5-1, 5.0 MQTT-3.3.4-2) carrying
    /// every matching Subscription Identifier (MQTT-3.3.4-3/4), with RETAIN
    /// kept if any matching subscription has Retain As Published. Each
    /// shared subscription (`$share/{group}/{filter}`) gives one more copy
    /// to one member, round robin in client-id order among connected
    /// members (all members when none is connected).
    ///
    /// Every copy is for a session that may read the message's topic
    /// ([`Authorizer::can_read`](crate::policy::Authorizer::can_read)): a
    /// session that may not gets nothing (a `Dropped` event, nothing sent),
    /// and a shared subscription's message goes to a member that may
    /// read it. With an open authorizer nothing is checked.
    pub(super) fn route(&mut self, msg: Message) -> usize {
        let open = self.authorizer.is_open();
        if msg.publish.retain {
            let topic = msg.topic().to_owned();
            self.mark_retained(&topic);
            let e = match self.retained.apply(&msg) {
                RetainChange::Stored => TraceEvent::RetainedStored { topic },
                RetainChange::Cleared => TraceEvent::RetainedCleared { topic },
            };
            self.event(e);
        }
        let mut plain: BTreeMap<&str, Copy> = BTreeMap::new();
        let mut shared: BTreeMap<(&str, &str), Vec<(&str, crate::subscriptions::SubEntry)>> =
            BTreeMap::new();
        for m in self.subs.matching(msg.topic()) {
            let o = m.entry.options;
            match &m.key.group {
                None => {
                    // MQTT-3.8.3-3: No Local.
                    if o.no_local && msg.publisher.as_deref() == Some(m.key.client_id.as_str()) {
                        continue;
                    }
                    let qos = msg.qos().min(o.qos);
                    let retain = o.retain_as_published && msg.publish.retain;
                    let c = plain.entry(&m.key.client_id).or_insert(Copy {
                        client_id: m.key.client_id.clone(),
                        qos,
                        retain,
                        ids: Vec::new(),
                    });
                    c.qos = c.qos.max(qos);
                    c.retain |= retain;
                    c.ids.extend(m.entry.identifier);
                }
                Some(g) => shared
                    .entry((g.as_str(), m.filter))
                    .or_default()
                    .push((&m.key.client_id, *m.entry)),
            }
        }
        let mut copies: Vec<Copy> = plain.into_values().collect();
        let mut denied: Vec<String> = Vec::new();
        if !open {
            copies.retain(|c| {
                let ok = self.may_read(&c.client_id, msg.topic());
                if !ok {
                    denied.push(c.client_id.clone());
                }
                ok
            });
        }
        for ((group, filter), mut members) in shared {
            if !open {
                members.retain(|(c, _)| self.may_read(c, msg.topic()));
            }
            let connected: Vec<&(&str, _)> = members
                .iter()
                .filter(|(c, _)| self.sessions.get(c).is_some_and(|s| s.conn.is_some()))
                .collect();
            let pool: Vec<&(&str, _)> = if connected.is_empty() {
                members.iter().collect()
            } else {
                connected
            };
            let cursor = self
                .shared_cursor
                .entry((group.to_owned(), filter.to_owned()))
                .or_insert(0);
            let Some((client, entry)) = pool.get(*cursor % pool.len().max(1)) else {
                continue;
            };
            *cursor = cursor.wrapping_add(1);
            if self.retained_changed.is_some() {
                self.meta_changed = true;
            }
            copies.push(Copy {
                client_id: (*client).to_owned(),
                qos: msg.qos().min(entry.options.qos),
                retain: entry.options.retain_as_published && msg.publish.retain,
                ids: entry.identifier.into_iter().collect(),
            });
        }
        for client_id in denied {
            self.event(TraceEvent::Dropped {
                client_id,
                topic: msg.topic().to_owned(),
                reason: DropReason::ReceiverNotAuthorized,
            });
        }
        let n = copies.len();
        for c in copies {
            self.deliver(&c.client_id, &msg, c.qos, c.retain, c.ids);
        }
        n
    }

    /// Adds a copy to a session: sent now if its client is connected and
    /// the window allows, queued otherwise (QoS 1 and 2, up to
    /// `max_queued_messages`), dropped for QoS 0 to an offline client.
    /// The caller has checked the session's read access.
    pub(super) fn deliver(
        &mut self,
        client_id: &str,
        msg: &Message,
        qos: QoS,
        retain: bool,
        ids: Vec<u32>,
    ) {
        let max = self.config.max_queued_messages;
        // A QoS 0 copy changes nothing durable: sent or dropped.
        let s = if qos == QoS::AtMostOnce {
            self.sessions.get_mut_quiet(client_id)
        } else {
            self.sessions.get_mut(client_id)
        };
        let Some(s) = s else {
            return;
        };
        let q = Queued {
            message: msg.clone(),
            qos,
            retain,
            subscription_ids: ids,
        };
        let drop = match (s.conn, qos) {
            (Some(_), QoS::AtMostOnce) => {
                self.transmit(client_id, q);
                return;
            }
            (None, QoS::AtMostOnce) => Some(DropReason::Qos0Offline),
            _ if s.queue.len() >= max => Some(DropReason::QueueFull),
            _ => {
                s.queue.push_back(q);
                None
            }
        };
        match drop {
            Some(reason) => self.event(TraceEvent::Dropped {
                client_id: client_id.to_owned(),
                topic: msg.topic().to_owned(),
                reason,
            }),
            None => self.pump(client_id),
        }
    }

    /// Sends queued messages while the client's Receive Maximum allows
    /// (MQTT-3.3.4-9, MQTT-4.9.0-2); expired ones are dropped
    /// (MQTT-3.3.2-5).
    pub(super) fn pump(&mut self, client_id: &str) {
        loop {
            let Some(s) = self.sessions.get_mut(client_id) else {
                return;
            };
            let Some(conn) = s.conn.and_then(|c| self.conns.get(&c)) else {
                return;
            };
            let window = usize::from(conn.receive_maximum);
            // Entries held back on resumption go first, in their order,
            // with their ids (MQTT-4.4.0-1, MQTT-4.6.0-1, MQTT-3.3.4-9).
            if let Some(id) = s.inflight.first_held() {
                if s.inflight.sent_count() >= window {
                    return;
                }
                let (conn, v) = (conn.id, conn.version);
                self.resend(conn, client_id, id, v);
                continue;
            }
            if s.inflight.len() >= window {
                return;
            }
            let Some(q) = s.queue.pop_front() else {
                return;
            };
            if !self.transmit(client_id, q) {
                return;
            }
        }
    }

    /// Sends one copy to the connected client of `client_id`. Returns false
    /// if it could not (no packet id free: the copy goes back to the queue).
    fn transmit(&mut self, client_id: &str, q: Queued) -> bool {
        let now = self.now;
        let s = if q.qos == QoS::AtMostOnce {
            self.sessions.get_mut_quiet(client_id)
        } else {
            self.sessions.get_mut(client_id)
        };
        let Some(s) = s else {
            return false;
        };
        let Some(conn) = s.conn.and_then(|c| self.conns.get(&c)) else {
            return false;
        };
        let drop = |reason| TraceEvent::Dropped {
            client_id: client_id.to_owned(),
            topic: q.message.topic().to_owned(),
            reason,
        };
        if q.message.is_expired(now) {
            self.outputs
                .push_back(Output::Event(drop(DropReason::Expired)));
            return true;
        }
        let v = conn.version;
        let properties = if v.is_v5() {
            forwarded(
                q.message.properties(),
                q.message.remaining_expiry(now),
                &q.subscription_ids,
            )
        } else {
            Properties::default()
        };
        let mut publish = Publish::new(
            q.message.publish.topic_string(),
            q.message.publish.payload_bytes(),
        )
        .with_qos(q.qos, 0)
        .with_retain(q.retain)
        .with_properties(properties);
        if q.qos != QoS::AtMostOnce {
            let Some(id) = s.inflight.allocate_id() else {
                s.queue.push_front(q);
                return false;
            };
            publish.packet_id = id;
        }
        let packet = Packet::Publish(publish);
        // MQTT-3.1.2-24/25 (5.0): too large for the client: discarded as
        // if sent.
        if let Some(max) = conn.maximum_packet_size {
            if packet.encoded_len(v) as u64 > u64::from(max) {
                self.outputs
                    .push_back(Output::Event(drop(DropReason::PacketTooLarge)));
                return true;
            }
        }
        if let Packet::Publish(p) = &packet {
            let expires_at = q.message.expires_at();
            match p.qos {
                QoS::AtMostOnce => {}
                QoS::AtLeastOnce => {
                    s.inflight
                        .insert(p.clone(), OutState::AwaitingPubAck, expires_at)
                }
                QoS::ExactlyOnce => {
                    s.inflight
                        .insert(p.clone(), OutState::AwaitingPubRec, expires_at)
                }
            }
        }
        self.outputs.push_back(Output::Send {
            conn: conn.id,
            version: v,
            packet,
        });
        true
    }
}
