//! Issue 15 over real TCP: `mqtt-harness serve --config FILE` with users
//! alice and bob, anonymous clients refused, and the ACL
//!
//! ```yaml
//! - { username: alice, filter: "private/alice/#", access: both, allow: true }
//! - { filter: "private/#", access: both, allow: false }
//! ```
//!
//! Three leaks were reported, in 3.1.1 and 5.0: bob's `#` received alice's
//! messages, a new subscriber of bob's got alice's retained message, and
//! bob's will on alice's topic reached her. Each test proves one of them
//! closed, with a marker message instead of a silence timeout: messages of
//! one connection are routed in order, so the marker arriving first means
//! the leaked message was not sent. Also the authentication defaults
//! (MQTT 3.1.1 §3.2.2.3, MQTT 5.0 §3.2.2.2).

use std::net::SocketAddr;
use std::time::Duration;

use mqtt_client::{ConnectOptions, Matcher, TestClient};
use mqtt_codec::{
    ConnAck, Connect, MqttString, Packet, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe,
    Subscription, SubscriptionOptions, Will,
};
use mqtt_server::{ListenerProtocol, RunningServer, ServerConfig};

/// Bound on every wait: generous, so the verdict never depends on speed.
const WAIT: Duration = Duration::from_secs(10);

/// The configuration of the issue, as a user would write it.
const ISSUE_CONFIG: &str = r#"
listeners: [ { protocol: tcp, bind: "127.0.0.1:0" } ]
users:
  - { username: alice, password: alice-pw }
  - { username: bob, password: bob-pw }
allow_anonymous: false
acl:
  - { username: alice, filter: "private/alice/#", access: both, allow: true }
  - { filter: "private/#", access: both, allow: false }
"#;

async fn start(yaml: &str) -> (RunningServer, SocketAddr) {
    let config = ServerConfig::from_yaml(yaml, "acl-test.yaml").expect("the config parses");
    let server = RunningServer::start(config).await.expect("server starts");
    let addr = server.addr(ListenerProtocol::Tcp).unwrap();
    (server, addr)
}

fn s(x: &str) -> MqttString {
    MqttString::new(x).unwrap()
}

fn password_of(user: &str) -> &'static [u8] {
    match user {
        "alice" => b"alice-pw",
        "bob" => b"bob-pw",
        _ => b"",
    }
}

/// Opens a connection and sends CONNECT as `user` (with the right password)
/// or anonymously; returns the client and the CONNACK.
async fn handshake(
    addr: SocketAddr,
    v: ProtocolVersion,
    id: &str,
    user: Option<(&str, &[u8])>,
    will: Option<Will>,
) -> (TestClient, ConnAck) {
    let mut c = TestClient::open_str(
        &format!("tcp://{addr}"),
        &ConnectOptions::default().version(v),
    )
    .await
    .expect("TCP connect");
    let mut connect = Connect::new(v, s(id));
    if let Some((u, p)) = user {
        connect.username = Some(s(u));
        connect.password = Some(p.to_vec().into());
    }
    connect.will = will;
    let ack = c.handshake(connect, WAIT).await.expect("CONNACK");
    (c, ack)
}

/// Logs in as `user`; the CONNACK must accept.
async fn login(addr: SocketAddr, v: ProtocolVersion, id: &str, user: &str) -> TestClient {
    let (c, ack) = handshake(addr, v, id, Some((user, password_of(user))), None).await;
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS, "{user} logs in");
    c
}

async fn subscribe(c: &mut TestClient, filter: &str) {
    let id = c.next_packet_id();
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: id,
        properties: Default::default(),
        filters: vec![Subscription {
            filter: s(filter),
            options: SubscriptionOptions::qos(QoS::AtLeastOnce),
        }],
    }))
    .await
    .unwrap();
    match c.expect(&Matcher::suback(id), WAIT).await.unwrap() {
        Packet::SubAck(a) => assert_eq!(a.reason_codes, [ReasonCode(1)], "{filter} granted"),
        other => unreachable!("{other:?}"),
    }
}

/// Publishes at QoS 1 and waits for the PUBACK (accepted or not).
async fn publish(c: &mut TestClient, topic: &str, payload: &'static str, retain: bool) {
    let id = c.next_packet_id();
    let p = Publish::new(s(topic), payload)
        .with_qos(QoS::AtLeastOnce, id)
        .with_retain(retain);
    c.send(&Packet::Publish(p)).await.unwrap();
    c.expect(&Matcher::puback(id), WAIT).await.unwrap();
}

/// The next PUBLISH `c` receives must be on `topic`: anything received
/// before it (a leak) fails.
async fn next_publish_is(c: &mut TestClient, topic: &str) {
    match c.expect_next(&Matcher::publish_on(topic), WAIT).await {
        Ok(_) => {}
        Err(e) => panic!("expected the next packet to be the PUBLISH on {topic}: {e}"),
    }
}

// --- Leak 1: bob's `#` received alice's private messages. ---

async fn bob_hash_subscription_does_not_receive_alices_messages(v: ProtocolVersion) {
    let (server, addr) = start(ISSUE_CONFIG).await;
    let mut bob = login(addr, v, "bob-sub", "bob").await;
    subscribe(&mut bob, "#").await;
    let mut alice_sub = login(addr, v, "alice-sub", "alice").await;
    subscribe(&mut alice_sub, "#").await;
    let mut alice = login(addr, v, "alice-pub", "alice").await;
    publish(&mut alice, "private/alice/diary", "secret", false).await;
    publish(&mut alice, "public/marker", "end", false).await;
    next_publish_is(&mut bob, "public/marker").await;
    // alice's own `#` still gets everything of hers.
    next_publish_is(&mut alice_sub, "private/alice/diary").await;
    next_publish_is(&mut alice_sub, "public/marker").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_hash_subscription_does_not_receive_alices_messages_v311() {
    bob_hash_subscription_does_not_receive_alices_messages(ProtocolVersion::V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_hash_subscription_does_not_receive_alices_messages_v5() {
    bob_hash_subscription_does_not_receive_alices_messages(ProtocolVersion::V5).await;
}

// --- Leak 2: a new subscriber of bob's got alice's retained message. ---

async fn bob_new_subscriber_does_not_get_alices_retained(v: ProtocolVersion) {
    let (server, addr) = start(ISSUE_CONFIG).await;
    let mut alice = login(addr, v, "alice-pub", "alice").await;
    publish(&mut alice, "private/alice/state", "on", true).await;
    publish(&mut alice, "public/marker", "end", true).await;
    // Retained messages are sent in topic order: alice's comes first.
    let mut bob = login(addr, v, "bob-late", "bob").await;
    subscribe(&mut bob, "#").await;
    next_publish_is(&mut bob, "public/marker").await;
    let mut alice_late = login(addr, v, "alice-late", "alice").await;
    subscribe(&mut alice_late, "#").await;
    next_publish_is(&mut alice_late, "private/alice/state").await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_new_subscriber_does_not_get_alices_retained_v311() {
    bob_new_subscriber_does_not_get_alices_retained(ProtocolVersion::V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_new_subscriber_does_not_get_alices_retained_v5() {
    bob_new_subscriber_does_not_get_alices_retained(ProtocolVersion::V5).await;
}

// --- Leak 3: bob's will on alice's topic was published to her. ---

fn will_on_alices_topic() -> Will {
    Will {
        topic: s("private/alice/status"),
        payload: "bob was here".into(),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Default::default(),
    }
}

/// After bob's will was handled: alice's next PUBLISH is her marker, and
/// nothing was retained on her topic.
async fn alice_got_no_will(addr: SocketAddr, v: ProtocolVersion, alice_sub: &mut TestClient) {
    let mut alice = login(addr, v, "alice-pub", "alice").await;
    publish(&mut alice, "private/alice/marker", "end", false).await;
    next_publish_is(alice_sub, "private/alice/marker").await;
    let mut late = login(addr, v, "alice-late", "alice").await;
    subscribe(&mut late, "private/alice/status").await;
    publish(&mut alice, "private/alice/status", "fresh", false).await;
    let p = late
        .expect_next(&Matcher::publish_on("private/alice/status"), WAIT)
        .await
        .unwrap();
    assert!(
        matches!(&p, Packet::Publish(p) if !p.retain && p.payload() == b"fresh"),
        "no retained will: {p:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_will_on_alices_topic_is_not_published_v311() {
    let v = ProtocolVersion::V311;
    let (server, addr) = start(ISSUE_CONFIG).await;
    let mut alice_sub = login(addr, v, "alice-sub", "alice").await;
    subscribe(&mut alice_sub, "private/alice/#").await;
    // 3.1.1 has no reason code for it: the CONNECT is accepted ...
    let (mut bob, ack) = handshake(
        addr,
        v,
        "bob-dying",
        Some(("bob", b"bob-pw")),
        Some(will_on_alices_topic()),
    )
    .await;
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    bob.drop_connection().await;
    // ... and the will dropped when published. Reconnecting with the same
    // client id proves the broker handled the old connection's end (or it
    // takes it over now, which publishes the will too).
    let _bob_again = login(addr, v, "bob-dying", "bob").await;
    alice_got_no_will(addr, v, &mut alice_sub).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_will_on_alices_topic_is_refused_at_connect_with_0x87_v5() {
    let v = ProtocolVersion::V5;
    let (server, addr) = start(ISSUE_CONFIG).await;
    let mut alice_sub = login(addr, v, "alice-sub", "alice").await;
    subscribe(&mut alice_sub, "private/alice/#").await;
    let (mut bob, ack) = handshake(
        addr,
        v,
        "bob-dying",
        Some(("bob", b"bob-pw")),
        Some(will_on_alices_topic()),
    )
    .await;
    assert_eq!(ack.reason_code, ReasonCode::NOT_AUTHORIZED);
    bob.expect_closed(WAIT)
        .await
        .expect("closed after CONNACK 0x87");
    alice_got_no_will(addr, v, &mut alice_sub).await;
    server.shutdown().await;
}

// --- Authentication defaults. ---

async fn no_users_accept_a_connect_with_credentials(v: ProtocolVersion) {
    let (server, addr) = start("listeners: [ { protocol: tcp, bind: \"127.0.0.1:0\" } ]\n").await;
    let (_c, ack) = handshake(addr, v, "creds", Some(("anyone", b"anything")), None).await;
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    let (_c, ack) = handshake(addr, v, "anon", None, None).await;
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_users_accept_a_connect_with_credentials_v311() {
    no_users_accept_a_connect_with_credentials(ProtocolVersion::V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_users_accept_a_connect_with_credentials_v5() {
    no_users_accept_a_connect_with_credentials(ProtocolVersion::V5).await;
}

async fn refused(v: ProtocolVersion, user: Option<(&str, &[u8])>, code: u8) {
    let (server, addr) = start(ISSUE_CONFIG).await;
    let (mut c, ack) = handshake(addr, v, "intruder", user, None).await;
    assert_eq!(ack.reason_code, ReasonCode(code));
    assert!(!ack.session_present);
    c.expect_closed(WAIT)
        .await
        .expect("closed after the refusal");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_users_refuse_a_wrong_password_with_4_v311() {
    refused(ProtocolVersion::V311, Some(("alice", b"wrong")), 0x04).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_users_refuse_a_wrong_password_with_0x86_v5() {
    refused(ProtocolVersion::V5, Some(("alice", b"wrong")), 0x86).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_off_refuses_a_client_without_user_name_with_5_v311() {
    refused(ProtocolVersion::V311, None, 0x05).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_off_refuses_a_client_without_user_name_with_0x87_v5() {
    refused(ProtocolVersion::V5, None, 0x87).await;
}
