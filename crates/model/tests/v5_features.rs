//! MQTT 5.0 features: topic aliases, message expiry, maximum packet size,
//! forwarded properties, limits and authorisation (5.0 §3.3.2.3, §3.1.2.11,
//! §4.9, §4.12).

mod support;

use mqtt_codec::{Auth, Packet, Publish, QoS, ReasonCode};
use mqtt_model::policy::{Access, AclRule, AllowAll, TopicAcl};
use mqtt_model::{Broker, Config, DropReason, TraceEvent};
use support::*;

fn aliased(topic: &str, alias: u16) -> Packet {
    let mut p = Publish::new(s(topic), "x");
    p.properties.topic_alias = Some(alias);
    Packet::Publish(p)
}

#[test]
fn inbound_topic_alias_is_resolved_mqtt_3_3_2_12() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "long/topic", QoS::AtMostOnce);
    h.send(1, aliased("long/topic", 3));
    h.send(1, aliased("", 3));
    let got = h.publishes(2);
    assert_eq!(got.len(), 2);
    assert!(got
        .iter()
        .all(|p| p.topic() == "long/topic" && p.properties.topic_alias.is_none()));
}

#[test]
fn invalid_topic_alias_is_0x94() {
    for packet in [aliased("a", 11), aliased("", 2)] {
        let mut h = H::new(); // topic alias maximum 10
        h.connect(1, V5, "pub", true);
        h.send(1, packet);
        assert!(
            matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::TOPIC_ALIAS_INVALID)
        );
        assert!(h.closed(1).is_some());
    }
}

#[test]
fn topic_aliases_do_not_survive_the_connection_mqtt_3_3_2_7() {
    let mut h = H::new();
    h.connect(1, V5, "pub", false);
    h.send(1, aliased("a", 1));
    h.close(1);
    h.connect(2, V5, "pub", false);
    h.send(2, aliased("", 1));
    assert!(matches!(&h.sent(2)[..], [Packet::Disconnect(_)]));
}

#[test]
fn message_expiry_drops_and_counts_down_mqtt_3_3_2_5_6() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", false);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.close(2);
    for (payload, expiry) in [("short", 2), ("long", 10)] {
        let mut p = Publish::new(s("t"), payload);
        p.qos = QoS::AtLeastOnce;
        p.packet_id = 1;
        p.properties.message_expiry_interval = Some(expiry);
        h.send(1, Packet::Publish(p));
    }
    h.advance(3_000);
    h.connect(3, V5, "sub", false);
    let got = h.publishes(3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload(), b"long");
    assert_eq!(got[0].properties.message_expiry_interval, Some(7));
    assert!(h.events().iter().any(|e| matches!(
        e,
        TraceEvent::Dropped {
            reason: DropReason::Expired,
            ..
        }
    )));
}

#[test]
fn too_large_for_the_client_is_not_sent_mqtt_3_1_2_24_25() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect_with(2, V5, "sub", |c| {
        c.properties.maximum_packet_size = Some(30)
    });
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.publish(1, "t", &"x".repeat(100), QoS::AtLeastOnce, false, 1);
    assert!(h.publishes(2).is_empty());
    assert!(h.broker.session("sub").unwrap().inflight.is_empty());
    h.publish(1, "t", "small", QoS::AtLeastOnce, false, 2);
    assert_eq!(h.publishes(2).len(), 1);
}

#[test]
fn properties_are_forwarded_unchanged_mqtt_3_3_2_4_15_16_17_18_20() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    let mut p = Publish::new(s("t"), "{}");
    let pr = &mut p.properties;
    pr.payload_format_indicator = Some(1);
    pr.content_type = Some(s("application/json"));
    pr.response_topic = Some(s("reply/here"));
    pr.correlation_data = Some(vec![1, 2, 3].into());
    pr.user_properties = vec![(s("b"), s("2")), (s("a"), s("1")), (s("b"), s("3"))];
    let sent = p.properties.clone();
    h.send(1, Packet::Publish(p));
    let got = h.publishes(2).remove(0).properties;
    assert_eq!(got.payload_format_indicator, sent.payload_format_indicator);
    assert_eq!(got.content_type, sent.content_type);
    assert_eq!(got.response_topic, sent.response_topic);
    assert_eq!(got.correlation_data, sent.correlation_data);
    assert_eq!(got.user_properties, sent.user_properties); // order kept
}

#[test]
fn subscription_identifier_from_a_client_is_a_protocol_error_mqtt_3_3_4_6() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    let mut p = Publish::new(s("t"), "x");
    p.properties.subscription_identifiers = vec![1];
    h.send(1, Packet::Publish(p));
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn qos_above_maximum_is_0x9b() {
    let mut h = H::with(Config {
        maximum_qos: QoS::AtLeastOnce,
        ..Config::default()
    });
    h.connect(1, V5, "pub", true);
    h.publish(1, "t", "x", QoS::ExactlyOnce, false, 1);
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::QOS_NOT_SUPPORTED)
    );
}

#[test]
fn inbound_receive_maximum_exceeded_is_0x93() {
    let mut h = H::with(Config {
        receive_maximum: 2,
        ..Config::default()
    });
    h.connect(1, V5, "pub", true);
    for id in 1..=3 {
        h.publish(1, "t", "x", QoS::ExactlyOnce, false, id);
    }
    let sent = h.sent(1);
    assert!(
        matches!(sent.last(), Some(Packet::Disconnect(d)) if d.reason_code == ReasonCode::RECEIVE_MAXIMUM_EXCEEDED)
    );
}

#[test]
fn acl_refuses_publish_and_subscribe_with_0x87() {
    let acl = TopicAcl {
        rules: vec![AclRule {
            username: None,
            filter: "secret/#".into(),
            access: Access::Both,
            allow: false,
        }],
        default_allow: true,
    };
    let mut h = H::new();
    h.broker = Broker::with_policies(Config::default(), Box::new(AllowAll), Box::new(acl));
    h.connect(1, V5, "c", true);
    h.connect(2, V5, "spy", true);
    h.subscribe(2, "#", QoS::AtLeastOnce);
    assert_eq!(
        h.subscribe(2, "secret/x", QoS::AtMostOnce),
        vec![ReasonCode::NOT_AUTHORIZED]
    );
    h.publish(1, "secret/x", "x", QoS::AtLeastOnce, false, 1);
    assert!(
        matches!(&h.sent(1)[..], [Packet::PubAck(a)] if a.reason_code == ReasonCode::NOT_AUTHORIZED)
    );
    assert!(h.publishes(2).is_empty());
}

#[test]
fn auth_without_method_is_a_protocol_error_mqtt_4_12_0_7() {
    let mut h = H::new();
    h.connect(1, V5, "c", true);
    h.send(1, Packet::Auth(Auth::default()));
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn mixed_versions_share_one_broker() {
    let mut h = H::new();
    h.connect(1, V5, "v5", true);
    h.connect(2, V311, "v3", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    let mut p = Publish::new(s("t"), "x");
    p.properties.user_properties = vec![(s("k"), s("v"))];
    h.send(1, Packet::Publish(p));
    let got = h.publishes(2);
    assert_eq!(got.len(), 1);
    assert!(got[0].properties.is_empty()); // 3.1.1 has no properties
}
