//! Link faults end to end, over real loopback sockets: an echo server or a
//! byte recorder upstream (the proxy is byte-level; what runs above it does
//! not matter), and the reference broker for the MQTT path.
//!
//! Waits are bounded with wide margins; the only timing checks are lower
//! bounds (a delayed byte cannot arrive before its delay, whatever the
//! machine's speed).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mqtt_netfault::{LinkFault, Proxy, Selector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Long enough for anything that should happen on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// How long "nothing arrives" is watched.
const QUIET: Duration = Duration::from_millis(300);

/// An upstream that echoes every byte back; reports each accepted
/// connection.
async fn echo() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = tx.send(());
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, rx)
}

/// An upstream that records everything one connection sends, until EOF.
async fn recorder() -> (SocketAddr, tokio::sync::oneshot::Receiver<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all).await;
        let _ = tx.send(all);
    });
    (addr, rx)
}

async fn read_exactly(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(PATIENCE, s.read_exact(&mut buf))
        .await
        .expect("bytes within the patience")
        .expect("read");
    buf
}

/// `got` is `want`, or the first difference is shown (not both vectors).
fn same(got: &[u8], want: &[u8]) {
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(
        got.len() == want.len() && first.is_none(),
        "got {} bytes, want {}; first difference at {first:?}",
        got.len(),
        want.len()
    );
}

async fn nothing_arrives(s: &mut TcpStream) {
    let mut b = [0u8; 1];
    let r = tokio::time::timeout(QUIET, s.read(&mut b)).await;
    assert!(r.is_err(), "something arrived: {r:?}");
}

#[tokio::test]
async fn a_transparent_link_passes_every_byte_both_ways() {
    let (up, _) = echo().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let (mut r, mut w) = c.split();
    let send = async {
        w.write_all(&data).await.unwrap();
    };
    let recv = async {
        let mut got = vec![0u8; data.len()];
        tokio::time::timeout(PATIENCE, r.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        got
    };
    let ((), got) = tokio::join!(send, recv);
    same(&got, &data);
    assert_eq!(proxy.connections(), 1);
    assert_eq!(proxy.links().len(), 1);
}

#[tokio::test]
async fn a_stalled_link_holds_everything_until_healed() {
    let (up, _) = echo().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"before").await.unwrap();
    assert_eq!(read_exactly(&mut c, 6).await, b"before");
    assert_eq!(proxy.apply(&Selector::All, LinkFault::Stall), 1);
    c.write_all(b"during").await.unwrap();
    nothing_arrives(&mut c).await;
    assert_eq!(proxy.heal(&Selector::All), 1);
    assert_eq!(read_exactly(&mut c, 6).await, b"during");
}

#[tokio::test]
async fn a_reset_link_ends_with_rst() {
    let (up, _) = echo().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"x").await.unwrap();
    assert_eq!(read_exactly(&mut c, 1).await, b"x");
    assert_eq!(proxy.reset(&Selector::All), 1);
    let mut b = [0u8; 8];
    let r = tokio::time::timeout(PATIENCE, c.read(&mut b))
        .await
        .expect("the reset arrives");
    match r {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        Ok(n) => panic!("read {n} bytes instead of a reset"),
    }
}

#[tokio::test]
async fn a_link_closes_after_its_bytes() {
    let (up, recorded) = recorder().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    proxy.apply(&Selector::All, LinkFault::CloseAfter { bytes: 10 });
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(b"0123456789abcdefghij").await.unwrap();
    let mut rest = Vec::new();
    let end = tokio::time::timeout(PATIENCE, c.read_to_end(&mut rest))
        .await
        .expect("the client's side closes");
    assert!(end.is_ok() && rest.is_empty(), "{end:?} {rest:?}");
    let got = tokio::time::timeout(PATIENCE, recorded)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"0123456789");
}

#[tokio::test]
async fn latency_delays_every_chunk_and_keeps_the_order() {
    let (up, _) = echo().await;
    let proxy = Proxy::start(up, 3, |_| (mqtt_netfault::Transparent, None))
        .await
        .unwrap();
    let delay = Duration::from_millis(100);
    proxy.apply(
        &Selector::All,
        LinkFault::Latency {
            delay,
            jitter: Duration::from_millis(40),
        },
    );
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    let mut sent = Vec::new();
    for i in 0..50u8 {
        c.write_all(&[i]).await.unwrap();
        sent.push(i);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let got = read_exactly(&mut c, sent.len()).await;
    assert_eq!(got, sent, "jitter must not reorder bytes");
    // Up and down: each byte was delayed at least twice.
    assert!(started.elapsed() >= delay * 2);
}

#[tokio::test]
async fn slicing_and_a_bandwidth_cap_deliver_everything_intact() {
    let (up, recorded) = recorder().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    proxy.apply(
        &Selector::All,
        LinkFault::Slice {
            bytes: 7,
            pause: Duration::from_millis(2),
        },
    );
    proxy.apply(
        &Selector::All,
        LinkFault::Bandwidth {
            bytes_per_sec: 20_000,
        },
    );
    let data: Vec<u8> = (0..6000u32).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
    c.write_all(&data).await.unwrap();
    c.shutdown().await.unwrap();
    let got = tokio::time::timeout(PATIENCE, recorded)
        .await
        .unwrap()
        .unwrap();
    same(&got, &data);
    // 6,000 bytes at 20,000 bytes/s, less the first segment's allowance.
    assert!(started.elapsed() >= Duration::from_millis(290));
}

#[tokio::test]
async fn a_partitioned_group_reaches_nothing_until_healed_while_others_do() {
    let (up, mut accepted) = echo().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    let cut = proxy.listen("cut").await.unwrap();
    proxy.apply(&Selector::Group("cut".into()), LinkFault::Partition);
    // A new connection of the partitioned group is accepted by the proxy
    // but never reaches the broker.
    let mut a = TcpStream::connect(cut).await.unwrap();
    a.write_all(b"a").await.unwrap();
    nothing_arrives(&mut a).await;
    assert!(
        accepted.try_recv().is_err(),
        "the partition reached upstream"
    );
    // The default group is not partitioned.
    let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
    b.write_all(b"b").await.unwrap();
    assert_eq!(read_exactly(&mut b, 1).await, b"b");
    assert_eq!(proxy.heal(&Selector::Group("cut".into())), 1);
    assert_eq!(read_exactly(&mut a, 1).await, b"a");
    let groups: Vec<String> = proxy.links().into_iter().map(|l| l.group).collect();
    assert!(groups.contains(&"cut".to_owned()) && groups.contains(&"default".to_owned()));
}

#[tokio::test]
async fn one_connection_can_be_faulted_alone() {
    let (up, _) = echo().await;
    let proxy = Proxy::transparent(up).await.unwrap();
    let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
    a.write_all(b"1").await.unwrap();
    b.write_all(b"1").await.unwrap();
    read_exactly(&mut a, 1).await;
    read_exactly(&mut b, 1).await;
    let first = proxy.links()[0].id;
    assert_eq!(proxy.apply(&Selector::Conn(first), LinkFault::Stall), 1);
    a.write_all(b"2").await.unwrap();
    b.write_all(b"2").await.unwrap();
    assert_eq!(read_exactly(&mut b, 1).await, b"2");
    nothing_arrives(&mut a).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mqtt_through_a_stall_waits_and_resumes() {
    use mqtt_client::{ConnectOptions, Matcher, TestClient};
    use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion, ReasonCode};

    let mut config = mqtt_server::ServerConfig::default();
    config.listeners[0].bind = "127.0.0.1:0".parse().unwrap();
    let server = mqtt_server::RunningServer::start(config).await.unwrap();
    let addr = server.addr(mqtt_server::ListenerProtocol::Tcp).unwrap();
    let proxy = Proxy::transparent(addr).await.unwrap();
    let v = ProtocolVersion::V5;
    let mut c = TestClient::open(&proxy.endpoint(), &ConnectOptions::default().version(v))
        .await
        .unwrap();
    let ack = c
        .handshake(
            Connect::new(v, MqttString::from_static("stalled")),
            PATIENCE,
        )
        .await
        .unwrap();
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    proxy.apply(&Selector::All, LinkFault::Stall);
    c.send(&Packet::PingReq).await.unwrap();
    c.expect_nothing(Some(&Matcher::pingresp()), QUIET)
        .await
        .expect("no answer through a stall");
    proxy.heal(&Selector::All);
    // The PINGREQ held in the stall now reaches the broker.
    c.expect(&Matcher::pingresp(), PATIENCE).await.unwrap();
    server.shutdown().await;
}
