//! MQTT 5.0 properties (§2.2.2): every property of Table 2-4, which packets
//! may carry it, and the rules on duplicates and values.

mod handle;
mod table;
mod values;

pub use handle::Properties;
pub use table::{property_name, PropertyContext};
pub(crate) use values::check_auth_pair;
pub use values::PropertyValues;

#[cfg(test)]
mod tests {
    use super::table::{lookup, TABLE};
    use super::*;
    use crate::string::MqttString;
    use bytes::{Bytes, BytesMut};

    #[test]
    fn every_identifier_has_one_table_row() {
        let mut ids: Vec<u8> = TABLE.iter().map(|e| e.0).collect();
        ids.dedup();
        assert_eq!(ids.len(), 27, "MQTT 5.0 defines 27 properties");
    }

    #[test]
    fn the_index_finds_every_row_and_nothing_else() {
        for id in 0..=u8::MAX {
            let scan = TABLE.iter().find(|e| e.0 == id).map(|e| (e.1, e.2));
            assert_eq!(lookup(id), scan, "identifier {id:#04x}");
        }
    }

    #[test]
    fn content_len_matches_what_encode_writes() {
        let p = PropertyValues {
            payload_format_indicator: Some(1),
            subscription_identifiers: vec![1, 200, 3_000_000],
            user_properties: vec![(MqttString::from_static("k"), MqttString::from_static("v"))],
            correlation_data: Some(Bytes::from_static(b"abc")),
            maximum_packet_size: Some(1024),
            ..PropertyValues::default()
        };
        let mut out = BytesMut::new();
        p.encode(&mut out);
        assert_eq!(out.len(), p.encoded_len());
    }
}
