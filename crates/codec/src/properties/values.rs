//! The values of one property list: decoding with the rules on duplicates
//! and ranges, encoding in canonical order, and the checks both share.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::properties::table::{lookup, property_name, property_section, PropertyContext, TABLE};
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::ProtocolVersion;
use crate::wire::{self, put_binary, put_string, put_vbi, vbi_len, Reader, VBI_MAX};

use PropertyContext as Ctx;

/// The values of the properties of one packet or of a Will, held behind a
/// [`Properties`](crate::Properties) handle. Absent properties are `None` (or empty). Encoding
/// writes them in ascending identifier order, which is this codec's
/// canonical form; decoding accepts any order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct PropertyValues {
    /// 0x01 Payload Format Indicator (§3.3.2.3.2): 0 bytes, 1 UTF-8.
    pub payload_format_indicator: Option<u8>,
    /// 0x02 Message Expiry Interval in seconds (§3.3.2.3.3).
    pub message_expiry_interval: Option<u32>,
    /// 0x03 Content Type (§3.3.2.3.9).
    pub content_type: Option<MqttString>,
    /// 0x08 Response Topic (§3.3.2.3.5).
    pub response_topic: Option<MqttString>,
    /// 0x09 Correlation Data (§3.3.2.3.6).
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::fuzzing::opt_bytes))]
    pub correlation_data: Option<Bytes>,
    /// 0x0B Subscription Identifiers (§3.3.2.3.8; one at most in SUBSCRIBE).
    pub subscription_identifiers: Vec<u32>,
    /// 0x11 Session Expiry Interval in seconds (§3.1.2.11.2).
    pub session_expiry_interval: Option<u32>,
    /// 0x12 Assigned Client Identifier (§3.2.2.3.7).
    pub assigned_client_identifier: Option<MqttString>,
    /// 0x13 Server Keep Alive in seconds (§3.2.2.3.14).
    pub server_keep_alive: Option<u16>,
    /// 0x15 Authentication Method (§3.1.2.11.9).
    pub authentication_method: Option<MqttString>,
    /// 0x16 Authentication Data (§3.1.2.11.10).
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::fuzzing::opt_bytes))]
    pub authentication_data: Option<Bytes>,
    /// 0x17 Request Problem Information (§3.1.2.11.7).
    pub request_problem_information: Option<u8>,
    /// 0x18 Will Delay Interval in seconds (§3.1.3.2.2).
    pub will_delay_interval: Option<u32>,
    /// 0x19 Request Response Information (§3.1.2.11.6).
    pub request_response_information: Option<u8>,
    /// 0x1A Response Information (§3.2.2.3.15).
    pub response_information: Option<MqttString>,
    /// 0x1C Server Reference (§3.2.2.3.16).
    pub server_reference: Option<MqttString>,
    /// 0x1F Reason String (§3.2.2.3.9 and the acknowledgements).
    pub reason_string: Option<MqttString>,
    /// 0x21 Receive Maximum (§3.1.2.11.3).
    pub receive_maximum: Option<u16>,
    /// 0x22 Topic Alias Maximum (§3.1.2.11.5).
    pub topic_alias_maximum: Option<u16>,
    /// 0x23 Topic Alias (§3.3.2.3.4).
    pub topic_alias: Option<u16>,
    /// 0x24 Maximum QoS (§3.2.2.3.4): 0 or 1.
    pub maximum_qos: Option<u8>,
    /// 0x25 Retain Available (§3.2.2.3.5).
    pub retain_available: Option<u8>,
    /// 0x26 User Properties, in order (§3.1.2.11.8).
    pub user_properties: Vec<(MqttString, MqttString)>,
    /// 0x27 Maximum Packet Size (§3.1.2.11.4).
    pub maximum_packet_size: Option<u32>,
    /// 0x28 Wildcard Subscription Available (§3.2.2.3.11).
    pub wildcard_subscription_available: Option<u8>,
    /// 0x29 Subscription Identifier Available (§3.2.2.3.12).
    pub subscription_identifier_available: Option<u8>,
    /// 0x2A Shared Subscription Available (§3.2.2.3.13).
    pub shared_subscription_available: Option<u8>,
}

fn value_error(
    id: u8,
    value: u32,
    problem: &'static str,
    reason: ReasonCode,
    ctx: PropertyContext,
) -> Violation {
    let statements: &'static [&'static str] = match id {
        0x23 => &["MQTT-3.3.2-8"],
        _ => &[],
    };
    Violation::new(
        ErrorKind::PropertyValue {
            id,
            name: property_name(id).unwrap_or("?"),
            value,
            problem,
        },
        statements,
        property_section(id, ctx),
        reason,
    )
}

/// Checks a numeric property value against its range; shared by decode and
/// encode so both enforce the same rules.
fn check_value(id: u8, value: u32, ctx: PropertyContext) -> Result<(), Violation> {
    let bool_like = matches!(id, 0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A);
    let err = |problem, reason| Err(value_error(id, value, problem, reason, ctx));
    if bool_like && value > 1 {
        return err("must be 0 or 1", ReasonCode::PROTOCOL_ERROR);
    }
    match (id, value) {
        (0x21 | 0x27 | 0x0B, 0) => err("must not be 0", ReasonCode::PROTOCOL_ERROR),
        (0x23, 0) => err("must not be 0", ReasonCode::TOPIC_ALIAS_INVALID),
        (0x0B, v) if v > VBI_MAX => err("must be at most 268,435,455", ReasonCode::PROTOCOL_ERROR),
        _ => Ok(()),
    }
}

fn check_response_topic(topic: &MqttString) -> Result<(), Violation> {
    if crate::topic::has_wildcard(topic) {
        return Err(Violation::protocol(
            ErrorKind::ResponseTopicHasWildcard(topic.to_string()),
            &["MQTT-3.3.2-14"],
            "3.3.2.3.5",
        ));
    }
    Ok(())
}

impl PropertyValues {
    /// No property at all (what an absent [`Properties`](crate::Properties) reads as).
    pub const EMPTY: PropertyValues = PropertyValues {
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        subscription_identifiers: Vec::new(),
        session_expiry_interval: None,
        assigned_client_identifier: None,
        server_keep_alive: None,
        authentication_method: None,
        authentication_data: None,
        request_problem_information: None,
        will_delay_interval: None,
        request_response_information: None,
        response_information: None,
        server_reference: None,
        reason_string: None,
        receive_maximum: None,
        topic_alias_maximum: None,
        topic_alias: None,
        maximum_qos: None,
        retain_available: None,
        user_properties: Vec::new(),
        maximum_packet_size: None,
        wildcard_subscription_available: None,
        subscription_identifier_available: None,
        shared_subscription_available: None,
    };

    /// True when no property is present.
    pub fn is_empty(&self) -> bool {
        // The same as `*self == PropertyValues::default()`, without building
        // one. Destructured so that a new field cannot be forgotten.
        let PropertyValues {
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            subscription_identifiers,
            session_expiry_interval,
            assigned_client_identifier,
            server_keep_alive,
            authentication_method,
            authentication_data,
            request_problem_information,
            will_delay_interval,
            request_response_information,
            response_information,
            server_reference,
            reason_string,
            receive_maximum,
            topic_alias_maximum,
            topic_alias,
            maximum_qos,
            retain_available,
            user_properties,
            maximum_packet_size,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
        } = self;
        payload_format_indicator.is_none()
            && message_expiry_interval.is_none()
            && content_type.is_none()
            && response_topic.is_none()
            && correlation_data.is_none()
            && subscription_identifiers.is_empty()
            && session_expiry_interval.is_none()
            && assigned_client_identifier.is_none()
            && server_keep_alive.is_none()
            && authentication_method.is_none()
            && authentication_data.is_none()
            && request_problem_information.is_none()
            && will_delay_interval.is_none()
            && request_response_information.is_none()
            && response_information.is_none()
            && server_reference.is_none()
            && reason_string.is_none()
            && receive_maximum.is_none()
            && topic_alias_maximum.is_none()
            && topic_alias.is_none()
            && maximum_qos.is_none()
            && retain_available.is_none()
            && user_properties.is_empty()
            && maximum_packet_size.is_none()
            && wildcard_subscription_available.is_none()
            && subscription_identifier_available.is_none()
            && shared_subscription_available.is_none()
    }

    /// Reads the `len` bytes of properties that follow a property length,
    /// enforcing which properties `ctx` may carry, duplicates and value
    /// ranges. `self` must be empty.
    pub(crate) fn decode_content(
        &mut self,
        r: &mut Reader<'_>,
        len: usize,
        ctx: PropertyContext,
    ) -> Result<(), Violation> {
        debug_assert!(self.is_empty());
        let old_end = r.limit(len, "properties")?;
        let mut seen: u64 = 0;
        while !r.is_empty() {
            let raw_id = r.vbi("property identifier")?;
            let id = u8::try_from(raw_id).unwrap_or(0);
            let Some((name, contexts)) = lookup(id).filter(|_| raw_id <= 0x7F) else {
                return Err(Violation::malformed(
                    ErrorKind::UnknownProperty(raw_id.min(255) as u8),
                    &[],
                    "2.2.2.2",
                ));
            };
            if contexts & ctx.bit() == 0 {
                return Err(Violation::malformed(
                    ErrorKind::PropertyNotAllowed {
                        id,
                        name,
                        context: ctx.name(),
                    },
                    &[],
                    "2.2.2.2",
                ));
            }
            let repeatable = id == 0x26 || (id == 0x0B && ctx == Ctx::Publish);
            if !repeatable && seen & (1 << id) != 0 {
                return Err(Violation::protocol(
                    ErrorKind::DuplicateProperty { id, name },
                    &[],
                    property_section(id, ctx),
                ));
            }
            seen |= 1 << id;
            self.read_value(r, id, ctx)?;
        }
        r.unlimit(old_end);
        Ok(())
    }

    fn read_value(
        &mut self,
        r: &mut Reader<'_>,
        id: u8,
        ctx: PropertyContext,
    ) -> Result<(), Violation> {
        let byte = |r: &mut Reader<'_>, id: u8| -> Result<Option<u8>, Violation> {
            let v = r.u8("property value")?;
            check_value(id, u32::from(v), ctx)?;
            Ok(Some(v))
        };
        let two = |r: &mut Reader<'_>, id: u8| -> Result<Option<u16>, Violation> {
            let v = r.u16("property value")?;
            check_value(id, u32::from(v), ctx)?;
            Ok(Some(v))
        };
        let four = |r: &mut Reader<'_>, id: u8| -> Result<Option<u32>, Violation> {
            let v = r.u32("property value")?;
            check_value(id, v, ctx)?;
            Ok(Some(v))
        };
        match id {
            0x01 => self.payload_format_indicator = byte(r, id)?,
            0x02 => self.message_expiry_interval = four(r, id)?,
            0x03 => self.content_type = Some(r.string("Content Type")?),
            0x08 => {
                let topic = r.string("Response Topic")?;
                check_response_topic(&topic)?;
                self.response_topic = Some(topic);
            }
            0x09 => self.correlation_data = Some(r.binary("Correlation Data")?),
            0x0B => {
                let v = r.vbi("Subscription Identifier")?;
                check_value(id, v, ctx)?;
                self.subscription_identifiers.push(v);
            }
            0x11 => self.session_expiry_interval = four(r, id)?,
            0x12 => self.assigned_client_identifier = Some(r.string("Assigned Client Identifier")?),
            0x13 => self.server_keep_alive = two(r, id)?,
            0x15 => self.authentication_method = Some(r.string("Authentication Method")?),
            0x16 => self.authentication_data = Some(r.binary("Authentication Data")?),
            0x17 => self.request_problem_information = byte(r, id)?,
            0x18 => self.will_delay_interval = four(r, id)?,
            0x19 => self.request_response_information = byte(r, id)?,
            0x1A => self.response_information = Some(r.string("Response Information")?),
            0x1C => self.server_reference = Some(r.string("Server Reference")?),
            0x1F => self.reason_string = Some(r.string("Reason String")?),
            0x21 => self.receive_maximum = two(r, id)?,
            0x22 => self.topic_alias_maximum = two(r, id)?,
            0x23 => self.topic_alias = two(r, id)?,
            0x24 => self.maximum_qos = byte(r, id)?,
            0x25 => self.retain_available = byte(r, id)?,
            0x26 => {
                let k = r.string("User Property name")?;
                let v = r.string("User Property value")?;
                self.user_properties.push((k, v));
            }
            0x27 => self.maximum_packet_size = four(r, id)?,
            0x28 => self.wildcard_subscription_available = byte(r, id)?,
            0x29 => self.subscription_identifier_available = byte(r, id)?,
            0x2A => self.shared_subscription_available = byte(r, id)?,
            _ => unreachable!("identifier {id} passed the table lookup"),
        }
        Ok(())
    }

    /// Identifiers present, as a bit set, with the value checks the encoder
    /// shares with the decoder.
    fn present(&self, ctx: PropertyContext) -> Result<u64, Violation> {
        let mut mask = 0u64;
        let mut num = |id: u8, v: Option<u32>| -> Result<(), Violation> {
            if let Some(v) = v {
                check_value(id, v, ctx)?;
                mask |= 1 << id;
            }
            Ok(())
        };
        num(0x01, self.payload_format_indicator.map(u32::from))?;
        num(0x02, self.message_expiry_interval)?;
        num(0x11, self.session_expiry_interval)?;
        num(0x13, self.server_keep_alive.map(u32::from))?;
        num(0x17, self.request_problem_information.map(u32::from))?;
        num(0x18, self.will_delay_interval)?;
        num(0x19, self.request_response_information.map(u32::from))?;
        num(0x21, self.receive_maximum.map(u32::from))?;
        num(0x22, self.topic_alias_maximum.map(u32::from))?;
        num(0x23, self.topic_alias.map(u32::from))?;
        num(0x24, self.maximum_qos.map(u32::from))?;
        num(0x25, self.retain_available.map(u32::from))?;
        num(0x27, self.maximum_packet_size)?;
        num(0x28, self.wildcard_subscription_available.map(u32::from))?;
        num(0x29, self.subscription_identifier_available.map(u32::from))?;
        num(0x2A, self.shared_subscription_available.map(u32::from))?;
        for &v in &self.subscription_identifiers {
            num(0x0B, Some(v))?;
        }
        let mut flag = |id: u8, present: bool| {
            if present {
                mask |= 1 << id;
            }
        };
        flag(0x03, self.content_type.is_some());
        flag(0x08, self.response_topic.is_some());
        flag(0x09, self.correlation_data.is_some());
        flag(0x12, self.assigned_client_identifier.is_some());
        flag(0x15, self.authentication_method.is_some());
        flag(0x16, self.authentication_data.is_some());
        flag(0x1A, self.response_information.is_some());
        flag(0x1C, self.server_reference.is_some());
        flag(0x1F, self.reason_string.is_some());
        flag(0x26, !self.user_properties.is_empty());
        if let Some(t) = &self.response_topic {
            check_response_topic(t)?;
        }
        Ok(mask)
    }

    /// Checks that these properties may be encoded in `ctx`.
    pub(crate) fn check(&self, ctx: PropertyContext) -> Result<(), Violation> {
        if self.is_empty() {
            // No property, so none to break a rule (the common case).
            return Ok(());
        }
        let mask = self.present(ctx)?;
        for &(id, name, contexts) in TABLE {
            if mask & (1 << id) != 0 && contexts & ctx.bit() == 0 {
                return Err(Violation::malformed(
                    ErrorKind::PropertyNotAllowed {
                        id,
                        name,
                        context: ctx.name(),
                    },
                    &[],
                    "2.2.2.2",
                ));
            }
        }
        if ctx == Ctx::Subscribe && self.subscription_identifiers.len() > 1 {
            return Err(Violation::protocol(
                ErrorKind::DuplicateProperty {
                    id: 0x0B,
                    name: "Subscription Identifier",
                },
                &[],
                "3.8.2.1.2",
            ));
        }
        for (field, len) in self.binary_lengths() {
            wire::check_binary_len(len, field, ProtocolVersion::V5)?;
        }
        Ok(())
    }

    fn binary_lengths(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        let b = [
            (
                "Correlation Data",
                self.correlation_data.as_ref().map(Bytes::len),
            ),
            (
                "Authentication Data",
                self.authentication_data.as_ref().map(Bytes::len),
            ),
        ];
        b.into_iter().filter_map(|(f, l)| l.map(|l| (f, l)))
    }

    /// Bytes of the properties themselves, without the property length.
    pub fn content_len(&self) -> usize {
        let s = |v: &Option<MqttString>| v.as_ref().map_or(0, |s| 3 + s.len());
        let b = |v: &Option<Bytes>| v.as_ref().map_or(0, |b| 3 + b.len());
        let n = |present: bool, size: usize| if present { 1 + size } else { 0 };
        n(self.payload_format_indicator.is_some(), 1)
            + n(self.message_expiry_interval.is_some(), 4)
            + s(&self.content_type)
            + s(&self.response_topic)
            + b(&self.correlation_data)
            + self
                .subscription_identifiers
                .iter()
                .map(|&v| 1 + vbi_len(v))
                .sum::<usize>()
            + n(self.session_expiry_interval.is_some(), 4)
            + s(&self.assigned_client_identifier)
            + n(self.server_keep_alive.is_some(), 2)
            + s(&self.authentication_method)
            + b(&self.authentication_data)
            + n(self.request_problem_information.is_some(), 1)
            + n(self.will_delay_interval.is_some(), 4)
            + n(self.request_response_information.is_some(), 1)
            + s(&self.response_information)
            + s(&self.server_reference)
            + s(&self.reason_string)
            + n(self.receive_maximum.is_some(), 2)
            + n(self.topic_alias_maximum.is_some(), 2)
            + n(self.topic_alias.is_some(), 2)
            + n(self.maximum_qos.is_some(), 1)
            + n(self.retain_available.is_some(), 1)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| 5 + k.len() + v.len())
                .sum::<usize>()
            + n(self.maximum_packet_size.is_some(), 4)
            + n(self.wildcard_subscription_available.is_some(), 1)
            + n(self.subscription_identifier_available.is_some(), 1)
            + n(self.shared_subscription_available.is_some(), 1)
    }

    /// Bytes of the property length and the properties.
    pub fn encoded_len(&self) -> usize {
        let c = self.content_len();
        vbi_len(c as u32) + c
    }

    /// Writes the property length and the properties, in ascending
    /// identifier order.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let len = self.content_len();
        put_vbi(out, len as u32);
        if len == 0 {
            return;
        }
        let byte = |out: &mut BytesMut, id: u8, v: Option<u8>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u8(v);
            }
        };
        let two = |out: &mut BytesMut, id: u8, v: Option<u16>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u16(v);
            }
        };
        let four = |out: &mut BytesMut, id: u8, v: Option<u32>| {
            if let Some(v) = v {
                out.put_u8(id);
                out.put_u32(v);
            }
        };
        let string = |out: &mut BytesMut, id: u8, v: &Option<MqttString>| {
            if let Some(v) = v {
                out.put_u8(id);
                put_string(out, v);
            }
        };
        let binary = |out: &mut BytesMut, id: u8, v: &Option<Bytes>| {
            if let Some(v) = v {
                out.put_u8(id);
                put_binary(out, v);
            }
        };
        byte(out, 0x01, self.payload_format_indicator);
        four(out, 0x02, self.message_expiry_interval);
        string(out, 0x03, &self.content_type);
        string(out, 0x08, &self.response_topic);
        binary(out, 0x09, &self.correlation_data);
        for &v in &self.subscription_identifiers {
            out.put_u8(0x0B);
            put_vbi(out, v);
        }
        four(out, 0x11, self.session_expiry_interval);
        string(out, 0x12, &self.assigned_client_identifier);
        two(out, 0x13, self.server_keep_alive);
        string(out, 0x15, &self.authentication_method);
        binary(out, 0x16, &self.authentication_data);
        byte(out, 0x17, self.request_problem_information);
        four(out, 0x18, self.will_delay_interval);
        byte(out, 0x19, self.request_response_information);
        string(out, 0x1A, &self.response_information);
        string(out, 0x1C, &self.server_reference);
        string(out, 0x1F, &self.reason_string);
        two(out, 0x21, self.receive_maximum);
        two(out, 0x22, self.topic_alias_maximum);
        two(out, 0x23, self.topic_alias);
        byte(out, 0x24, self.maximum_qos);
        byte(out, 0x25, self.retain_available);
        for (k, v) in &self.user_properties {
            out.put_u8(0x26);
            put_string(out, k);
            put_string(out, v);
        }
        four(out, 0x27, self.maximum_packet_size);
        byte(out, 0x28, self.wildcard_subscription_available);
        byte(out, 0x29, self.subscription_identifier_available);
        byte(out, 0x2A, self.shared_subscription_available);
    }
}

/// Authentication Data without an Authentication Method is a Protocol Error
/// (§3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3).
pub(crate) fn check_auth_pair(p: &PropertyValues, section: &'static str) -> Result<(), Violation> {
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        return Err(Violation::protocol(
            ErrorKind::AuthDataWithoutMethod,
            &[],
            section,
        ));
    }
    Ok(())
}
