//! A malformed or abusive client gets the right answer — DISCONNECT with a
//! reason code in 5.0 (MQTT-4.13.1-1), a closed connection in 3.1.1
//! (MQTT-4.8.0-1) — and no other client notices.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{
    Connect, Decoder, MqttString, Packet, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe,
    Subscription, SubscriptionOptions,
};
use mqtt_server::{ListenerConfig, ListenerProtocol, RunningServer, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on every wait: generous, so the verdict never depends on speed.
const WAIT: Duration = Duration::from_secs(10);

async fn start() -> (RunningServer, SocketAddr) {
    let config = ServerConfig {
        listeners: vec![ListenerConfig {
            protocol: ListenerProtocol::Tcp,
            bind: "127.0.0.1:0".parse().unwrap(),
            cert: None,
            key: None,
        }],
        ..ServerConfig::default()
    };
    let server = RunningServer::start(config).await.expect("server starts");
    let addr = server.addr(ListenerProtocol::Tcp).unwrap();
    (server, addr)
}

/// A minimal client on the strict codec.
struct Client {
    tcp: TcpStream,
    decoder: Decoder,
    buf: BytesMut,
    version: ProtocolVersion,
}

/// What the client observed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
enum Seen {
    Packet(Packet),
    Closed,
}

impl Client {
    async fn connect(addr: SocketAddr, version: ProtocolVersion, id: &str) -> Client {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut c = Client {
            tcp,
            decoder: Decoder::new(version),
            buf: BytesMut::new(),
            version,
        };
        let connect = Connect::new(version, MqttString::new(id).unwrap());
        c.send(&Packet::Connect(Box::new(connect))).await;
        match c.next().await {
            Seen::Packet(Packet::ConnAck(ack)) => assert_eq!(ack.reason_code, ReasonCode::SUCCESS),
            other => panic!("expected CONNACK, saw {other:?}"),
        }
        c
    }

    async fn send(&mut self, p: &Packet) {
        let bytes = p.to_bytes(self.version).unwrap();
        self.tcp.write_all(&bytes).await.unwrap();
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }

    /// The next packet, or the connection closing, within [`WAIT`].
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(p) = self
                    .decoder
                    .decode(&mut self.buf)
                    .expect("server sent a valid packet")
                {
                    return Seen::Packet(p);
                }
                match self.tcp.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return Seen::Closed,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("the server answered within the bound")
    }

    async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Default::default(),
            filters: vec![Subscription {
                filter: MqttString::new(filter).unwrap(),
                options: SubscriptionOptions::qos(qos),
            }],
        }))
        .await;
        match self.next().await {
            Seen::Packet(Packet::SubAck(ack)) => assert_eq!(ack.packet_id, 1),
            other => panic!("expected SUBACK, saw {other:?}"),
        }
    }
}

fn publish(topic: &str, payload: &'static str) -> Packet {
    Packet::Publish(Publish::new(MqttString::new(topic).unwrap(), payload))
}

/// PUBLISH with both QoS bits set (MQTT-3.3.1-4).
fn qos3_publish() -> bytes::Bytes {
    RawPacket::new(3, 0b0110)
        .string(b"a/b")
        .u16(1)
        .u8(0)
        .bytes(b"x")
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn v5_malformed_packet_gets_disconnect_0x81_and_others_carry_on() {
    let (server, addr) = start().await;
    let mut watcher = Client::connect(addr, ProtocolVersion::V5, "watcher").await;
    watcher.subscribe("a/#", QoS::AtMostOnce).await;
    let mut bad = Client::connect(addr, ProtocolVersion::V5, "bad").await;
    bad.send_raw(&qos3_publish()).await;
    match bad.next().await {
        Seen::Packet(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::MALFORMED_PACKET)
        }
        other => panic!("expected DISCONNECT 0x81, saw {other:?}"),
    }
    assert_eq!(
        bad.next().await,
        Seen::Closed,
        "MQTT-4.13.1-1: connection closed"
    );
    // The other client is unaffected.
    let mut publisher = Client::connect(addr, ProtocolVersion::V5, "pub").await;
    publisher.send(&publish("a/b", "still here")).await;
    match watcher.next().await {
        Seen::Packet(Packet::Publish(p)) => assert_eq!(p.payload(), b"still here"),
        other => panic!("watcher expected the PUBLISH, saw {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn v311_malformed_packet_closes_the_connection() {
    let (server, addr) = start().await;
    let mut bad = Client::connect(addr, ProtocolVersion::V311, "bad311").await;
    bad.send_raw(&qos3_publish()).await;
    assert_eq!(
        bad.next().await,
        Seen::Closed,
        "MQTT-3.3.1-4 / MQTT-4.8.0-1"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_before_connect_closes_without_a_reply() {
    let (server, addr) = start().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&[0x30, 0x02, 0x00, 0x00]).await.unwrap(); // PUBLISH first
    let mut buf = Vec::new();
    let n = tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf))
        .await
        .expect("closed within the bound")
        .unwrap_or(0);
    assert_eq!(
        n, 0,
        "MQTT-3.1.0-1: no packet in answer, just a close; got {buf:?}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_protocol_level_gets_connack_0x01_then_close() {
    let (server, addr) = start().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // CONNECT "MQTT" level 6, clean session, keep alive 60, client id "x".
    let connect = RawPacket::new(1, 0)
        .string(b"MQTT")
        .u8(6)
        .u8(0x02)
        .u16(60)
        .string(b"x")
        .build();
    tcp.write_all(&connect).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, tcp.read_to_end(&mut buf))
        .await
        .expect("closed within the bound")
        .unwrap();
    // 3.1.1 MQTT-3.1.2-2: CONNACK return code 0x01, then close.
    assert_eq!(buf, [0x20, 0x02, 0x00, 0x01]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversize_remaining_length_is_refused_before_the_body_arrives() {
    let config = ServerConfig::from_yaml(
        "listeners: [ { protocol: tcp, bind: \"127.0.0.1:0\" } ]\n\
         capabilities: { maximum_packet_size: 1024 }\n",
        "test",
    )
    .unwrap();
    let server = RunningServer::start(config).await.unwrap();
    let addr = server.addr(ListenerProtocol::Tcp).unwrap();
    let mut c = Client::connect(addr, ProtocolVersion::V5, "big").await;
    // A PUBLISH header claiming 200 MB, and nothing else.
    c.send_raw(&[0x30, 0x80, 0x80, 0x80, 0x60]).await;
    match c.next().await {
        Seen::Packet(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::PACKET_TOO_LARGE)
        }
        other => panic!("expected DISCONNECT 0x95, saw {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_mid_packet_does_not_stall_others() {
    let (server, addr) = start().await;
    let mut half = Client::connect(addr, ProtocolVersion::V311, "half").await;
    half.send_raw(&[0x30, 0x7F, 0x00]).await; // 127 bytes promised, 1 sent
    let mut sub = Client::connect(addr, ProtocolVersion::V311, "sub").await;
    sub.subscribe("t", QoS::AtMostOnce).await;
    let mut publisher = Client::connect(addr, ProtocolVersion::V311, "pub2").await;
    publisher.send(&publish("t", "ok")).await;
    match sub.next().await {
        Seen::Packet(Packet::Publish(p)) => assert_eq!(p.payload(), b"ok"),
        other => panic!("expected the PUBLISH, saw {other:?}"),
    }
    server.shutdown().await;
}
