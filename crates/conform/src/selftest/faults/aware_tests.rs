//! Tap-level tests of the fault-aware faults: a [`Session`] per
//! connection, fed packets, sharing one [`Shared`]. Each fault does what it
//! says on a returning client id and nothing on a first connection.

use super::*;
use bytes::BytesMut;
use mqtt_codec::{ConnAck, Connect, Disconnect, MqttString, Will};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V3: ProtocolVersion = ProtocolVersion::V311;

fn bytes(p: &Packet, v: ProtocolVersion) -> Bytes {
    p.to_bytes(v).unwrap()
}

fn decode(b: &Bytes, v: ProtocolVersion) -> Packet {
    let mut buf = BytesMut::from(&b[..]);
    mqtt_codec::Decoder::new(v)
        .decode(&mut buf)
        .unwrap()
        .unwrap()
}

fn will() -> Will {
    Will {
        topic: MqttString::from_static("w/t"),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    }
}

/// A session whose client `id` sent CONNECT (with `will`, keep alive
/// `keep_alive`) at `now`.
fn connecting(
    fault: Fault,
    shared: &Arc<Shared>,
    v: ProtocolVersion,
    id: &'static str,
    will: Option<Will>,
    keep_alive: u16,
    now: Instant,
) -> Session {
    let mut s = Session::new(Some(fault), shared.clone(), now);
    let mut c = Connect::new(v, MqttString::from_static(id));
    c.will = will;
    c.keep_alive = keep_alive;
    let c = Packet::Connect(Box::new(c));
    let mut out = Out::default();
    s.client_packet(c.clone(), bytes(&c, v), now, &mut out);
    assert_eq!(out.to_server, vec![bytes(&c, v)]);
    s
}

/// Feeds a success CONNACK with `session_present`; what reached the client.
fn connack(s: &mut Session, v: ProtocolVersion, session_present: bool, now: Instant) -> Packet {
    let ack = Packet::ConnAck(ConnAck {
        session_present,
        ..ConnAck::default()
    });
    let mut out = Out::default();
    s.server_packet(ack.clone(), bytes(&ack, v), now, &mut out);
    assert_eq!(out.to_client.len(), 1);
    decode(&out.to_client[0], v)
}

fn connected(
    fault: Fault,
    shared: &Arc<Shared>,
    v: ProtocolVersion,
    id: &'static str,
    session_present: bool,
) -> Session {
    let now = Instant::now();
    let mut s = connecting(fault, shared, v, id, None, 60, now);
    connack(&mut s, v, session_present, now);
    s
}

fn publish(qos: QoS, id: u16, dup: bool) -> Publish {
    let mut p = Publish::new(MqttString::from_static("t"), "x");
    p.qos = qos;
    p.packet_id = id;
    p.dup = dup;
    p
}

fn from_client(s: &mut Session, p: Packet, v: ProtocolVersion) -> Out {
    let mut out = Out::default();
    s.client_packet(p.clone(), bytes(&p, v), Instant::now(), &mut out);
    out
}

fn from_server(s: &mut Session, p: Packet, v: ProtocolVersion) -> Out {
    let mut out = Out::default();
    s.server_packet(p.clone(), bytes(&p, v), Instant::now(), &mut out);
    out
}

fn triggered(shared: &Shared) -> u64 {
    shared.triggered.load(Ordering::Relaxed)
}

#[test]
fn every_fault_aware_fault_is_in_the_catalogue_with_statements() {
    for f in Fault::FAULT_AWARE {
        assert!(Fault::ALL.contains(f), "{f} missing from Fault::ALL");
        let i = f.info();
        assert!(!i.v311.is_empty() && !i.v5.is_empty(), "{f}");
        assert_eq!(Fault::from_name(i.name), Some(*f));
    }
    assert!(Fault::FAULT_AWARE.len() >= 6);
}

#[test]
fn a_pubrel_resent_on_a_later_connection_is_dropped() {
    let shared = Arc::new(Shared::default());
    let f = Fault::RetransmittedPubrelDropped;
    let rel = Packet::PubRel(PubResponse::new(5));
    let mut first = connected(f, &shared, V5, "c", false);
    let p = Packet::Publish(publish(QoS::ExactlyOnce, 5, false));
    assert_eq!(from_client(&mut first, p, V5).to_server.len(), 1);
    // The first PUBREL, and a repeat on the same connection, go through.
    assert_eq!(
        from_client(&mut first, rel.clone(), V5).to_server,
        vec![bytes(&rel, V5)]
    );
    assert_eq!(
        from_client(&mut first, rel.clone(), V5).to_server,
        vec![bytes(&rel, V5)]
    );
    assert_eq!(triggered(&shared), 0);
    // Another client id's first PUBREL with that id goes through.
    let mut other = connected(f, &shared, V5, "d", false);
    assert_eq!(from_client(&mut other, rel.clone(), V5).to_server.len(), 1);
    // The client reconnects and re-sends it: dropped.
    let mut again = connected(f, &shared, V5, "c", true);
    let out = from_client(&mut again, rel.clone(), V5);
    assert!(out.to_server.is_empty() && out.to_client.is_empty());
    assert_eq!(triggered(&shared), 1);
    // A new exchange (DUP 0 PUBLISH) reusing the id is released normally.
    let p = Packet::Publish(publish(QoS::ExactlyOnce, 5, false));
    from_client(&mut again, p, V5);
    assert_eq!(
        from_client(&mut again, rel.clone(), V5).to_server,
        vec![bytes(&rel, V5)]
    );
    assert_eq!(triggered(&shared), 1);
}

#[test]
fn deliveries_queued_for_a_resumed_session_are_acked_and_dropped() {
    let shared = Arc::new(Shared::default());
    let f = Fault::QueuedLostOnReconnect;
    // A first connection is untouched, even with Session Present 1.
    let mut first = connected(f, &shared, V3, "c", true);
    let q1 = Packet::Publish(publish(QoS::AtLeastOnce, 7, false));
    assert_eq!(
        from_server(&mut first, q1.clone(), V3).to_client,
        vec![bytes(&q1, V3)]
    );
    // A reconnect without a session is untouched.
    let mut fresh = connected(f, &shared, V3, "c", false);
    assert_eq!(from_server(&mut fresh, q1.clone(), V3).to_client.len(), 1);
    assert_eq!(triggered(&shared), 0);
    // A resumed session: the queued QoS 1 and QoS 2 deliveries are
    // answered by the proxy and never reach the client.
    let mut resumed = connected(f, &shared, V3, "c", true);
    let out = from_server(&mut resumed, q1.clone(), V3);
    assert!(out.to_client.is_empty());
    let ack = Packet::PubAck(PubResponse::new(7));
    assert_eq!(out.to_server, vec![bytes(&ack, V3)]);
    let q2 = Packet::Publish(publish(QoS::ExactlyOnce, 8, true));
    let out = from_server(&mut resumed, q2, V3);
    assert!(out.to_client.is_empty());
    let rec = Packet::PubRec(PubResponse::new(8));
    assert_eq!(out.to_server, vec![bytes(&rec, V3)]);
    let out = from_server(&mut resumed, Packet::PubRel(PubResponse::new(8)), V3);
    assert!(out.to_client.is_empty());
    let comp = Packet::PubComp(PubResponse::new(8));
    assert_eq!(out.to_server, vec![bytes(&comp, V3)]);
    assert_eq!(triggered(&shared), 2);
    // Once the client speaks, deliveries are live ones and go through.
    from_client(&mut resumed, Packet::PingReq, V3);
    let live = Packet::Publish(publish(QoS::AtLeastOnce, 9, false));
    assert_eq!(
        from_server(&mut resumed, live.clone(), V3).to_client,
        vec![bytes(&live, V3)]
    );
}

#[test]
fn dup_is_cleared_only_for_a_returning_client() {
    let shared = Arc::new(Shared::default());
    let f = Fault::DupCleared;
    let dup = Packet::Publish(publish(QoS::AtLeastOnce, 3, true));
    let mut first = connected(f, &shared, V5, "c", false);
    assert_eq!(
        from_server(&mut first, dup.clone(), V5).to_client,
        vec![bytes(&dup, V5)]
    );
    assert_eq!(triggered(&shared), 0);
    let mut again = connected(f, &shared, V5, "c", true);
    let out = from_server(&mut again, dup.clone(), V5);
    match decode(&out.to_client[0], V5) {
        Packet::Publish(p) => {
            assert!(!p.dup);
            assert_eq!((p.packet_id, p.qos), (3, QoS::AtLeastOnce));
        }
        other => panic!("not a PUBLISH: {other:?}"),
    }
    assert_eq!(triggered(&shared), 1);
    // A first delivery (DUP 0) is untouched.
    let new = Packet::Publish(publish(QoS::AtLeastOnce, 4, false));
    assert_eq!(
        from_server(&mut again, new.clone(), V5).to_client,
        vec![bytes(&new, V5)]
    );
}

#[test]
fn a_returning_clients_will_is_published_after_a_normal_disconnect() {
    let shared = Arc::new(Shared::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    *shared.will_out.lock().unwrap() = Some(tx);
    let f = Fault::WillAfterCleanDisconnect;
    let now = Instant::now();
    let bye = Packet::Disconnect(Disconnect::new(ReasonCode::SUCCESS));
    // First connection: the DISCONNECT goes on, no will is published.
    let mut first = connecting(f, &shared, V5, "c", Some(will()), 60, now);
    connack(&mut first, V5, false, now);
    assert_eq!(
        from_client(&mut first, bye.clone(), V5).to_server,
        vec![bytes(&bye, V5)]
    );
    assert!(rx.try_recv().is_err());
    // Reconnect, DISCONNECT with 0x04 (publish the will): the broker's
    // business, the proxy stays out.
    let mut second = connecting(f, &shared, V5, "c", Some(will()), 60, now);
    connack(&mut second, V5, false, now);
    let with_will = Packet::Disconnect(Disconnect::new(ReasonCode(0x04)));
    from_client(&mut second, with_will, V5);
    assert!(rx.try_recv().is_err());
    assert_eq!(triggered(&shared), 0);
    // Reconnect, normal DISCONNECT: passed on, and the will goes out.
    let mut third = connecting(f, &shared, V5, "c", Some(will()), 60, now);
    connack(&mut third, V5, true, now);
    assert_eq!(
        from_client(&mut third, bye.clone(), V5).to_server,
        vec![bytes(&bye, V5)]
    );
    let out = rx.try_recv().unwrap();
    let p = out.publish();
    assert_eq!(
        (p.topic(), &p.payload_bytes()[..], p.qos),
        ("w/t", &b"gone"[..], QoS::AtLeastOnce)
    );
    assert_eq!(triggered(&shared), 1);
    // A returning client without a will: nothing.
    let mut fourth = connecting(f, &shared, V5, "c", None, 60, now);
    connack(&mut fourth, V5, true, now);
    from_client(&mut fourth, bye, V5);
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_link_is_kept_alive_only_while_the_broker_writes_to_it() {
    let shared = Arc::new(Shared::default());
    let t0 = Instant::now();
    let s_at = |ms: u64| t0 + Duration::from_millis(ms);
    let mut s = connecting(Fault::StallAnsweredAsLive, &shared, V3, "c", None, 2, t0);
    connack(&mut s, V3, false, t0);
    // Silent, and nothing for it: timed out as it should (no fake ping).
    assert_eq!(s.deadline(), None);
    // The broker writes to it: the proxy pings every half Keep Alive.
    let p = Packet::Publish(publish(QoS::AtMostOnce, 0, false));
    let mut out = Out::default();
    s.server_packet(p.clone(), bytes(&p, V3), s_at(200), &mut out);
    assert_eq!(out.to_client, vec![bytes(&p, V3)]);
    for due in [1000, 2000, 3000] {
        assert_eq!(s.deadline(), Some(s_at(due)));
        let mut out = Out::default();
        s.on_timer(s_at(due), &mut out);
        assert_eq!(out.to_server, vec![bytes(&Packet::PingReq, V3)]);
        // The answer is the proxy's: not passed on, and not a write to
        // the client that would prolong the fault.
        let mut out = Out::default();
        s.server_packet(
            Packet::PingResp,
            bytes(&Packet::PingResp, V3),
            s_at(due + 10),
            &mut out,
        );
        assert!(out.to_client.is_empty());
    }
    // 1.5 Keep Alive (3s) after the broker's last write: no more pings.
    assert_eq!(s.deadline(), None);
    assert_eq!(triggered(&shared), 3);
}

#[test]
fn session_present_is_forgotten_only_on_a_reconnect() {
    let shared = Arc::new(Shared::default());
    let f = Fault::SessionPresentForgotten;
    let now = Instant::now();
    let mut first = connecting(f, &shared, V3, "c", None, 60, now);
    assert!(matches!(connack(&mut first, V3, true, now), Packet::ConnAck(c) if c.session_present));
    assert_eq!(triggered(&shared), 0);
    let mut again = connecting(f, &shared, V3, "c", None, 60, now);
    assert!(matches!(connack(&mut again, V3, true, now), Packet::ConnAck(c) if !c.session_present));
    assert_eq!(triggered(&shared), 1);
    let mut clean = connecting(f, &shared, V3, "c", None, 60, now);
    assert!(
        matches!(connack(&mut clean, V3, false, now), Packet::ConnAck(c) if !c.session_present)
    );
    assert_eq!(triggered(&shared), 1);
}
