//! One lean MQTT connection on tokio over the mqtt-codec encoder and
//! decoder: connect (optionally from a chosen loopback source address),
//! queue packets into a write buffer, and wait for whichever comes first of
//! readable bytes, a writable socket or a timer. No per-packet tasks, no
//! channels: one task per client keeps 10,000 clients cheap.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{Connect, Decoder, MqttString, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Waits between reconnection attempts: from [`Backoff::FIRST`], doubled
/// after every failure up to [`Backoff::MAX`], back to the first after a
/// success; a seeded jitter of up to a quarter keeps clients that lost the
/// broker together from returning in one burst.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    rng: u64,
}

impl Backoff {
    /// The first wait.
    pub const FIRST: Duration = Duration::from_millis(100);
    /// The longest wait.
    pub const MAX: Duration = Duration::from_secs(2);

    /// A backoff whose jitter follows `seed`.
    pub fn new(seed: u64) -> Backoff {
        Backoff {
            next: Backoff::FIRST,
            rng: seed | 1,
        }
    }

    /// The wait before the next attempt; the one after is longer.
    pub fn next_wait(&mut self) -> Duration {
        // xorshift64: enough for a jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let base = self.next;
        self.next = (self.next * 2).min(Backoff::MAX);
        base + base.mul_f64((self.rng % 1000) as f64 / 4000.0)
    }

    /// After a success.
    pub fn reset(&mut self) {
        self.next = Backoff::FIRST;
    }
}

/// How long a TCP connect plus CONNACK may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_CHUNK: usize = 64 * 1024;

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    /// The broker.
    pub addr: SocketAddr,
    /// Bind to this local address first (spreads ephemeral ports over
    /// 127.0.0.x).
    pub source: Option<IpAddr>,
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Client identifier.
    pub client_id: String,
    /// Clean session / Clean Start.
    pub clean: bool,
    /// Keep Alive seconds.
    pub keep_alive: u16,
    /// Session Expiry Interval (5.0).
    pub session_expiry: Option<u32>,
}

/// What happened while waiting.
#[derive(Debug, PartialEq, Eq)]
pub enum Woke {
    /// Bytes arrived: call [`Link::next_packet`] until `None`.
    Read,
    /// Some of the write buffer went out.
    Wrote,
    /// The timer fired.
    Timer,
    /// Another future of the caller's won (see [`Link::wait_or`]).
    Other,
}

/// A connected client.
#[derive(Debug)]
pub struct Link {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
    decoder: Decoder,
    version: ProtocolVersion,
    /// The server's Receive Maximum (5.0), 65,535 when absent.
    pub receive_max: u16,
    /// CONNACK's Session Present.
    pub session_present: bool,
    last_write: Instant,
    /// When bytes last came from the broker.
    last_read: Instant,
    /// The PINGREQ not answered yet, when it was queued.
    ping_sent: Option<Instant>,
    /// The Keep Alive in force, if any.
    keep_alive: Option<Duration>,
}

impl Link {
    /// Connects and completes CONNECT/CONNACK.
    pub async fn open(spec: &ConnectSpec) -> Result<Link, String> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Link::open_inner(spec)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no CONNACK within {CONNECT_TIMEOUT:?}")),
        }
    }

    async fn open_inner(spec: &ConnectSpec) -> Result<Link, String> {
        let socket = if spec.addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| format!("socket: {e}"))?;
        if let Some(src) = spec.source {
            socket
                .bind(SocketAddr::new(src, 0))
                .map_err(|e| format!("bind {src}: {e}"))?;
        }
        let stream = socket
            .connect(spec.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", spec.addr))?;
        let _ = stream.set_nodelay(true);
        let client_id =
            MqttString::new(spec.client_id.clone()).map_err(|e| format!("client id: {e:?}"))?;
        let mut connect = Connect::new(spec.version, client_id);
        connect.clean_start = spec.clean;
        connect.keep_alive = spec.keep_alive;
        if spec.version == ProtocolVersion::V5 {
            connect.properties.session_expiry_interval =
                spec.session_expiry.filter(|_| !spec.clean);
        }
        let mut link = Link {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(4096),
            decoder: Decoder::new(spec.version),
            version: spec.version,
            receive_max: u16::MAX,
            session_present: false,
            last_write: Instant::now(),
            last_read: Instant::now(),
            ping_sent: None,
            keep_alive: (spec.keep_alive > 0)
                .then(|| Duration::from_secs(u64::from(spec.keep_alive))),
        };
        link.queue(&Packet::Connect(Box::new(connect)))?;
        link.flush().await?;
        loop {
            if let Some(p) = link.next_packet()? {
                return match p {
                    Packet::ConnAck(ack) if ack.reason_code == mqtt_codec::ReasonCode::SUCCESS => {
                        link.session_present = ack.session_present;
                        if let Some(rm) = ack.properties.receive_maximum {
                            link.receive_max = rm.max(1);
                        }
                        Ok(link)
                    }
                    Packet::ConnAck(ack) => Err(format!("CONNACK refused: {:?}", ack.reason_code)),
                    other => Err(format!("{} before CONNACK", other.packet_type())),
                };
            }
            link.read_some().await?;
        }
    }

    async fn read_some(&mut self) -> Result<(), String> {
        self.rbuf.reserve(READ_CHUNK);
        match self.stream.read_buf(&mut self.rbuf).await {
            Ok(0) => Err("connection closed by the broker".into()),
            Ok(_) => {
                self.last_read = Instant::now();
                Ok(())
            }
            Err(e) => Err(format!("read: {e}")),
        }
    }

    /// Appends a packet to the write buffer.
    pub fn queue(&mut self, p: &Packet) -> Result<(), String> {
        p.encode(self.version, &mut self.wbuf)
            .map_err(|e| format!("encode {}: {e}", p.packet_type()))
    }

    /// Bytes waiting to be written.
    pub fn pending_write(&self) -> usize {
        self.wbuf.len()
    }

    /// The next complete packet already read, if any.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, String> {
        let p = self
            .decoder
            .decode(&mut self.rbuf)
            .map_err(|e| format!("decode: {e}"))?;
        if matches!(p, Some(Packet::PingResp)) {
            self.ping_sent = None;
        }
        Ok(p)
    }

    /// When [`Link::keep_alive`] has something to do next, if Keep Alive
    /// is on.
    pub fn keep_alive_at(&self) -> Option<Instant> {
        let ka = self.keep_alive?;
        Some(match self.ping_sent {
            Some(t) => t + ka,
            None => self.last_write.min(self.last_read) + ka / 2,
        })
    }

    /// Keeps the link alive and finds it dead: a PINGREQ when nothing was
    /// written for half the Keep Alive (MQTT-3.1.2-23 / MQTT-3.1.2-20
    /// bound the client to send within it) or nothing read for as long
    /// (so that a link that only sends still hears from the broker); and
    /// an error when a PINGREQ was not answered within the Keep Alive:
    /// the client closes the connection, as 3.1.2.10 says it should, and
    /// reconnects. A stalled or partitioned link is found this way.
    pub fn keep_alive(&mut self, now: Instant) -> Result<(), String> {
        let Some(ka) = self.keep_alive else {
            return Ok(());
        };
        match self.ping_sent {
            Some(t) if now >= t + ka => Err(format!(
                "no PINGRESP within the Keep Alive ({}s): link presumed dead",
                ka.as_secs()
            )),
            Some(_) => Ok(()),
            None if now >= self.last_write.min(self.last_read) + ka / 2 => {
                self.queue(&Packet::PingReq)?;
                self.ping_sent = Some(now);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Writes the whole buffer.
    pub async fn flush(&mut self) -> Result<(), String> {
        if !self.wbuf.is_empty() {
            self.stream
                .write_all_buf(&mut self.wbuf)
                .await
                .map_err(|e| format!("write: {e}"))?;
            self.last_write = Instant::now();
        }
        Ok(())
    }

    /// When the last write went out.
    pub fn last_write(&self) -> Instant {
        self.last_write
    }

    /// Waits for readable bytes, a writable socket (while the buffer is not
    /// empty) or `until`, whichever is first.
    pub async fn wait(&mut self, until: Instant) -> Result<Woke, String> {
        self.wait_or(until, std::future::pending::<()>()).await
    }

    /// Like [`Link::wait`], also returning [`Woke::Other`] when `other`
    /// completes first.
    pub async fn wait_or(
        &mut self,
        until: Instant,
        other: impl std::future::Future<Output = ()>,
    ) -> Result<Woke, String> {
        self.rbuf.reserve(READ_CHUNK);
        let (mut r, mut w) = self.stream.split();
        let writing = !self.wbuf.is_empty();
        tokio::select! {
            biased;
            n = r.read_buf(&mut self.rbuf) => match n {
                Ok(0) => Err("connection closed by the broker".into()),
                Ok(_) => {
                    self.last_read = Instant::now();
                    Ok(Woke::Read)
                }
                Err(e) => Err(format!("read: {e}")),
            },
            n = w.write_buf(&mut self.wbuf), if writing => match n {
                Ok(_) => {
                    self.last_write = Instant::now();
                    Ok(Woke::Wrote)
                }
                Err(e) => Err(format!("write: {e}")),
            },
            () = tokio::time::sleep_until(until.into()) => Ok(Woke::Timer),
            () = other => Ok(Woke::Other),
        }
    }

    /// Sends DISCONNECT (best effort, bounded) and closes.
    ///
    /// With Clean Start 0 and a Session Expiry, the DISCONNECT keeps the
    /// session (its expiry is the CONNECT's).
    pub async fn close(mut self) {
        let _ = self.queue(&Packet::Disconnect(mqtt_codec::Disconnect::default()));
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}
