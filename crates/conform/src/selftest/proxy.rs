//! The self-check's proxy: an [`mqtt_netfault::Proxy`] in front of the
//! reference broker whose every connection goes through a [`Session`], the
//! packet tap that injects one [`Fault`] (none: a transparent relay).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use mqtt_client::Endpoint;
use mqtt_netfault::{MqttTap, Proxy};

use super::faults::{Fault, Session, Shared};

/// A running fault proxy; dropping it stops it and every connection it
/// relays.
#[derive(Debug)]
pub struct FaultProxy {
    proxy: Proxy,
    fault: Option<Fault>,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on a free loopback port and relays every connection to
    /// `upstream`, injecting `fault` (none: a transparent relay).
    pub async fn start(upstream: SocketAddr, fault: Option<Fault>) -> std::io::Result<FaultProxy> {
        let shared = Arc::new(Shared::default());
        let taps = {
            let shared = shared.clone();
            move |conn: u64| {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let session =
                    Session::new(fault, shared.clone(), Instant::now()).with_leaks(conn, tx);
                (MqttTap::new(session), Some(rx))
            }
        };
        let proxy = Proxy::start(upstream, 0, taps).await?;
        Ok(FaultProxy {
            proxy,
            fault,
            shared,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.proxy.addr()
    }

    /// [`Self::addr`] as an endpoint for the runner.
    pub fn endpoint(&self) -> Endpoint {
        self.proxy.endpoint()
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
        self.proxy.connections()
    }

    /// Stops listening and closes every relayed connection.
    pub async fn stop(self) {
        self.proxy.stop().await;
    }
}
