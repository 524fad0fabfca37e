//! Test support: TCP proxies in front of the reference server that
//! misbehave on purpose.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{Decoder, Packet, ProtocolVersion, QoS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy that holds all traffic, both ways, for `stall` every `period`
/// (the first stall begins `period - stall` after it starts).
pub async fn stalling_proxy(upstream: SocketAddr, period: Duration, stall: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (held_tx, held_rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(period - stall).await;
            let _ = held_tx.send(true);
            tokio::time::sleep(stall).await;
            if held_tx.send(false).is_err() {
                return;
            }
        }
    });
    tokio::spawn(async move {
        while let Ok((down, _)) = listener.accept().await {
            let Ok(up) = TcpStream::connect(upstream).await else {
                continue;
            };
            let _ = down.set_nodelay(true);
            let _ = up.set_nodelay(true);
            let (dr, dw) = down.into_split();
            let (ur, uw) = up.into_split();
            tokio::spawn(pipe(dr, uw, held_rx.clone()));
            tokio::spawn(pipe(ur, dw, held_rx.clone()));
        }
    });
    addr
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut held: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Hold the bytes while the stall lasts.
        if held.wait_for(|h| !*h).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// A proxy that drops the QoS 1 PUBLISH packets number `drop` (counted
/// from 0 over all connections) that the broker sends to clients, decoding
/// the broker-to-client stream with the codec. Returns the address and the
/// count of dropped packets.
pub async fn dropping_proxy(
    upstream: SocketAddr,
    version: ProtocolVersion,
    drop: Vec<u64>,
) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let drop = Arc::new(drop);
    let d = dropped.clone();
    tokio::spawn(async move {
        while let Ok((down, _)) = listener.accept().await {
            let Ok(up) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (mut dr, dw) = down.into_split();
            let (ur, mut uw) = up.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut dr, &mut uw).await;
            });
            tokio::spawn(filter(
                ur,
                dw,
                version,
                seen.clone(),
                drop.clone(),
                d.clone(),
            ));
        }
    });
    (addr, dropped)
}

async fn filter(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    version: ProtocolVersion,
    seen: Arc<AtomicU64>,
    drop: Arc<Vec<u64>>,
    dropped: Arc<AtomicU64>,
) {
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut out = BytesMut::new();
    loop {
        buf.reserve(64 * 1024);
        match from.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        while let Ok(Some(p)) = decoder.decode(&mut buf) {
            if let Packet::Publish(ref publish) = p {
                if publish.qos == QoS::AtLeastOnce {
                    let n = seen.fetch_add(1, Ordering::SeqCst);
                    if drop.contains(&n) {
                        dropped.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                }
            }
            if p.encode(version, &mut out).is_err() {
                return;
            }
        }
        if to.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
    }
}
