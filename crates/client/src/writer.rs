//! The writer task: owns the writing half, writes what the client and the
//! reader task (auto-acknowledge) hand it, in order, and sends keep-alive
//! PINGREQs when asked to. Each write is traced just before it is made.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mqtt_codec::Packet;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::shared::Shared;
use crate::trace::TraceEvent;
use crate::transport::WriteHalf;

/// What the writer task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write these bytes, tracing `event` first.
    Send {
        bytes: Bytes,
        event: Box<TraceEvent>,
        done: Option<oneshot::Sender<io::Result<()>>>,
    },
    /// Send a PINGREQ every interval (`None`: stop).
    KeepAlive(Option<Duration>),
    /// Close the sending direction in order (FIN, close_notify, Close
    /// frame), then stop.
    Shutdown { done: oneshot::Sender<()> },
}

/// Runs until told to stop, aborted, or every sender is gone. A write (or
/// the closing handshake) that takes longer than `write_timeout` fails with
/// `TimedOut`: the broker is not reading.
pub(crate) async fn run(
    mut w: WriteHalf,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
    write_timeout: Duration,
) {
    let mut w = TimedWriter {
        w: &mut w,
        limit: write_timeout,
    };
    let mut keep_alive: Option<Interval> = None;
    loop {
        let tick = async {
            match keep_alive.as_mut() {
                Some(i) => {
                    i.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let command = tokio::select! {
            c = commands.recv() => c,
            () = tick => {
                let ping = Packet::PingReq;
                let Ok(bytes) = ping.to_bytes(shared.version()) else { continue };
                shared.ping_sent(true);
                shared.recorder.record(TraceEvent::Sent { packet: ping, auto: true });
                if let Err(e) = w.send(bytes).await {
                    tracing::debug!("keep-alive PINGREQ not written: {e}");
                }
                continue;
            }
        };
        match command {
            None => return,
            Some(Command::Send { bytes, event, done }) => {
                if let TraceEvent::Sent {
                    packet: Packet::PingReq,
                    ..
                } = &*event
                {
                    shared.ping_sent(false);
                }
                shared.recorder.record(*event);
                let result = w.send(bytes).await;
                if let Some(done) = done {
                    let _ = done.send(result);
                }
            }
            Some(Command::KeepAlive(interval)) => {
                keep_alive = interval.map(|d| {
                    let mut i = tokio::time::interval_at(Instant::now() + d, d);
                    i.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    i
                });
            }
            Some(Command::Shutdown { done }) => {
                let _ = tokio::time::timeout(w.limit, w.w.close()).await;
                let _ = done.send(());
                return;
            }
        }
    }
}

/// A writing half whose writes are bounded in time.
struct TimedWriter<'a> {
    w: &'a mut WriteHalf,
    limit: Duration,
}

impl TimedWriter<'_> {
    async fn send(&mut self, bytes: Bytes) -> io::Result<()> {
        match tokio::time::timeout(self.limit, self.w.send(bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "write not finished within {}: the broker is not reading",
                    crate::describe::duration(self.limit)
                ),
            )),
        }
    }
}
