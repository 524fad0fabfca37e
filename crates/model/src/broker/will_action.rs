//! What becomes of a Will Message when its connection ends (MQTT 3.1.1
//! §3.1.2.5, MQTT 5.0 §3.1.2.5 and §3.14.4).

/// What becomes of a connection's Will Message when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WillAction {
    /// Published (after any Will Delay): abnormal close, keep alive
    /// timeout, protocol error, 5.0 DISCONNECT other than 0x00
    /// (MQTT-3.1.2-8; 0x04 included).
    Publish,
    /// Discarded: DISCONNECT in 3.1.1, DISCONNECT 0x00 in 5.0
    /// (MQTT-3.14.4-3, MQTT-3.1.2-10), rejected CONNECT.
    Discard,
}
