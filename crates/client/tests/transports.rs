//! Connect, subscribe and publish at QoS 0, 1 and 2 against the reference
//! server over TCP, WebSocket and TLS (CA file and insecure), with every
//! acknowledgement sent by hand.

mod support;

use mqtt_client::{CloseKind, ConnectOptions, Matcher, TestClient, TlsOptions, TraceEvent};
use mqtt_codec::{Packet, ProtocolVersion, QoS, ReasonCode};
use support::{ack, as_publish, connected, publish, subscribed, Server, WAIT};

/// One publisher and one subscriber on `endpoint` exchange a message at
/// each QoS; both then disconnect and see the server close.
async fn round_trip(endpoint: &str, options: &ConnectOptions, version: ProtocolVersion, tag: &str) {
    let topic = format!("rt/{tag}");
    let mut sub = connected(endpoint, options, version, &format!("sub-{tag}")).await;
    let mut publ = connected(endpoint, options, version, &format!("pub-{tag}")).await;
    subscribed(&mut sub, "rt/#", QoS::ExactlyOnce).await;

    // QoS 0.
    publ.send(&publish(&topic, "zero", QoS::AtMostOnce, 0))
        .await
        .unwrap();
    let got = as_publish(
        sub.expect(&Matcher::publish_on(&topic), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!((got.qos, got.payload()), (QoS::AtMostOnce, &b"zero"[..]));

    // QoS 1: PUBACK to the publisher, PUBLISH acknowledged by the subscriber.
    let id = publ.next_packet_id();
    publ.send(&publish(&topic, "one", QoS::AtLeastOnce, id))
        .await
        .unwrap();
    publ.expect(&Matcher::puback(id), WAIT).await.unwrap();
    let got = as_publish(
        sub.expect(&Matcher::publish_on(&topic), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!((got.qos, got.payload()), (QoS::AtLeastOnce, &b"one"[..]));
    sub.send(&Packet::PubAck(ack(got.packet_id))).await.unwrap();

    // QoS 2: PUBREC, PUBREL, PUBCOMP on both sides.
    let id = publ.next_packet_id();
    publ.send(&publish(&topic, "two", QoS::ExactlyOnce, id))
        .await
        .unwrap();
    publ.expect(&Matcher::pubrec(id), WAIT).await.unwrap();
    publ.send(&Packet::PubRel(ack(id))).await.unwrap();
    publ.expect(&Matcher::pubcomp(id), WAIT).await.unwrap();
    let got = as_publish(
        sub.expect(&Matcher::publish_on(&topic), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!((got.qos, got.payload()), (QoS::ExactlyOnce, &b"two"[..]));
    sub.send(&Packet::PubRec(ack(got.packet_id))).await.unwrap();
    sub.expect(&Matcher::pubrel(got.packet_id), WAIT)
        .await
        .unwrap();
    sub.send(&Packet::PubComp(ack(got.packet_id)))
        .await
        .unwrap();

    // Nothing else was delivered, and both sides close cleanly.
    sub.expect_nothing(None, std::time::Duration::from_millis(100))
        .await
        .unwrap();
    for client in [&mut sub, &mut publ] {
        client.disconnect(ReasonCode::SUCCESS).await.unwrap();
        let close = client.expect_closed(WAIT).await.unwrap();
        assert_eq!(close.kind, CloseKind::Eof, "{close}");
        assert!(close.by_server() && close.disconnect.is_none(), "{close}");
        assert!(client.pending().is_empty(), "{:?}", client.pending());
    }
    let trace = sub.trace();
    let received = trace
        .iter()
        .filter(|e| matches!(e.event, TraceEvent::Received { .. }))
        .count();
    // CONNACK, SUBACK, three PUBLISH, PUBREL.
    assert_eq!(received, 6, "{trace}");
    assert!(trace.windows(2).all(|w| w[0].at <= w[1].at), "{trace}");
}

#[tokio::test]
async fn tcp_v5() {
    let server = Server::start().await;
    round_trip(
        &server.tcp(),
        &ConnectOptions::default(),
        ProtocolVersion::V5,
        "tcp5",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn tcp_v311() {
    let server = Server::start().await;
    let options = ConnectOptions::default().version(ProtocolVersion::V311);
    round_trip(&server.tcp(), &options, ProtocolVersion::V311, "tcp311").await;
    server.stop().await;
}

#[tokio::test]
async fn websocket_v5() {
    let server = Server::start().await;
    round_trip(
        &server.ws(),
        &ConnectOptions::default(),
        ProtocolVersion::V5,
        "ws5",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn websocket_v311() {
    let server = Server::start().await;
    round_trip(
        &server.ws(),
        &ConnectOptions::default(),
        ProtocolVersion::V311,
        "ws311",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn tls_with_a_ca_file() {
    let server = Server::start().await;
    round_trip(
        &server.tls(),
        &server.tls_options(),
        ProtocolVersion::V5,
        "tlsca",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn tls_insecure_with_a_server_name() {
    let server = Server::start().await;
    // The name is not in the certificate: insecure accepts it anyway.
    let options =
        ConnectOptions::default().tls(TlsOptions::insecure().server_name("broker.invalid"));
    round_trip(&server.tls(), &options, ProtocolVersion::V5, "tlsinsecure").await;
    server.stop().await;
}

#[tokio::test]
async fn tls_with_the_ca_checks_the_server_name() {
    let server = Server::start().await;
    let options = ConnectOptions::default()
        .tls(TlsOptions::with_ca_file(&server.pki.ca).server_name("localhost"));
    // `localhost` is in the certificate, so the name check passes.
    let mut c = connected(&server.tls(), &options, ProtocolVersion::V5, "sni-ok").await;
    c.disconnect(ReasonCode::SUCCESS).await.unwrap();
    let options = ConnectOptions::default()
        .tls(TlsOptions::with_ca_file(&server.pki.ca).server_name("elsewhere.invalid"));
    let err = TestClient::open_str(&server.tls(), &options)
        .await
        .expect_err("a name outside the certificate fails verification");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to {}", server.tls())),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
    server.stop().await;
}
