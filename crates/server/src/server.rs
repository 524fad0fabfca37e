//! Starting and stopping the server: listeners, the broker task, and a
//! handle to stop them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mqtt_model::{Broker, ConnId};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::broker_task::{self, Clock, Command};
use crate::config::{ListenerProtocol, ServerConfig};
use crate::connection::serve;
use crate::store::{self, FsyncPolicy};
use crate::transport::stream::{StreamReader, StreamWriter};
use crate::transport::{tls, ws};

/// How long a TLS or WebSocket handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({protocol:?}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The listener's protocol.
        protocol: ListenerProtocol,
        /// The cause.
        source: std::io::Error,
    },
    /// A TLS listener's certificate or key is unusable.
    #[error(transparent)]
    Tls(#[from] crate::transport::tls::TlsError),
    /// No listener is configured.
    #[error("no listener configured")]
    NoListener,
    /// The durable store (`--data DIR`) could not be opened or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A started server. Dropping it does not stop it: call
/// [`RunningServer::shutdown`].
#[derive(Debug)]
pub struct RunningServer {
    listeners: Vec<(ListenerProtocol, SocketAddr)>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
    failure: watch::Receiver<Option<String>>,
    data: Option<(std::path::PathBuf, FsyncPolicy)>,
}

impl RunningServer {
    /// Binds every listener and starts serving.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        if config.listeners.is_empty() {
            return Err(ServerError::NoListener);
        }
        let model_config = config.model_config();
        let max_packet_size = model_config
            .maximum_packet_size
            .unwrap_or(mqtt_codec::MAX_POSSIBLE_PACKET_SIZE);
        let mut broker = Broker::with_policies(
            model_config,
            Box::new(config.authenticator()),
            Box::new(config.authorizer()),
        );
        // With a store, the model's time is the wall clock, and the state
        // is read (and the restart's changes written) before any listener
        // accepts a connection.
        let (clock, store) = match &config.data {
            Some(data) => {
                let clock = Clock::wall();
                let store = store::open_into(data, &mut broker, clock.now())?;
                while broker.poll_output().is_some() {}
                (clock, Some(store))
            }
            None => (Clock::monotonic(), None),
        };
        let data = store.as_ref().map(|s| (s.path().to_owned(), s.policy()));
        let (failure_tx, failure) = watch::channel(None);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(4096);
        let mut tasks = JoinSet::new();
        let mut bound = Vec::new();
        let next_id = Arc::new(AtomicU64::new(1));
        for l in &config.listeners {
            let listener = TcpListener::bind(l.bind)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: l.bind,
                    protocol: l.protocol,
                    source,
                })?;
            let addr = listener.local_addr().map_err(|source| ServerError::Bind {
                addr: l.bind,
                protocol: l.protocol,
                source,
            })?;
            let tls = match (l.protocol, &l.cert, &l.key) {
                (ListenerProtocol::Tls, Some(c), Some(k)) => Some(tls::acceptor(c, k)?),
                _ => None,
            };
            tracing::info!("listening on {addr} ({:?})", l.protocol);
            bound.push((l.protocol, addr));
            tasks.spawn(accept_loop(
                listener,
                l.protocol,
                tls,
                cmd_tx.clone(),
                shutdown_rx.clone(),
                next_id.clone(),
                max_packet_size,
            ));
        }
        tasks.spawn(broker_task::run(
            broker,
            cmd_rx,
            shutdown_rx,
            clock,
            store,
            Some(failure_tx),
        ));
        Ok(RunningServer {
            listeners: bound,
            shutdown,
            tasks,
            failure,
            data,
        })
    }

    /// The bound address of the first listener of `protocol`.
    pub fn addr(&self, protocol: ListenerProtocol) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, a)| *a)
    }

    /// The store's file and fsync policy, when the state is durable.
    pub fn data(&self) -> Option<(&std::path::Path, FsyncPolicy)> {
        self.data.as_ref().map(|(p, f)| (p.as_path(), *f))
    }

    /// Resolves if the server stops serving on its own: its durable store
    /// failed, so it acknowledges nothing more. The message says why.
    /// Never resolves for a server that keeps its state in memory.
    pub async fn failed(&mut self) -> String {
        loop {
            if let Some(m) = self.failure.borrow_and_update().clone() {
                return m;
            }
            if self.failure.changed().await.is_err() {
                // The broker task ended without a failure (shutdown).
                std::future::pending::<()>().await;
            }
        }
    }

    /// Every listener and its bound address.
    pub fn listeners(&self) -> &[(ListenerProtocol, SocketAddr)] {
        &self.listeners
    }

    /// Stops accepting, closes every connection and waits for the tasks.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }

    /// Ends at once, as a crash would: the listeners and the broker task
    /// are aborted mid-step, nothing is flushed and no Will is sent;
    /// connections end as they find the broker gone. Returns once the
    /// listening ports (and a data store) are released, so that a restart
    /// can bind them again.
    pub async fn kill(mut self) {
        self.tasks.shutdown().await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    protocol: ListenerProtocol,
    tls: Option<TlsAcceptor>,
    broker: mpsc::Sender<Command>,
    mut shutdown: watch::Receiver<bool>,
    next_id: Arc<AtomicU64>,
    max_packet_size: u32,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let conn = ConnId(next_id.fetch_add(1, Ordering::Relaxed));
        tracing::debug!(%conn, %peer, "accepted");
        connections.spawn(handshake_and_serve(
            tcp,
            conn,
            protocol,
            tls.clone(),
            broker.clone(),
            max_packet_size,
        ));
    }
    connections.shutdown().await;
}

async fn handshake_and_serve(
    tcp: TcpStream,
    conn: ConnId,
    protocol: ListenerProtocol,
    tls: Option<TlsAcceptor>,
    broker: mpsc::Sender<Command>,
    max: u32,
) {
    match protocol {
        ListenerProtocol::Tcp => {
            let (r, w) = tcp.into_split();
            serve(conn, StreamReader(r), StreamWriter(w), broker, max).await;
        }
        ListenerProtocol::Tls => {
            let Some(acceptor) = tls else { return };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let (r, w) = tokio::io::split(stream);
                    serve(conn, StreamReader(r), StreamWriter(w), broker, max).await;
                }
                Ok(Err(e)) => tracing::info!(%conn, "TLS handshake failed: {e}"),
                Err(_) => tracing::info!(%conn, "TLS handshake timed out"),
            }
        }
        ListenerProtocol::Ws => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws::accept(tcp)).await {
                Ok(Ok((r, w))) => serve(conn, r, w, broker, max).await,
                Ok(Err(e)) => tracing::info!(%conn, "WebSocket handshake failed: {e}"),
                Err(_) => tracing::info!(%conn, "WebSocket handshake timed out"),
            }
        }
    }
}
