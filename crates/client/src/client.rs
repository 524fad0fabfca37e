//! [`TestClient`]: one connection to a broker, driven by a test.
//!
//! Opening connects the network only; the test then sends any packet (or
//! raw bytes) and expects what comes back, every wait bounded by a timeout.
//! A reader task decodes from the moment the connection opens and queues
//! every packet in an inbox, so a packet that arrives before the test asks
//! for it is never lost.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::{ConnAck, Connect, Disconnect, Packet, ProtocolVersion, ReasonCode};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::close::{CloseKind, CloseReport};
use crate::describe;
use crate::endpoint::Endpoint;
use crate::error::ClientError;
use crate::ids::PacketIds;
use crate::inbox::State;
use crate::matcher::Matcher;
use crate::options::ConnectOptions;
use crate::shared::Shared;
use crate::trace::{Trace, TraceEvent};
use crate::writer::Command;
use crate::{reader, transport, writer};

/// An MQTT connection under a test's control.
///
/// * **Sending**: [`send`](Self::send) encodes any packet in the client's
///   version (set by the CONNECT it sends, or [`set_version`](Self::set_version));
///   [`send_raw`](Self::send_raw) writes any bytes, invalid ones included.
/// * **Expecting**: every received packet is queued in an inbox, in
///   arrival order, until an expect consumes it.
///   [`expect`](Self::expect) takes the oldest queued packet that matches
///   and leaves the others in place (for later expects);
///   [`expect_next`](Self::expect_next) insists that the oldest queued
///   packet matches; [`expect_nothing`](Self::expect_nothing) and
///   [`expect_closed`](Self::expect_closed) check for silence and for the
///   end of the connection. A malformed packet from the broker ends
///   decoding and turns every later expect into
///   [`ClientError::MalformedFromBroker`] (after the packets queued before
///   it).
/// * **Answering by itself**, both off by default: auto-acknowledge
///   ([`set_auto_ack`](Self::set_auto_ack)) and keep-alive pings
///   ([`set_keep_alive`](Self::set_keep_alive)). A PUBREL it completes and
///   the PINGRESP to its own PINGREQ are traced but not queued.
/// * **Recording**: [`trace`](Self::trace) returns everything sent and
///   received with its time since the connection opened.
///
/// Dropping the client aborts its tasks and closes the connection without
/// DISCONNECT.
#[derive(Debug)]
pub struct TestClient {
    endpoint: Endpoint,
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Command>,
    reader_task: Option<JoinHandle<()>>,
    writer_task: Option<JoinHandle<()>>,
    ids: PacketIds,
}

impl TestClient {
    /// Opens the network connection (TCP, then TLS and/or the WebSocket
    /// handshake) within `options.connect_timeout`, and starts reading.
    /// Sends nothing: the test sends CONNECT itself.
    pub async fn open(
        endpoint: &Endpoint,
        options: &ConnectOptions,
    ) -> Result<TestClient, ClientError> {
        let (r, w) = transport::open(endpoint, options).await?;
        let shared = Arc::new(Shared::new(Instant::now(), options.version));
        let (tx, rx) = mpsc::unbounded_channel();
        let writer_task = tokio::spawn(writer::run(w, rx, shared.clone(), options.write_timeout));
        let reader_task = tokio::spawn(reader::run(r, shared.clone(), tx.clone()));
        tracing::debug!("opened {endpoint}");
        Ok(TestClient {
            endpoint: endpoint.clone(),
            shared,
            writer: tx,
            reader_task: Some(reader_task),
            writer_task: Some(writer_task),
            ids: PacketIds::new(),
        })
    }

    /// Parses `address` (see [`Endpoint::parse`]) and opens it.
    pub async fn open_str(
        address: &str,
        options: &ConnectOptions,
    ) -> Result<TestClient, ClientError> {
        let endpoint = Endpoint::parse(address)?;
        TestClient::open(&endpoint, options).await
    }

    /// The endpoint this client is connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The version packets are encoded and decoded in.
    pub fn version(&self) -> ProtocolVersion {
        self.shared.version()
    }

    /// Sets the version explicitly (e.g. after sending a CONNECT as raw
    /// bytes). Sending a CONNECT packet sets it by itself.
    pub fn set_version(&self, version: ProtocolVersion) {
        self.shared.set_version(version);
    }

    /// Time since the connection was opened (the clock of the trace).
    pub fn elapsed(&self) -> Duration {
        self.shared.recorder.elapsed()
    }

    /// Encodes `packet` in the client's version and writes it; returns once
    /// written. A CONNECT first sets the client's version to its own.
    pub async fn send(&mut self, packet: &Packet) -> Result<(), ClientError> {
        let version = match packet {
            Packet::Connect(c) => c.protocol_version,
            _ => self.shared.version(),
        };
        let bytes = packet.to_bytes(version)?;
        if let Packet::Connect(c) = packet {
            // Before the write, so that the answer is decoded in it.
            self.shared.set_version(c.protocol_version);
        }
        let event = TraceEvent::Sent {
            packet: packet.clone(),
            auto: false,
        };
        self.write(bytes, event, || describe::describe(packet))
            .await
    }

    /// Writes `bytes` as they are (deliberately invalid packets included).
    pub async fn send_raw(&mut self, bytes: impl Into<Bytes>) -> Result<(), ClientError> {
        let bytes = bytes.into();
        let event = TraceEvent::SentRaw(bytes.clone());
        self.write(bytes.clone(), event, || {
            format!("raw bytes {}", describe::preview(&bytes))
        })
        .await
    }

    async fn write(
        &mut self,
        bytes: Bytes,
        event: TraceEvent,
        what: impl Fn() -> String,
    ) -> Result<(), ClientError> {
        if let Some(close) = self.close_report() {
            if close.kind == CloseKind::Dropped {
                return Err(ClientError::NotOpen {
                    what: what(),
                    close: Box::new(close),
                });
            }
        }
        let (done, result) = oneshot::channel();
        let sent = self.writer.send(Command::Send {
            bytes,
            event: Box::new(event),
            done: Some(done),
        });
        let outcome = match sent {
            Ok(()) => result.await.ok(),
            Err(_) => None,
        };
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(source)) => Err(ClientError::Io {
                what: format!("sending {}", what()),
                source,
            }),
            None => match self.close_report() {
                Some(close) => Err(ClientError::NotOpen {
                    what: what(),
                    close: Box::new(close),
                }),
                None => Err(ClientError::Io {
                    what: format!("sending {}", what()),
                    source: io::Error::new(
                        io::ErrorKind::NotConnected,
                        "this client has already disconnected",
                    ),
                }),
            },
        }
    }

    /// The oldest queued packet that `matcher` accepts, waiting up to
    /// `timeout` for it. Packets that do not match stay queued, in order,
    /// for later expects. Packets queued before a malformed packet or the
    /// close are still found; after them, the error says what ended the
    /// stream.
    pub async fn expect(
        &mut self,
        matcher: &Matcher,
        timeout: Duration,
    ) -> Result<Packet, ClientError> {
        let deadline = Instant::now() + timeout;
        let what = matcher.description();
        let found = self
            .shared
            .inbox
            .wait_for(deadline, |s| {
                if let Some(i) = s.packets.iter().position(|a| matcher.matches(&a.packet)) {
                    return s.packets.remove(i).map(|a| Ok(a.packet));
                }
                ended(s, what).map(Err)
            })
            .await;
        found.unwrap_or_else(|| Err(self.timeout(what, timeout)))
    }

    /// The oldest queued packet, which must match `matcher`; waits up to
    /// `timeout` for one to arrive. A packet that does not match is an
    /// [`ClientError::Unexpected`] and stays queued.
    pub async fn expect_next(
        &mut self,
        matcher: &Matcher,
        timeout: Duration,
    ) -> Result<Packet, ClientError> {
        let deadline = Instant::now() + timeout;
        let what = format!("{} as the next packet", matcher.description());
        let found = self
            .shared
            .inbox
            .wait_for(deadline, |s| match s.packets.front() {
                Some(a) if matcher.matches(&a.packet) => {
                    s.packets.pop_front().map(|a| Ok(a.packet))
                }
                Some(a) => Some(Err(ClientError::Unexpected {
                    what: what.clone(),
                    got: Box::new(a.packet.clone()),
                    at: a.at,
                })),
                None => ended(s, &what).map(Err),
            })
            .await;
        found.unwrap_or_else(|| Err(self.timeout(&what, timeout)))
    }

    /// Succeeds when, for `within`, no packet matching `filter` (any packet
    /// when `None`) is queued; packets already queued and not consumed
    /// count. A matching packet is an [`ClientError::Unexpected`] (and stays
    /// queued); a malformed packet or the connection closing is an error
    /// too, since then silence proves nothing.
    pub async fn expect_nothing(
        &mut self,
        filter: Option<&Matcher>,
        within: Duration,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + within;
        let what = match filter {
            Some(m) => format!(
                "no {} within {}",
                m.description(),
                describe::duration(within)
            ),
            None => format!("no packet within {}", describe::duration(within)),
        };
        let found = self
            .shared
            .inbox
            .wait_for(deadline, |s| {
                let hit = s
                    .packets
                    .iter()
                    .find(|a| filter.is_none_or(|m| m.matches(&a.packet)));
                if let Some(a) = hit {
                    return Some(ClientError::Unexpected {
                        what: what.clone(),
                        got: Box::new(a.packet.clone()),
                        at: a.at,
                    });
                }
                ended(s, &what)
            })
            .await;
        match found {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Waits up to `timeout` for the connection to end and reports how:
    /// EOF, reset or a transport error, and the DISCONNECT (with its reason
    /// code) the broker sent before, if any, which is taken off the inbox.
    /// Other queued packets stay. A malformed packet from the broker before
    /// the close is [`ClientError::MalformedFromBroker`]. After
    /// [`drop_connection`](Self::drop_connection) the report says
    /// [`CloseKind::Dropped`].
    pub async fn expect_closed(&mut self, timeout: Duration) -> Result<CloseReport, ClientError> {
        let deadline = Instant::now() + timeout;
        let what = "the server to close the connection";
        let found = self
            .shared
            .inbox
            .wait_for(deadline, |s| {
                if let Some((at, violation)) = &s.malformed {
                    return Some(Err(ClientError::MalformedFromBroker {
                        what: what.to_owned(),
                        violation: Box::new(violation.clone()),
                        at: *at,
                    }));
                }
                let (at, kind) = s.closed.clone()?;
                let disconnect = s
                    .packets
                    .iter()
                    .rposition(|a| matches!(a.packet, Packet::Disconnect(_)))
                    .and_then(|i| s.packets.remove(i))
                    .and_then(|a| match a.packet {
                        Packet::Disconnect(d) => Some(d),
                        _ => None,
                    });
                Some(Ok(CloseReport {
                    at,
                    kind,
                    disconnect,
                }))
            })
            .await;
        found.unwrap_or_else(|| Err(self.timeout(what, timeout)))
    }

    /// Sends CONNECT and waits up to `timeout` for the CONNACK, which is
    /// returned whatever its reason code.
    pub async fn handshake(
        &mut self,
        connect: Connect,
        timeout: Duration,
    ) -> Result<ConnAck, ClientError> {
        self.send(&Packet::Connect(Box::new(connect))).await?;
        match self.expect(&Matcher::connack(), timeout).await? {
            Packet::ConnAck(c) => Ok(c),
            other => unreachable!("the matcher accepts only CONNACK, got {other:?}"),
        }
    }

    /// Closes the connection abruptly: no DISCONNECT, no TLS close_notify,
    /// no WebSocket Close frame, so the broker sees the network connection
    /// lost and publishes the Will. Returns once the socket is closed.
    /// Packets already queued stay available to expects.
    pub async fn drop_connection(&mut self) {
        if let Some(task) = self.writer_task.take() {
            task.abort();
            let _ = task.await;
        }
        if let Some(task) = self.reader_task.take() {
            task.abort();
            let _ = task.await;
        }
        if self.shared.inbox.with(|s| s.closed.is_none()) {
            let at = self
                .shared
                .recorder
                .record(TraceEvent::Closed(CloseKind::Dropped));
            self.shared.inbox.set_closed(at, CloseKind::Dropped);
        }
    }

    /// Sends DISCONNECT with `reason` (3.1.1 allows only
    /// [`ReasonCode::SUCCESS`]) and closes the sending direction in order.
    /// The reader goes on, so [`expect_closed`](Self::expect_closed) can
    /// watch the broker close its side.
    pub async fn disconnect(&mut self, reason: ReasonCode) -> Result<(), ClientError> {
        self.disconnect_with(Disconnect::new(reason)).await
    }

    /// [`disconnect`](Self::disconnect) with a DISCONNECT of the caller's
    /// making (5.0 properties such as Session Expiry Interval).
    pub async fn disconnect_with(&mut self, packet: Disconnect) -> Result<(), ClientError> {
        self.send(&Packet::Disconnect(packet)).await?;
        let (done, finished) = oneshot::channel();
        if self.writer.send(Command::Shutdown { done }).is_ok() {
            let _ = finished.await;
        }
        Ok(())
    }

    /// Turns auto-acknowledge on or off (off by default): PUBACK for a QoS 1
    /// PUBLISH, PUBREC for a QoS 2 PUBLISH, PUBCOMP for a PUBREL. The
    /// PUBLISH is still queued for expects; the PUBREL is not.
    pub fn set_auto_ack(&self, on: bool) {
        self.shared.auto_ack.store(on, Ordering::Release);
    }

    /// Sends a PINGREQ every `interval` (`None`, the default: never). The
    /// PINGRESPs to these pings are traced but not queued.
    pub fn set_keep_alive(&self, interval: Option<Duration>) {
        let _ = self.writer.send(Command::KeepAlive(interval));
    }

    /// A copy of the trace so far.
    pub fn trace(&self) -> Trace {
        self.shared.recorder.snapshot()
    }

    /// The queued packets no expect has consumed, oldest first.
    pub fn pending(&self) -> Vec<Packet> {
        self.shared.inbox.with(|s| s.unmatched())
    }

    /// How the connection ended, if it has (without waiting, and without
    /// taking anything off the inbox).
    pub fn close_report(&self) -> Option<CloseReport> {
        self.shared.inbox.with(|s| close_report(s))
    }

    /// The client's Packet Identifier allocator.
    pub fn packet_ids(&mut self) -> &mut PacketIds {
        &mut self.ids
    }

    /// An unused non-zero Packet Identifier, now in use until
    /// [`PacketIds::release`].
    ///
    /// # Panics
    ///
    /// When all 65,535 identifiers are in use.
    pub fn next_packet_id(&mut self) -> u16 {
        self.ids
            .allocate()
            .expect("all 65,535 packet identifiers are in use; release some")
    }

    fn timeout(&self, what: &str, waited: Duration) -> ClientError {
        ClientError::Timeout {
            what: what.to_owned(),
            waited,
            unmatched: self.pending(),
        }
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        for task in [self.reader_task.take(), self.writer_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

/// The close as seen now, with the last queued DISCONNECT.
fn close_report(s: &State) -> Option<CloseReport> {
    let (at, kind) = s.closed.clone()?;
    let disconnect = s.packets.iter().rev().find_map(|a| match &a.packet {
        Packet::Disconnect(d) => Some(d.clone()),
        _ => None,
    });
    Some(CloseReport {
        at,
        kind,
        disconnect,
    })
}

/// The error for an expect that found nothing because the stream ended: a
/// malformed packet first, else the close; `None` while the stream is open.
fn ended(s: &State, what: &str) -> Option<ClientError> {
    if let Some((at, violation)) = &s.malformed {
        return Some(ClientError::MalformedFromBroker {
            what: what.to_owned(),
            violation: Box::new(violation.clone()),
            at: *at,
        });
    }
    close_report(s).map(|close| ClientError::Closed {
        what: what.to_owned(),
        close: Box::new(close),
        unmatched: s.unmatched(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's futures can run on a multi-threaded runtime's tasks
    /// (checked at compile time).
    #[allow(dead_code)]
    fn futures_are_send(c: &mut TestClient, m: &Matcher) {
        fn is_send<T: Send>(_: T) {}
        is_send(c.expect(m, Duration::ZERO));
        is_send(c.expect_next(m, Duration::ZERO));
        is_send(c.expect_nothing(Some(m), Duration::ZERO));
        is_send(c.expect_closed(Duration::ZERO));
        is_send(c.send(&Packet::PingReq));
        is_send(c.send_raw(Bytes::new()));
        is_send(c.disconnect(ReasonCode::SUCCESS));
        is_send(c.drop_connection());
        is_send(TestClient::open_str("tcp://h", &ConnectOptions::default()));
    }

    #[test]
    fn the_client_is_send_and_sync() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<TestClient>();
    }
}
