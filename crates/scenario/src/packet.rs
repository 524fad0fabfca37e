//! Packets a scenario sends, written field by field. Unset fields take the
//! value a conforming client would use.

use bytes::Bytes;
use mqtt_codec::{
    Auth, Disconnect, MqttString, Packet, Properties, PropertyValues, PubResponse, Publish, QoS,
    ReasonCode, RetainHandling, Subscribe, Subscription, SubscriptionOptions, Unsubscribe,
};
use schemars::JsonSchema;
use serde::Deserialize;

/// A packet identifier: a number, or `$name` saved by an earlier `expect`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IdRef {
    /// A literal identifier.
    Literal(u16),
    /// `$name`: the identifier saved under `name`.
    Saved(String),
}

impl Default for IdRef {
    fn default() -> Self {
        IdRef::Literal(1)
    }
}

/// What the builder needs from the run: placeholder values and saved ids.
pub trait Bindings {
    /// Replaces `{prefix}` and `{id:NAME}` in `s`.
    fn substitute(&self, s: &str) -> String;
    /// The identifier saved under `name`.
    fn saved_id(&self, name: &str) -> Option<u16>;
}

/// Why a packet could not be built from its fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A string MQTT cannot carry (U+0000, too long); use `send_raw`.
    #[error("{field}: {problem:?} (use send_raw for deliberately invalid strings)")]
    String {
        /// The field.
        field: &'static str,
        /// The problem.
        problem: mqtt_codec::StringError,
    },
    /// QoS other than 0, 1, 2; use `send_raw`.
    #[error("qos {0} is not 0, 1 or 2 (use send_raw for QoS 3)")]
    Qos(u8),
    /// Retain handling other than 0, 1, 2.
    #[error("retain_handling {0} is not 0, 1 or 2 (use send_raw)")]
    RetainHandling(u8),
    /// A `$name` packet id never saved.
    #[error("packet id `${0}` was not saved by an earlier expect")]
    UnknownSavedId(String),
    /// Bad hex.
    #[error("payload_hex: {0}")]
    Hex(String),
}

fn string(b: &dyn Bindings, field: &'static str, s: &str) -> Result<MqttString, BuildError> {
    MqttString::new(b.substitute(s)).map_err(|problem| BuildError::String { field, problem })
}

fn qos(q: u8) -> Result<QoS, BuildError> {
    QoS::from_bits(q).ok_or(BuildError::Qos(q))
}

fn id(b: &dyn Bindings, r: &IdRef) -> Result<u16, BuildError> {
    match r {
        IdRef::Literal(n) => Ok(*n),
        IdRef::Saved(name) => {
            let name = name.trim_start_matches('$');
            b.saved_id(name)
                .ok_or_else(|| BuildError::UnknownSavedId(name.to_owned()))
        }
    }
}

/// Decodes hex with optional whitespace.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits in `{s}`"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(text, 16).map_err(|_| format!("`{text}` is not a hex byte"))
        })
        .collect()
}

/// Properties to send (5.0); names as in MQTT 5.0 §2.2.2.2, snake_case.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PropertiesSpec {
    /// 0x01.
    pub payload_format_indicator: Option<u8>,
    /// 0x02, seconds.
    pub message_expiry_interval: Option<u32>,
    /// 0x03.
    pub content_type: Option<String>,
    /// 0x08.
    pub response_topic: Option<String>,
    /// 0x09 (text).
    pub correlation_data: Option<String>,
    /// 0x0B.
    #[serde(default)]
    pub subscription_identifiers: Vec<u32>,
    /// 0x11, seconds.
    pub session_expiry_interval: Option<u32>,
    /// 0x15.
    pub authentication_method: Option<String>,
    /// 0x16 (text).
    pub authentication_data: Option<String>,
    /// 0x17.
    pub request_problem_information: Option<u8>,
    /// 0x18, seconds.
    pub will_delay_interval: Option<u32>,
    /// 0x19.
    pub request_response_information: Option<u8>,
    /// 0x1F.
    pub reason_string: Option<String>,
    /// 0x21.
    pub receive_maximum: Option<u16>,
    /// 0x22.
    pub topic_alias_maximum: Option<u16>,
    /// 0x23.
    pub topic_alias: Option<u16>,
    /// 0x26, in order.
    #[serde(default)]
    pub user_properties: Vec<(String, String)>,
    /// 0x27.
    pub maximum_packet_size: Option<u32>,
}

impl PropertiesSpec {
    /// The codec's properties.
    pub fn build(&self, b: &dyn Bindings) -> Result<Properties, BuildError> {
        let s = |field, v: &Option<String>| v.as_deref().map(|v| string(b, field, v)).transpose();
        let bytes = |v: &Option<String>| v.as_ref().map(|v| Bytes::from(b.substitute(v)));
        Ok(Properties::from(PropertyValues {
            payload_format_indicator: self.payload_format_indicator,
            message_expiry_interval: self.message_expiry_interval,
            content_type: s("content_type", &self.content_type)?,
            response_topic: s("response_topic", &self.response_topic)?,
            correlation_data: bytes(&self.correlation_data),
            subscription_identifiers: self.subscription_identifiers.clone(),
            session_expiry_interval: self.session_expiry_interval,
            authentication_method: s("authentication_method", &self.authentication_method)?,
            authentication_data: bytes(&self.authentication_data),
            request_problem_information: self.request_problem_information,
            will_delay_interval: self.will_delay_interval,
            request_response_information: self.request_response_information,
            reason_string: s("reason_string", &self.reason_string)?,
            receive_maximum: self.receive_maximum,
            topic_alias_maximum: self.topic_alias_maximum,
            topic_alias: self.topic_alias,
            user_properties: self
                .user_properties
                .iter()
                .map(|(k, v)| {
                    Ok((
                        string(b, "user property", k)?,
                        string(b, "user property", v)?,
                    ))
                })
                .collect::<Result<_, BuildError>>()?,
            maximum_packet_size: self.maximum_packet_size,
            ..PropertyValues::default()
        }))
    }
}

/// A packet to send, tagged by `type`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PacketSpec {
    /// PUBLISH.
    Publish {
        /// Topic Name.
        topic: String,
        /// Payload as text.
        #[serde(default)]
        payload: Option<String>,
        /// Payload as hex.
        #[serde(default)]
        payload_hex: Option<String>,
        /// QoS (default 0).
        #[serde(default)]
        qos: u8,
        /// RETAIN.
        #[serde(default)]
        retain: bool,
        /// DUP.
        #[serde(default)]
        dup: bool,
        /// Packet Identifier (default 1 at QoS 1 and 2).
        #[serde(default)]
        packet_id: Option<IdRef>,
        /// Properties (5.0).
        #[serde(default)]
        properties: PropertiesSpec,
    },
    /// PUBACK.
    Puback(AckSpec),
    /// PUBREC.
    Pubrec(AckSpec),
    /// PUBREL.
    Pubrel(AckSpec),
    /// PUBCOMP.
    Pubcomp(AckSpec),
    /// SUBSCRIBE.
    Subscribe {
        /// Packet Identifier.
        #[serde(default)]
        packet_id: IdRef,
        /// Filters with options.
        filters: Vec<FilterSpec>,
        /// Properties (5.0).
        #[serde(default)]
        properties: PropertiesSpec,
    },
    /// UNSUBSCRIBE.
    Unsubscribe {
        /// Packet Identifier.
        #[serde(default)]
        packet_id: IdRef,
        /// Filters.
        filters: Vec<String>,
        /// Properties (5.0).
        #[serde(default)]
        properties: PropertiesSpec,
    },
    /// PINGREQ.
    Pingreq,
    /// DISCONNECT.
    Disconnect {
        /// Reason code (5.0).
        #[serde(default)]
        reason_code: u8,
        /// Properties (5.0).
        #[serde(default)]
        properties: PropertiesSpec,
    },
    /// AUTH (5.0).
    Auth {
        /// Reason code.
        #[serde(default)]
        reason_code: u8,
        /// Properties.
        #[serde(default)]
        properties: PropertiesSpec,
    },
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP fields.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckSpec {
    /// Packet Identifier.
    pub packet_id: IdRef,
    /// Reason code (5.0, default 0).
    #[serde(default)]
    pub reason_code: u8,
    /// Properties (5.0).
    #[serde(default)]
    pub properties: PropertiesSpec,
}

/// A SUBSCRIBE filter with its options.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    /// Topic Filter.
    pub filter: String,
    /// Maximum QoS (default 0).
    #[serde(default)]
    pub qos: u8,
    /// No Local (5.0).
    #[serde(default)]
    pub no_local: bool,
    /// Retain As Published (5.0).
    #[serde(default)]
    pub retain_as_published: bool,
    /// Retain Handling 0, 1, 2 (5.0).
    #[serde(default)]
    pub retain_handling: u8,
}

impl AckSpec {
    fn build(&self, b: &dyn Bindings) -> Result<PubResponse, BuildError> {
        Ok(PubResponse {
            packet_id: id(b, &self.packet_id)?,
            reason_code: ReasonCode(self.reason_code),
            properties: self.properties.build(b)?,
        })
    }
}

impl PacketSpec {
    /// The codec's packet.
    pub fn build(&self, b: &dyn Bindings) -> Result<Packet, BuildError> {
        Ok(match self {
            PacketSpec::Publish {
                topic,
                payload,
                payload_hex,
                qos: q,
                retain,
                dup,
                packet_id,
                properties,
            } => {
                let qos = qos(*q)?;
                let payload = match (payload, payload_hex) {
                    (_, Some(hex)) => Bytes::from(parse_hex(hex).map_err(BuildError::Hex)?),
                    (Some(text), None) => Bytes::from(b.substitute(text)),
                    (None, None) => Bytes::new(),
                };
                let packet_id = match (qos, packet_id) {
                    (_, Some(r)) => id(b, r)?,
                    (QoS::AtMostOnce, None) => 0,
                    (_, None) => 1,
                };
                Packet::Publish(
                    Publish::new(string(b, "topic", topic)?, payload)
                        .with_qos(qos, packet_id)
                        .with_dup(*dup)
                        .with_retain(*retain)
                        .with_properties(properties.build(b)?),
                )
            }
            PacketSpec::Puback(a) => Packet::PubAck(a.build(b)?),
            PacketSpec::Pubrec(a) => Packet::PubRec(a.build(b)?),
            PacketSpec::Pubrel(a) => Packet::PubRel(a.build(b)?),
            PacketSpec::Pubcomp(a) => Packet::PubComp(a.build(b)?),
            PacketSpec::Subscribe {
                packet_id,
                filters,
                properties,
            } => Packet::Subscribe(Subscribe {
                packet_id: id(b, packet_id)?,
                properties: properties.build(b)?,
                filters: filters
                    .iter()
                    .map(|f| {
                        Ok(Subscription {
                            filter: string(b, "filter", &f.filter)?,
                            options: SubscriptionOptions {
                                qos: qos(f.qos)?,
                                no_local: f.no_local,
                                retain_as_published: f.retain_as_published,
                                retain_handling: match f.retain_handling {
                                    0 => RetainHandling::SendAtSubscribe,
                                    1 => RetainHandling::SendIfNew,
                                    2 => RetainHandling::DoNotSend,
                                    n => return Err(BuildError::RetainHandling(n)),
                                },
                            },
                        })
                    })
                    .collect::<Result<_, BuildError>>()?,
            }),
            PacketSpec::Unsubscribe {
                packet_id,
                filters,
                properties,
            } => Packet::Unsubscribe(Unsubscribe {
                packet_id: id(b, packet_id)?,
                properties: properties.build(b)?,
                filters: filters
                    .iter()
                    .map(|f| string(b, "filter", f))
                    .collect::<Result<_, _>>()?,
            }),
            PacketSpec::Pingreq => Packet::PingReq,
            PacketSpec::Disconnect {
                reason_code,
                properties,
            } => Packet::Disconnect(Disconnect {
                reason_code: ReasonCode(*reason_code),
                properties: properties.build(b)?,
            }),
            PacketSpec::Auth {
                reason_code,
                properties,
            } => Packet::Auth(Auth {
                reason_code: ReasonCode(*reason_code),
                properties: properties.build(b)?,
            }),
        })
    }
}
