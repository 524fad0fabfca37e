//! An Application Message as the broker holds it between receipt and
//! onward delivery (MQTT 5.0 §3.3, §4.5).

use mqtt_codec::{MqttString, Properties, Publish, QoS, Will};

use crate::time::Time;

/// An Application Message held by the broker: the PUBLISH it came in
/// (topic resolved from any alias, packet id 0, DUP 0, alias and
/// subscription identifiers removed), who published it, and when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    /// The message as received: topic, QoS, RETAIN, payload and the
    /// properties forwarded unchanged (Payload Format Indicator, Content
    /// Type, Response Topic, Correlation Data, User Properties:
    /// MQTT-3.3.2-4/15/16/17/18/20). The Message Expiry Interval is the
    /// received one and is recomputed on every delivery (MQTT-3.3.2-6).
    #[serde(with = "crate::durable::wire")]
    pub publish: Publish,
    /// The publisher's client id (for No Local, MQTT-3.8.3-3).
    pub publisher: Option<String>,
    /// When the broker received it.
    pub received_at: Time,
}

impl Message {
    /// From an inbound PUBLISH whose topic is `topic` (alias resolved).
    pub fn from_publish(p: &Publish, topic: MqttString, publisher: &str, now: Time) -> Self {
        let mut publish = p.clone();
        publish.set_topic(topic);
        publish.packet_id = 0;
        publish.dup = false;
        publish.properties.topic_alias = None;
        publish.properties.subscription_identifiers.clear();
        Message {
            publish,
            publisher: Some(publisher.to_owned()),
            received_at: now,
        }
    }

    /// From a Will (MQTT 3.1.1 §3.1.2.5, 5.0 §3.1.3.2): the Will
    /// Properties other than Will Delay Interval become the message's.
    pub fn from_will(w: &Will, publisher: &str, now: Time) -> Self {
        let mut properties = w.properties.clone();
        properties.will_delay_interval = None;
        Message {
            publish: Publish::new(w.topic.clone(), w.payload.clone())
                .with_qos(w.qos, 0)
                .with_retain(w.retain)
                .with_properties(properties),
            publisher: Some(publisher.to_owned()),
            received_at: now,
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        self.publish.topic()
    }

    /// The QoS it was published with.
    pub fn qos(&self) -> QoS {
        self.publish.qos
    }

    /// When the Message Expiry Interval (if any) runs out.
    pub fn expires_at(&self) -> Option<Time> {
        self.publish
            .properties
            .message_expiry_interval
            .map(|s| self.received_at.plus_secs(u64::from(s)))
    }

    /// True once the Message Expiry Interval has passed (MQTT-3.3.2-5).
    pub fn is_expired(&self, now: Time) -> bool {
        self.expires_at().is_some_and(|t| now >= t)
    }

    /// The Message Expiry Interval to forward: the received value minus
    /// the whole seconds the message waited (MQTT-3.3.2-6).
    pub fn remaining_expiry(&self, now: Time) -> Option<u32> {
        let waited = now.millis_since(self.received_at) / 1000;
        self.publish
            .properties
            .message_expiry_interval
            .map(|s| s.saturating_sub(u32::try_from(waited).unwrap_or(u32::MAX)))
    }

    /// An approximate footprint, for queue accounting.
    pub fn payload_len(&self) -> usize {
        self.publish.payload().len()
    }

    /// Properties as forwarded (everything kept; see [`Message::publish`]).
    pub fn properties(&self) -> &Properties {
        &self.publish.properties
    }
}
