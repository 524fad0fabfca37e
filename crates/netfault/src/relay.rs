//! One relayed connection: the client's socket, the upstream socket, the
//! tap between them, and a writer per direction that applies the link's
//! faults to what the tap lets through.
//!
//! Closing is ordered as without the proxy: when the client closes, the
//! server sees the close (FIN) once everything before it has been
//! forwarded, and the client's side ends only once the server's has (or
//! after [`LINGER`]), with what the server still sent passed on. A client
//! waiting for the close then knows that the server has read everything
//! before it: otherwise its next connection could overtake its last
//! packets (a 5.0 session with Session Expiry 0 not yet ended at its
//! DISCONNECT, say).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Notify};

use crate::link::{Jitter, LinkSpec};
use crate::tap::{Out, Tap, TapParts};

/// How long one side may take to close after the other has.
pub const LINGER: Duration = Duration::from_secs(2);

/// Chunks queued per direction before the relay stops reading: a slow or
/// delayed link pushes back on its sender as TCP would.
const QUEUE: usize = 256;

/// The largest write under a bandwidth cap, so the cap holds over short
/// spans too.
const BANDWIDTH_CHUNK: usize = 4096;

/// What the proxy controls of one connection.
pub(crate) struct LinkCtl {
    /// The faults in force.
    pub(crate) spec: watch::Receiver<LinkSpec>,
    /// Reset now (RST both ways).
    pub(crate) reset: Arc<Notify>,
}

/// Bytes the link still forwards before it closes (a
/// [`LinkFault::CloseAfter`](crate::LinkFault::CloseAfter)), shared by
/// both directions.
#[derive(Default)]
struct Budget {
    left: Mutex<Option<u64>>,
    exhausted: Notify,
}

impl Budget {
    fn set(&self, left: Option<u64>) {
        *self.left.lock().unwrap_or_else(PoisonError::into_inner) = left;
    }

    /// How many of `len` bytes may pass, and whether the budget is spent.
    fn take(&self, len: usize) -> (usize, bool) {
        let mut left = self.left.lock().unwrap_or_else(PoisonError::into_inner);
        match left.as_mut() {
            None => (len, false),
            Some(n) => {
                let allowed = usize::try_from(*n).unwrap_or(usize::MAX).min(len);
                *n -= allowed as u64;
                (allowed, *n == 0)
            }
        }
    }
}

/// Which side ended the relay, or what did.
enum End {
    Client,
    Server,
    /// The close-after budget ran out.
    Closed,
    Reset,
}

/// Relays `client` to `upstream` through the tap until either side ends,
/// the link closes or is reset.
pub(crate) async fn relay<T: Tap>(
    client: TcpStream,
    upstream: SocketAddr,
    parts: TapParts<T>,
    mut ctl: LinkCtl,
    seed: u64,
) {
    let (mut tap, mut inbox) = parts;
    // A partitioned link reaches no broker: hold the client until healed.
    while ctl.spec.borrow().partitioned {
        tokio::select! {
            r = ctl.spec.changed() => if r.is_err() { return },
            () = ctl.reset.notified() => {
                rst(&client);
                return;
            }
        }
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut cr, cw) = client.into_split();
    let (mut sr, sw) = server.into_split();
    let (up_tx, up_rx) = mpsc::channel::<(Bytes, Instant)>(QUEUE);
    let (down_tx, down_rx) = mpsc::channel::<(Bytes, Instant)>(QUEUE);
    let (abort_tx, abort_rx) = watch::channel(false);
    let budget = Arc::new(Budget::default());
    budget.set(ctl.spec.borrow().close_after);

    let up = writer(
        sw,
        up_rx,
        ctl.spec.clone(),
        budget.clone(),
        abort_rx.clone(),
        Jitter::new(seed),
    );
    let down = writer(
        cw,
        down_rx,
        ctl.spec.clone(),
        budget.clone(),
        abort_rx,
        Jitter::new(seed ^ 0x00D0_D0D0),
    );
    let main = async move {
        let mut cbuf = BytesMut::with_capacity(8192);
        let mut sbuf = BytesMut::with_capacity(8192);
        let mut spec = *ctl.spec.borrow();
        let end = loop {
            let mut out = Out::default();
            let blocked = spec.blocked();
            let deadline = tap.deadline();
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            let wake = deadline.map_or(far, tokio::time::Instant::from_std);
            tokio::select! {
                r = cr.read_buf(&mut cbuf), if !blocked => match r {
                    Ok(n) if n > 0 => tap.client_bytes(&mut cbuf, Instant::now(), &mut out),
                    _ => break End::Client,
                },
                r = sr.read_buf(&mut sbuf), if !blocked => match r {
                    Ok(n) if n > 0 => tap.server_bytes(&mut sbuf, Instant::now(), &mut out),
                    _ => break End::Server,
                },
                Some(item) = next(&mut inbox) => tap.injected(item, &mut out),
                () = tokio::time::sleep_until(wake), if deadline.is_some() => {
                    tap.on_timer(Instant::now(), &mut out);
                }
                r = ctl.spec.changed() => {
                    if r.is_err() {
                        // The proxy is gone.
                        break End::Reset;
                    }
                    let new = *ctl.spec.borrow_and_update();
                    if new.close_after != spec.close_after {
                        budget.set(new.close_after);
                    }
                    spec = new;
                }
                () = ctl.reset.notified() => break End::Reset,
                () = budget.exhausted.notified() => break End::Closed,
            }
            let now = Instant::now();
            tokio::select! {
                r = forward(&up_tx, &down_tx, out, now) => match r {
                    Ok(()) => {}
                    Err(side) => break side,
                },
                () = ctl.reset.notified() => break End::Reset,
            }
        };
        match end {
            End::Reset => {
                rst(cr.as_ref());
                rst(sr.as_ref());
                let _ = abort_tx.send(true);
                return;
            }
            End::Closed => {}
            End::Client => {
                // The server sees the client's close after what came before
                // it; the client's side waits for the server's.
                drop(up_tx);
                let _ = tokio::time::timeout(LINGER, async {
                    let mut rest = BytesMut::with_capacity(4096);
                    while matches!(sr.read_buf(&mut rest).await, Ok(n) if n > 0) {
                        let chunk = rest.split().freeze();
                        if down_tx.send((chunk, Instant::now())).await.is_err() {
                            break;
                        }
                    }
                })
                .await;
                drop(down_tx);
            }
            End::Server => {
                let mut out = Out::default();
                tap.finish(&mut out);
                let now = Instant::now();
                for b in out.to_client {
                    let _ = down_tx.send((b, now)).await;
                }
                drop(down_tx);
                drop(up_tx);
                // Let the client see the close in order before the socket
                // goes: read (and drop) until it closes too, for a while.
                let _ = tokio::time::timeout(LINGER, async {
                    let mut sink = BytesMut::with_capacity(4096);
                    while matches!(cr.read_buf(&mut sink).await, Ok(n) if n > 0) {
                        sink.clear();
                    }
                })
                .await;
            }
        }
        // A stalled link passes no close either: do not wait for it.
        if ctl.spec.borrow().blocked() {
            let _ = abort_tx.send(true);
        }
    };
    tokio::join!(main, up, down);
}

/// The next item of an inbox, or never.
async fn next<I>(inbox: &mut Option<mpsc::UnboundedReceiver<I>>) -> Option<I> {
    match inbox {
        Some(r) => r.recv().await,
        None => std::future::pending().await,
    }
}

/// Queues what the tap let through; the side whose writer is gone ends the
/// relay.
async fn forward(
    up: &mpsc::Sender<(Bytes, Instant)>,
    down: &mpsc::Sender<(Bytes, Instant)>,
    out: Out,
    now: Instant,
) -> Result<(), End> {
    for b in out.to_server {
        up.send((b, now)).await.map_err(|_| End::Server)?;
    }
    for b in out.to_client {
        down.send((b, now)).await.map_err(|_| End::Client)?;
    }
    Ok(())
}

/// Arms a reset: the socket's close sends RST instead of FIN.
fn rst(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

/// Writes one direction: waits out latency and stalls, spends the close
/// budget, slices and paces the bytes; ends (FIN) when the relay drops its
/// sender or the budget is spent, at once and without FIN when aborted.
async fn writer(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<(Bytes, Instant)>,
    mut spec: watch::Receiver<LinkSpec>,
    budget: Arc<Budget>,
    mut abort: watch::Receiver<bool>,
    mut jitter: Jitter,
) {
    let run = async {
        let mut last_due = Instant::now();
        let mut next_free = Instant::now();
        while let Some((chunk, at)) = rx.recv().await {
            let latency = spec.borrow().latency;
            if let Some((delay, j)) = latency {
                let due = (at + delay + jitter.upto(j)).max(last_due);
                last_due = due;
                tokio::time::sleep_until(due.into()).await;
            }
            while spec.borrow().blocked() {
                if spec.changed().await.is_err() {
                    return;
                }
            }
            let s = *spec.borrow();
            let (allowed, spent) = budget.take(chunk.len());
            if write_shaped(&mut w, &chunk[..allowed], &s, &mut next_free)
                .await
                .is_err()
            {
                return;
            }
            if spent {
                budget.exhausted.notify_one();
                break;
            }
        }
    };
    tokio::select! {
        () = run => {}
        // Only a sent abort: the relay dropping its sender is no abort.
        Ok(_) = abort.wait_for(|a| *a) => {}
    }
    // A reset is armed before the relay ends, so its senders closing cannot
    // be mistaken for a normal end here.
    if *abort.borrow() {
        // Dropping or shutting down the half would send FIN before the RST.
        w.forget();
    } else {
        let _ = w.shutdown().await;
    }
}

/// Writes `bytes` under the slicing and bandwidth of `s`.
async fn write_shaped(
    w: &mut OwnedWriteHalf,
    bytes: &[u8],
    s: &LinkSpec,
    next_free: &mut Instant,
) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    let piece = match (s.slice, s.bandwidth) {
        (Some((n, _)), _) => n,
        (None, Some(_)) => BANDWIDTH_CHUNK,
        (None, None) => return w.write_all(bytes).await,
    };
    for (i, part) in bytes.chunks(piece).enumerate() {
        if i > 0 {
            if let Some((_, pause)) = s.slice {
                tokio::time::sleep(pause).await;
            }
        }
        if let Some(rate) = s.bandwidth {
            let now = Instant::now();
            if *next_free > now {
                tokio::time::sleep_until((*next_free).into()).await;
            }
            let cost = Duration::from_secs_f64(part.len() as f64 / rate as f64);
            *next_free = (*next_free).max(now) + cost;
        }
        w.write_all(part).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_lets_through_what_is_left_and_says_when_spent() {
        let b = Budget::default();
        assert_eq!(b.take(10), (10, false));
        b.set(Some(5));
        assert_eq!(b.take(3), (3, false));
        assert_eq!(b.take(3), (2, true));
        assert_eq!(b.take(3), (0, true));
    }
}
