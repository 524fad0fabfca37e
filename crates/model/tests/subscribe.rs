//! Subscriptions: wildcards, overlaps, options, shared subscriptions,
//! SUBACK and UNSUBACK codes (3.1.1 §3.8-3.11, §4.7; 5.0 §3.8-3.11, §4.7-4.8).

mod support;

use mqtt_codec::{Packet, QoS, ReasonCode, RetainHandling, SubscriptionOptions};
use mqtt_model::Config;
use support::*;

#[test]
fn wildcards_match_by_level_4_7_1() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "a/+/c", QoS::AtMostOnce);
    h.subscribe(2, "x/#", QoS::AtMostOnce);
    for (topic, n) in [
        ("a/b/c", 1),
        ("a/b", 0),
        ("x", 1),
        ("x/y/z", 1),
        ("a/b/c/d", 0),
    ] {
        h.publish(1, topic, "p", QoS::AtMostOnce, false, 0);
        assert_eq!(h.publishes(2).len(), n, "{topic}");
    }
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards_mqtt_4_7_2_1() {
    let mut h = H::new();
    h.connect(1, V311, "pub", true);
    h.connect(2, V311, "sub", true);
    h.subscribe(2, "#", QoS::AtMostOnce);
    h.subscribe(2, "+/x", QoS::AtMostOnce);
    h.publish(1, "$SYS/x", "p", QoS::AtMostOnce, false, 0);
    assert!(h.publishes(2).is_empty());
    h.subscribe(2, "$SYS/#", QoS::AtMostOnce);
    h.publish(1, "$SYS/x", "p", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(2).len(), 1);
}

#[test]
fn overlapping_subscriptions_deliver_once_at_max_qos_mqtt_3_3_5_1_v311() {
    let mut h = H::new();
    h.connect(1, V311, "pub", true);
    h.connect(2, V311, "sub", true);
    h.subscribe(2, "a/#", QoS::AtMostOnce);
    h.subscribe(2, "a/+", QoS::ExactlyOnce);
    h.publish(1, "a/b", "p", QoS::ExactlyOnce, false, 1);
    let got = h.publishes(2);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::ExactlyOnce);
}

#[test]
fn overlapping_subscriptions_carry_all_identifiers_mqtt_3_3_4_3_4_v5() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe_opts(
        2,
        "a/#",
        SubscriptionOptions::qos(QoS::AtLeastOnce),
        Some(1),
    );
    h.subscribe_opts(2, "a/+", SubscriptionOptions::qos(QoS::AtMostOnce), Some(2));
    h.subscribe_opts(2, "+/b", SubscriptionOptions::qos(QoS::AtMostOnce), None);
    h.publish(1, "a/b", "p", QoS::AtLeastOnce, false, 1);
    let got = h.publishes(2);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
    let mut ids = got[0].properties.subscription_identifiers.clone();
    ids.sort();
    assert_eq!(ids, vec![1, 2]);
}

#[test]
fn no_local_mqtt_3_8_3_3() {
    let mut h = H::new();
    h.connect(1, V5, "c", true);
    let o = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    h.subscribe_opts(1, "t", o, None);
    h.publish(1, "t", "p", QoS::AtMostOnce, false, 0);
    assert!(h.publishes(1).is_empty());
    h.connect(2, V5, "other", true);
    h.publish(2, "t", "p", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(1).len(), 1);
}

#[test]
fn retain_as_published_mqtt_3_3_1_12_13() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "rap0", true);
    h.connect(3, V5, "rap1", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    let o = SubscriptionOptions {
        retain_as_published: true,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    h.subscribe_opts(3, "t", o, None);
    h.publish(1, "t", "p", QoS::AtMostOnce, true, 0);
    assert!(!h.publishes(2)[0].retain); // MQTT-3.3.1-12
    assert!(h.publishes(3)[0].retain); // MQTT-3.3.1-13
}

#[test]
fn retain_flag_is_0_on_established_subscriptions_mqtt_3_3_1_9_v311() {
    let mut h = H::new();
    h.connect(1, V311, "pub", true);
    h.connect(2, V311, "sub", true);
    h.subscribe(2, "t", QoS::AtMostOnce);
    h.publish(1, "t", "p", QoS::AtMostOnce, true, 0);
    assert!(!h.publishes(2)[0].retain);
}

#[test]
fn retain_handling_0_1_2_mqtt_3_3_1_9_10_11() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.publish(1, "t", "r", QoS::AtMostOnce, true, 0);
    h.connect(2, V5, "sub", true);
    let rh = |r| SubscriptionOptions {
        retain_handling: r,
        ..SubscriptionOptions::qos(QoS::AtMostOnce)
    };
    // 0: sent at every subscribe (MQTT-3.3.1-9, MQTT-3.8.4-4).
    h.subscribe_opts(2, "t", rh(RetainHandling::SendAtSubscribe), None);
    assert_eq!(h.publishes(2).len(), 1);
    h.subscribe_opts(2, "t", rh(RetainHandling::SendAtSubscribe), None);
    assert_eq!(h.publishes(2).len(), 1);
    // 1: only when new (MQTT-3.3.1-10).
    h.subscribe_opts(2, "t", rh(RetainHandling::SendIfNew), None);
    assert!(h.publishes(2).is_empty());
    h.subscribe_opts(2, "+", rh(RetainHandling::SendIfNew), None);
    assert_eq!(h.publishes(2).len(), 1);
    // 2: never (MQTT-3.3.1-11).
    h.subscribe_opts(2, "#", rh(RetainHandling::DoNotSend), None);
    assert!(h.publishes(2).is_empty());
}

#[test]
fn suback_codes_follow_capabilities() {
    let mut h = H::with(Config {
        maximum_qos: QoS::AtLeastOnce,
        wildcard_subscription_available: false,
        shared_subscription_available: false,
        ..Config::default()
    });
    h.connect(1, V5, "c", true);
    // Granted QoS downgraded (MQTT-3.8.4-8 / MQTT-3.9.3-1 order).
    assert_eq!(h.subscribe(1, "a", QoS::ExactlyOnce), vec![ReasonCode(1)]);
    assert_eq!(
        h.subscribe(1, "a/#", QoS::AtMostOnce),
        vec![ReasonCode::WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED]
    );
    assert_eq!(
        h.subscribe(1, "$share/g/a", QoS::AtMostOnce),
        vec![ReasonCode::SHARED_SUBSCRIPTIONS_NOT_SUPPORTED]
    );
    // 3.1.1 has only 0x80 for failure.
    h.connect(2, V311, "d", true);
    assert_eq!(
        h.subscribe(2, "a/#", QoS::AtMostOnce),
        vec![ReasonCode(0x80)]
    );
}

#[test]
fn subscription_identifiers_unavailable_disconnects_0xa1() {
    let mut h = H::with(Config {
        subscription_identifier_available: false,
        ..Config::default()
    });
    h.connect(1, V5, "c", true);
    h.send(
        1,
        Packet::Subscribe(mqtt_codec::Subscribe {
            packet_id: 1,
            properties: mqtt_codec::Properties::from(mqtt_codec::PropertyValues {
                subscription_identifiers: vec![4],
                ..Default::default()
            }),
            filters: vec![mqtt_codec::Subscription {
                filter: s("a"),
                options: SubscriptionOptions::default(),
            }],
        }),
    );
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED)
    );
    assert!(h.closed(1).is_some());
}

#[test]
fn unsubscribe_and_unsuback_codes_mqtt_3_10_4_4_mqtt_3_11_3_1() {
    let mut h = H::new();
    h.connect(1, V5, "c", true);
    h.subscribe(1, "a", QoS::AtMostOnce);
    match h.unsubscribe(1, "a") {
        Packet::UnsubAck(u) => assert_eq!(u.reason_codes, vec![ReasonCode::SUCCESS]),
        p => panic!("{p:?}"),
    }
    match h.unsubscribe(1, "a") {
        Packet::UnsubAck(u) => {
            assert_eq!(u.reason_codes, vec![ReasonCode::NO_SUBSCRIPTION_EXISTED])
        }
        p => panic!("{p:?}"),
    }
    assert!(h.broker.subscriptions().is_empty());
    h.connect(2, V311, "d", true);
    assert!(matches!(h.unsubscribe(2, "zz"), Packet::UnsubAck(u) if u.reason_codes.is_empty()));
}

#[test]
fn shared_subscriptions_deliver_to_one_member_round_robin_4_8_2() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "m1", true);
    h.connect(3, V5, "m2", true);
    h.subscribe(2, "$share/g/t/#", QoS::AtLeastOnce);
    h.subscribe(3, "$share/g/t/#", QoS::AtLeastOnce);
    let mut counts = [0, 0];
    for i in 0..6 {
        h.publish(1, "t/x", "p", QoS::AtMostOnce, false, 0);
        let a = h.publishes(2).len();
        let b = h.publishes(3).len();
        assert_eq!(a + b, 1, "message {i}");
        counts[0] += a;
        counts[1] += b;
    }
    assert_eq!(counts, [3, 3]);
    // No retained messages for a shared subscription.
    h.publish(1, "t/r", "keep", QoS::AtMostOnce, true, 0);
    h.clear();
    h.subscribe(2, "$share/h/t/#", QoS::AtLeastOnce);
    assert!(h.publishes(2).is_empty());
}

#[test]
fn shared_and_plain_subscriptions_each_get_a_copy() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "m1", true);
    h.subscribe(2, "$share/g/t", QoS::AtMostOnce);
    h.subscribe(2, "t", QoS::AtMostOnce);
    h.publish(1, "t", "p", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(2).len(), 2);
}

#[test]
fn no_local_on_shared_subscription_is_a_protocol_error_mqtt_3_8_3_4() {
    let mut h = H::new();
    h.connect(1, V5, "c", true);
    h.send(
        1,
        Packet::Subscribe(mqtt_codec::Subscribe {
            packet_id: 1,
            properties: Default::default(),
            filters: vec![mqtt_codec::Subscription {
                filter: s("$share/g/a"),
                options: SubscriptionOptions {
                    no_local: true,
                    ..Default::default()
                },
            }],
        }),
    );
    assert!(
        matches!(&h.sent(1)[..], [Packet::Disconnect(d)] if d.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn resubscribing_replaces_the_subscription_mqtt_3_8_4_3() {
    let mut h = H::new();
    h.connect(1, V311, "pub", true);
    h.connect(2, V311, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    h.subscribe(2, "t", QoS::AtMostOnce);
    assert_eq!(h.broker.subscriptions().len(), 1);
    h.publish(1, "t", "p", QoS::ExactlyOnce, false, 1);
    assert_eq!(h.publishes(2)[0].qos, QoS::AtMostOnce);
}
