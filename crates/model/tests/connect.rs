//! CONNECT / CONNACK, keep alive, takeover, authentication (3.1.1 §3.1-3.2,
//! 5.0 §3.1-3.2, §4.12).

mod support;

use mqtt_codec::{ErrorKind, Packet, QoS, ReasonCode, Violation, Will};
use mqtt_model::policy::{AllowAll, PasswordTable};
use mqtt_model::{Broker, CloseKind, Config, ConnId, Time};
use support::*;

#[test]
fn first_packet_must_be_connect_mqtt_3_1_0_1() {
    let mut h = H::new();
    h.open(1);
    h.send(1, Packet::PingReq);
    assert!(h.sent(1).is_empty());
    let r = h.closed(1).unwrap();
    assert_eq!(r.kind, CloseKind::FirstPacketNotConnect);
    assert_eq!(r.statements, &["MQTT-3.1.0-1"]);
}

#[test]
fn second_connect_is_a_protocol_error_mqtt_3_1_0_2() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "c", true);
        h.send(
            1,
            Packet::Connect(Box::new(mqtt_codec::Connect::new(v, s("c")))),
        );
        let sent = h.sent(1);
        if v == V5 {
            assert!(
                matches!(&sent[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
            );
        } else {
            assert!(sent.is_empty());
        }
        assert_eq!(h.closed(1).unwrap().kind, CloseKind::SecondConnect);
    }
}

#[test]
fn session_present_v311_mqtt_3_2_2_1_2_3() {
    let mut h = H::new();
    // MQTT-3.2.2-3: clean session 0, no session: 0.
    assert!(!h.connect(1, V311, "c", false));
    h.disconnect(1, ReasonCode::SUCCESS);
    // MQTT-3.2.2-2: clean session 0, session held: 1.
    assert!(h.connect(2, V311, "c", false));
    h.disconnect(2, ReasonCode::SUCCESS);
    // MQTT-3.2.2-1: clean session 1: 0, and the session is discarded (MQTT-3.1.2-6).
    assert!(!h.connect(3, V311, "c", true));
    h.disconnect(3, ReasonCode::SUCCESS);
    assert!(h.broker.session("c").is_none());
}

#[test]
fn session_present_v5_mqtt_3_2_2_2_3() {
    let mut h = H::new();
    assert!(!h.connect(1, V5, "c", false));
    h.disconnect(1, ReasonCode::SUCCESS);
    assert!(h.connect(2, V5, "c", false)); // MQTT-3.2.2-3
    h.disconnect(2, ReasonCode::SUCCESS);
    assert!(!h.connect(3, V5, "c", true)); // MQTT-3.2.2-2
}

#[test]
fn empty_client_id_with_clean_session_0_is_refused_mqtt_3_1_3_8_v311() {
    let mut h = H::new();
    let ack = h.connect_with(1, V311, "", |c| c.clean_start = false);
    assert_eq!(ack.reason_code, ReasonCode(0x02));
    assert!(!ack.session_present);
    assert_eq!(h.closed(1).unwrap().statements, &["MQTT-3.1.3-8"]);
}

#[test]
fn empty_client_id_is_assigned_mqtt_3_1_3_6_v311() {
    let mut h = H::new();
    let ack = h.connect_with(1, V311, "", |_| {});
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    assert_eq!(h.broker.sessions().count(), 1);
}

#[test]
fn assigned_client_identifier_is_returned_and_unique_mqtt_3_2_2_16() {
    let mut h = H::new();
    let a = h.connect_with(1, V5, "", |_| {});
    let b = h.connect_with(2, V5, "", |_| {});
    let ia = a.properties.assigned_client_identifier.clone().unwrap();
    let ib = b.properties.assigned_client_identifier.clone().unwrap();
    assert_ne!(ia, ib);
    assert!(h.broker.session(&ia).is_some());
}

#[test]
fn empty_client_id_refused_when_configured_v5_0x85() {
    let mut h = H::with(Config {
        allow_empty_client_id: false,
        ..Config::default()
    });
    let ack = h.connect_with(1, V5, "", |_| {});
    assert_eq!(ack.reason_code, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
    assert!(h.closed(1).is_some());
}

#[test]
fn takeover_closes_the_old_connection_mqtt_3_1_4_2_v311() {
    let mut h = H::new();
    h.connect(1, V311, "c", false);
    h.connect(2, V311, "c", false);
    assert!(h.sent(1).is_empty());
    let r = h.closed(1).unwrap();
    assert_eq!(r.kind, CloseKind::SessionTakenOver);
    assert_eq!(r.statements, &["MQTT-3.1.4-2"]);
    assert_eq!(h.broker.session("c").unwrap().conn, Some(ConnId(2)));
}

#[test]
fn takeover_sends_disconnect_0x8e_mqtt_3_1_4_3_v5() {
    let mut h = H::new();
    h.connect(1, V5, "c", false);
    h.subscribe(1, "a", QoS::AtLeastOnce);
    // Session Present: the session is kept across the takeover.
    assert!(h.connect(2, V5, "c", false));
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::SESSION_TAKEN_OVER)
    );
    assert_eq!(h.closed(1).unwrap().statements, &["MQTT-3.1.4-3"]);
    assert_eq!(h.broker.subscriptions().len(), 1);
}

#[test]
fn keep_alive_is_enforced_at_one_and_a_half_times_mqtt_3_1_2_24_v311() {
    let mut h = H::new();
    h.connect_with(1, V311, "c", |c| c.keep_alive = 10);
    assert_eq!(h.broker.next_timeout(), Some(Time(15_000)));
    h.advance(10_000);
    h.send(1, Packet::PingReq); // MQTT-3.12.4-1
    assert_eq!(h.sent(1), vec![Packet::PingResp]);
    assert_eq!(h.broker.next_timeout(), Some(Time(25_000)));
    h.advance(14_999);
    assert!(h.closed(1).is_none());
    h.advance(1);
    let r = h.closed(1).unwrap();
    assert_eq!(r.kind, CloseKind::KeepAliveTimeout);
    assert_eq!(r.statements, &["MQTT-3.1.2-24"]);
    assert!(h.sent(1).is_empty());
}

#[test]
fn keep_alive_v5_disconnects_with_0x8d_mqtt_3_1_2_22() {
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| c.keep_alive = 2);
    h.advance(3_000);
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::KEEP_ALIVE_TIMEOUT)
    );
    assert_eq!(h.closed(1).unwrap().statements, &["MQTT-3.1.2-22"]);
}

#[test]
fn server_keep_alive_overrides_the_client_mqtt_3_2_2_21() {
    let mut h = H::with(Config {
        server_keep_alive: Some(4),
        ..Config::default()
    });
    let ack = h.connect_with(1, V5, "c", |c| c.keep_alive = 100);
    assert_eq!(ack.properties.server_keep_alive, Some(4));
    assert_eq!(h.broker.next_timeout(), Some(Time(6_000)));
    // Keep alive 0 means no timeout (3.1.2.10).
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| c.keep_alive = 0);
    assert_eq!(h.broker.next_timeout(), None);
}

#[test]
fn unsupported_protocol_level_gets_connack_0x01_mqtt_3_1_2_2_v311() {
    let mut b = Broker::new(Config::default());
    b.connection_opened(ConnId(1), Time(0)).unwrap();
    let v = Violation {
        kind: ErrorKind::UnsupportedProtocolLevel(3),
        statements: &["MQTT-3.1.2-2"],
        section: "3.1.2.2",
        reason_code: ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
    };
    b.decode_error(ConnId(1), &v, Time(0)).unwrap();
    match b.poll_output() {
        Some(mqtt_model::Output::Send {
            version,
            packet: Packet::ConnAck(a),
            ..
        }) => {
            assert_eq!(version, V311);
            assert_eq!(a.reason_code, ReasonCode(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        b.poll_output(),
        Some(mqtt_model::Output::Close { .. })
    ));
}

#[test]
fn decode_error_after_connack_mqtt_4_13_1_1() {
    let v = Violation {
        kind: ErrorKind::InvalidQos,
        statements: &["MQTT-3.3.1-4"],
        section: "3.3.1.2",
        reason_code: ReasonCode::MALFORMED_PACKET,
    };
    let mut h = H::new();
    h.connect(1, V5, "c", true);
    let t = h.t();
    h.broker.decode_error(ConnId(1), &v, t).unwrap();
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::MALFORMED_PACKET)
    );
    assert_eq!(h.closed(1).unwrap().statements, &["MQTT-3.3.1-4"]);
    // 3.1.1: close without a packet (MQTT-4.8.0-1).
    let mut h = H::new();
    h.connect(1, V311, "c", true);
    h.broker.decode_error(ConnId(1), &v, t).unwrap();
    assert!(h.sent(1).is_empty());
    assert!(h.closed(1).is_some());
}

#[test]
fn authentication_failures_use_the_version_codes() {
    let table = PasswordTable::new().with_user("u", b"p");
    for (v, user, pass, code) in [
        (V311, Some("u"), Some(&b"x"[..]), 0x04),
        (V311, None, None, 0x05),
        (V5, Some("u"), Some(&b"x"[..]), 0x86),
        (V5, None, None, 0x87),
        (V5, Some("u"), Some(&b"p"[..]), 0x00),
    ] {
        let mut h = H::new();
        h.broker = Broker::with_policies(
            Config::default(),
            Box::new(table.clone()),
            Box::new(AllowAll),
        );
        let ack = h.connect_with(1, v, "c", |c| {
            c.username = user.map(s);
            c.password = pass.map(|p| p.to_vec().into());
        });
        assert_eq!(ack.reason_code, ReasonCode(code), "{v:?} {user:?}");
        assert_eq!(h.closed(1).is_some(), code != 0);
    }
}

#[test]
fn unknown_authentication_method_gets_0x8c_mqtt_4_12_0_1() {
    let mut h = H::new();
    let ack = h.connect_with(1, V5, "c", |c| {
        c.properties.authentication_method = Some(s("SCRAM-SHA-1"));
    });
    assert_eq!(ack.reason_code, ReasonCode::BAD_AUTHENTICATION_METHOD);
    assert_eq!(h.closed(1).unwrap().statements, &["MQTT-4.12.0-1"]);
}

#[test]
fn configured_authentication_method_is_echoed_mqtt_4_12_0_5() {
    let mut h = H::with(Config {
        authentication_method: Some("TOKEN".into()),
        ..Config::default()
    });
    let ack = h.connect_with(1, V5, "c", |c| {
        c.properties.authentication_method = Some(s("TOKEN"));
    });
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    assert_eq!(ack.properties.authentication_method, Some(s("TOKEN")));
}

#[test]
fn will_beyond_capabilities_is_refused_mqtt_3_2_2_12_13() {
    let will = |qos, retain| Will {
        topic: s("w"),
        payload: "x".into(),
        qos,
        retain,
        properties: Default::default(),
    };
    let mut h = H::with(Config {
        maximum_qos: QoS::AtLeastOnce,
        retain_available: false,
        ..Config::default()
    });
    let ack = h.connect_with(1, V5, "c", |c| c.will = Some(will(QoS::ExactlyOnce, false)));
    assert_eq!(ack.reason_code, ReasonCode::QOS_NOT_SUPPORTED);
    let ack = h.connect_with(2, V5, "c", |c| c.will = Some(will(QoS::AtMostOnce, true)));
    assert_eq!(ack.reason_code, ReasonCode::RETAIN_NOT_SUPPORTED);
}

#[test]
fn connack_announces_capabilities_v5() {
    let mut h = H::with(Config {
        maximum_qos: QoS::AtLeastOnce,
        retain_available: false,
        wildcard_subscription_available: false,
        subscription_identifier_available: false,
        shared_subscription_available: false,
        receive_maximum: 20,
        maximum_packet_size: Some(1000),
        topic_alias_maximum: 0,
        ..Config::default()
    });
    let p = h.connect_with(1, V5, "c", |_| {}).properties;
    assert_eq!(p.maximum_qos, Some(1));
    assert_eq!(p.retain_available, Some(0));
    assert_eq!(p.wildcard_subscription_available, Some(0));
    assert_eq!(p.subscription_identifier_available, Some(0));
    assert_eq!(p.shared_subscription_available, Some(0));
    assert_eq!(p.receive_maximum, Some(20));
    assert_eq!(p.maximum_packet_size, Some(1000));
    assert_eq!(p.topic_alias_maximum, None);
}

#[test]
fn model_errors_for_caller_mistakes() {
    let mut b = Broker::new(Config::default());
    assert!(b.packet(ConnId(9), Packet::PingReq, Time(0)).is_err());
    b.connection_opened(ConnId(1), Time(0)).unwrap();
    assert!(b.connection_opened(ConnId(1), Time(0)).is_err());
    assert!(b.connection_closed(ConnId(2), Time(0)).is_err());
}
