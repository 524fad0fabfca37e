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

use bytes::{Buf, Bytes, BytesMut};
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{
    Connect, MqttString, Packet, ProtocolVersion, Subscribe, Subscription, SubscriptionOptions,
    Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// At most this many topics are cleared per sweep: the next sweep takes
/// the rest.
const MAX_CLEARED: usize = 4096;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Retained messages received on the `#` subscription (at most
    /// 4,096 are taken per sweep).
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

/// Packet types the sweep reads (the first byte's high nibble).
const CONNACK: u8 = 2;
const PUBLISH: u8 = 3;
const SUBACK: u8 = 9;
const UNSUBACK: u8 = 11;
const PINGRESP: u8 = 13;

/// One frame as the broker framed it: the first byte and the body. The
/// sweep reads frames leniently, not through the strict decoder: a broker
/// that forwards a topic the specification forbids (U+0000, ill-formed
/// UTF-8) still has its retained messages cleared, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frame {
    first: u8,
    body: Bytes,
}

impl Frame {
    fn kind(&self) -> u8 {
        self.first >> 4
    }

    /// The topic bytes of a PUBLISH sent with RETAIN 1.
    fn retained_topic(&self) -> Option<Bytes> {
        if self.kind() != PUBLISH || self.first & 0x01 == 0 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([
            *self.body.first()?,
            *self.body.get(1)?,
        ]));
        (len > 0 && self.body.len() >= 2 + len).then(|| self.body.slice(2..2 + len))
    }
}

/// Splits one whole frame off the front of `buf`; `None` until it is all
/// there. A Remaining Length longer than four bytes is an error.
fn split_frame(buf: &mut BytesMut) -> Result<Option<Frame>, String> {
    let mut len = 0usize;
    let mut at = 1;
    loop {
        let Some(&b) = buf.get(at) else {
            return Ok(None);
        };
        len |= usize::from(b & 0x7F) << (7 * (at - 1));
        at += 1;
        if b & 0x80 == 0 {
            break;
        }
        if at > 4 {
            return Err("the broker sent a Remaining Length of more than four bytes".into());
        }
    }
    if buf.len() < at + len {
        // Room for what is missing, but never more than 64 KiB ahead of
        // what arrived: a claimed length alone allocates nothing big.
        buf.reserve((at + len - buf.len()).min(64 * 1024));
        return Ok(None);
    }
    let first = buf[0];
    buf.advance(at);
    Ok(Some(Frame {
        first,
        body: buf.split_to(len).freeze(),
    }))
}

/// A zero-length retained QoS 0 PUBLISH to `topic`, whatever its bytes
/// (the codec's raw builder: the strict encoder refuses forbidden topics).
fn clear_frame(topic: &[u8], version: ProtocolVersion) -> Bytes {
    let publish = RawPacket::new(PUBLISH, 0x01).string(topic);
    if version == ProtocolVersion::V5 {
        // No properties.
        publish.u8(0).build()
    } else {
        publish.build()
    }
}

/// A connection that sends packets through the codec and reads frames.
struct Conn {
    stream: TcpStream,
    version: ProtocolVersion,
    buf: BytesMut,
}

impl Conn {
    async fn send(&mut self, p: Packet) -> Result<(), String> {
        let bytes = p.to_bytes(self.version).map_err(|e| e.to_string())?;
        self.send_raw(&bytes).await
    }

    async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    async fn next(&mut self) -> Result<Frame, String> {
        loop {
            if let Some(f) = split_frame(&mut self.buf)? {
                return Ok(f);
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

    /// Reads until a frame of type `kind`, calling `on_frame` for the
    /// frames on the way.
    async fn until(&mut self, kind: u8, mut on_frame: impl FnMut(&Frame)) -> Result<(), String> {
        loop {
            let f = self.next().await?;
            if f.kind() == kind {
                return Ok(());
            }
            on_frame(&f);
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
        buf: BytesMut::with_capacity(64 * 1024),
    };
    let id = MqttString::new(format!("fzjanitor{}", std::process::id()))
        .map_err(|e| format!("{e:?}"))?;
    c.send(Packet::Connect(Box::new(Connect::new(version, id))))
        .await?;
    let connack = c.next().await?;
    // Accepted: Session Present, then return or reason code 0.
    if connack.kind() != CONNACK || connack.body.get(1) != Some(&0) {
        return Err(format!(
            "CONNECT answered with {:#04x} {:02x?}",
            connack.first,
            &connack.body[..]
        ));
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
    let mut topics: Vec<Bytes> = Vec::new();
    let mut collect = |f: &Frame| {
        if let Some(t) = f.retained_topic() {
            if topics.len() < MAX_CLEARED {
                topics.push(t);
            }
        }
    };
    c.until(SUBACK, &mut collect).await?;
    c.send(Packet::PingReq).await?;
    c.until(PINGRESP, &mut collect).await?;
    let seen = topics.len();
    c.send(Packet::Unsubscribe(Unsubscribe {
        packet_id: 2,
        properties: Default::default(),
        filters: vec![everything],
    }))
    .await?;
    c.until(UNSUBACK, |_| {}).await?;
    topics.sort();
    topics.dedup();
    for t in &topics {
        c.send_raw(&clear_frame(t, version)).await?;
    }
    // A clean DISCONNECT, so the sweep leaves no session behind; the
    // PINGRESP before it shows the clears were read.
    c.send(Packet::PingReq).await?;
    c.until(PINGRESP, |_| {}).await?;
    let _ = c.send(Packet::Disconnect(Default::default())).await;
    Ok(Swept {
        seen,
        cleared: topics.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::Publish;

    /// Publishes a retained message on each of `topics` and waits until the
    /// broker has read them.
    async fn retain(addr: SocketAddr, version: ProtocolVersion, topics: &[&'static str]) {
        let mut c = Conn {
            stream: TcpStream::connect(addr).await.unwrap(),
            version,
            buf: BytesMut::new(),
        };
        let id = MqttString::from_static("publisher");
        c.send(Packet::Connect(Box::new(Connect::new(version, id))))
            .await
            .unwrap();
        assert_eq!(c.next().await.unwrap().kind(), CONNACK);
        for t in topics {
            let m = Publish::new(MqttString::from_static(t), "kept").with_retain(true);
            c.send(Packet::Publish(m)).await.unwrap();
        }
        c.send(Packet::PingReq).await.unwrap();
        c.until(PINGRESP, |_| {}).await.unwrap();
    }

    #[tokio::test]
    async fn a_sweep_clears_every_retained_message_hash_reaches() {
        let target = mqtt_targets::Target::reference().await.unwrap();
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

    #[test]
    fn frames_are_split_leniently_and_a_forbidden_topic_is_cleared_byte_for_byte() {
        // A retained PUBLISH whose topic holds U+0000 (MQTT-1.5.3-2: the
        // strict decoder refuses it), then half of a PINGRESP.
        let mut buf = BytesMut::from(&b"\x31\x06\x00\x03a\x00b!\xd0"[..]);
        let f = split_frame(&mut buf).unwrap().unwrap();
        assert_eq!(f.retained_topic().as_deref(), Some(&b"a\x00b"[..]));
        assert_eq!(split_frame(&mut buf).unwrap(), None, "incomplete");
        buf.extend_from_slice(&[0x00]);
        assert_eq!(split_frame(&mut buf).unwrap().unwrap().kind(), PINGRESP);
        assert_eq!(
            clear_frame(b"a\x00b", ProtocolVersion::V311),
            &b"\x31\x05\x00\x03a\x00b"[..]
        );
        assert_eq!(
            clear_frame(b"a\x00b", ProtocolVersion::V5),
            &b"\x31\x06\x00\x03a\x00b\x00"[..]
        );
        // A RETAIN 0 PUBLISH is live traffic, not a retained message.
        let mut live = BytesMut::from(&b"\x30\x03\x00\x01a"[..]);
        assert_eq!(
            split_frame(&mut live).unwrap().unwrap().retained_topic(),
            None
        );
        // Five bytes of Remaining Length are an error, not a wait.
        let mut bad = BytesMut::from(&b"\x30\xff\xff\xff\xff\x01"[..]);
        assert!(split_frame(&mut bad).is_err());
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
