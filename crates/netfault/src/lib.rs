//! # mqtt-netfault
//!
//! What breaks between a client and the broker: a transparent loopback TCP
//! proxy whose links can be delayed (with jitter), capped in bandwidth,
//! stalled half-open, reset, closed after N bytes, sliced into small
//! segments, and partitioned from the broker and healed, per connection or
//! per group of clients, at run time. It relays any byte stream over TCP
//! (MQTT, MQTT over WebSocket, TLS), so link faults apply to every
//! transport.
//!
//! On top, an MQTT layer ([`mqtt::MqttTap`]) frames plain MQTT connections
//! with the strict codec and lets a [`mqtt::PacketTap`] change what passes
//! packet by packet: the self-check's broker misbehaviours are packet taps.
//!
//! Loopback only: listeners bind 127.0.0.1; the upstream is the target the
//! user named.

pub mod link;
pub mod mqtt;
pub mod proxy;
mod relay;
pub mod tap;

pub use link::{LinkFault, LinkSpec, Selector};
pub use mqtt::{MqttTap, PacketTap};
pub use proxy::{LinkInfo, Proxy, DEFAULT_GROUP};
pub use relay::LINGER;
pub use tap::{Out, Tap, TapParts, Transparent};
