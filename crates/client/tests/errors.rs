//! Errors a person can act on: bad endpoint strings, unreachable or silent
//! targets, unusable TLS settings, packets the codec refuses.

mod support;

use std::time::Duration;

use mqtt_client::{ClientError, ConnectOptions, TestClient, TlsOptions};
use mqtt_codec::{ProtocolVersion, QoS};
use support::{connected, publish, Server, TestPki};

#[tokio::test]
async fn a_bad_endpoint_string_is_refused_before_any_traffic() {
    let err = TestClient::open_str("localhost:1883", &ConnectOptions::default())
        .await
        .expect_err("no scheme");
    assert!(matches!(err, ClientError::Endpoint(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "bad endpoint \"localhost:1883\": no scheme; write it as tcp://localhost:1883, \
         ws://localhost:1883/path or mqtts://localhost:1883"
    );
    let err = TestClient::open_str("tcp://127.0.0.1:99999", &ConnectOptions::default())
        .await
        .expect_err("port out of range");
    assert!(
        err.to_string()
            .contains("port \"99999\" is not a number from 1 to 65535"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_names_the_address() {
    // A port that was just free: nothing listens there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let address = format!("tcp://127.0.0.1:{port}");
    let err = TestClient::open_str(&address, &ConnectOptions::default())
        .await
        .expect_err("nothing listens");
    match &err {
        ClientError::Connect { addr, source } => {
            assert_eq!(addr, &address);
            assert_eq!(
                source.kind(),
                std::io::ErrorKind::ConnectionRefused,
                "{source}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("cannot connect to {address}: ")),
        "{err}"
    );
}

/// A listener that accepts TCP but never answers the WebSocket handshake:
/// the connect timeout bounds the wait.
#[tokio::test]
async fn a_silent_target_times_out_within_the_bound() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("ws://{}/mqtt", listener.local_addr().unwrap());
    let options = ConnectOptions::default().connect_timeout(Duration::from_millis(300));
    let err = TestClient::open_str(&address, &options)
        .await
        .expect_err("no handshake answer");
    match &err {
        ClientError::Connect { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::TimedOut)
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {address}: not connected within 300ms")
    );
    drop(listener);
}

#[tokio::test]
async fn tls_needs_a_trust_anchor_and_the_right_one() {
    let server = Server::start().await;
    let err = TestClient::open_str(&server.tls(), &ConnectOptions::default())
        .await
        .expect_err("no CA and not insecure");
    assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("no trust anchor"), "{err}");

    let options = ConnectOptions::default().tls(TlsOptions::with_ca_file("/nonexistent/ca.pem"));
    let err = TestClient::open_str(&server.tls(), &options)
        .await
        .expect_err("unreadable CA file");
    assert!(
        err.to_string().contains("CA file /nonexistent/ca.pem"),
        "{err}"
    );

    // Another CA than the server's: the handshake fails, naming the target.
    let other = TestPki::generate();
    let options = ConnectOptions::default().tls(TlsOptions::with_ca_file(&other.ca));
    let err = TestClient::open_str(&server.tls(), &options)
        .await
        .expect_err("unknown issuer");
    assert!(matches!(err, ClientError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("cannot connect to {}: ", server.tls())),
        "{text}"
    );
    // Same CA name, other key: BadSignature (UnknownIssuer for another name).
    assert!(text.contains("invalid peer certificate"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_packet_the_codec_refuses_is_an_encode_error_and_nothing_is_sent() {
    let server = Server::start().await;
    let mut c = connected(
        &server.tcp(),
        &ConnectOptions::default(),
        ProtocolVersion::V5,
        "enc",
    )
    .await;
    let before = c.trace().len();
    // QoS 0 with a packet identifier.
    let err = c
        .send(&publish("t", "x", QoS::AtMostOnce, 5))
        .await
        .expect_err("the codec refuses it");
    assert!(matches!(err, ClientError::Encode(_)), "{err}");
    assert!(err.to_string().starts_with("refusing to encode"), "{err}");
    assert_eq!(c.trace().len(), before);
    server.stop().await;
}
