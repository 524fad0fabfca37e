//! SUBSCRIBE / SUBACK and UNSUBSCRIBE / UNSUBACK (MQTT 3.1.1 §3.8-3.11,
//! MQTT 5.0 §3.8-3.11), retained messages at subscribe time (§3.3.1.3).

use mqtt_codec::topic::validate_topic_filter;
use mqtt_codec::{
    Packet, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe,
};

use super::Broker;
use crate::message::Message;
use crate::output::{CloseKind, DropReason, TraceEvent};
use crate::session::StoredSub;
use crate::subscriptions::{parse_filter, SubEntry};
use crate::ConnId;

impl Broker {
    /// SUBSCRIBE: one reason code per filter, in order (MQTT-3.8.4-1/5,
    /// MQTT-3.9.3-1); then the retained messages, RETAIN 1 (3.1.1
    /// MQTT-3.3.1-6/8; 5.0 MQTT-3.3.1-9/10/11, MQTT-3.8.4-4), those on
    /// topics the client may read only.
    pub(super) fn on_subscribe(&mut self, conn: ConnId, s: Subscribe) {
        let v = self.version_of(conn);
        let v5 = v.is_v5();
        let Some(client_id) = self.client_of(conn) else {
            return;
        };
        let username = self.conns.get(&conn).and_then(|c| c.username.clone());
        let sub_id = if v5 {
            s.properties.subscription_identifiers.first().copied()
        } else {
            None
        };
        if sub_id.is_some() && !self.config.subscription_identifier_available {
            return self.violation(
                conn,
                ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
                CloseKind::ProtocolViolation,
                &[],
            );
        }
        if sub_id == Some(0) || s.packet_id == 0 || s.filters.is_empty() {
            return self.violation(
                conn,
                ReasonCode::PROTOCOL_ERROR,
                CloseKind::ProtocolViolation,
                v.pick(&["MQTT-3.8.3-3"], &["MQTT-3.8.3-2"]),
            );
        }
        let fail = v.pick(ReasonCode(0x80), ReasonCode::UNSPECIFIED_ERROR);
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut retained: Vec<(Message, QoS, Option<u32>)> = Vec::new();
        let mut denied: Vec<String> = Vec::new();
        let open = self.authorizer.is_open();
        for sub in &s.filters {
            let filter = sub.filter.as_str();
            let (group, inner) = parse_filter(filter, v5);
            let wildcard = inner.contains(['+', '#']);
            if group.is_some() && sub.options.no_local {
                // MQTT-3.8.3-4 (5.0): No Local on a shared subscription.
                return self.violation(
                    conn,
                    ReasonCode::PROTOCOL_ERROR,
                    CloseKind::ProtocolViolation,
                    &["MQTT-3.8.3-4"],
                );
            }
            let code = if validate_topic_filter(filter, v).is_err() {
                v.pick(ReasonCode(0x80), ReasonCode::TOPIC_FILTER_INVALID)
            } else if group.is_some() && !self.config.shared_subscription_available {
                ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED
            } else if wildcard && !self.config.wildcard_subscription_available {
                v.pick(
                    ReasonCode(0x80),
                    ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
                )
            } else if !self
                .authorizer
                .can_subscribe(&client_id, username.as_deref(), filter)
            {
                v.pick(fail, ReasonCode::NOT_AUTHORIZED)
            } else {
                // MQTT-3.8.4-8 (5.0) / MQTT-3.8.4-6 (3.1.1): granted QoS may
                // be lower than requested.
                let granted = sub.options.qos.min(self.config.maximum_qos);
                let options = if v5 {
                    SubscriptionOptions {
                        qos: granted,
                        ..sub.options
                    }
                } else {
                    SubscriptionOptions::qos(granted)
                };
                let entry = SubEntry {
                    options,
                    identifier: sub_id,
                };
                let Some(session) = self.sessions.get_mut(&client_id) else {
                    return;
                };
                let shared = group.is_some();
                // MQTT-3.8.4-3: an identical filter replaces the subscription.
                let existed = session
                    .subscriptions
                    .insert(filter.to_owned(), StoredSub { entry, shared })
                    .is_some();
                self.subs.insert(&client_id, filter, shared, entry);
                let send_retained = !shared
                    && match options.retain_handling {
                        RetainHandling::SendAtSubscribe => true,
                        RetainHandling::SendIfNew => !existed,
                        RetainHandling::DoNotSend => false,
                    };
                if send_retained {
                    for topic in self.retained.purge_expired(self.now) {
                        self.mark_retained(&topic);
                    }
                    for m in self.retained.matching(inner, self.now) {
                        // Only what the subscriber may read, topic by
                        // topic: a filter granted is not every topic it
                        // matches.
                        if !open
                            && !self
                                .authorizer
                                .can_read(&client_id, username.as_deref(), m.topic())
                        {
                            denied.push(m.topic().to_owned());
                            continue;
                        }
                        let qos = m.qos().min(granted);
                        retained.push((m, qos, sub_id));
                    }
                }
                ReasonCode(granted.bits())
            };
            codes.push(code);
        }
        self.send(
            conn,
            Packet::SubAck(SubAck {
                packet_id: s.packet_id,
                properties: Default::default(),
                reason_codes: codes,
            }),
        );
        for topic in denied {
            self.event(TraceEvent::Dropped {
                client_id: client_id.clone(),
                topic,
                reason: DropReason::ReceiverNotAuthorized,
            });
        }
        for (m, qos, id) in retained {
            self.deliver(&client_id, &m, qos, true, id.into_iter().collect());
        }
    }

    /// UNSUBSCRIBE: filters compared character by character
    /// (MQTT-3.10.4-1), one UNSUBACK (MQTT-3.10.4-4/5/6) with, in 5.0, one
    /// code per filter: 0x00 or 0x11 No subscription existed
    /// (MQTT-3.11.3-1/2). Messages already in flight are completed
    /// (MQTT-3.10.4-3).
    pub(super) fn on_unsubscribe(&mut self, conn: ConnId, u: Unsubscribe) {
        let v = self.version_of(conn);
        let Some(client_id) = self.client_of(conn) else {
            return;
        };
        if u.packet_id == 0 || u.filters.is_empty() {
            return self.violation(
                conn,
                ReasonCode::PROTOCOL_ERROR,
                CloseKind::ProtocolViolation,
                &["MQTT-3.10.3-2"],
            );
        }
        let mut codes = Vec::with_capacity(u.filters.len());
        for f in &u.filters {
            let removed = self
                .sessions
                .get_mut(&client_id)
                .and_then(|s| s.subscriptions.remove(f.as_str()));
            let code = match removed {
                Some(stored) => {
                    self.subs.remove(&client_id, f, stored.shared);
                    ReasonCode::SUCCESS
                }
                None => ReasonCode::NO_SUBSCRIPTION_EXISTED,
            };
            codes.push(code);
        }
        self.send(
            conn,
            Packet::UnsubAck(UnsubAck {
                packet_id: u.packet_id,
                properties: Default::default(),
                reason_codes: if v.is_v5() { codes } else { Vec::new() },
            }),
        );
    }
}
