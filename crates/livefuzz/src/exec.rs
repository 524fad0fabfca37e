//! Runs a case against a broker over TCP: one socket per connection, a
//! reader per socket that keeps every byte the broker sends, the events in
//! order, and at the end a barrier: a PINGREQ on each connection still
//! open, answered (PINGRESP or close) within the hang bound.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{timeout, Instant};

use super::case::{Action, Case, Transport};

/// Bounds of one case.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// How long a sync point waits for something new.
    pub sync: Duration,
    /// How long the final PINGREQ may wait for its PINGRESP (or a close)
    /// on a connection that sent only valid packets: the hang bound.
    pub hang: Duration,
    /// How long a connection that sent invalid bytes is watched for a
    /// close at the end.
    pub linger: Duration,
    /// How long a TCP connect may take.
    pub connect: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            sync: Duration::from_millis(200),
            hang: Duration::from_secs(5),
            linger: Duration::from_millis(50),
            connect: Duration::from_secs(5),
        }
    }
}

/// What the broker did on one connection.
#[derive(Debug, Clone, Default)]
pub struct ConnRecord {
    /// The blobs written (or begun: a write may fail part way), in order.
    pub sent: Vec<Vec<u8>>,
    /// Every byte received.
    pub received: Vec<u8>,
    /// The broker closed the connection (end of stream or reset) before we did.
    pub closed_by_broker: bool,
    /// The TCP connect failed (refused, timed out).
    pub connect_failed: Option<String>,
    /// We closed or half-closed it during the case.
    pub closed_by_us: bool,
    /// The final PINGREQ: `Some(true)` answered or closed, `Some(false)`
    /// nothing within the hang bound, `None` not sent.
    pub barrier: Option<bool>,
}

/// What the broker did in a case.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// Per connection.
    pub conns: Vec<ConnRecord>,
    /// Answer latencies seen: a request written to the first packet after
    /// it (at sync points), the final PINGREQ to its PINGRESP.
    pub latencies: Vec<Duration>,
}

/// What a reader task keeps.
#[derive(Debug, Default)]
struct Inbox {
    /// What arrived, up to [`KEPT_BYTES`]; framing goes on counting past it.
    bytes: Vec<u8>,
    /// Bytes that arrived in all, kept or not: progress, for the barrier.
    arrived: usize,
    frames: usize,
    pingresps: usize,
    framing: Framing,
    closed: bool,
    /// Timing the answer to the last blob: the frame count when it was
    /// written, and when the first frame after it arrived.
    watch: Option<(usize, Option<Instant>)>,
}

/// The most bytes one connection keeps for the oracle.
const KEPT_BYTES: usize = 4 << 20;

/// Where the frame counter is in the broker's byte stream (fixed header
/// type and Remaining Length framing only, MQTT §2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Framing {
    /// At the first byte of a fixed header.
    #[default]
    Header,
    /// Reading the Remaining Length of a packet whose first byte is `first`.
    Length { first: u8, len: usize, used: u32 },
    /// Skipping the `left` bytes of a packet's body.
    Body { first: u8, left: usize },
    /// A Remaining Length longer than 4 bytes: the stream cannot be framed
    /// any further.
    Lost,
}

impl Inbox {
    /// Takes in bytes the broker sent: keeps them (up to [`KEPT_BYTES`])
    /// and counts the frames they complete, however the stream was split
    /// and however long it is (a PINGRESP after megabytes of retained
    /// messages still answers the barrier).
    fn take(&mut self, chunk: &[u8]) {
        self.arrived += chunk.len();
        let room = KEPT_BYTES.saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
        let mut at = 0;
        while at < chunk.len() {
            match self.framing {
                Framing::Lost => return,
                Framing::Header => {
                    self.framing = Framing::Length {
                        first: chunk[at],
                        len: 0,
                        used: 0,
                    };
                    at += 1;
                }
                Framing::Length { first, len, used } => {
                    let b = chunk[at];
                    at += 1;
                    let len = len | usize::from(b & 0x7F) << (7 * used);
                    let used = used + 1;
                    self.framing = if b & 0x80 == 0 {
                        self.body(first, len)
                    } else if used == 4 {
                        Framing::Lost
                    } else {
                        Framing::Length { first, len, used }
                    };
                }
                Framing::Body { first, left } => {
                    let step = left.min(chunk.len() - at);
                    at += step;
                    self.framing = self.body(first, left - step);
                }
            }
        }
    }

    /// The state after a Remaining Length or a part of a body: a frame
    /// is complete when nothing of its body is left.
    fn body(&mut self, first: u8, left: usize) -> Framing {
        if left > 0 {
            return Framing::Body { first, left };
        }
        self.frames += 1;
        if first == 0xD0 {
            self.pingresps += 1;
        }
        Framing::Header
    }
}

struct Live {
    writer: Option<OwnedWriteHalf>,
    inbox: Arc<Mutex<Inbox>>,
    notify: Arc<Notify>,
    frames_at_send: usize,
    /// When the last blob was written, until its answer is timed.
    sent_at: Option<Instant>,
    reader: tokio::task::JoinHandle<()>,
}

fn lock(m: &Mutex<Inbox>) -> std::sync::MutexGuard<'_, Inbox> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn open(addr: SocketAddr, bounds: &Bounds) -> Result<Live, String> {
    let stream = match timeout(bounds.connect, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("connect took over {:?}", bounds.connect)),
    };
    let _ = stream.set_nodelay(true);
    let (mut r, w) = stream.into_split();
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let notify = Arc::new(Notify::new());
    let (i2, n2) = (inbox.clone(), notify.clone());
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = r.read(&mut buf).await.unwrap_or(0);
            let mut inbox = lock(&i2);
            if n == 0 {
                inbox.closed = true;
                drop(inbox);
                n2.notify_waiters();
                return;
            }
            inbox.take(&buf[..n]);
            let frames = inbox.frames;
            if let Some((at, arrived @ None)) = &mut inbox.watch {
                if frames > *at {
                    *arrived = Some(Instant::now());
                }
            }
            drop(inbox);
            n2.notify_waiters();
        }
    });
    Ok(Live {
        writer: Some(w),
        inbox,
        notify,
        frames_at_send: 0,
        sent_at: None,
        reader,
    })
}

/// Writes `bytes` the way `transport` says; false when the write failed.
async fn write(w: &mut OwnedWriteHalf, bytes: &[u8], transport: Transport) -> bool {
    let pieces: Vec<&[u8]> = match transport {
        Transport::Whole => vec![bytes],
        Transport::Bytewise => {
            let cut = bytes.len().min(64);
            let mut v: Vec<&[u8]> = bytes[..cut].chunks(1).collect();
            if cut < bytes.len() {
                v.push(&bytes[cut..]);
            }
            v
        }
        Transport::Split(n) if !bytes.is_empty() => bytes
            .chunks(bytes.len().div_ceil(usize::from(n.max(1))))
            .collect(),
        Transport::Slow if !bytes.is_empty() => bytes.chunks(bytes.len().div_ceil(3)).collect(),
        _ => vec![bytes],
    };
    let slow = matches!(transport, Transport::Slow);
    for (k, p) in pieces.iter().enumerate() {
        if k > 0 && slow {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
        if w.write_all(p).await.is_err() {
            return false;
        }
    }
    true
}

/// Waits until `cond` holds on the inbox or `within` passes.
async fn wait_for(live: &Live, within: Duration, cond: impl Fn(&Inbox) -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let notified = live.notify.notified();
        if cond(&lock(&live.inbox)) {
            return true;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return cond(&lock(&live.inbox));
        }
    }
}

/// Like [`wait_for`], but a connection on which the broker is still
/// sending is not hung: each `within` that brings new bytes earns another,
/// up to `cap` in all (a SUBSCRIBE with a hundred `#` filters may rightly
/// be answered with megabytes of retained messages before the PINGRESP).
async fn wait_while_progressing(
    live: &Live,
    within: Duration,
    cap: Duration,
    cond: impl Fn(&Inbox) -> bool + Copy,
) -> bool {
    let end = Instant::now() + cap.max(within);
    loop {
        let seen = lock(&live.inbox).arrived;
        let left = end.saturating_duration_since(Instant::now());
        if wait_for(live, within.min(left), cond).await {
            return true;
        }
        if lock(&live.inbox).arrived == seen || Instant::now() >= end {
            return false;
        }
    }
}

/// How many hang bounds a barrier may wait while the broker keeps sending.
const PROGRESS_BOUNDS: u32 = 6;

/// Runs `case` against `addr`. `clean[conn]` says whether a connection
/// sent only valid packets (it gets the hang barrier; others only linger).
pub async fn run(case: &Case, addr: SocketAddr, bounds: &Bounds, clean: &[bool]) -> Transcript {
    let n = case.conns();
    let mut records = vec![ConnRecord::default(); n];
    let mut lives: Vec<Option<Live>> = (0..n).map(|_| None).collect();
    let mut failed = vec![false; n];
    let mut latencies = Vec::new();
    for e in &case.events {
        let c = e.conn;
        if failed[c] || records[c].closed_by_us && lives[c].is_none() {
            continue;
        }
        if lives[c].is_none() {
            match open(addr, bounds).await {
                Ok(l) => lives[c] = Some(l),
                Err(err) => {
                    records[c].connect_failed = Some(err);
                    failed[c] = true;
                    continue;
                }
            }
        }
        let live = lives[c].as_mut().expect("opened above");
        match &e.action {
            Action::Send(bytes) => {
                let Some(w) = live.writer.as_mut() else {
                    continue;
                };
                {
                    let mut inbox = lock(&live.inbox);
                    live.frames_at_send = inbox.frames;
                    inbox.watch = None;
                }
                // Kept even when the write fails part way: the broker may
                // have read (and answered) the beginning.
                records[c].sent.push(bytes.clone());
                if write(w, bytes, case.transport(c)).await {
                    let now = Instant::now();
                    live.sent_at = Some(now);
                    let mut inbox = lock(&live.inbox);
                    // An answer already in (to the beginning of a split
                    // write) is not timed.
                    if inbox.frames == live.frames_at_send {
                        inbox.watch = Some((live.frames_at_send, None));
                    }
                } else {
                    live.writer = None;
                }
            }
            Action::Sync => {
                let before = live.frames_at_send;
                wait_for(live, bounds.sync, |i| i.frames > before || i.closed).await;
                if let Some(at) = live.sent_at.take() {
                    if let Some((_, Some(arrived))) = lock(&live.inbox).watch.take() {
                        latencies.push(arrived.saturating_duration_since(at));
                    }
                }
            }
            Action::HalfClose => {
                if let Some(mut w) = live.writer.take() {
                    let _ = w.shutdown().await;
                }
                records[c].closed_by_us = true;
            }
            Action::Drop => {
                let live = lives[c].take().expect("opened above");
                finish(&mut records[c], live, true).await;
                records[c].closed_by_us = true;
            }
        }
    }
    // The barrier, on every connection at once.
    let mut waits = tokio::task::JoinSet::new();
    for (c, live) in lives.into_iter().enumerate() {
        let Some(mut live) = live else { continue };
        let probe = clean.get(c).copied().unwrap_or(false)
            && live.writer.is_some()
            && !lock(&live.inbox).closed;
        let bounds = *bounds;
        waits.spawn(async move {
            let mut barrier = None;
            let mut latency = None;
            if probe {
                let before = lock(&live.inbox).pingresps;
                let w = live.writer.as_mut().expect("checked");
                if w.write_all(&[0xC0, 0x00]).await.is_ok() {
                    let t0 = Instant::now();
                    barrier = Some(
                        wait_while_progressing(
                            &live,
                            bounds.hang,
                            bounds.hang * PROGRESS_BOUNDS,
                            |i| i.pingresps > before || i.closed,
                        )
                        .await,
                    );
                    if lock(&live.inbox).pingresps > before {
                        latency = Some(t0.elapsed());
                    }
                }
            } else {
                wait_for(&live, bounds.linger, |i| i.closed).await;
            }
            (c, live, barrier, latency)
        });
    }
    while let Some(done) = waits.join_next().await {
        let Ok((c, live, barrier, latency)) = done else {
            continue;
        };
        latencies.extend(latency);
        records[c].barrier = barrier;
        finish(&mut records[c], live, false).await;
    }
    Transcript {
        conns: records,
        latencies,
    }
}

/// Closes our side and keeps what arrived.
async fn finish(record: &mut ConnRecord, live: Live, dropped: bool) {
    let Live {
        writer,
        inbox,
        reader,
        ..
    } = live;
    drop(writer);
    reader.abort();
    let _ = reader.await;
    let inbox = lock(&inbox);
    record.received.extend_from_slice(&inbox.bytes);
    record.closed_by_broker |= inbox.closed && (!dropped || !record.closed_by_us);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_counted_by_their_fixed_header() {
        let mut i = Inbox::default();
        i.take(&[0x20, 0x02, 0, 0, 0xD0, 0x00, 0x30, 0x05, 1]);
        assert_eq!((i.frames, i.pingresps), (2, 1));
    }

    #[test]
    fn framing_does_not_depend_on_how_the_stream_is_split() {
        // CONNACK, a PUBLISH with a two-byte Remaining Length, PINGRESP.
        let mut stream = vec![0x20, 0x02, 0, 0, 0x30, 0x80, 0x01];
        stream.extend(std::iter::repeat_n(7u8, 128));
        stream.extend([0xD0, 0x00]);
        for cut in 0..=stream.len() {
            let mut i = Inbox::default();
            i.take(&stream[..cut]);
            i.take(&stream[cut..]);
            assert_eq!((i.frames, i.pingresps), (3, 1), "cut at {cut}");
        }
        let mut i = Inbox::default();
        for b in &stream {
            i.take(std::slice::from_ref(b));
        }
        assert_eq!((i.frames, i.pingresps, i.arrived), (3, 1, stream.len()));
    }

    #[test]
    fn a_pingresp_after_more_than_the_kept_bytes_is_still_counted() {
        // Retained messages past what a connection keeps, then the PINGRESP:
        // the barrier must see it (it once timed out as a false hang).
        let mut i = Inbox::default();
        let publish = {
            let mut p = vec![0x31, 0xFF, 0x7F]; // Remaining Length 16,383
            p.extend(std::iter::repeat_n(0u8, 16_383));
            p
        };
        let n = KEPT_BYTES / publish.len() + 2;
        for _ in 0..n {
            i.take(&publish);
        }
        i.take(&[0xD0, 0x00]);
        assert_eq!(i.bytes.len(), KEPT_BYTES);
        assert_eq!((i.frames, i.pingresps), (n + 1, 1));
    }

    #[test]
    fn a_remaining_length_over_four_bytes_stops_the_framing() {
        let mut i = Inbox::default();
        i.take(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0xD0, 0x00]);
        assert_eq!(i.framing, Framing::Lost);
        assert_eq!((i.frames, i.pingresps), (0, 0));
    }
}
