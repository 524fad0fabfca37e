//! The embedded default target: the reference server (mqtt-server) on its
//! own runtime, whose threads are named `ref-broker` so that its CPU time is
//! told apart from the generator's.

use std::net::SocketAddr;
use std::sync::mpsc;

use mqtt_server::{ListenerConfig, ListenerProtocol, RunningServer, ServerConfig};

use crate::error::SwarmError;

/// Thread name prefix of the in-process reference server.
pub const REF_THREADS: &str = "ref-broker";

/// The reference server running in this process on a free loopback port.
#[derive(Debug)]
pub struct RefServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RefServer {
    /// Starts it with `threads` worker threads.
    pub fn start(threads: usize) -> Result<RefServer, SwarmError> {
        let err = |message: String| SwarmError::Target {
            target: "ref".into(),
            message,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name(REF_THREADS)
            .enable_all()
            .build()
            .map_err(|e| err(e.to_string()))?;
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{REF_THREADS}-main"))
            .spawn(move || {
                runtime.block_on(async move {
                    let config = ServerConfig {
                        listeners: vec![ListenerConfig {
                            protocol: ListenerProtocol::Tcp,
                            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                            cert: None,
                            key: None,
                        }],
                        ..ServerConfig::default()
                    };
                    match RunningServer::start(config).await {
                        Ok(server) => {
                            let _ = addr_tx.send(Ok(server.addr(ListenerProtocol::Tcp)));
                            let _ = stop_rx.await;
                            server.shutdown().await;
                        }
                        Err(e) => {
                            let _ = addr_tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .map_err(|e| err(e.to_string()))?;
        let addr = match addr_rx.recv() {
            Ok(Ok(Some(addr))) => addr,
            Ok(Ok(None)) => return Err(err("no TCP listener".into())),
            Ok(Err(e)) => return Err(err(e)),
            Err(_) => return Err(err("the server thread ended at start".into())),
        };
        Ok(RefServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it and waits for its threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}
