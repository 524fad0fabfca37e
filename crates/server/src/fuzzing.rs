//! An entry for in-process fuzzing of the connection handler (feature
//! `fuzzing`): the broker task and one handler per stream, over any
//! `AsyncRead + AsyncWrite` (a `tokio::io::duplex` pipe, a reader that
//! yields short reads), with no sockets. Not part of the stable API.

use mqtt_model::{Broker, Config, ConnId};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::broker_task::{self, Command};
use crate::connection::serve;
use crate::transport::stream::{StreamReader, StreamWriter};

/// Serves each of `streams` as one network connection to a broker with
/// `config`, exactly as a TCP listener would, and returns once every
/// connection has ended and the broker task has stopped.
pub async fn serve_streams<S>(config: Config, streams: Vec<S>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let max_packet_size = config
        .maximum_packet_size
        .unwrap_or(mqtt_codec::MAX_POSSIBLE_PACKET_SIZE);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(4096);
    let broker = tokio::spawn(broker_task::run(
        Broker::new(config),
        cmd_rx,
        shutdown_rx,
        broker_task::Clock::monotonic(),
        None,
        None,
    ));
    let mut conns = JoinSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let (r, w) = tokio::io::split(stream);
        conns.spawn(serve(
            ConnId(i as u64 + 1),
            StreamReader(r),
            StreamWriter(w),
            cmd_tx.clone(),
            max_packet_size,
        ));
    }
    drop(cmd_tx);
    while let Some(done) = conns.join_next().await {
        if let Err(e) = done {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    let _ = shutdown.send(true);
    if let Err(e) = broker.await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
