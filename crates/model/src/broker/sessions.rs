//! The broker's sessions by client id, with, when change tracking is on,
//! the set of client ids whose session an input touched (for a durable
//! store to write). Every mutable access goes through here, so no change
//! escapes the record; a read never marks.

use std::collections::{BTreeMap, BTreeSet};

use crate::session::Session;

/// Sessions by client id, and the ids changed since last taken.
#[derive(Debug, Default)]
pub(super) struct SessionMap {
    map: BTreeMap<String, Session>,
    /// `None` while tracking is off: then nothing is recorded at all.
    changed: Option<BTreeSet<String>>,
}

impl SessionMap {
    /// Turns the record of changes on (empty) or off.
    pub(super) fn set_tracking(&mut self, on: bool) {
        self.changed = on.then(BTreeSet::new);
    }

    /// Records `client_id` as changed (when tracking).
    pub(super) fn mark(&mut self, client_id: &str) {
        if let Some(c) = &mut self.changed {
            if !c.contains(client_id) {
                c.insert(client_id.to_owned());
            }
        }
    }

    /// The ids changed since the last call.
    pub(super) fn take_changed(&mut self) -> BTreeSet<String> {
        self.changed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub(super) fn get(&self, client_id: &str) -> Option<&Session> {
        self.map.get(client_id)
    }

    /// The session, to change: recorded as changed if it is durable
    /// (expiry interval above 0). A session with expiry 0 keeps nothing
    /// but the Will of its connection, which changes only when it is
    /// created, taken over ([`SessionMap::get_or_insert_with`]) or ended
    /// ([`SessionMap::remove`]); its expiry rises above 0 only through a
    /// CONNECT, which marks it; and a change from above 0 to 0 is made
    /// through here while it is still above 0, so it is recorded.
    pub(super) fn get_mut(&mut self, client_id: &str) -> Option<&mut Session> {
        if self.changed.is_some()
            && self
                .map
                .get(client_id)
                .is_some_and(|s| s.expiry_interval > 0)
        {
            self.mark(client_id);
        }
        self.map.get_mut(client_id)
    }

    /// The session, for an access that changes nothing durable (a QoS 0
    /// delivery): not recorded.
    pub(super) fn get_mut_quiet(&mut self, client_id: &str) -> Option<&mut Session> {
        self.map.get_mut(client_id)
    }

    pub(super) fn contains_key(&self, client_id: &str) -> bool {
        self.map.contains_key(client_id)
    }

    /// Removes a session: recorded as changed.
    pub(super) fn remove(&mut self, client_id: &str) -> Option<Session> {
        let s = self.map.remove(client_id);
        if s.is_some() {
            self.mark(client_id);
        }
        s
    }

    /// The session of `client_id`, created with `make` if absent: recorded
    /// as changed.
    pub(super) fn get_or_insert_with(
        &mut self,
        client_id: &str,
        make: impl FnOnce() -> Session,
    ) -> &mut Session {
        self.mark(client_id);
        self.map.entry(client_id.to_owned()).or_insert_with(make)
    }

    /// Adds a restored session (not recorded: the store has it).
    pub(super) fn insert(&mut self, s: Session) {
        self.map.insert(s.client_id.clone(), s);
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Session> {
        self.map.values()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
