//! Matchers on received packets: every field optional, each either a value,
//! a set of allowed values, a range, or presence/absence. A mismatch says
//! which field, what was expected and what was seen.

use std::fmt::Debug;

use mqtt_codec::{Packet, Properties};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::packet::{parse_hex, Bindings, IdRef};

/// A condition on one value.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ValueMatch<T> {
    /// Exactly this value.
    Exact(T),
    /// Any of these values (several behaviours the specification allows).
    OneOf(OneOf<T>),
    /// Presence: `absent: true` (must not be present) or `false` (must be).
    Absent(Presence),
    /// Within bounds, inclusive.
    Range(Bounds<T>),
}

/// `{ one_of: [...] }`.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneOf<T> {
    /// The allowed values.
    pub one_of: Vec<T>,
}

/// `{ absent: bool }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// Whether the field must be absent.
    pub absent: bool,
}

/// `{ min: .., max: .. }`, either optional.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct Bounds<T> {
    /// Lower bound.
    #[serde(default)]
    pub min: Option<T>,
    /// Upper bound.
    #[serde(default)]
    pub max: Option<T>,
}

/// A field that did not match: which, what was expected, what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The field, e.g. `publish.properties.message_expiry_interval`.
    pub field: String,
    /// What the scenario expected.
    pub expected: String,
    /// What arrived.
    pub seen: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {}, saw {}",
            self.field, self.expected, self.seen
        )
    }
}

fn mismatch(field: &str, expected: impl Debug, seen: impl Debug) -> Mismatch {
    Mismatch {
        field: field.to_owned(),
        expected: format!("{expected:?}"),
        seen: format!("{seen:?}"),
    }
}

impl<T: PartialEq + PartialOrd + Debug> ValueMatch<T> {
    /// Checks `actual` (None = absent).
    pub fn check(&self, field: &str, actual: Option<&T>) -> Result<(), Mismatch> {
        let ok = match (self, actual) {
            (ValueMatch::Absent(p), a) => p.absent == a.is_none(),
            (_, None) => false,
            (ValueMatch::Exact(v), Some(a)) => v == a,
            (ValueMatch::OneOf(OneOf { one_of }), Some(a)) => one_of.contains(a),
            (ValueMatch::Range(Bounds { min, max }), Some(a)) => {
                min.as_ref().is_none_or(|m| a >= m) && max.as_ref().is_none_or(|m| a <= m)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(mismatch(field, self, actual))
        }
    }
}

impl ValueMatch<String> {
    fn substituted(&self, b: &dyn Bindings) -> ValueMatch<String> {
        match self {
            ValueMatch::Exact(v) => ValueMatch::Exact(b.substitute(v)),
            ValueMatch::OneOf(OneOf { one_of }) => ValueMatch::OneOf(OneOf {
                one_of: one_of.iter().map(|v| b.substitute(v)).collect(),
            }),
            other => other.clone(),
        }
    }
}

fn check<T: PartialEq + PartialOrd + Debug>(
    field: &str,
    m: &Option<ValueMatch<T>>,
    actual: Option<&T>,
) -> Result<(), Mismatch> {
    m.as_ref().map_or(Ok(()), |m| m.check(field, actual))
}

fn check_str(
    field: &str,
    m: &Option<ValueMatch<String>>,
    actual: Option<&str>,
    b: &dyn Bindings,
) -> Result<(), Mismatch> {
    let actual = actual.map(str::to_owned);
    m.as_ref()
        .map_or(Ok(()), |m| m.substituted(b).check(field, actual.as_ref()))
}

/// Conditions on properties (5.0); unset ones are not checked.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertiesMatch {
    /// 0x01.
    pub payload_format_indicator: Option<ValueMatch<u8>>,
    /// 0x02.
    pub message_expiry_interval: Option<ValueMatch<u32>>,
    /// 0x03.
    pub content_type: Option<ValueMatch<String>>,
    /// 0x08.
    pub response_topic: Option<ValueMatch<String>>,
    /// 0x09 (text).
    pub correlation_data: Option<ValueMatch<String>>,
    /// 0x0B: the set of identifiers, order not significant (MQTT-3.3.4-4).
    pub subscription_identifiers: Option<Vec<u32>>,
    /// 0x11.
    pub session_expiry_interval: Option<ValueMatch<u32>>,
    /// 0x12.
    pub assigned_client_identifier: Option<ValueMatch<String>>,
    /// 0x13.
    pub server_keep_alive: Option<ValueMatch<u16>>,
    /// 0x15.
    pub authentication_method: Option<ValueMatch<String>>,
    /// 0x1A.
    pub response_information: Option<ValueMatch<String>>,
    /// 0x1C.
    pub server_reference: Option<ValueMatch<String>>,
    /// 0x1F.
    pub reason_string: Option<ValueMatch<String>>,
    /// 0x21.
    pub receive_maximum: Option<ValueMatch<u16>>,
    /// 0x22.
    pub topic_alias_maximum: Option<ValueMatch<u16>>,
    /// 0x23.
    pub topic_alias: Option<ValueMatch<u16>>,
    /// 0x24.
    pub maximum_qos: Option<ValueMatch<u8>>,
    /// 0x25.
    pub retain_available: Option<ValueMatch<u8>>,
    /// 0x26: exactly these pairs in this order (MQTT-3.3.2-17/18).
    pub user_properties: Option<Vec<(String, String)>>,
    /// 0x27.
    pub maximum_packet_size: Option<ValueMatch<u32>>,
    /// 0x28.
    pub wildcard_subscription_available: Option<ValueMatch<u8>>,
    /// 0x29.
    pub subscription_identifier_available: Option<ValueMatch<u8>>,
    /// 0x2A.
    pub shared_subscription_available: Option<ValueMatch<u8>>,
}

impl PropertiesMatch {
    /// Checks `p`; `at` prefixes field names.
    pub fn check(&self, at: &str, p: &Properties, b: &dyn Bindings) -> Result<(), Mismatch> {
        let f = |name: &str| format!("{at}.properties.{name}");
        let text =
            |v: &Option<bytes::Bytes>| v.as_ref().map(|d| String::from_utf8_lossy(d).into_owned());
        check(
            &f("payload_format_indicator"),
            &self.payload_format_indicator,
            p.payload_format_indicator.as_ref(),
        )?;
        check(
            &f("message_expiry_interval"),
            &self.message_expiry_interval,
            p.message_expiry_interval.as_ref(),
        )?;
        check_str(
            &f("content_type"),
            &self.content_type,
            p.content_type.as_deref(),
            b,
        )?;
        check_str(
            &f("response_topic"),
            &self.response_topic,
            p.response_topic.as_deref(),
            b,
        )?;
        check_str(
            &f("correlation_data"),
            &self.correlation_data,
            text(&p.correlation_data).as_deref(),
            b,
        )?;
        if let Some(want) = &self.subscription_identifiers {
            let mut w = want.clone();
            let mut s = p.subscription_identifiers.clone();
            w.sort_unstable();
            s.sort_unstable();
            if w != s {
                return Err(mismatch(
                    &f("subscription_identifiers"),
                    want,
                    &p.subscription_identifiers,
                ));
            }
        }
        check(
            &f("session_expiry_interval"),
            &self.session_expiry_interval,
            p.session_expiry_interval.as_ref(),
        )?;
        check_str(
            &f("assigned_client_identifier"),
            &self.assigned_client_identifier,
            p.assigned_client_identifier.as_deref(),
            b,
        )?;
        check(
            &f("server_keep_alive"),
            &self.server_keep_alive,
            p.server_keep_alive.as_ref(),
        )?;
        check_str(
            &f("authentication_method"),
            &self.authentication_method,
            p.authentication_method.as_deref(),
            b,
        )?;
        check_str(
            &f("response_information"),
            &self.response_information,
            p.response_information.as_deref(),
            b,
        )?;
        check_str(
            &f("server_reference"),
            &self.server_reference,
            p.server_reference.as_deref(),
            b,
        )?;
        check_str(
            &f("reason_string"),
            &self.reason_string,
            p.reason_string.as_deref(),
            b,
        )?;
        check(
            &f("receive_maximum"),
            &self.receive_maximum,
            p.receive_maximum.as_ref(),
        )?;
        check(
            &f("topic_alias_maximum"),
            &self.topic_alias_maximum,
            p.topic_alias_maximum.as_ref(),
        )?;
        check(&f("topic_alias"), &self.topic_alias, p.topic_alias.as_ref())?;
        check(&f("maximum_qos"), &self.maximum_qos, p.maximum_qos.as_ref())?;
        check(
            &f("retain_available"),
            &self.retain_available,
            p.retain_available.as_ref(),
        )?;
        if let Some(want) = &self.user_properties {
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (b.substitute(k), b.substitute(v)))
                .collect();
            let seen: Vec<(String, String)> = p
                .user_properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if want != seen {
                return Err(mismatch(&f("user_properties"), want, seen));
            }
        }
        check(
            &f("maximum_packet_size"),
            &self.maximum_packet_size,
            p.maximum_packet_size.as_ref(),
        )?;
        check(
            &f("wildcard_subscription_available"),
            &self.wildcard_subscription_available,
            p.wildcard_subscription_available.as_ref(),
        )?;
        check(
            &f("subscription_identifier_available"),
            &self.subscription_identifier_available,
            p.subscription_identifier_available.as_ref(),
        )?;
        check(
            &f("shared_subscription_available"),
            &self.shared_subscription_available,
            p.shared_subscription_available.as_ref(),
        )
    }
}

/// Conditions on an acknowledgement.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckMatch {
    /// Packet Identifier (a number or `$saved`).
    pub packet_id: Option<IdRef>,
    /// Reason code.
    pub reason_code: Option<ValueMatch<u8>>,
    /// Properties.
    pub properties: Option<PropertiesMatch>,
}

/// Conditions on a packet, tagged by `type`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PacketMatch {
    /// Any packet.
    Any,
    /// CONNACK.
    Connack {
        /// Session Present.
        session_present: Option<bool>,
        /// Reason (return) code.
        reason_code: Option<ValueMatch<u8>>,
        /// Properties.
        properties: Option<PropertiesMatch>,
    },
    /// PUBLISH.
    Publish {
        /// Topic Name.
        topic: Option<ValueMatch<String>>,
        /// Payload as text.
        payload: Option<ValueMatch<String>>,
        /// Payload as hex.
        payload_hex: Option<String>,
        /// QoS.
        qos: Option<ValueMatch<u8>>,
        /// RETAIN.
        retain: Option<bool>,
        /// DUP.
        dup: Option<bool>,
        /// Packet Identifier: a number, or `$name` saved earlier (a QoS 0
        /// PUBLISH has none, and reads as 0).
        packet_id: Option<IdRef>,
        /// Properties.
        properties: Option<PropertiesMatch>,
    },
    /// PUBACK.
    Puback(AckMatch),
    /// PUBREC.
    Pubrec(AckMatch),
    /// PUBREL.
    Pubrel(AckMatch),
    /// PUBCOMP.
    Pubcomp(AckMatch),
    /// SUBACK.
    Suback {
        /// Packet Identifier.
        packet_id: Option<IdRef>,
        /// One condition per filter, in order.
        reason_codes: Option<Vec<ValueMatch<u8>>>,
        /// Properties.
        properties: Option<PropertiesMatch>,
    },
    /// UNSUBACK.
    Unsuback {
        /// Packet Identifier.
        packet_id: Option<IdRef>,
        /// One condition per filter (5.0).
        reason_codes: Option<Vec<ValueMatch<u8>>>,
        /// Properties.
        properties: Option<PropertiesMatch>,
    },
    /// PINGRESP.
    Pingresp,
    /// DISCONNECT.
    Disconnect(AckMatchNoId),
    /// AUTH.
    Auth(AckMatchNoId),
}

/// Conditions on DISCONNECT or AUTH.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckMatchNoId {
    /// Reason code.
    pub reason_code: Option<ValueMatch<u8>>,
    /// Properties.
    pub properties: Option<PropertiesMatch>,
}

fn check_id(at: &str, want: &Option<IdRef>, seen: u16, b: &dyn Bindings) -> Result<(), Mismatch> {
    let want = match want {
        None => return Ok(()),
        Some(IdRef::Literal(n)) => *n,
        Some(IdRef::Saved(name)) => {
            let name = name.trim_start_matches('$');
            match b.saved_id(name) {
                Some(n) => n,
                None => {
                    return Err(mismatch(
                        &format!("{at}.packet_id"),
                        format!("${name} (never saved)"),
                        seen,
                    ))
                }
            }
        }
    };
    if want == seen {
        Ok(())
    } else {
        Err(mismatch(&format!("{at}.packet_id"), want, seen))
    }
}

fn check_codes(
    at: &str,
    want: &Option<Vec<ValueMatch<u8>>>,
    seen: &[mqtt_codec::ReasonCode],
) -> Result<(), Mismatch> {
    let Some(want) = want else { return Ok(()) };
    if want.len() != seen.len() {
        return Err(mismatch(&format!("{at}.reason_codes"), want, seen));
    }
    for (i, (w, s)) in want.iter().zip(seen).enumerate() {
        w.check(&format!("{at}.reason_codes[{i}]"), Some(&s.0))?;
    }
    Ok(())
}

fn check_props(
    at: &str,
    m: &Option<PropertiesMatch>,
    p: &Properties,
    b: &dyn Bindings,
) -> Result<(), Mismatch> {
    m.as_ref().map_or(Ok(()), |m| m.check(at, p, b))
}

impl PacketMatch {
    /// The packet type name this matcher expects.
    pub fn type_name(&self) -> &'static str {
        match self {
            PacketMatch::Any => "any packet",
            PacketMatch::Connack { .. } => "CONNACK",
            PacketMatch::Publish { .. } => "PUBLISH",
            PacketMatch::Puback(_) => "PUBACK",
            PacketMatch::Pubrec(_) => "PUBREC",
            PacketMatch::Pubrel(_) => "PUBREL",
            PacketMatch::Pubcomp(_) => "PUBCOMP",
            PacketMatch::Suback { .. } => "SUBACK",
            PacketMatch::Unsuback { .. } => "UNSUBACK",
            PacketMatch::Pingresp => "PINGRESP",
            PacketMatch::Disconnect(_) => "DISCONNECT",
            PacketMatch::Auth(_) => "AUTH",
        }
    }

    /// Checks `packet`; the first field that differs is the mismatch.
    pub fn check(&self, packet: &Packet, b: &dyn Bindings) -> Result<(), Mismatch> {
        let ack = |at: &str, m: &AckMatch, p: &mqtt_codec::PubResponse| {
            check_id(at, &m.packet_id, p.packet_id, b)?;
            check(
                &format!("{at}.reason_code"),
                &m.reason_code,
                Some(&p.reason_code.0),
            )?;
            check_props(at, &m.properties, &p.properties, b)
        };
        match (self, packet) {
            (PacketMatch::Any, _) => Ok(()),
            (
                PacketMatch::Connack {
                    session_present,
                    reason_code,
                    properties,
                },
                Packet::ConnAck(c),
            ) => {
                if let Some(sp) = session_present {
                    if *sp != c.session_present {
                        return Err(mismatch("connack.session_present", sp, c.session_present));
                    }
                }
                check("connack.reason_code", reason_code, Some(&c.reason_code.0))?;
                check_props("connack", properties, &c.properties, b)
            }
            (
                PacketMatch::Publish {
                    topic,
                    payload,
                    payload_hex,
                    qos,
                    retain,
                    dup,
                    packet_id,
                    properties,
                },
                Packet::Publish(p),
            ) => {
                check_str("publish.topic", topic, Some(p.topic()), b)?;
                check_id("publish", packet_id, p.packet_id, b)?;
                let text = String::from_utf8_lossy(p.payload());
                check_str("publish.payload", payload, Some(&text), b)?;
                if let Some(hex) = payload_hex {
                    let want =
                        parse_hex(hex).map_err(|e| mismatch("publish.payload_hex", e, ""))?;
                    if want != p.payload() {
                        return Err(mismatch("publish.payload_hex", hex, p.payload()));
                    }
                }
                check("publish.qos", qos, Some(&p.qos.bits()))?;
                if let Some(r) = retain {
                    if *r != p.retain {
                        return Err(mismatch("publish.retain", r, p.retain));
                    }
                }
                if let Some(d) = dup {
                    if *d != p.dup {
                        return Err(mismatch("publish.dup", d, p.dup));
                    }
                }
                check_props("publish", properties, &p.properties, b)
            }
            (PacketMatch::Puback(m), Packet::PubAck(p)) => ack("puback", m, p),
            (PacketMatch::Pubrec(m), Packet::PubRec(p)) => ack("pubrec", m, p),
            (PacketMatch::Pubrel(m), Packet::PubRel(p)) => ack("pubrel", m, p),
            (PacketMatch::Pubcomp(m), Packet::PubComp(p)) => ack("pubcomp", m, p),
            (
                PacketMatch::Suback {
                    packet_id,
                    reason_codes,
                    properties,
                },
                Packet::SubAck(s),
            ) => {
                check_id("suback", packet_id, s.packet_id, b)?;
                check_codes("suback", reason_codes, &s.reason_codes)?;
                check_props("suback", properties, &s.properties, b)
            }
            (
                PacketMatch::Unsuback {
                    packet_id,
                    reason_codes,
                    properties,
                },
                Packet::UnsubAck(s),
            ) => {
                check_id("unsuback", packet_id, s.packet_id, b)?;
                check_codes("unsuback", reason_codes, &s.reason_codes)?;
                check_props("unsuback", properties, &s.properties, b)
            }
            (PacketMatch::Pingresp, Packet::PingResp) => Ok(()),
            (PacketMatch::Disconnect(m), Packet::Disconnect(d)) => {
                check(
                    "disconnect.reason_code",
                    &m.reason_code,
                    Some(&d.reason_code.0),
                )?;
                check_props("disconnect", &m.properties, &d.properties, b)
            }
            (PacketMatch::Auth(m), Packet::Auth(a)) => {
                check("auth.reason_code", &m.reason_code, Some(&a.reason_code.0))?;
                check_props("auth", &m.properties, &a.properties, b)
            }
            (want, seen) => Err(Mismatch {
                field: "type".into(),
                expected: want.type_name().into(),
                seen: seen.packet_type().name().into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> ValueMatch<u32> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn each_form_parses_to_its_own_kind() {
        assert_eq!(parse("5"), ValueMatch::Exact(5));
        assert_eq!(
            parse("{ one_of: [1, 2] }"),
            ValueMatch::OneOf(OneOf { one_of: vec![1, 2] })
        );
        assert_eq!(
            parse("{ absent: true }"),
            ValueMatch::Absent(Presence { absent: true })
        );
        assert_eq!(
            parse("{ min: 1 }"),
            ValueMatch::Range(Bounds {
                min: Some(1),
                max: None
            })
        );
        assert!(serde_yaml::from_str::<ValueMatch<u32>>("{ mni: 1 }").is_err());
    }

    #[test]
    fn absent_true_fails_on_a_present_value() {
        let m = parse("{ absent: true }");
        assert!(m.check("f", None).is_ok());
        assert!(m.check("f", Some(&3)).is_err());
        let m = parse("{ absent: false }");
        assert!(m.check("f", None).is_err());
        assert!(parse("{ min: 2, max: 4 }").check("f", Some(&5)).is_err());
    }
}
