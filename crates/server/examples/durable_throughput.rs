//! QoS 1 publish throughput of the reference server in memory and with
//! `--data` (fsync always, batch, never): the measurement quoted in the
//! crate README ("Durable state").
//!
//! ```sh
//! cargo run --release -p mqtt-server --example durable_throughput -- [PUBLISHERS] [MESSAGES_EACH] [WINDOW]
//! ```
//!
//! In-process server on a loopback port; one persistent subscriber (3.1.1,
//! clean session 0, QoS 1, acknowledging everything) and PUBLISHERS
//! publishers, each keeping WINDOW QoS 1 messages unacknowledged. The
//! figure is messages per second from the first PUBLISH to the last
//! message received by the subscriber (every PUBACK received too). A
//! measurement, not a test: nothing is asserted about the numbers.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mqtt_client::{ConnectOptions, Matcher, TestClient};
use mqtt_codec::{
    Connect, MqttString, Packet, ProtocolVersion, Publish, QoS, Subscribe, Subscription,
    SubscriptionOptions,
};
use mqtt_server::{
    DataConfig, FsyncPolicy, ListenerConfig, ListenerProtocol, RunningServer, ServerConfig,
};

const WAIT: Duration = Duration::from_secs(60);

async fn client(url: &str, id: &str, clean: bool) -> TestClient {
    let mut c = TestClient::open_str(
        url,
        &ConnectOptions::default().version(ProtocolVersion::V311),
    )
    .await
    .expect("connect");
    let mut p = Connect::new(ProtocolVersion::V311, MqttString::new(id).expect("id"));
    p.clean_start = clean;
    c.handshake(p, WAIT).await.expect("CONNACK");
    c
}

async fn run(policy: Option<FsyncPolicy>, publishers: usize, each: usize, window: usize) -> f64 {
    let dir = mqtt_testkit::TempDir::new("durable-bench");
    let config = ServerConfig {
        listeners: vec![ListenerConfig {
            protocol: ListenerProtocol::Tcp,
            bind: "127.0.0.1:0".parse().expect("address"),
            cert: None,
            key: None,
        }],
        data: policy.map(|fsync| DataConfig {
            dir: dir.path().to_owned(),
            fsync,
        }),
        ..ServerConfig::default()
    };
    let server = RunningServer::start(config).await.expect("server");
    let url = format!(
        "tcp://{}",
        server.addr(ListenerProtocol::Tcp).expect("tcp listener")
    );
    let mut sub = client(&url, "bench-sub", false).await;
    sub.set_auto_ack(true);
    let id = sub.next_packet_id();
    sub.send(&Packet::Subscribe(Subscribe {
        packet_id: id,
        properties: Default::default(),
        filters: vec![Subscription {
            filter: MqttString::from_static("bench/#"),
            options: SubscriptionOptions::qos(QoS::AtLeastOnce),
        }],
    }))
    .await
    .expect("SUBSCRIBE");
    sub.expect(&Matcher::suback(id), WAIT)
        .await
        .expect("SUBACK");
    let mut pubs = Vec::new();
    for i in 0..publishers {
        pubs.push(client(&url, &format!("bench-pub-{i}"), true).await);
    }
    let total = publishers * each;
    let started = Instant::now();
    let receiver = tokio::spawn(async move {
        for _ in 0..total {
            sub.expect(&Matcher::publish(), WAIT)
                .await
                .expect("delivery");
        }
    });
    let mut tasks = Vec::new();
    for (i, mut c) in pubs.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let topic = MqttString::new(format!("bench/{i}")).expect("topic");
            let mut open = VecDeque::new();
            for n in 0..each {
                if open.len() >= window {
                    let id = open.pop_front().expect("open");
                    c.expect(&Matcher::puback(id), WAIT).await.expect("PUBACK");
                    c.packet_ids().release(id);
                }
                let id = c.next_packet_id();
                let p = Publish::new(topic.clone(), format!("{n:08}").into_bytes())
                    .with_qos(QoS::AtLeastOnce, id);
                c.send(&Packet::Publish(p)).await.expect("PUBLISH");
                open.push_back(id);
            }
            for id in open {
                c.expect(&Matcher::puback(id), WAIT).await.expect("PUBACK");
            }
        }));
    }
    for t in tasks {
        t.await.expect("publisher");
    }
    receiver.await.expect("subscriber");
    let rate = total as f64 / started.elapsed().as_secs_f64();
    server.shutdown().await;
    rate
}

#[tokio::main]
async fn main() {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let (publishers, each, window) = (arg(1, 4), arg(2, 2_500), arg(3, 32));
    println!(
        "QoS 1, {publishers} publishers x {each} messages, window {window}, 1 persistent subscriber"
    );
    for (name, policy) in [
        ("in memory", None),
        ("--data, fsync always", Some(FsyncPolicy::Always)),
        ("--data, fsync batch", Some(FsyncPolicy::Batch)),
        ("--data, fsync never", Some(FsyncPolicy::Never)),
    ] {
        let rate = run(policy, publishers, each, window).await;
        println!("{name:>22}: {rate:>9.0} messages/s");
    }
}
