//! The broker's capabilities and limits (MQTT 5.0 §3.2.2.3, announced in
//! CONNACK; in 3.1.1 the same limits apply silently where the
//! specification allows it).

use mqtt_codec::QoS;

/// Capabilities and limits of the modelled broker. `Config::default()` is a
/// broker with every optional feature available and no limits beyond the
/// protocol's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Maximum QoS (5.0 §3.2.2.3.4): the highest QoS granted to
    /// subscriptions (both versions) and accepted in PUBLISH and Will
    /// (5.0 only; MQTT-3.2.2-9..12).
    pub maximum_qos: QoS,
    /// Retain Available (5.0 §3.2.2.3.5). When false, a 5.0 PUBLISH or Will
    /// with RETAIN 1 is refused with 0x9A (MQTT-3.2.2-13).
    pub retain_available: bool,
    /// Wildcard Subscription Available (5.0 §3.2.2.3.11); when false a
    /// filter with `+` or `#` gets SUBACK 0xA2.
    pub wildcard_subscription_available: bool,
    /// Subscription Identifier Available (5.0 §3.2.2.3.12); when false a
    /// SUBSCRIBE carrying one is answered with DISCONNECT 0xA1.
    pub subscription_identifier_available: bool,
    /// Shared Subscription Available (5.0 §3.2.2.3.13, §4.8.2); when false
    /// a `$share/` filter gets SUBACK 0x9E.
    pub shared_subscription_available: bool,
    /// Topic Alias Maximum the server accepts from clients (5.0
    /// §3.2.2.3.8); 0 = no aliases.
    pub topic_alias_maximum: u16,
    /// Receive Maximum (5.0 §3.2.2.3.3): how many inbound QoS 2 messages
    /// may await PUBREL; one more is answered with DISCONNECT 0x93.
    pub receive_maximum: u16,
    /// Maximum Packet Size the server accepts (5.0 §3.2.2.3.6); announced
    /// in CONNACK when set. Enforced by the server's decoder, which reports
    /// an oversize packet through `decode_error`.
    pub maximum_packet_size: Option<u32>,
    /// Server Keep Alive (5.0 §3.2.2.3.14): when set, overrides the
    /// client's Keep Alive (MQTT-3.2.2-21).
    pub server_keep_alive: Option<u16>,
    /// Messages of QoS 1 and 2 queued per session beyond the in-flight
    /// window (offline, or over the client's Receive Maximum). A message
    /// arriving at a full queue is dropped.
    pub max_queued_messages: usize,
    /// In-flight window towards 3.1.1 clients, which have no Receive
    /// Maximum. Default 65,535: every message is sent at once.
    pub max_inflight_v311: u16,
    /// Whether a zero-length Client Identifier is accepted and an
    /// identifier assigned (MQTT-3.1.3-6; in 3.1.1 only with clean
    /// session 1, MQTT-3.1.3-7/8).
    pub allow_empty_client_id: bool,
    /// Prefix of assigned client identifiers (MQTT-3.2.2-16).
    pub assigned_id_prefix: String,
    /// Authentication Method the server supports (5.0 §4.12). `None`: a
    /// CONNECT with an Authentication Method gets CONNACK 0x8C
    /// (MQTT-4.12.0-1). The model implements no enhanced-auth exchange.
    pub authentication_method: Option<String>,
    /// Maximum Session Expiry Interval, seconds; a longer request is
    /// shortened and the value used is returned in CONNACK (5.0
    /// §3.2.2.3.2). `None`: no limit.
    pub maximum_session_expiry: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifier_available: true,
            shared_subscription_available: true,
            topic_alias_maximum: 10,
            receive_maximum: 65_535,
            maximum_packet_size: None,
            server_keep_alive: None,
            max_queued_messages: 1000,
            max_inflight_v311: 65_535,
            allow_empty_client_id: true,
            assigned_id_prefix: "auto-".to_owned(),
            authentication_method: None,
            maximum_session_expiry: None,
        }
    }
}
