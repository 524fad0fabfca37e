//! The self-check's proxy: an [`mqtt_netfault::Proxy`] in front of the
//! reference broker whose every connection goes through a [`Session`], the
//! packet tap that injects one [`Fault`] (none: a transparent relay). Every
//! session of one proxy shares its state (what each client id's earlier
//! connections did, for the fault-aware faults); for
//! [`Fault::WillAfterCleanDisconnect`] a will publisher connects to the
//! broker on its own to publish the wills the proxy hands it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_client::{ConnectOptions, Endpoint, Matcher, TestClient};
use mqtt_codec::{Connect, MqttString, Packet, PubResponse, QoS, ReasonCode};
use mqtt_netfault::{MqttTap, Proxy};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::{JoinHandle, JoinSet};

use super::faults::{Fault, Session, Shared, WillOut};

/// How long the will publisher may take over one will.
const WILL_TIMEOUT: Duration = Duration::from_secs(10);

/// A running fault proxy; dropping it stops it and every connection it
/// relays.
#[derive(Debug)]
pub struct FaultProxy {
    proxy: Proxy,
    fault: Option<Fault>,
    shared: Arc<Shared>,
    /// The will publisher, for [`Fault::WillAfterCleanDisconnect`].
    wills: Option<AbortOnDrop>,
}

impl FaultProxy {
    /// Listens on a free loopback port and relays every connection to
    /// `upstream`, injecting `fault` (none: a transparent relay).
    pub async fn start(upstream: SocketAddr, fault: Option<Fault>) -> std::io::Result<FaultProxy> {
        let shared = Arc::new(Shared::default());
        let wills = (fault == Some(Fault::WillAfterCleanDisconnect)).then(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            *shared
                .will_out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx);
            AbortOnDrop(tokio::spawn(publish_wills(upstream, rx)))
        });
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
            wills,
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
        drop(self.wills);
        self.proxy.stop().await;
    }
}

/// A task aborted when dropped.
#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Publishes each will it is handed, each on a fresh connection to
/// `upstream`, each bounded by [`WILL_TIMEOUT`]; aborting it aborts them.
async fn publish_wills(upstream: SocketAddr, mut rx: UnboundedReceiver<WillOut>) {
    let Ok(endpoint) = Endpoint::parse(&format!("tcp://{upstream}")) else {
        tracing::error!("selftest proxy: `{upstream}` is not an endpoint");
        return;
    };
    let mut running = JoinSet::new();
    let mut n = 0u64;
    while let Some(will) = rx.recv().await {
        n += 1;
        let endpoint = endpoint.clone();
        running.spawn(async move {
            match tokio::time::timeout(WILL_TIMEOUT, publish_will(&endpoint, n, will)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("selftest proxy: will not published: {e}"),
                Err(_) => tracing::warn!("selftest proxy: will not published in time"),
            }
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

/// Connects as its own client, publishes the will, completes its QoS flow
/// and disconnects.
async fn publish_will(
    endpoint: &Endpoint,
    n: u64,
    will: WillOut,
) -> Result<(), mqtt_client::ClientError> {
    let options = ConnectOptions::default().version(will.version);
    let mut client = TestClient::open(endpoint, &options).await?;
    let Ok(id) = MqttString::new(format!("selftestwill{n}")) else {
        return Ok(());
    };
    let ack = client
        .handshake(Connect::new(will.version, id), WILL_TIMEOUT)
        .await?;
    if ack.reason_code != ReasonCode::SUCCESS {
        tracing::warn!("selftest proxy: the will publisher was refused");
        return Ok(());
    }
    let mut p = will.publish();
    if p.qos != QoS::AtMostOnce {
        p.packet_id = 1;
    }
    client.send(&Packet::Publish(p.clone())).await?;
    match p.qos {
        QoS::AtMostOnce => {}
        QoS::AtLeastOnce => {
            client.expect(&Matcher::puback(1), WILL_TIMEOUT).await?;
        }
        QoS::ExactlyOnce => {
            client.expect(&Matcher::pubrec(1), WILL_TIMEOUT).await?;
            client.send(&Packet::PubRel(PubResponse::new(1))).await?;
            client.expect(&Matcher::pubcomp(1), WILL_TIMEOUT).await?;
        }
    }
    client.disconnect(ReasonCode::SUCCESS).await
}
