//! Valid packets of every type, built with the codec's types: the sample
//! stream of `cargo xtask codec` and the seed corpora of the fuzz targets.

use bytes::Bytes;
use mqtt_codec::{
    Auth, ConnAck, Connect, Disconnect, MqttString, Packet, Properties, PropertyValues,
    ProtocolVersion, PubResponse, Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};

/// A string literal as an MQTT string.
fn s(x: &'static str) -> MqttString {
    MqttString::from_static(x)
}

/// `p` in MQTT 5.0, nothing in 3.1.1 (which has no properties).
fn props(v: ProtocolVersion, p: Properties) -> Properties {
    if v.is_v5() {
        p
    } else {
        Properties::default()
    }
}

/// A reason code in MQTT 5.0, Success in 3.1.1.
fn code(v: ProtocolVersion, c: ReasonCode) -> ReasonCode {
    if v.is_v5() {
        c
    } else {
        ReasonCode::SUCCESS
    }
}

/// A CONNECT with a will, credentials and (5.0) properties.
fn full_connect(v: ProtocolVersion) -> Connect {
    Connect {
        clean_start: false,
        keep_alive: 30,
        properties: props(
            v,
            Properties::from(PropertyValues {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(32),
                maximum_packet_size: Some(65_536),
                topic_alias_maximum: Some(10),
                request_problem_information: Some(1),
                user_properties: vec![(s("app"), s("mqtt-harness"))],
                ..PropertyValues::default()
            }),
        ),
        will: Some(Will {
            topic: s("clients/c1/status"),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: props(
                v,
                Properties::from(PropertyValues {
                    payload_format_indicator: Some(1),
                    will_delay_interval: Some(5),
                    content_type: Some(s("text/plain")),
                    ..PropertyValues::default()
                }),
            ),
        }),
        username: Some(s("alice")),
        password: Some(Bytes::from_static(b"secret")),
        ..Connect::new(v, s("c1"))
    }
}

/// A QoS 1 PUBLISH, with properties in 5.0.
fn publish_qos1(v: ProtocolVersion) -> Publish {
    Publish::new(s("sensors/t1"), "21.5")
        .with_qos(QoS::AtLeastOnce, 7)
        .with_properties(props(
            v,
            Properties::from(PropertyValues {
                payload_format_indicator: Some(1),
                message_expiry_interval: Some(60),
                content_type: Some(s("text/plain")),
                response_topic: Some(s("replies/c1")),
                correlation_data: Some(Bytes::from_static(b"req-1")),
                user_properties: vec![(s("unit"), s("celsius"))],
                ..PropertyValues::default()
            }),
        ))
}

/// A SUBSCRIBE with two filters (three in 5.0, one shared) and options.
fn subscribe(v: ProtocolVersion) -> Subscribe {
    let mut filters = vec![
        Subscription {
            filter: s("sensors/+"),
            options: SubscriptionOptions::qos(QoS::AtLeastOnce),
        },
        Subscription {
            filter: s("alerts/#"),
            options: if v.is_v5() {
                SubscriptionOptions {
                    qos: QoS::ExactlyOnce,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendIfNew,
                }
            } else {
                SubscriptionOptions::qos(QoS::ExactlyOnce)
            },
        },
    ];
    if v.is_v5() {
        filters.push(Subscription {
            filter: s("$share/workers/jobs/#"),
            options: SubscriptionOptions {
                retain_handling: RetainHandling::DoNotSend,
                ..SubscriptionOptions::qos(QoS::AtLeastOnce)
            },
        });
    }
    Subscribe {
        packet_id: 1,
        properties: props(
            v,
            Properties::from(PropertyValues {
                subscription_identifiers: vec![42],
                ..PropertyValues::default()
            }),
        ),
        filters,
    }
}

/// A PUBACK-like response, with a reason code and reason string in 5.0.
fn response(
    v: ProtocolVersion,
    id: u16,
    c: ReasonCode,
    reason: Option<&'static str>,
) -> PubResponse {
    PubResponse {
        packet_id: id,
        reason_code: code(v, c),
        properties: props(
            v,
            Properties::from(PropertyValues {
                reason_string: reason.map(s),
                ..PropertyValues::default()
            }),
        ),
    }
}

/// Valid packets of every type that exists in `v`, a few variants of the
/// richer ones, each with a short name (unique within a version).
pub(crate) fn every_type(v: ProtocolVersion) -> Vec<(&'static str, Packet)> {
    let v5 = v.is_v5();
    let mut out = vec![
        ("connect", Packet::Connect(Box::new(full_connect(v)))),
        (
            "connect-minimal",
            Packet::Connect(Box::new(Connect::new(v, s("c2")))),
        ),
        (
            "connack",
            Packet::ConnAck(ConnAck {
                session_present: true,
                properties: props(
                    v,
                    Properties::from(PropertyValues {
                        assigned_client_identifier: Some(s("auto-1F2E")),
                        server_keep_alive: Some(45),
                        maximum_qos: Some(1),
                        retain_available: Some(0),
                        wildcard_subscription_available: Some(1),
                        shared_subscription_available: Some(1),
                        ..PropertyValues::default()
                    }),
                ),
                ..ConnAck::default()
            }),
        ),
        (
            "connack-refused",
            Packet::ConnAck(ConnAck {
                reason_code: if v5 {
                    ReasonCode::NOT_AUTHORIZED
                } else {
                    ReasonCode(5)
                },
                ..ConnAck::default()
            }),
        ),
        (
            "publish-qos0",
            Packet::Publish(Publish::new(s("sensors/t1"), "21.5")),
        ),
        ("publish-qos1", Packet::Publish(publish_qos1(v))),
        (
            "publish-qos2-dup-retain",
            Packet::Publish(
                Publish::new(s("$SYS/broker/uptime"), vec![0u8, 1, 2, 255])
                    .with_qos(QoS::ExactlyOnce, 8)
                    .with_dup(true)
                    .with_retain(true),
            ),
        ),
        (
            "puback",
            Packet::PubAck(response(v, 7, ReasonCode::SUCCESS, None)),
        ),
        (
            "puback-no-subscribers",
            Packet::PubAck(response(
                v,
                7,
                ReasonCode::NO_MATCHING_SUBSCRIBERS,
                Some("nobody listens"),
            )),
        ),
        (
            "pubrec",
            Packet::PubRec(response(v, 8, ReasonCode::SUCCESS, None)),
        ),
        (
            "pubrel",
            Packet::PubRel(response(v, 8, ReasonCode::SUCCESS, None)),
        ),
        (
            "pubcomp",
            Packet::PubComp(response(
                v,
                8,
                ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                None,
            )),
        ),
        ("subscribe", Packet::Subscribe(subscribe(v))),
        (
            "suback",
            Packet::SubAck(SubAck {
                packet_id: 1,
                properties: Properties::default(),
                reason_codes: if v5 {
                    vec![
                        ReasonCode::GRANTED_QOS_1,
                        ReasonCode::GRANTED_QOS_2,
                        ReasonCode::NOT_AUTHORIZED,
                    ]
                } else {
                    vec![ReasonCode::GRANTED_QOS_1, ReasonCode::UNSPECIFIED_ERROR]
                },
            }),
        ),
        (
            "unsubscribe",
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 2,
                properties: Properties::default(),
                filters: vec![s("sensors/+"), s("alerts/#")],
            }),
        ),
        (
            "unsuback",
            Packet::UnsubAck(UnsubAck {
                packet_id: 2,
                properties: Properties::default(),
                reason_codes: if v5 {
                    vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
                } else {
                    Vec::new()
                },
            }),
        ),
        ("pingreq", Packet::PingReq),
        ("pingresp", Packet::PingResp),
        ("disconnect", Packet::Disconnect(Disconnect::default())),
    ];
    if v5 {
        out.extend([
            (
                "publish-topic-alias",
                Packet::Publish(
                    Publish::new(MqttString::default(), "aliased").with_properties(
                        PropertyValues {
                            topic_alias: Some(3),
                            subscription_identifiers: vec![42, 300],
                            ..PropertyValues::default()
                        },
                    ),
                ),
            ),
            (
                "disconnect-with-will",
                Packet::Disconnect(Disconnect {
                    reason_code: ReasonCode::DISCONNECT_WITH_WILL,
                    properties: Properties::from(PropertyValues {
                        session_expiry_interval: Some(0),
                        reason_string: Some(s("bye")),
                        ..PropertyValues::default()
                    }),
                }),
            ),
            (
                "auth",
                Packet::Auth(Auth {
                    reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
                    properties: Properties::from(PropertyValues {
                        authentication_method: Some(s("SCRAM-SHA-1")),
                        authentication_data: Some(Bytes::from_static(b"n,,n=alice,r=abc")),
                        ..PropertyValues::default()
                    }),
                }),
            ),
        ]);
    }
    out
}

/// The sample conversation of `cargo xtask codec`: CONNECT, CONNACK,
/// SUBSCRIBE, a QoS 1 PUBLISH (with properties in 5.0), PUBACK, DISCONNECT.
pub(crate) fn conversation(v: ProtocolVersion) -> Vec<Packet> {
    let all = every_type(v);
    [
        "connect",
        "connack",
        "subscribe",
        "publish-qos1",
        "puback",
        "disconnect",
    ]
    .iter()
    .map(|name| {
        all.iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .expect("every conversation packet is a sample")
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::Decoder;

    #[test]
    fn every_sample_encodes_and_decodes_back() {
        for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
            let samples = every_type(v);
            let types: std::collections::BTreeSet<_> =
                samples.iter().map(|(_, p)| p.packet_type()).collect();
            assert_eq!(types.len(), if v.is_v5() { 15 } else { 14 }, "{v}");
            for (name, packet) in samples {
                let mut bytes = bytes::BytesMut::from(&packet.to_bytes(v).unwrap()[..]);
                let mut decoder = match packet {
                    Packet::Connect(_) => Decoder::server(),
                    _ => Decoder::new(v),
                };
                assert_eq!(
                    decoder.decode(&mut bytes).unwrap().as_ref(),
                    Some(&packet),
                    "{v} {name}"
                );
            }
        }
    }
}
