//! The expect family against the reference server: race-freedom, skipping
//! versus next-must-match, silence, closes, malformed packets from a
//! broker, auto-acknowledge, keep-alive and the trace.

mod support;

use std::time::Duration;

use mqtt_client::{ClientError, CloseKind, ConnectOptions, Matcher, TestClient, TraceEvent};
use mqtt_codec::raw::RawPacket;
use mqtt_codec::{MqttString, Packet, ProtocolVersion, QoS, ReasonCode, Will};
use support::{
    as_publish, connect_packet, connected, publish, subscribe, subscribed, Server, WAIT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// A delivery that arrived before the test asked for it is found, even
/// with a zero timeout: the reader queued it on arrival.
///
/// No sleeping: the publisher's PUBACK proves the broker processed the
/// PUBLISH (so the delivery is queued on the subscriber's connection), and
/// the PINGRESP the subscriber then waits for travels behind it on the
/// same connection, so by the time it is seen the delivery is in the inbox.
#[tokio::test]
async fn a_packet_that_arrived_before_the_expect_is_not_lost() {
    let server = Server::start().await;
    let opts = ConnectOptions::default();
    let mut sub = connected(&server.tcp(), &opts, V5, "race-sub").await;
    let mut publ = connected(&server.tcp(), &opts, V5, "race-pub").await;
    subscribed(&mut sub, "race/#", QoS::AtMostOnce).await;

    let id = publ.next_packet_id();
    publ.send(&publish("race/a", "early", QoS::AtLeastOnce, id))
        .await
        .unwrap();
    publ.expect(&Matcher::puback(id), WAIT).await.unwrap();
    sub.send(&Packet::PingReq).await.unwrap();
    // Skips the PUBLISH queued before the PINGRESP, leaving it in place.
    sub.expect(&Matcher::pingresp(), WAIT).await.unwrap();
    assert_eq!(sub.pending().len(), 1, "{}", sub.trace());

    let asked_at = sub.elapsed();
    let got = as_publish(
        sub.expect(&Matcher::publish_on("race/a"), Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{}", sub.trace())),
    );
    assert_eq!(got.payload(), b"early");
    let arrived = sub
        .trace()
        .iter()
        .find(|e| matches!(e.packet(), Some(Packet::Publish(_))))
        .map(|e| e.at)
        .unwrap();
    assert!(
        arrived < asked_at,
        "arrived {arrived:?}, asked {asked_at:?}"
    );
    server.stop().await;
}

/// Ordered delivery (MQTT 4.6) makes the second message a barrier: once it
/// is consumed, the first is already queued and found with no wait.
#[tokio::test]
async fn expect_skips_and_keeps_while_expect_next_insists() {
    let server = Server::start().await;
    let opts = ConnectOptions::default();
    let mut sub = connected(&server.tcp(), &opts, V5, "order-sub").await;
    let mut publ = connected(&server.tcp(), &opts, V5, "order-pub").await;
    subscribed(&mut sub, "order/#", QoS::AtMostOnce).await;
    for (topic, payload) in [
        ("order/1", "first"),
        ("order/2", "second"),
        ("order/3", "third"),
    ] {
        publ.send(&publish(topic, payload, QoS::AtMostOnce, 0))
            .await
            .unwrap();
    }
    // The second is taken first; the first stays queued, in front.
    sub.expect(&Matcher::publish_on("order/2"), WAIT)
        .await
        .unwrap();
    sub.expect(&Matcher::publish_on("order/1"), Duration::ZERO)
        .await
        .unwrap();
    // The next one must be order/3: asking for order/9 names what came.
    let err = sub
        .expect_next(&Matcher::publish_on("order/9"), WAIT)
        .await
        .expect_err("order/3 comes next");
    match &err {
        ClientError::Unexpected { got, .. } => {
            assert_eq!(as_publish((**got).clone()).topic(), "order/3")
        }
        other => panic!("{other}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with(
            "expected PUBLISH on \"order/9\" as the next packet; got PUBLISH topic=\"order/3\""
        ),
        "{text}"
    );
    // A failed expect_next leaves the packet where it was.
    sub.expect_next(&Matcher::publish_on("order/3"), WAIT)
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn expect_nothing_passes_on_silence_and_fails_on_a_match() {
    let server = Server::start().await;
    let opts = ConnectOptions::default();
    let mut sub = connected(&server.tcp(), &opts, V5, "quiet-sub").await;
    let mut publ = connected(&server.tcp(), &opts, V5, "quiet-pub").await;
    subscribed(&mut sub, "quiet/#", QoS::AtMostOnce).await;

    // A publication elsewhere reaches nobody.
    let id = publ.next_packet_id();
    publ.send(&publish("loud/x", "x", QoS::AtLeastOnce, id))
        .await
        .unwrap();
    publ.expect(&Matcher::puback(id), WAIT).await.unwrap();
    sub.expect_nothing(Some(&Matcher::publish()), Duration::from_millis(200))
        .await
        .unwrap();

    // A matching one fails the expectation as soon as it arrives (well
    // before the window ends) and stays queued.
    publ.send(&publish("quiet/x", "x", QoS::AtMostOnce, 0))
        .await
        .unwrap();
    let err = sub
        .expect_nothing(Some(&Matcher::publish_on("quiet/x")), WAIT * 6)
        .await
        .expect_err("quiet/x arrives");
    assert!(matches!(err, ClientError::Unexpected { .. }), "{err}");
    assert!(
        err.to_string().starts_with(
            "expected no PUBLISH on \"quiet/x\" within 60s; got PUBLISH topic=\"quiet/x\""
        ),
        "{err}"
    );
    // Queued packets count: even a filter-less check fails now.
    let err = sub
        .expect_nothing(None, Duration::from_millis(10))
        .await
        .expect_err("the PUBLISH is still queued");
    assert!(matches!(err, ClientError::Unexpected { .. }), "{err}");
    sub.expect(&Matcher::publish(), Duration::ZERO)
        .await
        .unwrap();
    sub.expect_nothing(None, Duration::from_millis(50))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn a_timeout_says_what_was_expected_and_what_came() {
    let server = Server::start().await;
    let mut c = connected(&server.tcp(), &ConnectOptions::default(), V5, "timeout").await;
    let err = c
        .expect(&Matcher::suback(3), Duration::from_millis(200))
        .await
        .expect_err("no SUBSCRIBE was sent");
    assert!(err.is_timeout());
    assert_eq!(
        err.to_string(),
        "expected SUBACK for packet id 3 within 200ms; got nothing; connection still open"
    );
    // A PINGRESP answered before the SUBACK of packet 1 is queued but
    // matches nothing: the message names it.
    c.send(&Packet::PingReq).await.unwrap();
    c.send(&subscribe(1, "t", QoS::AtMostOnce)).await.unwrap();
    c.expect(&Matcher::suback(1), WAIT).await.unwrap();
    let err = c
        .expect(&Matcher::suback(3), Duration::from_millis(200))
        .await
        .expect_err("no SUBSCRIBE 3 was sent");
    assert_eq!(
        err.to_string(),
        "expected SUBACK for packet id 3 within 200ms; got 1 other packet: PINGRESP; connection still open"
    );
    server.stop().await;
}

/// A PUBLISH with QoS 3 (MQTT-3.3.1-4): a 5.0 server answers DISCONNECT
/// 0x81 Malformed Packet and closes.
#[tokio::test]
async fn a_malformed_packet_gets_disconnect_0x81_then_a_close() {
    let server = Server::start().await;
    let mut c = connected(&server.tcp(), &ConnectOptions::default(), V5, "bad5").await;
    let bad = RawPacket::new(3, 0b0110)
        .string(b"a/b")
        .u16(1)
        .u8(0)
        .build();
    c.send_raw(bad).await.unwrap();
    let close = c.expect_closed(WAIT).await.unwrap();
    assert_eq!(close.kind, CloseKind::Eof, "{close}");
    let disconnect = close
        .disconnect
        .clone()
        .expect("DISCONNECT before the close");
    assert_eq!(disconnect.reason_code, ReasonCode::MALFORMED_PACKET);
    assert!(
        close
            .to_string()
            .contains("(EOF after DISCONNECT 0x81 Malformed Packet)"),
        "{close}"
    );
    // Expects after the close say so.
    let err = c
        .expect(&Matcher::suback(1), WAIT)
        .await
        .expect_err("closed");
    assert!(matches!(err, ClientError::Closed { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("the server closed the connection after"),
        "{err}"
    );
    let trace = c.trace();
    assert!(
        matches!(
            trace.last().unwrap().event,
            TraceEvent::Closed(CloseKind::Eof)
        ),
        "{trace}"
    );
    assert!(trace.to_string().contains("-> raw "), "{trace}");
    server.stop().await;
}

/// MQTT 3.1.1 has no DISCONNECT from the server: the connection just ends.
#[tokio::test]
async fn a_malformed_packet_in_3_1_1_ends_the_connection_without_disconnect() {
    let server = Server::start().await;
    let opts = ConnectOptions::default();
    let mut c = connected(&server.tcp(), &opts, ProtocolVersion::V311, "bad311").await;
    let bad = RawPacket::new(3, 0b0110).string(b"a/b").u16(1).build();
    c.send_raw(bad).await.unwrap();
    let close = c.expect_closed(WAIT).await.unwrap();
    assert!(close.by_server(), "{close}");
    assert!(close.disconnect.is_none(), "{close}");
    assert!(close.to_string().ends_with(", no DISCONNECT)"), "{close}");
    server.stop().await;
}

/// A broker that sends a PUBLISH with QoS 3 is caught: the violation is
/// traced and every expect reports it, naming the statement.
#[tokio::test]
async fn a_malformed_packet_from_the_broker_is_a_finding() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 256];
        // Wait for the CONNECT, answer with a good CONNACK, then garbage.
        let _ = socket.read(&mut buf).await.unwrap();
        socket
            .write_all(&[0x20, 0x03, 0x00, 0x00, 0x00])
            .await
            .unwrap();
        socket
            .write_all(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01])
            .await
            .unwrap();
        // Hold the connection open until the client is done.
        let _ = socket.read(&mut buf).await;
    });
    let mut c = TestClient::open_str(&format!("tcp://{addr}"), &ConnectOptions::default())
        .await
        .unwrap();
    c.handshake(connect_packet(V5, "victim"), WAIT)
        .await
        .unwrap();
    let err = c
        .expect(&Matcher::publish(), WAIT)
        .await
        .expect_err("the PUBLISH is malformed");
    let violation = err.violation().expect("a malformed-packet error").clone();
    assert!(
        violation.statements.contains(&"MQTT-3.3.1-4"),
        "{violation}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("expected PUBLISH; the broker sent a malformed packet after"),
        "{text}"
    );
    assert!(text.contains("MQTT-3.3.1-4"), "{text}");
    // Recorded in the trace with the bytes.
    let trace = c.trace();
    assert!(
        trace
            .iter()
            .any(|e| matches!(&e.event, TraceEvent::Malformed { violation: v, bytes } if *v == violation && bytes[0] == 0x36)),
        "{trace}"
    );
    // expect_nothing and expect_closed report it too.
    let err = c
        .expect_nothing(None, Duration::from_millis(10))
        .await
        .expect_err("malformed");
    assert!(err.violation().is_some(), "{err}");
    let err = c.expect_closed(WAIT).await.expect_err("malformed");
    assert!(err.violation().is_some(), "{err}");
    c.drop_connection().await;
    tokio::time::timeout(WAIT, fake).await.unwrap().unwrap();
}

/// Dropping the connection (no DISCONNECT) makes the broker publish the
/// Will; sending afterwards is refused with the reason.
#[tokio::test]
async fn drop_connection_fires_the_will() {
    let server = Server::start().await;
    let opts = ConnectOptions::default();
    let mut watcher = connected(&server.tcp(), &opts, V5, "watcher").await;
    subscribed(&mut watcher, "will/#", QoS::AtLeastOnce).await;

    let mut dying = TestClient::open_str(&server.tcp(), &opts).await.unwrap();
    let mut connect = connect_packet(V5, "dying");
    connect.will = Some(Will {
        topic: MqttString::from_static("will/dying"),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    });
    dying.handshake(connect, WAIT).await.unwrap();
    dying.drop_connection().await;

    let will = as_publish(
        watcher
            .expect(&Matcher::publish_on("will/dying"), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!(will.payload(), b"gone");
    watcher
        .send(&Packet::PubAck(support::ack(will.packet_id)))
        .await
        .unwrap();

    let err = dying
        .send(&Packet::PingReq)
        .await
        .expect_err("the connection is gone");
    assert!(matches!(err, ClientError::NotOpen { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot send PINGREQ: this client closed the connection after"),
        "{err}"
    );
    let close = dying.expect_closed(WAIT).await.unwrap();
    assert_eq!(close.kind, CloseKind::Dropped);
    assert!(!close.by_server());
    server.stop().await;
}

/// Auto-acknowledge answers QoS 1 and 2 deliveries; the PUBREL it
/// completes is traced but not queued.
#[tokio::test]
async fn auto_acknowledge_completes_incoming_flows() {
    let server = Server::start().await;
    let opts = ConnectOptions::default();
    let mut sub = connected(&server.tcp(), &opts, V5, "auto-sub").await;
    let mut publ = connected(&server.tcp(), &opts, V5, "auto-pub").await;
    sub.set_auto_ack(true);
    subscribed(&mut sub, "auto/#", QoS::ExactlyOnce).await;

    publ.send(&publish("auto/1", "one", QoS::AtLeastOnce, 1))
        .await
        .unwrap();
    publ.send(&publish("auto/2", "two", QoS::ExactlyOnce, 2))
        .await
        .unwrap();
    publ.expect(&Matcher::puback(1), WAIT).await.unwrap();
    publ.expect(&Matcher::pubrec(2), WAIT).await.unwrap();
    publ.send(&Packet::PubRel(support::ack(2))).await.unwrap();
    publ.expect(&Matcher::pubcomp(2), WAIT).await.unwrap();

    let one = as_publish(
        sub.expect_next(&Matcher::publish_on("auto/1"), WAIT)
            .await
            .unwrap(),
    );
    let two = as_publish(
        sub.expect_next(&Matcher::publish_on("auto/2"), WAIT)
            .await
            .unwrap(),
    );
    // The PINGRESP comes behind the PUBREL, so once it is here the PUBREL
    // was handled (not queued: the PINGRESP is next) and its PUBCOMP handed
    // to the writer before this PINGREQ, whose send returns once written.
    sub.send(&Packet::PingReq).await.unwrap();
    sub.expect_next(&Matcher::pingresp(), WAIT).await.unwrap();
    sub.send(&Packet::PingReq).await.unwrap();
    let trace = sub.trace();
    let auto_sent: Vec<&Packet> = trace
        .iter()
        .filter_map(|e| match &e.event {
            TraceEvent::Sent { packet, auto: true } => Some(packet),
            _ => None,
        })
        .collect();
    assert_eq!(
        auto_sent,
        [
            &Packet::PubAck(support::ack(one.packet_id)),
            &Packet::PubRec(support::ack(two.packet_id)),
            &Packet::PubComp(support::ack(two.packet_id)),
        ],
        "{trace}"
    );
    assert!(
        trace.iter().any(|e| matches!(
            &e.event,
            TraceEvent::Received {
                packet: Packet::PubRel(_),
                handled: true
            }
        )),
        "{trace}"
    );
    server.stop().await;
}

/// Keep-alive pings go out by themselves and their PINGRESPs are consumed
/// by the client, so an expect_nothing is not disturbed.
#[tokio::test]
async fn keep_alive_pings_are_answered_out_of_sight() {
    let server = Server::start().await;
    let mut c = connected(&server.tcp(), &ConnectOptions::default(), V5, "pinger").await;
    c.set_keep_alive(Some(Duration::from_millis(50)));
    // Forty intervals: at least one ping and its answer fit, however slow
    // the machine.
    c.expect_nothing(None, Duration::from_secs(2))
        .await
        .unwrap();
    c.set_keep_alive(None);
    // The test's own PINGREQ is answered into the inbox as usual.
    c.send(&Packet::PingReq).await.unwrap();
    c.expect(&Matcher::pingresp(), WAIT).await.unwrap();
    let trace = c.trace();
    let pings = trace
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                TraceEvent::Sent {
                    packet: Packet::PingReq,
                    auto: true
                }
            )
        })
        .count();
    let handled = trace
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                TraceEvent::Received {
                    packet: Packet::PingResp,
                    handled: true
                }
            )
        })
        .count();
    assert!(pings >= 1 && handled >= 1, "{trace}");
    server.stop().await;
}

#[tokio::test]
async fn the_trace_shows_one_line_per_entry() {
    let server = Server::start().await;
    let mut c = connected(&server.tcp(), &ConnectOptions::default(), V5, "tracer").await;
    c.disconnect(ReasonCode::SUCCESS).await.unwrap();
    c.expect_closed(WAIT).await.unwrap();
    let text = c.trace().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(
        lines[0]
            .ends_with("-> CONNECT MQTT 5.0 client_id=\"tracer\" clean_start=true keep_alive=0"),
        "{text}"
    );
    assert!(
        lines[1].contains("<- CONNACK 0x00 Success session_present=false"),
        "{text}"
    );
    assert!(lines[2].ends_with("-> DISCONNECT 0x00 Success"), "{text}");
    assert!(lines[3].ends_with("-- closed: EOF"), "{text}");
    server.stop().await;
}
