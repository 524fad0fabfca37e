//! `mqtt-harness serve --data DIR` across SIGKILL: the real binary as a
//! child process, killed (`Child::kill` is SIGKILL on Unix) at a moment
//! when the server has acknowledged something, restarted on the same port
//! and data directory, and checked with the project's test client.
//!
//! Every wait is bounded ([`WAIT`], [`START`]); no verdict depends on
//! speed. The one sleep (the expiry test) only lets a 2 s Session Expiry
//! Interval pass; the check is that the session is gone after at least 3 s.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mqtt_client::{ConnectOptions, Matcher, TestClient};
use mqtt_codec::{
    ConnAck, Connect, Disconnect, MqttString, Packet, ProtocolVersion, PubResponse, Publish, QoS,
    ReasonCode, Subscribe, Subscription, SubscriptionOptions,
};
use mqtt_testkit::TempDir;

/// Bound on each wait for a packet.
const WAIT: Duration = Duration::from_secs(10);
/// Bound on a server start (process up, port accepting connections).
const START: Duration = Duration::from_secs(20);

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// The server as a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// The startup lines it printed.
    banner: Vec<String>,
}

impl Server {
    /// Starts `mqtt-harness serve` on `port` (0: any) with `args`, and
    /// waits until it prints its listener and accepts connections. A port
    /// still held by the killed predecessor is retried until [`START`].
    fn start(port: u16, args: &[&str]) -> Server {
        let deadline = Instant::now() + START;
        loop {
            match Server::try_start(port, args, deadline) {
                Ok(s) => return s,
                Err(e) if Instant::now() < deadline && e.contains("cannot listen") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("the server did not start: {e}"),
            }
        }
    }

    fn try_start(port: u16, args: &[&str], deadline: Instant) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqtt-harness"))
            .arg("serve")
            .arg("--tcp")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        let out = child.stdout.take().ok_or("no stdout")?;
        let err = child.stderr.take().ok_or("no stderr")?;
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(Ok(line)).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[server] {line}");
                let _ = tx2.send(Err(line));
            }
        });
        let mut banner = Vec::new();
        let mut errors = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Ok(line)) => {
                    let addr = line
                        .split_once("Tcp listener on ")
                        .and_then(|(_, a)| a.trim().parse::<SocketAddr>().ok());
                    banner.push(line);
                    if let Some(a) = addr {
                        break a;
                    }
                }
                Ok(Err(line)) => errors.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "no listener line; stdout {banner:?}, stderr {errors:?}"
                    ));
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Let the stderr reader finish.
                while let Ok(r) = rx.recv_timeout(Duration::from_millis(200)) {
                    if let Err(l) = r {
                        errors.push(l);
                    }
                }
                return Err(format!("exited with {status}: {}", errors.join("\n")));
            }
        };
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                return Err(format!("{addr} accepts no connection"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Server {
            child,
            addr,
            banner,
        })
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(mut self) -> u16 {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
        self.addr.port()
    }

    fn url(&self) -> String {
        format!("tcp://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn durable(dir: &TempDir, fsync: &str) -> Vec<String> {
    vec![
        "--data".into(),
        dir.path().display().to_string(),
        "--fsync".into(),
        fsync.into(),
    ]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn s(x: &str) -> MqttString {
    MqttString::new(x).expect("a valid string")
}

/// Connects `id`; `persistent`: clean session 0 (3.1.1) or clean start 0
/// with a Session Expiry Interval of `expiry` seconds (5.0).
async fn connect(
    server: &Server,
    v: ProtocolVersion,
    id: &str,
    persistent: bool,
    expiry: u32,
) -> (TestClient, ConnAck) {
    let mut c = TestClient::open_str(&server.url(), &ConnectOptions::default().version(v))
        .await
        .expect("TCP connect");
    let mut p = Connect::new(v, s(id));
    p.clean_start = !persistent;
    if v.is_v5() && persistent {
        p.properties.session_expiry_interval = Some(expiry);
    }
    let ack = c.handshake(p, WAIT).await.expect("CONNACK");
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS, "{id} connects");
    (c, ack)
}

async fn subscribe(c: &mut TestClient, filter: &str, q: QoS) {
    let id = c.next_packet_id();
    c.send(&Packet::Subscribe(Subscribe {
        packet_id: id,
        properties: Default::default(),
        filters: vec![Subscription {
            filter: s(filter),
            options: SubscriptionOptions::qos(q),
        }],
    }))
    .await
    .expect("send SUBSCRIBE");
    c.expect(&Matcher::suback(id), WAIT).await.expect("SUBACK");
}

/// Publishes at QoS 1 and waits for the PUBACK: from then on the server
/// has promised the message.
async fn publish_acked(c: &mut TestClient, topic: &str, payload: &str, retain: bool) {
    let id = c.next_packet_id();
    let p = Publish::new(s(topic), payload.as_bytes().to_vec())
        .with_qos(QoS::AtLeastOnce, id)
        .with_retain(retain);
    c.send(&Packet::Publish(p)).await.expect("send PUBLISH");
    c.expect(&Matcher::puback(id), WAIT).await.expect("PUBACK");
    c.packet_ids().release(id);
}

fn payload_of(p: &Packet) -> Vec<u8> {
    match p {
        Packet::Publish(p) => p.payload().to_vec(),
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

// --- retained messages ---

async fn retained_message_survives_sigkill(v: ProtocolVersion) {
    let dir = TempDir::new("durable-retained");
    let a = durable(&dir, "always");
    let server = Server::start(0, &args(&a));
    let (mut p, _) = connect(&server, v, "pub", false, 0).await;
    publish_acked(&mut p, "state/lamp", "on", true).await;
    let port = server.kill();
    let server = Server::start(port, &args(&a));
    let (mut sub, _) = connect(&server, v, "late", false, 0).await;
    subscribe(&mut sub, "state/#", QoS::AtLeastOnce).await;
    let got = sub
        .expect_next(&Matcher::publish_on("state/lamp"), WAIT)
        .await
        .expect("the retained message after the restart");
    assert_eq!(payload_of(&got), b"on");
    assert!(matches!(&got, Packet::Publish(p) if p.retain));
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_message_survives_sigkill_v311() {
    retained_message_survives_sigkill(V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retained_message_survives_sigkill_v5() {
    retained_message_survives_sigkill(V5).await;
}

// --- persistent sessions ---

async fn persistent_session_keeps_subscriptions(v: ProtocolVersion) {
    let dir = TempDir::new("durable-session");
    let a = durable(&dir, "batch");
    let server = Server::start(0, &args(&a));
    let (mut sub, ack) = connect(&server, v, "keeper", true, 3600).await;
    assert!(!ack.session_present);
    subscribe(&mut sub, "news/+", QoS::AtLeastOnce).await;
    let port = server.kill();
    let server = Server::start(port, &args(&a));
    let (mut sub, ack) = connect(&server, v, "keeper", true, 3600).await;
    assert!(ack.session_present, "the session survived the restart");
    sub.set_auto_ack(true);
    let (mut p, _) = connect(&server, v, "pub", false, 0).await;
    publish_acked(&mut p, "news/today", "fresh", false).await;
    let got = sub
        .expect(&Matcher::publish_on("news/today"), WAIT)
        .await
        .expect("the kept subscription delivers");
    assert_eq!(payload_of(&got), b"fresh");
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_session_keeps_subscriptions_v311() {
    persistent_session_keeps_subscriptions(V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn persistent_session_keeps_subscriptions_v5() {
    persistent_session_keeps_subscriptions(V5).await;
}

// --- queued QoS 1 messages ---

async fn acknowledged_queued_messages_are_all_delivered(v: ProtocolVersion, fsync: &str) {
    const N: usize = 200;
    let dir = TempDir::new("durable-queue");
    let a = durable(&dir, fsync);
    let server = Server::start(0, &args(&a));
    let (mut sub, _) = connect(&server, v, "offline-sub", true, 3600).await;
    subscribe(&mut sub, "q/#", QoS::AtLeastOnce).await;
    sub.disconnect(ReasonCode::SUCCESS)
        .await
        .expect("DISCONNECT");
    let _ = sub.expect_closed(WAIT).await;
    // All sent at once, then every PUBACK awaited: the server may group
    // them into few commits, but acknowledges none before it is written.
    let (mut p, _) = connect(&server, v, "pub", false, 0).await;
    let mut ids = Vec::new();
    for i in 0..N {
        let id = p.next_packet_id();
        let m = Publish::new(s(&format!("q/{}", i % 7)), format!("m{i}").into_bytes())
            .with_qos(QoS::AtLeastOnce, id);
        p.send(&Packet::Publish(m)).await.expect("send PUBLISH");
        ids.push(id);
    }
    for id in ids {
        p.expect(&Matcher::puback(id), WAIT).await.expect("PUBACK");
    }
    let port = server.kill();
    let server = Server::start(port, &args(&a));
    let (mut sub, ack) = connect(&server, v, "offline-sub", true, 3600).await;
    assert!(ack.session_present);
    sub.set_auto_ack(true);
    let mut got = std::collections::BTreeSet::new();
    while got.len() < N {
        match sub.expect(&Matcher::publish(), WAIT).await {
            Ok(packet) => {
                got.insert(payload_of(&packet));
            }
            Err(e) => panic!("{} of {N} acknowledged messages delivered: {e}", got.len()),
        }
    }
    let want: std::collections::BTreeSet<Vec<u8>> =
        (0..N).map(|i| format!("m{i}").into_bytes()).collect();
    assert_eq!(got, want, "zero lost");
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_queued_qos1_messages_are_all_delivered_v311() {
    acknowledged_queued_messages_are_all_delivered(V311, "always").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_queued_qos1_messages_are_all_delivered_v5_batch() {
    acknowledged_queued_messages_are_all_delivered(V5, "batch").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_queued_qos1_messages_are_all_delivered_v5_fsync_never() {
    acknowledged_queued_messages_are_all_delivered(V5, "never").await;
}

// --- outbound in flight ---

async fn unacknowledged_deliveries_are_resent_with_dup(v: ProtocolVersion) {
    let dir = TempDir::new("durable-inflight");
    let a = durable(&dir, "always");
    let server = Server::start(0, &args(&a));
    let (mut sub, _) = connect(&server, v, "slow-sub", true, 3600).await;
    subscribe(&mut sub, "one/#", QoS::AtLeastOnce).await;
    subscribe(&mut sub, "two/#", QoS::ExactlyOnce).await;
    let (mut p, _) = connect(&server, v, "pub", false, 0).await;
    publish_acked(&mut p, "one/x", "q1", false).await;
    let id = p.next_packet_id();
    p.send(&Packet::Publish(
        Publish::new(s("two/x"), b"q2".to_vec()).with_qos(QoS::ExactlyOnce, id),
    ))
    .await
    .unwrap();
    p.expect(&Matcher::pubrec(id), WAIT).await.expect("PUBREC");
    // Received, never acknowledged.
    let first = [
        sub.expect(&Matcher::publish_on("one/x"), WAIT)
            .await
            .unwrap(),
        sub.expect(&Matcher::publish_on("two/x"), WAIT)
            .await
            .unwrap(),
    ];
    let port = server.kill();
    let server = Server::start(port, &args(&a));
    let (mut sub, ack) = connect(&server, v, "slow-sub", true, 3600).await;
    assert!(ack.session_present);
    for before in &first {
        let Packet::Publish(before) = before else {
            unreachable!()
        };
        let again = sub
            .expect(&Matcher::publish_on(before.topic()), WAIT)
            .await
            .expect("re-sent after the restart");
        let Packet::Publish(again) = again else {
            unreachable!()
        };
        assert!(again.dup, "DUP=1 on redelivery (MQTT-3.3.1-1): {again:?}");
        assert_eq!(
            again.packet_id, before.packet_id,
            "same packet id (MQTT-4.4.0-1)"
        );
        assert_eq!(again.qos, before.qos);
        assert_eq!(again.payload(), before.payload());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_deliveries_are_resent_with_dup_v311() {
    unacknowledged_deliveries_are_resent_with_dup(V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unacknowledged_deliveries_are_resent_with_dup_v5() {
    unacknowledged_deliveries_are_resent_with_dup(V5).await;
}

// --- inbound QoS 2 ---

async fn inbound_qos2_is_exactly_once_across_a_crash(v: ProtocolVersion) {
    let dir = TempDir::new("durable-qos2");
    let a = durable(&dir, "always");
    let server = Server::start(0, &args(&a));
    let (mut sub, _) = connect(&server, v, "sub2", true, 3600).await;
    sub.set_auto_ack(true);
    subscribe(&mut sub, "x/#", QoS::ExactlyOnce).await;
    let (mut p, _) = connect(&server, v, "pub2", true, 3600).await;
    let id = 7;
    let m = Publish::new(s("x/once"), b"exactly".to_vec()).with_qos(QoS::ExactlyOnce, id);
    p.send(&Packet::Publish(m.clone())).await.unwrap();
    p.expect(&Matcher::pubrec(id), WAIT).await.expect("PUBREC");
    let mut copies = Vec::new();
    copies.push(
        sub.expect(&Matcher::publish_on("x/once"), WAIT)
            .await
            .unwrap(),
    );
    // Killed before the publisher's PUBREL.
    let port = server.kill();
    let server = Server::start(port, &args(&a));
    let (mut sub, ack) = connect(&server, v, "sub2", true, 3600).await;
    assert!(ack.session_present);
    sub.set_auto_ack(true);
    let (mut p, ack) = connect(&server, v, "pub2", true, 3600).await;
    assert!(
        ack.session_present,
        "the publisher's session, with packet id 7, survived"
    );
    // A publisher unsure of its PUBREC sends the PUBLISH again: the server
    // must know id 7 and not deliver it a second time (MQTT-4.3.3-10).
    let mut dup = m;
    dup.dup = true;
    p.send(&Packet::Publish(dup)).await.unwrap();
    p.expect(&Matcher::pubrec(id), WAIT)
        .await
        .expect("PUBREC again");
    p.send(&Packet::PubRel(PubResponse::new(id))).await.unwrap();
    match p
        .expect(&Matcher::pubcomp(id), WAIT)
        .await
        .expect("PUBCOMP")
    {
        Packet::PubComp(c) => assert_eq!(
            c.reason_code,
            ReasonCode::SUCCESS,
            "the server still knew packet id 7 (5.0 would say 0x92 otherwise)"
        ),
        other => unreachable!("{other:?}"),
    }
    // A marker after it: everything before it has been routed.
    publish_acked(&mut p, "x/marker", "end", false).await;
    loop {
        let got = sub.expect(&Matcher::publish(), WAIT).await.expect("marker");
        if matches!(&got, Packet::Publish(m) if m.topic() == "x/marker") {
            break;
        }
        copies.push(got);
    }
    // A re-sent in-flight copy carries DUP=1; a second delivery would not.
    let fresh = copies
        .iter()
        .filter(|c| matches!(c, Packet::Publish(m) if m.topic() == "x/once" && !m.dup))
        .count();
    assert_eq!(fresh, 1, "delivered exactly once: {copies:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_qos2_is_exactly_once_across_a_crash_v311() {
    inbound_qos2_is_exactly_once_across_a_crash(V311).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn inbound_qos2_is_exactly_once_across_a_crash_v5() {
    inbound_qos2_is_exactly_once_across_a_crash(V5).await;
}

// --- session expiry ---

#[tokio::test(flavor = "multi_thread")]
async fn session_expiry_counts_while_the_server_is_down_v5() {
    let dir = TempDir::new("durable-expiry");
    let a = durable(&dir, "always");
    let server = Server::start(0, &args(&a));
    // "brief" expires after 2 s offline; "long" (the control) after an hour.
    for (id, expiry) in [("brief", 2), ("long", 3600)] {
        let (mut c, _) = connect(&server, V5, id, true, expiry).await;
        subscribe(&mut c, "t", QoS::AtLeastOnce).await;
        c.disconnect_with(Disconnect::new(ReasonCode::SUCCESS))
            .await
            .unwrap();
        let _ = c.expect_closed(WAIT).await;
    }
    let port = server.kill();
    // Down for 3 s, longer than the 2 s interval: not a race, a duration.
    std::thread::sleep(Duration::from_secs(3));
    let server = Server::start(port, &args(&a));
    let (_c, ack) = connect(&server, V5, "brief", true, 2).await;
    assert!(
        !ack.session_present,
        "the 2 s Session Expiry Interval ran out while the server was down"
    );
    let (_c, ack) = connect(&server, V5, "long", true, 3600).await;
    assert!(ack.session_present, "the hour-long session is still there");
}

// --- without --data ---

#[tokio::test(flavor = "multi_thread")]
async fn in_memory_server_loses_everything_on_sigkill() {
    let server = Server::start(0, &[]);
    assert!(
        server.banner.iter().any(|l| l.contains("state in memory")),
        "{:?}",
        server.banner
    );
    let (mut sub, _) = connect(&server, V311, "keeper", true, 0).await;
    subscribe(&mut sub, "news/+", QoS::AtLeastOnce).await;
    let (mut p, _) = connect(&server, V311, "pub", false, 0).await;
    publish_acked(&mut p, "news/old", "retained", true).await;
    let port = server.kill();
    let server = Server::start(port, &[]);
    let (mut sub, ack) = connect(&server, V311, "keeper", true, 0).await;
    assert!(!ack.session_present, "in memory, the session is lost");
    subscribe(&mut sub, "news/+", QoS::AtLeastOnce).await;
    let (mut p, _) = connect(&server, V311, "pub", false, 0).await;
    publish_acked(&mut p, "news/marker", "end", false).await;
    // Had the retained message survived, it would have come first.
    sub.expect_next(&Matcher::publish_on("news/marker"), WAIT)
        .await
        .expect("the marker, and no retained message before it");
}

// --- unusable data directory ---

fn run_to_exit(dir: &Path) -> (std::process::ExitStatus, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-harness"))
        .args(["serve", "--tcp", "127.0.0.1:0", "--data"])
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run mqtt-harness");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_corrupt_data_dir_is_a_clear_error_not_a_panic() {
    let dir = TempDir::new("durable-corrupt");
    let file = dir.path().join("state.redb");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&file, garbage).unwrap();
    let (status, stderr) = run_to_exit(dir.path());
    assert!(!status.success(), "exit status {status}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("cannot open the store"),
        "names the file and the problem: {stderr}"
    );
}

#[test]
fn a_data_path_that_is_a_file_is_a_clear_error() {
    let dir = TempDir::new("durable-notdir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let (status, stderr) = run_to_exit(&file);
    assert!(!status.success());
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("not a directory"), "{stderr}");
}

#[test]
fn the_startup_line_reports_the_fsync_policy() {
    let dir = TempDir::new("durable-banner");
    for policy in ["always", "batch", "never"] {
        let a = durable(&dir, policy);
        let server = Server::start(0, &args(&a));
        let line = server
            .banner
            .iter()
            .find(|l| l.contains("durable state in"))
            .unwrap_or_else(|| panic!("{:?}", server.banner))
            .clone();
        assert!(line.contains(&format!("fsync {policy}")), "{line}");
        drop(server);
    }
}
