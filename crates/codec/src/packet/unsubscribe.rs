//! UNSUBSCRIBE (MQTT 3.1.1 §3.10, MQTT 5.0 §3.10).

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_packet_id, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::string::MqttString;
use crate::topic::validate_topic_filter;
use crate::version::ProtocolVersion;
use crate::wire::{put_string, Reader};

/// UNSUBSCRIBE: one or more topic filters to remove (§3.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Unsubscribe {
    /// Packet Identifier (non-zero).
    pub packet_id: u16,
    /// UNSUBSCRIBE properties (5.0 only): User Property.
    pub properties: Properties,
    /// The filters, in order; at least one (MQTT-3.10.3-2).
    pub filters: Vec<MqttString>,
}

fn no_filters() -> Violation {
    Violation::protocol(
        ErrorKind::NoTopicFilters(PacketType::Unsubscribe),
        &["MQTT-3.10.3-2"],
        "3.10.3",
    )
}

impl Unsubscribe {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        let v = r.version;
        let packet_id = r.u16("packet identifier")?;
        check_packet_id(packet_id, PacketType::Unsubscribe, v)?;
        let properties = if v.is_v5() {
            Properties::decode(r, PropertyContext::Unsubscribe)?
        } else {
            Properties::default()
        };
        let mut filters = Vec::new();
        while !r.is_empty() {
            let f = r.string("topic filter")?;
            validate_topic_filter(&f, v)?;
            filters.push(f);
        }
        if filters.is_empty() {
            return Err(no_filters());
        }
        Ok(Unsubscribe {
            packet_id,
            properties,
            filters,
        })
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        check_packet_id(self.packet_id, PacketType::Unsubscribe, v)?;
        check_no_properties(&self.properties, PacketType::Unsubscribe, v)?;
        if v.is_v5() {
            self.properties.check(PropertyContext::Unsubscribe)?;
        }
        if self.filters.is_empty() {
            return Err(no_filters());
        }
        for f in &self.filters {
            validate_topic_filter(f, v)?;
        }
        Ok(())
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        let props = if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        };
        2 + props + self.filters.iter().map(|f| 2 + f.len()).sum::<usize>()
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        out.put_u16(self.packet_id);
        if v.is_v5() {
            self.properties.encode(out);
        }
        for f in &self.filters {
            put_string(out, f);
        }
    }
}
