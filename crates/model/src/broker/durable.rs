//! Change tracking, export and restore of the durable state (see
//! [`crate::durable`]).

use std::collections::BTreeSet;

use super::{Broker, WillAction};
use crate::durable::{Changes, DurableMeta, DurableSession, DurableState, LiveWill, RestoreError};
use crate::inflight::Inflight;
use crate::message::Message;
use crate::output::TraceEvent;
use crate::session::Session;
use crate::time::{ConnId, Time};

/// A session whose connection was lost: client id, whether the connection
/// was serving it, its Will and Will Delay, the Will's owner.
type Lost = (String, bool, Option<(Message, u32)>, Option<String>);

impl Broker {
    /// Turns the record of changes on or off (off by default: a broker
    /// that keeps nothing does no bookkeeping for it). While on, every
    /// input records the sessions, retained topics and counters it changed,
    /// for [`Broker::take_changes`].
    pub fn set_change_tracking(&mut self, on: bool) {
        self.sessions.set_tracking(on);
        self.retained_changed = on.then(BTreeSet::new);
        self.meta_changed = false;
    }

    /// What changed since the last call (nothing while tracking is off).
    /// Export each key with [`Broker::export_session`],
    /// [`Broker::export_retained`] and [`Broker::export_meta`] and write
    /// them together, before acting on the outputs of the same inputs.
    pub fn take_changes(&mut self) -> Changes {
        Changes {
            sessions: self.sessions.take_changed(),
            retained: self
                .retained_changed
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default(),
            meta: std::mem::take(&mut self.meta_changed),
        }
    }

    pub(super) fn mark_retained(&mut self, topic: &str) {
        if let Some(c) = &mut self.retained_changed {
            c.insert(topic.to_owned());
        }
    }

    pub(super) fn mark_meta(&mut self) {
        if self.retained_changed.is_some() {
            self.meta_changed = true;
        }
    }

    /// The durable state of `client_id`'s session, or `None` when there is
    /// nothing to keep (a store deletes the key): no session, or one with
    /// Session Expiry Interval 0 whose connection has no Will. A session
    /// with expiry 0 ends with its connection, so of it only the Will is
    /// kept (its other state is exported empty), to be published if the
    /// server restarts before the connection ends.
    pub fn export_session(&self, client_id: &str) -> Option<DurableSession> {
        let s = self.sessions.get(client_id)?;
        let conn = s.conn.and_then(|c| self.conns.get(&c));
        let live_will = conn.and_then(|c| {
            c.will.as_ref().map(|w| LiveWill {
                publish: Message::from_will(w, client_id, Time::ZERO).publish,
                delay: if c.version.is_v5() {
                    w.properties.will_delay_interval.unwrap_or(0)
                } else {
                    0
                },
                username: c.username.clone(),
            })
        });
        if s.expiry_interval == 0 {
            let live_will = live_will?;
            return Some(DurableSession {
                client_id: s.client_id.clone(),
                username: s.username.clone(),
                subscriptions: Vec::new(),
                inflight: Default::default(),
                queue: Vec::new(),
                inbound_qos2: Vec::new(),
                expiry_interval: 0,
                expires_at: None,
                connected: true,
                live_will: Some(live_will),
                pending_will: None,
            });
        }
        Some(DurableSession {
            client_id: s.client_id.clone(),
            username: s.username.clone(),
            subscriptions: s
                .subscriptions
                .iter()
                .map(|(f, sub)| (f.clone(), *sub))
                .collect(),
            inflight: s.inflight.export(),
            queue: s.queue.iter().cloned().collect(),
            inbound_qos2: s.inbound_qos2.iter().copied().collect(),
            expiry_interval: s.expiry_interval,
            expires_at: s.expires_at,
            connected: s.conn.is_some(),
            live_will,
            pending_will: self.wills.get(client_id).cloned(),
        })
    }

    /// The retained message of `topic`, or `None` (a store deletes the key).
    pub fn export_retained(&self, topic: &str) -> Option<Message> {
        self.retained.get(topic).cloned()
    }

    /// The broker's counters.
    pub fn export_meta(&self) -> DurableMeta {
        DurableMeta {
            assigned_ids: self.assigned_ids,
            shared_cursor: self
                .shared_cursor
                .iter()
                .map(|((g, f), n)| (g.clone(), f.clone(), *n as u64))
                .collect(),
        }
    }

    /// Everything durable, for a snapshot or a test.
    pub fn export_all(&self) -> DurableState {
        DurableState {
            sessions: self
                .sessions
                .values()
                .filter_map(|s| self.export_session(&s.client_id))
                .collect(),
            retained: self.retained.iter().cloned().collect(),
            meta: self.export_meta(),
        }
    }

    /// Every network connection was lost at once at `now` (the server's
    /// network went away, or the server is stopping): each ends as by
    /// [`Broker::connection_closed`], except that all sessions go offline
    /// before any Will is published, and the Wills then go out in client
    /// id order. This is what [`Broker::restore`] does with the sessions
    /// connected at a crash, so that a broker restored from a store
    /// answers as the original would have after losing its connections.
    pub fn all_connections_lost(&mut self, now: Time) {
        self.advance(now);
        let now = self.now;
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        let mut lost = Vec::new();
        for id in conns {
            let Some(c) = self.conns.remove(&id) else {
                continue;
            };
            let client_id = c.client_id().map(str::to_owned);
            self.event(TraceEvent::ConnectionEnded {
                conn: id,
                client_id: client_id.clone(),
            });
            let Some(client_id) = client_id else {
                continue;
            };
            let owned = self
                .sessions
                .get(&client_id)
                .is_some_and(|s| s.conn == Some(id));
            let will = c.will.as_ref().map(|w| {
                let delay = if c.version.is_v5() {
                    w.properties.will_delay_interval.unwrap_or(0)
                } else {
                    0
                };
                (Message::from_will(w, &client_id, now), delay)
            });
            if owned {
                if let Some(s) = self.sessions.get_mut(&client_id) {
                    s.conn = None;
                }
            }
            lost.push((client_id, owned, will, c.username));
        }
        self.lost(lost);
    }

    /// Sessions whose connections were all lost at once: those of expiry
    /// 0 end first (none of them can receive a Will), then, in client id
    /// order, every session goes offline and its Will is published or
    /// scheduled.
    fn lost(&mut self, mut lost: Vec<Lost>) {
        lost.sort_by(|a, b| a.0.cmp(&b.0));
        for (client_id, owned, _, _) in &lost {
            if *owned
                && self
                    .sessions
                    .get(client_id)
                    .is_some_and(|s| s.expiry_interval == 0)
            {
                self.end_session(client_id);
            }
        }
        for (client_id, owned, will, owner) in lost {
            self.went_offline(&client_id, owned, false, WillAction::Publish, will, owner);
        }
    }

    /// Loads `state` into this fresh broker at time `now` (a restart).
    ///
    /// Sessions, subscriptions, queues, in-flight messages, inbound QoS 2
    /// ids, pending Wills, retained messages and counters come back as they
    /// were. A session that a connection was serving is then treated as if
    /// that connection had closed at `now` without DISCONNECT: offline, its
    /// expiry counted from `now`, its Will published (at once, or after its
    /// Will Delay Interval, whichever comes first with the session's end,
    /// MQTT-3.1.2-8), in client id order. Those Wills are outputs (and
    /// changes) like any input's; expired sessions end at the next
    /// [`Broker::tick`].
    pub fn restore(&mut self, state: DurableState, now: Time) -> Result<(), RestoreError> {
        if !self.sessions.is_empty() || !self.conns.is_empty() || !self.retained.is_empty() {
            return Err(RestoreError::NotFresh);
        }
        let mut seen = BTreeSet::new();
        let mut sessions = Vec::with_capacity(state.sessions.len());
        for d in state.sessions {
            if !seen.insert(d.client_id.clone()) {
                return Err(RestoreError::DuplicateSession(d.client_id));
            }
            let inflight =
                Inflight::import(d.inflight).map_err(|packet_id| RestoreError::BadInflight {
                    client_id: d.client_id.clone(),
                    packet_id,
                })?;
            let mut s = Session::new(&d.client_id, d.expiry_interval);
            s.username = d.username;
            s.subscriptions = d.subscriptions.into_iter().collect();
            s.inflight = inflight;
            s.queue = d.queue.into();
            s.inbound_qos2 = d.inbound_qos2.into_iter().collect();
            s.expires_at = d.expires_at;
            let crashed = d.connected.then_some(d.live_will);
            sessions.push((s, d.pending_will, crashed));
        }
        self.advance(now);
        let mut crashed = Vec::new();
        for (s, pending, live) in sessions {
            for (filter, stored) in &s.subscriptions {
                self.subs
                    .insert(&s.client_id, filter, stored.shared, stored.entry);
            }
            if let Some(w) = pending {
                self.wills.schedule(&s.client_id, w);
            }
            if let Some(live) = live {
                crashed.push((s.client_id.clone(), live));
            }
            self.sessions.insert(s);
        }
        for m in state.retained {
            self.retained.insert(m);
        }
        self.assigned_ids = state.meta.assigned_ids;
        self.shared_cursor = state
            .meta
            .shared_cursor
            .into_iter()
            .map(|(g, f, n)| ((g, f), usize::try_from(n).unwrap_or(0)))
            .collect();
        let now = self.now;
        let mut lost = Vec::new();
        for (client_id, live) in crashed {
            let (will, owner) = match live {
                Some(w) => {
                    let msg = Message {
                        publish: w.publish,
                        publisher: Some(client_id.clone()),
                        received_at: now,
                    };
                    (Some((msg, w.delay)), w.username)
                }
                None => (None, None),
            };
            lost.push((client_id, true, will, owner));
        }
        self.lost(lost);
        Ok(())
    }
}
