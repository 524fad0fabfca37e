//! # mqtt-codec
//!
//! The one codec of mqtt-harness: every control packet of MQTT 3.1.1 (14
//! types) and MQTT 5.0 (15, with AUTH), every 5.0 property and reason code.
//! Sans-IO: no sockets, no clocks, no async.
//!
//! * [`Decoder`] decodes from a `BytesMut` as bytes arrive: incomplete input
//!   returns `Ok(None)` and consumes nothing; strings and payloads share the
//!   received buffer. A Remaining Length over the configured maximum packet
//!   size is rejected before any of the body is buffered.
//! * [`Packet::encode`] computes the exact length first and writes once.
//! * Decoding is strict: each error is a [`Violation`] that names the
//!   normative statement ids it enforces (e.g. `MQTT-3.3.1-4`), the section,
//!   and the reason code an MQTT 5.0 receiver sends.
//! * [`raw`] writes the bytes a strict encoder refuses, for testing brokers.
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_codec::{Decoder, MqttString, Packet, ProtocolVersion, Publish};
//!
//! let publish = Packet::Publish(Publish::new(MqttString::from_static("a/b"), "hi"));
//! let mut buf = BytesMut::new();
//! publish.encode(ProtocolVersion::V5, &mut buf).unwrap();
//! let mut decoder = Decoder::new(ProtocolVersion::V5);
//! assert_eq!(decoder.decode(&mut buf).unwrap(), Some(publish));
//! assert!(buf.is_empty());
//! ```

pub mod decoder;
pub mod error;
#[cfg(feature = "arbitrary")]
mod fuzzing;
pub mod packet;
pub mod properties;
pub mod qos;
pub mod raw;
pub mod reason;
mod scan;
pub mod string;
pub mod topic;
pub mod version;
mod wire;

pub use decoder::{Decoder, MAX_POSSIBLE_PACKET_SIZE};
pub use error::{DecodeError, EncodeError, ErrorKind, Violation};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PubResponse, Publish, RetainHandling,
    SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
pub use properties::{Properties, PropertyContext, PropertyValues};
pub use qos::QoS;
pub use reason::ReasonCode;
pub use string::{MqttString, StringError};
pub use version::ProtocolVersion;
pub use wire::{vbi_len, VBI_MAX};
