//! SUBSCRIBE (MQTT 3.1.1 §3.8, MQTT 5.0 §3.8).

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_packet_id, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::qos::QoS;
use crate::string::MqttString;
use crate::topic::{split_shared, validate_topic_filter};
use crate::version::ProtocolVersion;
use crate::wire::{put_string, Reader};

/// SUBSCRIBE: one or more topic filters with their options (§3.8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Subscribe {
    /// Packet Identifier (non-zero).
    pub packet_id: u16,
    /// SUBSCRIBE properties (5.0 only): Subscription Identifier, User Property.
    pub properties: Properties,
    /// The filters, in order; at least one.
    pub filters: Vec<Subscription>,
}

/// One topic filter and its options (§3.8.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Subscription {
    /// Topic Filter.
    pub filter: MqttString,
    /// Subscription Options (3.1.1: only the requested QoS).
    pub options: SubscriptionOptions,
}

/// The Subscription Options byte (§3.8.3.1 of 5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SubscriptionOptions {
    /// Maximum QoS the client wants.
    pub qos: QoS,
    /// No Local (5.0).
    pub no_local: bool,
    /// Retain As Published (5.0).
    pub retain_as_published: bool,
    /// Retain Handling (5.0).
    pub retain_handling: RetainHandling,
}

/// Retain Handling (§3.8.3.1 of 5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    SendIfNew = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

impl SubscriptionOptions {
    /// Options with the given QoS and every 5.0 option at its default.
    pub fn qos(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        }
    }

    fn to_byte(self) -> u8 {
        self.qos.bits()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }

    pub(crate) fn from_byte(b: u8, v: ProtocolVersion) -> Result<Self, Violation> {
        let reserved = v.pick(0xFC, 0xC0);
        if b & reserved != 0 {
            return Err(Violation::malformed(
                ErrorKind::SubscriptionOptionsReserved(b),
                v.pick(&["MQTT-3.8.3-4"], &["MQTT-3.8.3-5"]),
                v.pick("3.8.3", "3.8.3.1"),
            ));
        }
        let Some(qos) = QoS::from_bits(b & 0x03) else {
            return Err(match v {
                ProtocolVersion::V311 => {
                    Violation::malformed(ErrorKind::InvalidRequestedQos, &["MQTT-3.8.3-4"], "3.8.3")
                }
                ProtocolVersion::V5 => {
                    Violation::protocol(ErrorKind::InvalidRequestedQos, &[], "3.8.3.1")
                }
            });
        };
        let retain_handling = match (b >> 4) & 0x03 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => {
                return Err(Violation::protocol(
                    ErrorKind::InvalidRetainHandling,
                    &[],
                    "3.8.3.1",
                ))
            }
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }
}

impl Subscription {
    fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        validate_topic_filter(&self.filter, v)?;
        if v.is_v5() && self.options.no_local && split_shared(&self.filter).is_some() {
            return Err(Violation::protocol(
                ErrorKind::NoLocalOnSharedSubscription(self.filter.to_string()),
                &["MQTT-3.8.3-4"],
                "3.8.3.1",
            ));
        }
        Ok(())
    }
}

impl Subscribe {
    /// Decodes into `self`, which must be `Subscribe::default()` (see
    /// [`Packet::decode_body`](crate::Packet)).
    pub(crate) fn decode_into(&mut self, r: &mut Reader<'_>) -> Result<(), Violation> {
        let v = r.version;
        self.packet_id = r.u16("packet identifier")?;
        check_packet_id(self.packet_id, PacketType::Subscribe, v)?;
        if v.is_v5() {
            self.properties.decode_into(r, PropertyContext::Subscribe)?;
        }
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            let options = SubscriptionOptions::from_byte(r.u8("subscription options")?, v)?;
            let sub = Subscription { filter, options };
            sub.check(v)?;
            self.filters.push(sub);
        }
        if self.filters.is_empty() {
            return Err(no_filters(v));
        }
        Ok(())
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        check_packet_id(self.packet_id, PacketType::Subscribe, v)?;
        check_no_properties(&self.properties, PacketType::Subscribe, v)?;
        if v.is_v5() {
            self.properties.check(PropertyContext::Subscribe)?;
        }
        if self.filters.is_empty() {
            return Err(no_filters(v));
        }
        for f in &self.filters {
            if !v.is_v5() && f.options != SubscriptionOptions::qos(f.options.qos) {
                return Err(Violation::malformed(
                    ErrorKind::SubscriptionOptionsReserved(f.options.to_byte()),
                    &["MQTT-3.8.3-4"],
                    "3.8.3",
                ));
            }
            f.check(v)?;
        }
        Ok(())
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        let props = if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        };
        2 + props
            + self
                .filters
                .iter()
                .map(|f| 3 + f.filter.len())
                .sum::<usize>()
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.encode(out);
        }
        for f in &self.filters {
            put_string(out, &f.filter);
            out.put_u8(f.options.to_byte());
        }
    }
}

fn no_filters(v: ProtocolVersion) -> Violation {
    Violation::protocol(
        ErrorKind::NoTopicFilters(PacketType::Subscribe),
        v.pick(&["MQTT-3.8.3-3"], &["MQTT-3.8.3-2"]),
        "3.8.3",
    )
}
