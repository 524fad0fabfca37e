//! QoS 0/1/2 in both directions, in-flight window, redelivery
//! (3.1.1 §4.3-4.4, 5.0 §4.3-4.4, §4.9).

mod support;

use mqtt_codec::{Packet, PubResponse, QoS, ReasonCode};
use mqtt_model::TraceEvent;
use support::*;

#[test]
fn qos1_inbound_is_acknowledged_and_routed_mqtt_4_3_2_4() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "pub", true);
        h.connect(2, v, "sub", true);
        h.subscribe(2, "t", QoS::AtLeastOnce);
        h.publish(1, "t", "x", QoS::AtLeastOnce, false, 5);
        assert_eq!(h.sent(1), vec![puback(5)]);
        let got = h.publishes(2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].qos, QoS::AtLeastOnce);
        assert_ne!(got[0].packet_id, 0);
        assert!(!got[0].dup); // MQTT-4.3.2-2
    }
}

#[test]
fn qos2_duplicate_publish_is_not_delivered_again_mqtt_4_3_3_10() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "pub", true);
        h.connect(2, v, "sub", true);
        h.subscribe(2, "t", QoS::ExactlyOnce);
        h.publish(1, "t", "x", QoS::ExactlyOnce, false, 9);
        assert_eq!(h.sent(1), vec![pubrec(9)]);
        // Re-sent before PUBREL (3.1.1: MQTT-4.3.3-2).
        h.publish(1, "t", "x", QoS::ExactlyOnce, false, 9);
        assert_eq!(h.sent(1), vec![pubrec(9)]);
        assert_eq!(h.publishes(2).len(), 1);
        assert!(h
            .events()
            .iter()
            .any(|e| matches!(e, TraceEvent::DuplicateQos2Ignored { packet_id: 9, .. })));
        // MQTT-4.3.3-11: PUBREL -> PUBCOMP; then the id is new again (MQTT-4.3.3-12).
        h.send(1, pubrel(9));
        assert_eq!(h.sent(1), vec![pubcomp(9)]);
        h.publish(1, "t", "y", QoS::ExactlyOnce, false, 9);
        assert_eq!(h.publishes(2).len(), 1);
    }
}

#[test]
fn pubrel_for_unknown_id_gets_pubcomp_0x92_v5() {
    let mut h = H::new();
    h.connect(1, V5, "c", true);
    h.send(1, pubrel(3));
    assert!(
        matches!(&h.sent(1)[..], [Packet::PubComp(r)] if r.reason_code == ReasonCode::PACKET_IDENTIFIER_NOT_FOUND)
    );
    let mut h = H::new();
    h.connect(1, V311, "c", true);
    h.send(1, pubrel(3));
    assert_eq!(h.sent(1), vec![pubcomp(3)]);
}

#[test]
fn qos2_outbound_flow_mqtt_4_3_3_4() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    h.publish(1, "t", "x", QoS::ExactlyOnce, false, 1);
    let p = h.publishes(2).remove(0);
    h.send(2, pubrec(p.packet_id));
    assert_eq!(h.sent(2), vec![pubrel(p.packet_id)]);
    h.send(2, pubcomp(p.packet_id));
    assert!(h.broker.session("sub").unwrap().inflight.is_empty());
}

#[test]
fn qos_is_downgraded_to_the_granted_qos_mqtt_3_8_4_8() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.publish(1, "t", "x", QoS::ExactlyOnce, false, 1);
    assert_eq!(h.publishes(2)[0].qos, QoS::AtLeastOnce);
    h.publish(1, "t", "x", QoS::AtMostOnce, false, 0);
    assert_eq!(h.publishes(2)[0].qos, QoS::AtMostOnce);
}

#[test]
fn receive_maximum_limits_in_flight_and_queues_the_rest_mqtt_3_3_4_9() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect_with(2, V5, "sub", |c| c.properties.receive_maximum = Some(2));
    h.subscribe(2, "t", QoS::AtLeastOnce);
    for i in 1..=5 {
        h.publish(1, "t", &i.to_string(), QoS::AtLeastOnce, false, i);
    }
    let first = h.publishes(2);
    assert_eq!(first.len(), 2);
    assert_eq!(h.broker.session("sub").unwrap().queue.len(), 3);
    // MQTT-4.9.0-3: other packets still answered.
    h.send(2, Packet::PingReq);
    assert_eq!(h.sent(2), vec![Packet::PingResp]);
    h.send(2, puback(first[0].packet_id));
    let next = h.publishes(2);
    assert_eq!(next.len(), 1);
    // Order per topic kept (4.6): payloads 1, 2, 3.
    assert_eq!(next[0].payload(), b"3");
    assert_ne!(next[0].packet_id, first[1].packet_id);
}

#[test]
fn pubrec_with_error_code_ends_the_delivery_mqtt_4_4_0_2() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "t", QoS::ExactlyOnce);
    h.publish(1, "t", "x", QoS::ExactlyOnce, false, 1);
    let p = h.publishes(2).remove(0);
    h.send(
        2,
        Packet::PubRec(PubResponse {
            packet_id: p.packet_id,
            reason_code: ReasonCode::UNSPECIFIED_ERROR,
            properties: Default::default(),
        }),
    );
    assert!(h.sent(2).is_empty());
    assert!(h.broker.session("sub").unwrap().inflight.is_empty());
}

#[test]
fn unacknowledged_messages_are_redelivered_with_dup_on_reconnect_mqtt_4_4_0_1() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "pub", true);
        h.connect(2, v, "sub", false);
        h.subscribe(2, "t", QoS::ExactlyOnce);
        h.publish(1, "t", "a", QoS::AtLeastOnce, false, 1);
        h.publish(1, "t", "b", QoS::ExactlyOnce, false, 2);
        h.publish(1, "t", "c", QoS::ExactlyOnce, false, 3);
        let sent = h.publishes(2);
        assert_eq!(sent.len(), 3);
        // PUBREC for "c": a PUBREL is then outstanding.
        h.send(2, pubrec(sent[2].packet_id));
        h.clear();
        h.close(2);
        assert!(h.connect(3, v, "sub", false));
        let again = h.sent(3);
        assert_eq!(again.len(), 3, "{again:?}");
        for (i, p) in again.iter().take(2).enumerate() {
            match p {
                Packet::Publish(p) => {
                    assert!(p.dup, "MQTT-3.3.1-1");
                    assert_eq!(p.packet_id, sent[i].packet_id);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(again[2], pubrel(sent[2].packet_id));
    }
}

#[test]
fn offline_messages_are_queued_up_to_the_limit() {
    let mut h = H::with(mqtt_model::Config {
        max_queued_messages: 2,
        ..Default::default()
    });
    h.connect(1, V311, "pub", true);
    h.connect(2, V311, "sub", false);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    h.disconnect(2, ReasonCode::SUCCESS);
    for i in 1..=3 {
        h.publish(1, "t", &i.to_string(), QoS::AtLeastOnce, false, i);
    }
    h.publish(1, "t", "q0", QoS::AtMostOnce, false, 0);
    assert!(h.events().iter().any(|e| matches!(
        e,
        TraceEvent::Dropped {
            reason: mqtt_model::DropReason::QueueFull,
            ..
        }
    )));
    h.connect(3, V311, "sub", false);
    let got: Vec<Vec<u8>> = h
        .publishes(3)
        .into_iter()
        .map(|p| p.payload().to_vec())
        .collect();
    assert_eq!(got, vec![b"1".to_vec(), b"2".to_vec()]);
}

#[test]
fn packet_ids_are_distinct_while_in_flight_mqtt_2_2_1_4() {
    let mut h = H::new();
    h.connect(1, V5, "pub", true);
    h.connect(2, V5, "sub", true);
    h.subscribe(2, "t", QoS::AtLeastOnce);
    for i in 1..=50 {
        h.publish(1, "t", "x", QoS::AtLeastOnce, false, i);
    }
    let mut ids: Vec<u16> = h.publishes(2).iter().map(|p| p.packet_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
    assert!(!ids.contains(&0));
}
