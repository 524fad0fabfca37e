//! The fault-injecting proxy: a loopback TCP listener that relays each
//! client connection to an upstream broker, decoding both directions with
//! the strict codec and letting the active [`Fault`] change what passes.
//!
//! Client to server is decoded with [`Decoder::server`], which learns the
//! version from CONNECT; server to client with a decoder set to that
//! version. A packet the fault leaves alone is forwarded as the bytes that
//! arrived. Bytes the strict decoder refuses are forwarded as they are and
//! the direction turns into a plain byte pipe, so that the broker judges
//! them, unless the fault is [`Fault::MalformedSwallowed`], which drops them.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use mqtt_client::Endpoint;
use mqtt_codec::{Decoder, Packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::faults::{Fault, Out, Session, Shared};

/// A frame still incomplete beyond this size turns its direction into a
/// byte pipe, so that the broker sees (and may refuse) an oversized header
/// at once, as it would without the proxy.
const CUT_THROUGH: usize = 1 << 20;

/// How long the proxy waits for one side to close after the other has.
const LINGER: Duration = Duration::from_secs(2);

/// A running proxy; dropping it stops it and every connection it relays.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: Option<Fault>,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Listens on a free loopback port and relays every connection to
    /// `upstream`, injecting `fault` (none: a transparent relay).
    pub async fn start(upstream: SocketAddr, fault: Option<Fault>) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(accept_loop(listener, upstream, fault, shared.clone()));
        Ok(FaultProxy {
            addr,
            fault,
            shared,
            task: Some(task),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// [`Self::addr`] as an endpoint for the runner.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&format!("tcp://{}", self.addr)).expect("a loopback address parses")
    }

    /// The fault it injects.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// How many times the fault changed what a side saw.
    pub fn triggered(&self) -> u64 {
        self.shared.triggered.load(Ordering::Relaxed)
    }

    /// Client connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops listening and closes every relayed connection.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    fault: Option<Fault>,
    shared: Arc<Shared>,
) {
    // Dropped with this task when the proxy stops: aborts every relay.
    let mut relays = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let conn = shared.connections.fetch_add(1, Ordering::Relaxed);
                    relays.spawn(relay(stream, upstream, fault, shared.clone(), conn));
                }
                Err(e) => {
                    tracing::debug!("selftest proxy: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = relays.join_next(), if !relays.is_empty() => {}
        }
    }
}

/// What the framer found at the front of a buffer.
enum Item {
    /// A packet the strict decoder accepted, with its bytes.
    Packet(Box<Packet>, Bytes),
    /// Bytes to pass on as they are (after an error, or before the version
    /// is known).
    Raw(Bytes),
    /// Bytes the strict decoder refused; `rest` more bytes of the same
    /// packet are still to come (0 when unknown).
    Malformed { bytes: Bytes, rest: usize },
}

/// Splits one direction of a connection into packets.
struct Framer {
    /// `None`: a byte pipe.
    decoder: Option<Decoder>,
    /// Bytes still to drop (of a swallowed malformed packet).
    discard: usize,
}

/// The size of the frame at the front of `buf`, by its fixed header.
enum Frame {
    /// The whole frame is there, this long.
    Complete(usize),
    /// It will be this long, and is not all there yet.
    Incomplete(usize),
    /// The Remaining Length is not all there yet.
    Header,
    /// The Remaining Length runs past four bytes.
    BadLength,
}

fn frame(buf: &[u8]) -> Frame {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Frame::Header;
        };
        len += usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return if buf.len() >= total {
                Frame::Complete(total)
            } else {
                Frame::Incomplete(total)
            };
        }
    }
    Frame::BadLength
}

impl Framer {
    fn new(decoder: Option<Decoder>) -> Self {
        Framer {
            decoder,
            discard: 0,
        }
    }

    /// Turns the direction into a byte pipe.
    fn pipe(&mut self) {
        self.decoder = None;
    }

    /// Drops the next `n` bytes.
    fn skip(&mut self, n: usize) {
        self.discard += n;
    }

    /// The next item at the front of `buf`, if any is complete.
    fn next(&mut self, buf: &mut BytesMut) -> Option<Item> {
        if self.discard > 0 {
            let n = self.discard.min(buf.len());
            buf.advance(n);
            self.discard -= n;
        }
        if buf.is_empty() {
            return None;
        }
        let Some(decoder) = &mut self.decoder else {
            return Some(Item::Raw(buf.split().freeze()));
        };
        match frame(buf) {
            Frame::Complete(total) => {
                let bytes = buf.split_to(total).freeze();
                let mut copy = BytesMut::from(&bytes[..]);
                match decoder.decode(&mut copy) {
                    Ok(Some(p)) if copy.is_empty() => Some(Item::Packet(Box::new(p), bytes)),
                    _ => Some(Item::Malformed { bytes, rest: 0 }),
                }
            }
            Frame::Incomplete(total) => match decoder.decode(buf) {
                // The header alone can be refused (type, flags, size).
                Err(_) => {
                    let bytes = buf.split().freeze();
                    Some(Item::Malformed {
                        rest: total - bytes.len(),
                        bytes,
                    })
                }
                _ if total > CUT_THROUGH => {
                    self.pipe();
                    Some(Item::Raw(buf.split().freeze()))
                }
                _ => None,
            },
            Frame::Header => match decoder.decode(buf) {
                Err(_) => Some(Item::Malformed {
                    bytes: buf.split().freeze(),
                    rest: 0,
                }),
                _ => None,
            },
            Frame::BadLength => Some(Item::Malformed {
                bytes: buf.split().freeze(),
                rest: 0,
            }),
        }
    }
}

/// Which side ended the relay.
enum End {
    Client,
    Server,
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Option<Fault>,
    shared: Arc<Shared>,
    conn: u64,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let (leak_tx, mut leaks) = tokio::sync::mpsc::unbounded_channel();
    let mut session = Session::new(fault, &shared, Instant::now()).with_leaks(conn, leak_tx);
    let mut up = Framer::new(Some(Decoder::server()));
    let mut down = Framer::new(None);
    let mut down_ready = false;
    let mut cbuf = BytesMut::with_capacity(8192);
    let mut sbuf = BytesMut::with_capacity(8192);
    let end = loop {
        let mut out = Out::default();
        let deadline = session.deadline();
        let far = tokio::time::Instant::now() + Duration::from_secs(3600);
        let wake = deadline.map_or(far, tokio::time::Instant::from_std);
        tokio::select! {
            r = cr.read_buf(&mut cbuf) => match r {
                Ok(n) if n > 0 => from_client(&mut up, &mut cbuf, &mut session, &mut out),
                _ => break End::Client,
            },
            r = sr.read_buf(&mut sbuf) => match r {
                Ok(n) if n > 0 => {
                    if !down_ready {
                        // The server answers only once it has the CONNECT,
                        // which has set the version (or the pipe, if the
                        // CONNECT could not be decoded).
                        if let (Some(v), Some(_)) = (session.version(), &up.decoder) {
                            down = Framer::new(Some(Decoder::new(v)));
                        }
                        down_ready = true;
                    }
                    from_server(&mut down, &mut sbuf, &mut session, &mut out);
                }
                _ => break End::Server,
            },
            Some(p) = leaks.recv() => session.leaked(p, &mut out),
            () = tokio::time::sleep_until(wake), if deadline.is_some() => {
                session.on_timer(Instant::now(), &mut out);
            }
        }
        if send(&mut sw, &out.to_server).await.is_err() {
            break End::Server;
        }
        if send(&mut cw, &out.to_client).await.is_err() {
            break End::Client;
        }
    };
    match end {
        End::Client => {
            // The server sees the connection drop, as if the client's own;
            // the client's side ends only once the server's has (or after
            // LINGER), with what the server still sent passed on. A client
            // waiting for the close then knows, as without the proxy, that
            // the server has read everything before it: otherwise its next
            // connection could reach the server first (a session not yet
            // ended at a 5.0 DISCONNECT with Session Expiry 0).
            let _ = sw.shutdown().await;
            drop(sw);
            let _ = tokio::time::timeout(LINGER, async {
                let mut rest = BytesMut::with_capacity(4096);
                while matches!(sr.read_buf(&mut rest).await, Ok(n) if n > 0) {
                    let _ = cw.write_all(&rest).await;
                    rest.clear();
                }
            })
            .await;
        }
        End::Server => {
            let mut out = Out::default();
            session.finish(&mut out);
            let _ = send(&mut cw, &out.to_client).await;
            let _ = cw.shutdown().await;
            drop(sw);
            // Let the client see the close in order before the socket goes:
            // read (and drop) until it closes too, for a while.
            let _ = tokio::time::timeout(LINGER, async {
                let mut sink = BytesMut::with_capacity(4096);
                while matches!(cr.read_buf(&mut sink).await, Ok(n) if n > 0) {
                    sink.clear();
                }
            })
            .await;
        }
    }
}

fn from_client(framer: &mut Framer, buf: &mut BytesMut, session: &mut Session<'_>, out: &mut Out) {
    while let Some(item) = framer.next(buf) {
        match item {
            Item::Packet(p, raw) => session.client_packet(*p, raw, Instant::now(), out),
            Item::Raw(b) => out.to_server.push(b),
            Item::Malformed { bytes, rest } => {
                if session.swallows_malformed() {
                    session.hit();
                    framer.skip(rest);
                } else {
                    out.to_server.push(bytes);
                    framer.pipe();
                }
            }
        }
    }
}

fn from_server(framer: &mut Framer, buf: &mut BytesMut, session: &mut Session<'_>, out: &mut Out) {
    while let Some(item) = framer.next(buf) {
        match item {
            Item::Packet(p, raw) => session.server_packet(*p, raw, Instant::now(), out),
            Item::Raw(b) => out.to_client.push(b),
            Item::Malformed { bytes, .. } => {
                out.to_client.push(bytes);
                framer.pipe();
            }
        }
    }
}

async fn send(w: &mut OwnedWriteHalf, chunks: &[Bytes]) -> std::io::Result<()> {
    match chunks {
        [] => Ok(()),
        [one] => w.write_all(one).await,
        many => w.write_all(&many.concat()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_sized_by_their_fixed_header() {
        assert!(matches!(frame(&[0xC0]), Frame::Header));
        assert!(matches!(frame(&[0xC0, 0x00]), Frame::Complete(2)));
        assert!(matches!(frame(&[0x30, 0x02, 0x00]), Frame::Incomplete(4)));
        assert!(matches!(frame(&[0x30, 0x80, 0x01]), Frame::Incomplete(131)));
        assert!(matches!(
            frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Frame::BadLength
        ));
    }

    #[test]
    fn a_malformed_packet_is_passed_on_and_the_rest_piped() {
        let mut f = Framer::new(Some(Decoder::new(mqtt_codec::ProtocolVersion::V311)));
        // PUBLISH with QoS 3, then a PINGREQ.
        let mut buf = BytesMut::from(&[0x36, 0x02, 0x00, 0x00, 0xC0, 0x00][..]);
        assert!(matches!(
            f.next(&mut buf),
            Some(Item::Malformed { rest: 0, .. })
        ));
        f.pipe();
        assert!(matches!(f.next(&mut buf), Some(Item::Raw(b)) if b[..] == [0xC0, 0x00]));
        assert!(f.next(&mut buf).is_none());
    }
}
