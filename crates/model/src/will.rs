//! Will Messages waiting for their Will Delay Interval (MQTT 5.0 §3.1.3.2.2;
//! 3.1.1 has no delay).

use std::collections::BTreeMap;

use crate::message::Message;
use crate::time::Time;

/// A Will Message to publish at `due` unless the client reconnects first
/// (MQTT-3.1.3-9) or its session ends first (then at once, MQTT-3.1.2-8).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingWill {
    /// The message.
    pub message: Message,
    /// When to publish it.
    pub due: Time,
    /// The user name of the connection that set it: the Will is published
    /// only if this user may publish on its topic then.
    pub username: Option<String>,
}

/// Pending wills by client id (one at most per client id).
#[derive(Debug, Clone, Default)]
pub struct PendingWills {
    by_client: BTreeMap<String, PendingWill>,
}

impl PendingWills {
    /// None pending.
    pub fn new() -> Self {
        PendingWills::default()
    }

    /// Schedules `client_id`'s will.
    pub fn schedule(&mut self, client_id: &str, will: PendingWill) {
        self.by_client.insert(client_id.to_owned(), will);
    }

    /// `client_id`'s pending will.
    pub fn get(&self, client_id: &str) -> Option<&PendingWill> {
        self.by_client.get(client_id)
    }

    /// Cancels and returns `client_id`'s pending will.
    pub fn take(&mut self, client_id: &str) -> Option<PendingWill> {
        self.by_client.remove(client_id)
    }

    /// Removes and returns the wills due at `now`, in client id order.
    pub fn take_due(&mut self, now: Time) -> Vec<(String, PendingWill)> {
        let due: Vec<String> = self
            .by_client
            .iter()
            .filter(|(_, w)| w.due <= now)
            .map(|(c, _)| c.clone())
            .collect();
        due.into_iter()
            .filter_map(|c| self.by_client.remove(&c).map(|w| (c, w)))
            .collect()
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<Time> {
        self.by_client.values().map(|w| w.due).min()
    }

    /// How many are pending.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }
}
