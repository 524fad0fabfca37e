//! Retained messages (MQTT 3.1.1 §3.3.1.3, MQTT 5.0 §3.3.1.3): at most one
//! per topic; a zero-length payload clears it.

use std::collections::BTreeMap;

use mqtt_codec::topic::matches;

use crate::message::Message;
use crate::time::Time;

/// What a PUBLISH with RETAIN 1 did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainChange {
    /// Stored, replacing any previous message (5.0 MQTT-3.3.1-5,
    /// 3.1.1 MQTT-3.3.1-5/7).
    Stored,
    /// Zero-length payload: the previous message removed and nothing
    /// stored (5.0 MQTT-3.3.1-6/7, 3.1.1 MQTT-3.3.1-10/11).
    Cleared,
}

/// The retained message of every topic, ordered by topic.
#[derive(Debug, Clone, Default)]
pub struct RetainedStore {
    by_topic: BTreeMap<String, Message>,
}

impl RetainedStore {
    /// An empty store.
    pub fn new() -> Self {
        RetainedStore::default()
    }

    /// How many topics have a retained message.
    pub fn len(&self) -> usize {
        self.by_topic.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.by_topic.is_empty()
    }

    /// Applies a message published with RETAIN 1.
    pub fn apply(&mut self, m: &Message) -> RetainChange {
        if m.publish.payload().is_empty() {
            self.by_topic.remove(m.topic());
            RetainChange::Cleared
        } else {
            self.by_topic.insert(m.topic().to_owned(), m.clone());
            RetainChange::Stored
        }
    }

    /// The retained message of `topic`.
    pub fn get(&self, topic: &str) -> Option<&Message> {
        self.by_topic.get(topic)
    }

    /// Every retained message, in topic order.
    pub fn iter(&self) -> impl Iterator<Item = &Message> {
        self.by_topic.values()
    }

    /// Stores `m` as its topic's retained message, as restored from a
    /// durable store (no check of its payload).
    pub fn insert(&mut self, m: Message) {
        self.by_topic.insert(m.topic().to_owned(), m);
    }

    /// Removes the messages whose Message Expiry Interval has passed
    /// (MQTT-3.3.2-5) and returns their topics.
    pub fn purge_expired(&mut self, now: Time) -> Vec<String> {
        let mut gone = Vec::new();
        self.by_topic.retain(|t, m| {
            let keep = !m.is_expired(now);
            if !keep {
                gone.push(t.clone());
            }
            keep
        });
        gone
    }

    /// Retained messages matching `filter` that have not expired, in topic
    /// order; expired ones are removed (MQTT-3.3.2-5). This scans the
    /// store: subscribing is rarer than publishing.
    pub fn matching(&mut self, filter: &str, now: Time) -> Vec<Message> {
        self.purge_expired(now);
        self.by_topic
            .iter()
            .filter(|(t, _)| matches(filter, t))
            .map(|(_, m)| m.clone())
            .collect()
    }
}
