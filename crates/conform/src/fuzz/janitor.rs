//! Keeps a campaign's target at a steady state: cases publish retained
//! messages on topics the mutators invent, and a broker keeps one per topic
//! until it is cleared (MQTT 3.1.1 and 5.0 §3.3.1.3). Left alone, the store
//! grows for the whole campaign; every case that subscribes to a wildcard
//! then receives more of them, so the cases slow down, and the target's
//! memory grows for a reason the campaign itself caused, which blinds the
//! resource oracle.
//!
//! A sweep is what a person would do by hand: subscribe to `#`, note the
//! topics of the messages sent with RETAIN 1 because of that subscription
//! (MQTT-3.3.1-8 in 3.1.1, MQTT-3.3.1-9 in 5.0), unsubscribe, and publish
//! a zero-length retained message to each, which removes it (MQTT-3.3.1-6
//! in 5.0, MQTT-3.3.1-10 in 3.1.1). Topics beginning with `$` are out of
//! reach of `#` (MQTT-4.7.2-1) and stay.
//!
//! The oracles never judge which retained messages a case receives (cases
//! share the broker, so that is not predictable), so a sweep cannot make a
//! verdict; it only bounds the work.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet, ProtocolVersion, Publish, Subscribe, Subscription,
    SubscriptionOptions, Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// At most this many topics are cleared per sweep: the next sweep takes
/// the rest.
const MAX_CLEARED: usize = 4096;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Retained messages received on the `#` subscription.
    pub seen: usize,
    /// Zero-length retained messages published to clear them.
    pub cleared: usize,
}

/// Clears the retained messages of every topic `#` reaches on the broker at
/// `addr`, speaking `version`; everything within `within`.
pub async fn sweep(
    addr: SocketAddr,
    version: ProtocolVersion,
    within: Duration,
) -> Result<Swept, String> {
    match tokio::time::timeout(within, sweep_unbounded(addr, version)).await {
        Ok(r) => r,
        Err(_) => Err(format!("the sweep took over {within:?}")),
    }
}

/// A connection speaking packets through the codec.
struct Conn {
    stream: TcpStream,
    version: ProtocolVersion,
    decoder: Decoder,
    buf: BytesMut,
}

impl Conn {
    async fn send(&mut self, p: Packet) -> Result<(), String> {
        let bytes = p.to_bytes(self.version).map_err(|e| e.to_string())?;
        self.stream
            .write_all(&bytes)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn next(&mut self) -> Result<Packet, String> {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => {}
                Err(e) => return Err(format!("the broker sent a packet we cannot read: {e}")),
            }
            if self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("read: {e}"))?
                == 0
            {
                return Err("the broker closed the connection".into());
            }
        }
    }

    /// Reads until `done` holds for a packet, calling `on_publish` for the
    /// PUBLISH packets on the way.
    async fn until(
        &mut self,
        done: impl Fn(&Packet) -> bool,
        mut on_publish: impl FnMut(&Publish),
    ) -> Result<(), String> {
        loop {
            let p = self.next().await?;
            if done(&p) {
                return Ok(());
            }
            if let Packet::Publish(m) = &p {
                on_publish(m);
            }
        }
    }
}

async fn sweep_unbounded(addr: SocketAddr, version: ProtocolVersion) -> Result<Swept, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut c = Conn {
        stream,
        version,
        decoder: Decoder::new(version),
        buf: BytesMut::with_capacity(64 * 1024),
    };
    let id = MqttString::new(format!("fzjanitor{}", std::process::id()))
        .map_err(|e| format!("{e:?}"))?;
    c.send(Packet::Connect(Box::new(Connect::new(version, id))))
        .await?;
    match c.next().await? {
        Packet::ConnAck(a) if !a.reason_code.is_error() => {}
        other => return Err(format!("CONNECT answered with {other:?}")),
    }
    let everything = MqttString::from_static("#");
    c.send(Packet::Subscribe(Subscribe {
        packet_id: 1,
        properties: Default::default(),
        filters: vec![Subscription {
            filter: everything.clone(),
            options: SubscriptionOptions::default(),
        }],
    }))
    .await?;
    // Retained messages follow the SUBACK (or come with it); the PINGRESP
    // to a PINGREQ sent after the SUBACK marks the end of what this sweep
    // waits for. Whatever comes later is the next sweep's.
    let mut topics: Vec<MqttString> = Vec::new();
    let mut collect = |m: &Publish| {
        if m.retain && !m.topic().is_empty() && topics.len() < MAX_CLEARED {
            topics.push(m.topic_string());
        }
    };
    c.until(|p| matches!(p, Packet::SubAck(_)), &mut collect)
        .await?;
    c.send(Packet::PingReq).await?;
    c.until(|p| matches!(p, Packet::PingResp), &mut collect)
        .await?;
    let seen = topics.len();
    c.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: 2,
        properties: Default::default(),
        filters: vec![everything],
    }))
    .await?;
    c.until(|p| matches!(p, Packet::UnsubAck(_)), |_| {})
        .await?;
    topics.sort();
    topics.dedup();
    for t in &topics {
        let clear = Publish::new(t.clone(), bytes::Bytes::new()).with_retain(true);
        c.send(Packet::Publish(clear)).await?;
    }
    // A clean DISCONNECT, so the sweep leaves no session behind; the
    // PINGRESP before it shows the clears were read.
    c.send(Packet::PingReq).await?;
    c.until(|p| matches!(p, Packet::PingResp), |_| {}).await?;
    let _ = c.send(Packet::Disconnect(Default::default())).await;
    Ok(Swept {
        seen,
        cleared: topics.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Publishes a retained message on each of `topics` and waits until the
    /// broker has read them.
    async fn retain(addr: SocketAddr, version: ProtocolVersion, topics: &[&'static str]) {
        let mut c = Conn {
            stream: TcpStream::connect(addr).await.unwrap(),
            version,
            decoder: Decoder::new(version),
            buf: BytesMut::new(),
        };
        let id = MqttString::from_static("publisher");
        c.send(Packet::Connect(Box::new(Connect::new(version, id))))
            .await
            .unwrap();
        assert!(matches!(c.next().await.unwrap(), Packet::ConnAck(_)));
        for t in topics {
            let m = Publish::new(MqttString::from_static(t), "kept").with_retain(true);
            c.send(Packet::Publish(m)).await.unwrap();
        }
        c.send(Packet::PingReq).await.unwrap();
        c.until(|p| matches!(p, Packet::PingResp), |_| {})
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_sweep_clears_every_retained_message_hash_reaches() {
        let target = crate::target::Target::reference().await.unwrap();
        let addr: SocketAddr = format!("{}:{}", target.endpoint.host, target.endpoint.port)
            .parse()
            .unwrap();
        let within = Duration::from_secs(30);
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            retain(addr, v, &["fz/a", "fz/a/b", "other"]).await;
            let first = sweep(addr, v, within).await.unwrap();
            assert_eq!(
                first,
                Swept {
                    seen: 3,
                    cleared: 3
                },
                "{v}"
            );
            let second = sweep(addr, v, within).await.unwrap();
            assert_eq!(second, Swept::default(), "{v}: nothing left");
        }
        target.stop().await;
    }

    #[tokio::test]
    async fn an_unreachable_target_is_an_error_not_a_hang() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let r = sweep(addr, ProtocolVersion::V311, Duration::from_secs(5)).await;
        assert!(r.is_err(), "{r:?}");
    }
}
