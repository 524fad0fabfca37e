//! Subscriptions of all sessions (MQTT 3.1.1 §3.8, MQTT 5.0 §3.8, §4.8):
//! a topic trie indexed by filter, holding for each filter the sessions
//! subscribed to it, ordinary and shared.

pub mod trie;

use mqtt_codec::topic::split_shared;
use mqtt_codec::SubscriptionOptions;

pub use trie::TopicTrie;

/// One subscription as the server holds it: the options granted (QoS
/// downgraded to the granted QoS) and the Subscription Identifier (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubEntry {
    /// Options, with `qos` the granted QoS.
    #[serde(with = "crate::durable::sub_options")]
    pub options: SubscriptionOptions,
    /// Subscription Identifier (5.0 §3.8.2.1.2), if any.
    pub identifier: Option<u32>,
}

/// Who holds a subscription: a session, and the share group for a shared
/// subscription (`$share/{group}/{filter}`, 5.0 §4.8.2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubKey {
    /// Share group; `None` for an ordinary subscription.
    pub group: Option<String>,
    /// The session's client id.
    pub client_id: String,
}

/// A matching subscription found for a topic.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    /// The filter (for a shared subscription, the part after the group).
    pub filter: &'a str,
    /// Who holds it.
    pub key: &'a SubKey,
    /// What it grants.
    pub entry: &'a SubEntry,
}

/// Every subscription of the broker. Shared subscriptions are stored under
/// their inner filter with the group in the key, so that one walk of the
/// trie finds both kinds.
#[derive(Debug, Clone, Default)]
pub struct Subscriptions {
    trie: TopicTrie<SubKey, SubEntry>,
}

/// Splits a filter as subscribed into (share group, filter to match).
/// 3.1.1 has no shared subscriptions: `$share/...` is an ordinary filter.
pub fn parse_filter(filter: &str, v5: bool) -> (Option<&str>, &str) {
    match split_shared(filter) {
        Some(s) if v5 => (Some(s.group), s.filter),
        _ => (None, filter),
    }
}

impl Subscriptions {
    /// No subscriptions.
    pub fn new() -> Self {
        Subscriptions::default()
    }

    /// How many subscriptions are held.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    /// True when none is held.
    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }

    /// Adds or replaces (MQTT-3.8.4-3) `client_id`'s subscription to
    /// `filter` (as subscribed, `$share/` prefix included when `shared`
    /// applies). Returns the subscription it replaced.
    pub fn insert(
        &mut self,
        client_id: &str,
        filter: &str,
        v5: bool,
        entry: SubEntry,
    ) -> Option<SubEntry> {
        let (group, inner) = parse_filter(filter, v5);
        let key = SubKey {
            group: group.map(str::to_owned),
            client_id: client_id.to_owned(),
        };
        self.trie.insert(inner, key, entry)
    }

    /// Removes `client_id`'s subscription to `filter` (as subscribed).
    pub fn remove(&mut self, client_id: &str, filter: &str, v5: bool) -> Option<SubEntry> {
        let (group, inner) = parse_filter(filter, v5);
        let key = SubKey {
            group: group.map(str::to_owned),
            client_id: client_id.to_owned(),
        };
        self.trie.remove(inner, &key)
    }

    /// Every subscription whose filter matches `topic` (MQTT-4.7.2-1
    /// included), in a deterministic order.
    pub fn matching<'a>(&'a self, topic: &str) -> Vec<Matched<'a>> {
        let mut out = Vec::new();
        self.trie.for_each_match(topic, |filter, key, entry| {
            out.push(Matched { filter, key, entry });
        });
        out
    }
}
