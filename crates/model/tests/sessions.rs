//! Sessions and their expiry (3.1.1 §3.1.2.4, 5.0 §3.1.2.4, §3.1.2.11.2,
//! §4.1, §3.14.2.2.2).

mod support;

use mqtt_codec::{Disconnect, Packet, Publish, QoS, ReasonCode};
use support::*;

#[test]
fn clean_session_leaves_nothing_behind_mqtt_3_1_2_6_v311() {
    let mut h = H::new();
    h.connect(1, V311, "c", true);
    h.subscribe(1, "a/#", QoS::AtLeastOnce);
    h.close(1);
    assert!(h.broker.session("c").is_none());
    assert!(h.broker.subscriptions().is_empty());
}

#[test]
fn persistent_session_keeps_subscriptions_and_queues_mqtt_3_1_2_4_v311() {
    let mut h = H::new();
    h.connect(1, V311, "c", false);
    h.subscribe(1, "a", QoS::AtLeastOnce);
    h.close(1);
    h.connect(2, V311, "p", true);
    h.publish(2, "a", "while-away", QoS::AtLeastOnce, false, 1);
    assert!(h.connect(3, V311, "c", false));
    let got = h.publishes(3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload(), b"while-away");
}

#[test]
fn session_expiry_interval_ends_the_session_mqtt_4_1_0_2() {
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(10);
    });
    h.subscribe(1, "a", QoS::AtLeastOnce);
    h.close(1);
    // MQTT-3.1.2-23: kept while the interval runs.
    assert!(h.broker.session("c").is_some());
    assert_eq!(h.broker.next_timeout(), Some(mqtt_model::Time(10_000)));
    h.advance(10_000);
    assert!(h.broker.session("c").is_none());
    assert!(h.broker.subscriptions().is_empty());
}

#[test]
fn session_expiry_0_ends_at_close_v5() {
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| c.clean_start = false);
    h.close(1);
    assert!(h.broker.session("c").is_none());
}

#[test]
fn session_expiry_can_change_on_disconnect_3_14_2_2_2() {
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| {
        c.properties.session_expiry_interval = Some(10);
    });
    let mut d = Disconnect::new(ReasonCode::SUCCESS);
    d.properties.session_expiry_interval = Some(0);
    h.send(1, Packet::Disconnect(d));
    assert!(h.broker.session("c").is_none());
    // From 0 in CONNECT to non-zero on DISCONNECT: Protocol Error.
    h.connect_with(2, V5, "d", |_| {});
    let mut d = Disconnect::new(ReasonCode::SUCCESS);
    d.properties.session_expiry_interval = Some(5);
    h.send(2, Packet::Disconnect(d));
    assert!(
        matches!(&h.sent(2)[..], [Packet::Disconnect(x)] if x.reason_code == ReasonCode::PROTOCOL_ERROR)
    );
}

#[test]
fn maximum_session_expiry_is_returned_in_connack() {
    let mut h = H::with(mqtt_model::Config {
        maximum_session_expiry: Some(60),
        ..Default::default()
    });
    let ack = h.connect_with(1, V5, "c", |c| {
        c.properties.session_expiry_interval = Some(600)
    });
    assert_eq!(ack.properties.session_expiry_interval, Some(60));
}

#[test]
fn clean_start_discards_the_old_session_mqtt_3_1_2_4_v5() {
    let mut h = H::new();
    h.connect(1, V5, "c", false);
    h.subscribe(1, "a", QoS::AtLeastOnce);
    h.close(1);
    assert!(!h.connect(2, V5, "c", true));
    assert!(h.broker.subscriptions().is_empty());
}

/// On resumption every in-flight PUBLISH counts against the new
/// connection's Receive Maximum: the re-sent ones stop at the window, keep
/// their ids and order, and the rest follow as acknowledgements free it
/// (MQTT-3.3.4-9, MQTT-4.4.0-1, MQTT-4.6.0-1). Found by the `model` fuzz
/// target: the model used to re-send the whole backlog at once.
#[test]
fn redelivery_on_resumption_respects_the_new_receive_maximum_mqtt_3_3_4_9() {
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(60);
    });
    h.subscribe(1, "a", QoS::AtLeastOnce);
    h.connect(2, V5, "p", true);
    for (i, m) in ["m1", "m2", "m3"].into_iter().enumerate() {
        h.publish(2, "a", m, QoS::AtLeastOnce, false, i as u16 + 1);
    }
    let first: Vec<Publish> = h.publishes(1);
    assert_eq!(first.len(), 3);
    h.close(1);
    h.connect_with(3, V5, "c", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(60);
        c.properties.receive_maximum = Some(1);
    });
    for want in &first {
        let got = h.publishes(3);
        assert_eq!(got.len(), 1, "one at a time within Receive Maximum 1");
        assert_eq!(got[0].packet_id, want.packet_id);
        assert_eq!(got[0].payload(), want.payload());
        assert!(got[0].dup);
        h.ack(3, puback(got[0].packet_id));
    }
    assert!(h.publishes(3).is_empty());
}

/// A CONNECT that arrives after the session's expiry but before any tick
/// (a server's ticks may lag, and a restored broker has not ticked yet)
/// finds no session: MQTT-4.1.0-2 holds at the CONNECT's time.
#[test]
fn an_expired_session_is_not_resumed_before_the_tick_mqtt_4_1_0_2() {
    let mut h = H::new();
    h.connect_with(1, V5, "c", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(2);
    });
    h.subscribe(1, "a", QoS::AtLeastOnce);
    h.close(1);
    // Time passes without a tick.
    h.now += 2_000;
    let ack = h.connect_with(2, V5, "c", |c| {
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(2);
    });
    assert!(!ack.session_present, "expired 0 ms ago, resumed");
    assert!(h.broker.subscriptions().is_empty());
    // One millisecond earlier it is still there.
    h.close(2);
    h.now += 1_999;
    let ack = h.connect_with(3, V5, "c", |c| c.clean_start = false);
    assert!(ack.session_present);
}
