//! What every client task of a run shares: the clock, the target, the
//! phase signals and the way to the collector.

use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::Sender;
use std::time::Instant;

use bytes::Bytes;
use mqtt_codec::ProtocolVersion;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::event::Event;
use crate::link::ConnectSpec;
use crate::plan::ClientPlan;
use crate::profile::Profile;

/// Events a task collects before handing them over in one batch.
const BATCH: usize = 512;

/// Shared by the client tasks of a run.
#[derive(Debug)]
pub struct Ctx {
    /// The run's clock.
    pub clock: Clock,
    /// The broker.
    pub addrs: Vec<SocketAddr>,
    /// Local source addresses, used round robin by client index.
    pub sources: Vec<IpAddr>,
    /// The profile (rates already scaled).
    pub profile: Profile,
    /// Events go here, in batches.
    pub events: Sender<Vec<Event>>,
    /// Becomes true when every local subscriber has its SUBACK (or gave up).
    pub subscribed: watch::Receiver<bool>,
    /// Becomes true when subscribers should disconnect (the drain is over).
    pub stop: watch::Receiver<bool>,
    /// Publishing starts no earlier than this (ns).
    pub start_ns: u64,
    /// No intended send time at or after this (ns).
    pub publish_end_ns: u64,
    /// Publishers give up on outstanding acknowledgements at this time (ns).
    pub drain_end_ns: u64,
    /// Bytes that fill payloads after their header.
    pub filler: Bytes,
    /// Publishers write what is due once per tick (ns; 1 ms, tokio's timer
    /// resolution, unless the run asks for more): up to one tick of the
    /// corrected latency may be the generator's batching.
    pub tick_ns: u64,
}

impl Ctx {
    /// How client `c` connects.
    pub fn connect_spec(&self, c: &ClientPlan, clean: bool) -> ConnectSpec {
        ConnectSpec {
            addr: self.addrs[c.n as usize % self.addrs.len()],
            source: if self.sources.is_empty() {
                None
            } else {
                Some(self.sources[c.n as usize % self.sources.len()])
            },
            version: self.profile.version.protocol(),
            client_id: c.client_id.clone(),
            clean,
            keep_alive: self.profile.keep_alive,
            session_expiry: self.profile.session_expiry,
        }
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.profile.version.protocol()
    }

    /// The first tick at or after `ns` (ticks counted from the start; with
    /// 1 ms ticks tokio's timer rounds the same way).
    pub fn tick_after(&self, ns: u64) -> u64 {
        if self.tick_ns <= 1_000_000 {
            return ns;
        }
        let since = ns.saturating_sub(self.start_ns);
        self.start_ns + since.div_ceil(self.tick_ns) * self.tick_ns
    }

    /// The instant of a Unix-ns time.
    pub fn at(&self, ns: u64) -> Instant {
        self.clock.instant(ns)
    }
}

/// A task's batch of events.
#[derive(Debug)]
pub struct Batch {
    events: Vec<Event>,
    to: Sender<Vec<Event>>,
}

impl Batch {
    /// An empty batch sending to `to`.
    pub fn new(to: Sender<Vec<Event>>) -> Batch {
        Batch {
            events: Vec::with_capacity(64),
            to,
        }
    }

    /// Adds an event; hands the batch over when it is full.
    pub fn push(&mut self, e: Event) {
        self.events.push(e);
        if self.events.len() >= BATCH {
            self.flush();
        }
    }

    /// Hands over what there is.
    pub fn flush(&mut self) {
        if !self.events.is_empty() {
            let events = std::mem::replace(&mut self.events, Vec::with_capacity(64));
            // The collector outlives the tasks; if it is gone the run is over.
            let _ = self.to.send(events);
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush();
    }
}
