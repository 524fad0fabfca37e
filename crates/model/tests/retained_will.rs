//! Retained messages and Will Messages (3.1.1 §3.3.1.3, §3.1.2.5;
//! 5.0 §3.3.1.3, §3.1.2.5, §3.1.3.2).

mod support;

use mqtt_codec::{QoS, ReasonCode, Will};
use mqtt_model::TraceEvent;
use support::*;

fn will(topic: &str, delay: Option<u32>) -> Will {
    let mut w = Will {
        topic: s(topic),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    };
    w.properties.will_delay_interval = delay;
    w
}

#[test]
fn retained_is_stored_replaced_and_cleared_mqtt_3_3_1_5_6_7() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "pub", true);
        h.publish(1, "t", "one", QoS::AtLeastOnce, true, 1);
        h.publish(1, "t", "two", QoS::AtMostOnce, true, 0); // replaces (3.1.1 MQTT-3.3.1-7)
        h.publish(1, "t", "not-retained", QoS::AtMostOnce, false, 0); // MQTT-3.3.1-8 (5.0) / -12 (3.1.1)
        h.connect(2, v, "sub", true);
        h.subscribe(2, "#", QoS::AtLeastOnce);
        let got = h.publishes(2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload(), b"two");
        // RETAIN 1 on messages sent because of a new subscription
        // (3.1.1 MQTT-3.3.1-8).
        assert!(got[0].retain);
        assert_eq!(got[0].qos, QoS::AtMostOnce);
        // Zero-length payload clears and is not stored (5.0 MQTT-3.3.1-6/7,
        // 3.1.1 MQTT-3.3.1-10/11), but is delivered normally.
        h.publish(1, "t", "", QoS::AtMostOnce, true, 0);
        assert_eq!(h.publishes(2).len(), 1);
        assert!(h.broker.retained().is_empty());
        h.connect(3, v, "late", true);
        h.subscribe(3, "t", QoS::AtMostOnce);
        assert!(h.publishes(3).is_empty());
    }
}

#[test]
fn retain_unavailable_is_refused_0x9a_v5() {
    let mut h = H::with(mqtt_model::Config {
        retain_available: false,
        ..Default::default()
    });
    h.connect(1, V5, "pub", true);
    h.publish(1, "t", "x", QoS::AtMostOnce, true, 0);
    assert!(
        matches!(&h.sent(1)[..], [mqtt_codec::Packet::Disconnect(d)] if d.reason_code == ReasonCode::RETAIN_NOT_SUPPORTED)
    );
}

#[test]
fn will_is_published_on_abnormal_close_mqtt_3_1_2_8() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "sub", true);
        h.subscribe(1, "will/#", QoS::AtLeastOnce);
        h.connect_with(2, v, "dying", |c| c.will = Some(will("will/x", None)));
        h.close(2);
        let got = h.publishes(1);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].payload(), b"gone");
    }
}

#[test]
fn will_is_discarded_after_disconnect_mqtt_3_14_4_3() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "sub", true);
        h.subscribe(1, "will/#", QoS::AtLeastOnce);
        h.connect_with(2, v, "leaving", |c| c.will = Some(will("will/x", None)));
        h.disconnect(2, ReasonCode::SUCCESS);
        assert!(h.publishes(1).is_empty());
        assert!(h
            .events()
            .iter()
            .any(|e| matches!(e, TraceEvent::WillDiscarded { .. })));
    }
}

#[test]
fn disconnect_with_will_0x04_publishes_it_v5() {
    let mut h = H::new();
    h.connect(1, V5, "sub", true);
    h.subscribe(1, "will/#", QoS::AtLeastOnce);
    h.connect_with(2, V5, "leaving", |c| c.will = Some(will("will/x", None)));
    h.disconnect(2, ReasonCode::DISCONNECT_WITH_WILL);
    assert_eq!(h.publishes(1).len(), 1);
}

#[test]
fn will_retain_stores_it_mqtt_3_1_2_15() {
    let mut h = H::new();
    let mut w = will("will/x", None);
    w.retain = true;
    h.connect_with(1, V5, "dying", |c| c.will = Some(w));
    h.close(1);
    assert!(h.broker.retained().get("will/x").is_some());
}

#[test]
fn will_delay_is_cancelled_by_reconnect_mqtt_3_1_3_9() {
    let mut h = H::new();
    h.connect(1, V5, "sub", true);
    h.subscribe(1, "will/#", QoS::AtLeastOnce);
    h.connect_with(2, V5, "flaky", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(100);
        c.will = Some(will("will/x", Some(10)));
    });
    h.close(2);
    assert!(h.publishes(1).is_empty());
    h.advance(5_000);
    h.connect(3, V5, "flaky", false);
    h.advance(10_000);
    assert!(h.publishes(1).is_empty());
    assert!(h.broker.pending_wills().is_empty());
}

#[test]
fn will_delay_elapses_then_publishes_mqtt_3_1_2_8() {
    let mut h = H::new();
    h.connect(1, V5, "sub", true);
    h.subscribe(1, "will/#", QoS::AtLeastOnce);
    h.connect_with(2, V5, "flaky", |c| {
        c.properties.session_expiry_interval = Some(100);
        c.will = Some(will("will/x", Some(10)));
    });
    h.close(2);
    assert_eq!(h.broker.next_timeout(), Some(mqtt_model::Time(10_000)));
    h.advance(9_999);
    assert!(h.publishes(1).is_empty());
    h.advance(1);
    assert_eq!(h.publishes(1).len(), 1);
}

#[test]
fn will_is_published_at_session_end_if_earlier_than_the_delay() {
    let mut h = H::new();
    h.connect(1, V5, "sub", true);
    h.subscribe(1, "will/#", QoS::AtLeastOnce);
    h.connect_with(2, V5, "flaky", |c| {
        c.properties.session_expiry_interval = Some(3);
        c.will = Some(will("will/x", Some(60)));
    });
    h.close(2);
    h.advance(3_000);
    assert_eq!(h.publishes(1).len(), 1);
    assert!(h.broker.session("flaky").is_none());
    // Session expiry 0: the session ends at close, the will goes at once.
    h.connect_with(3, V5, "brief", |c| c.will = Some(will("will/y", Some(60))));
    h.close(3);
    assert_eq!(h.publishes(1).len(), 1);
}

/// A reconnect that arrives after the Will Delay Interval but before any
/// tick does not cancel the Will: it was due, so it is published first
/// (MQTT-3.1.2-8; MQTT-3.1.3-9 cancels only a Will still waiting).
#[test]
fn a_due_will_is_published_not_cancelled_by_a_late_reconnect() {
    let mut h = H::new();
    h.connect(1, V5, "sub", true);
    h.subscribe(1, "will/#", QoS::AtLeastOnce);
    h.connect_with(2, V5, "flaky", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(100);
        c.will = Some(will("will/x", Some(10)));
    });
    h.close(2);
    h.now += 10_000;
    h.connect(3, V5, "flaky", false);
    assert_eq!(h.publishes(1).len(), 1);
    assert!(h.broker.pending_wills().is_empty());
}
