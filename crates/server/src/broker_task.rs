//! The task that owns the broker model: connections send it what they
//! decoded, it feeds the model with the time, and routes the model's
//! outputs back to the connections.
//!
//! With a durable store, what a batch of inputs changed is committed
//! before any output of that batch is routed: no acknowledgement (PUBACK,
//! PUBREC, PUBCOMP, SUBACK, CONNACK) and no forwarded message leaves before
//! the state it reveals is written. With `fsync always` the batch is one
//! input; otherwise it is what was waiting (group commit). Without a store
//! none of this runs.

use std::collections::HashMap;
use std::time::Duration;

use mqtt_codec::{Packet, ProtocolVersion, Violation};
use mqtt_model::{Broker, CloseReason, ConnId, Output, Time};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::store::{FsyncPolicy, Store, StoreError};

/// What a connection tells the broker.
// Boxing the packet would cost an allocation per packet on the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Command {
    /// A connection was accepted; `out` carries what the broker sends it.
    Opened {
        conn: ConnId,
        out: mpsc::Sender<Outbound>,
    },
    /// A packet was decoded.
    Packet { conn: ConnId, packet: Packet },
    /// The decoder rejected the bytes; the connection reads no further.
    DecodeError { conn: ConnId, violation: Violation },
    /// The network connection ended without the broker asking.
    Closed { conn: ConnId },
}

/// What the broker tells a connection. When the broker is done with a
/// connection it drops the sender: the connection writes what is queued and
/// closes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Encode and send.
    Packet(ProtocolVersion, Packet),
    /// Why the connection is about to be closed (for the log).
    Closing(CloseReason),
}

/// How many packets may wait for a connection's writer before the client is
/// considered too slow and disconnected.
pub(crate) const OUTBOUND_CAPACITY: usize = 100_000;

/// The model's time: milliseconds since `origin` as seen at `start`, plus
/// the monotonic time elapsed since. In memory the origin is the server's
/// start; with a store it is the Unix epoch (wall clock), so that the
/// times kept (session expiry, message expiry, Will delays) mean the same
/// after a restart.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    origin_ms: u64,
}

impl Clock {
    /// Time from the server's start.
    pub(crate) fn monotonic() -> Clock {
        Clock {
            start: Instant::now(),
            origin_ms: 0,
        }
    }

    /// Wall-clock time (milliseconds since the Unix epoch at start, then
    /// monotonic).
    pub(crate) fn wall() -> Clock {
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Clock {
            start: Instant::now(),
            origin_ms: epoch,
        }
    }

    /// Now, as the model's time.
    pub(crate) fn now(&self) -> Time {
        Time(self.origin_ms + self.start.elapsed().as_millis() as u64)
    }

    /// The instant of a model time.
    fn instant(&self, t: Time) -> Instant {
        self.start + Duration::from_millis(t.0.saturating_sub(self.origin_ms))
    }
}

/// Where the broker task reports why it stopped on its own: the store
/// failed, and nothing more may be acknowledged.
pub(crate) type Failure = watch::Sender<Option<String>>;

pub(crate) async fn run(
    mut broker: Broker,
    mut rx: mpsc::Receiver<Command>,
    mut shutdown: watch::Receiver<bool>,
    clock: Clock,
    mut store: Option<Store>,
    failure: Option<Failure>,
) {
    let mut conns: HashMap<ConnId, mpsc::Sender<Outbound>> = HashMap::new();
    let mut timers = TimerCache::default();
    // `fsync always`: every input is committed (and its outputs routed)
    // on its own.
    let each = store
        .as_ref()
        .is_some_and(|s| s.policy() == FsyncPolicy::Always);
    loop {
        let deadline = timers.wake_at(&broker, clock);
        let mut flushed = Ok(());
        tokio::select! {
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                handle(&mut broker, &mut conns, cmd, clock.now());
                // Take what else is already waiting before routing outputs.
                for _ in 0..256 {
                    if each {
                        flushed = flushed.and_then(|()| flush(&mut broker, &mut conns, &mut store, clock));
                    }
                    match rx.try_recv() {
                        Ok(cmd) => handle(&mut broker, &mut conns, cmd, clock.now()),
                        Err(_) => break,
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                if timers.is_due() {
                    broker.tick(clock.now());
                    timers.invalidate();
                }
            }
            _ = shutdown.changed() => break,
        }
        if let Err(e) = flushed.and_then(|()| flush(&mut broker, &mut conns, &mut store, clock)) {
            // Nothing more may be acknowledged: stop serving. What was
            // committed stays; the outputs of this batch are never sent.
            tracing::error!("durable store failed; the broker stops: {e}");
            if let Some(f) = &failure {
                let _ = f.send(Some(e.to_string()));
            }
            break;
        }
    }
    tracing::debug!("broker stopped; closing {} connections", conns.len());
}

/// Commits what the inputs so far changed (with a store), then routes
/// their outputs. A connection found gone while routing is an input too,
/// whose own outputs (a Will) are committed before they are routed.
fn flush(
    broker: &mut Broker,
    conns: &mut HashMap<ConnId, mpsc::Sender<Outbound>>,
    store: &mut Option<Store>,
    clock: Clock,
) -> Result<(), StoreError> {
    loop {
        if let Some(store) = store {
            store.commit(broker)?;
        }
        let gone = route(broker, conns);
        if gone.is_empty() {
            return Ok(());
        }
        for conn in gone {
            let _ = broker.connection_closed(conn, clock.now());
        }
    }
}

/// How stale the broker task lets its copy of the model's next timer get.
///
/// [`Broker::next_timeout`] looks at every connection and session, so with
/// thousands of clients asking it after every batch of packets would cost
/// more than the packets. Instead the answer is kept for at most this long:
/// a timer that a packet brings forward in the meantime (a new connection's
/// Keep Alive, a Will Delay) fires at most this much late. The tightest rule
/// it serves, closing at 1.5 x Keep Alive (MQTT-3.1.2-24 / MQTT-3.1.2-22),
/// is measured in whole seconds.
const TIMER_STALENESS: Duration = Duration::from_millis(50);

/// The model's next timer, as last asked, and when it was asked.
#[derive(Debug, Default)]
struct TimerCache {
    /// `None` until asked, and after a tick (which changes the timers).
    asked: Option<(Instant, Option<Instant>)>,
}

impl TimerCache {
    /// When the broker task must next wake: the model's next timer, or the
    /// moment the cached answer goes stale, whichever is first.
    fn wake_at(&mut self, broker: &Broker, clock: Clock) -> Instant {
        let now = Instant::now();
        let (asked_at, due) = match self.asked {
            Some((at, due)) if now < at + TIMER_STALENESS => (at, due),
            _ => {
                let due = broker.next_timeout().map(|t| clock.instant(t));
                self.asked = Some((now, due));
                (now, due)
            }
        };
        let stale = asked_at + TIMER_STALENESS;
        due.map_or(stale, |d| d.min(stale))
    }

    /// Whether the model's timer (not just the cache's staleness) is due.
    fn is_due(&mut self) -> bool {
        let due = matches!(self.asked, Some((_, Some(d))) if d <= Instant::now());
        if !due {
            // Woken to refresh the cache: ask the model again next time.
            self.asked = None;
        }
        due
    }

    /// Forgets the cached answer (after a tick).
    fn invalidate(&mut self) {
        self.asked = None;
    }
}

fn handle(
    broker: &mut Broker,
    conns: &mut HashMap<ConnId, mpsc::Sender<Outbound>>,
    cmd: Command,
    now: Time,
) {
    let result = match cmd {
        Command::Opened { conn, out } => {
            conns.insert(conn, out);
            broker.connection_opened(conn, now)
        }
        Command::Packet { conn, packet } => broker.packet(conn, packet, now),
        Command::DecodeError { conn, violation } => {
            tracing::info!(%conn, "malformed input: {violation}");
            broker.decode_error(conn, &violation, now)
        }
        Command::Closed { conn } => {
            conns.remove(&conn);
            broker.connection_closed(conn, now)
        }
    };
    // The model has already forgotten a connection it closed itself; a
    // late report from that connection is expected.
    if let Err(e) = result {
        tracing::trace!("model: {e}");
    }
}

/// Routes the model's outputs to the connections; returns the connections
/// found gone or too slow, which the broker must be told about.
fn route(broker: &mut Broker, conns: &mut HashMap<ConnId, mpsc::Sender<Outbound>>) -> Vec<ConnId> {
    let mut gone = Vec::new();
    while let Some(output) = broker.poll_output() {
        match output {
            Output::Send {
                conn,
                version,
                packet,
            } => {
                let Some(tx) = conns.get(&conn) else { continue };
                if let Err(e) = tx.try_send(Outbound::Packet(version, packet)) {
                    // Too slow to read what it is sent, or already gone:
                    // the connection ends as if the network had failed. A
                    // client that went away is routine (its report that the
                    // connection ended may still be in the queue); one
                    // that does not keep up is worth a warning.
                    match e {
                        mpsc::error::TrySendError::Full(_) => {
                            tracing::warn!(%conn, "client too slow to read what it is sent; closing")
                        }
                        mpsc::error::TrySendError::Closed(_) => {
                            tracing::debug!(%conn, "connection already gone")
                        }
                    }
                    conns.remove(&conn);
                    gone.push(conn);
                }
            }
            Output::Close { conn, reason } => {
                if let Some(tx) = conns.remove(&conn) {
                    let _ = tx.try_send(Outbound::Closing(reason));
                }
            }
            // A QoS 1/2 copy a session's full queue refused is data an
            // operator must hear of: the publisher was acknowledged.
            Output::Event(mqtt_model::TraceEvent::Dropped {
                client_id,
                topic,
                reason: mqtt_model::DropReason::QueueFull,
            }) => tracing::warn!(
                client_id,
                topic,
                "queue full (max_queued_messages): a QoS 1/2 message for this offline or slow session was dropped"
            ),
            Output::Event(event) => tracing::trace!(?event),
        }
    }
    gone
}
