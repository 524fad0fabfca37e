//! Quality of Service levels (MQTT 3.1.1 §4.3, MQTT 5.0 §4.3).

/// A QoS level. The wire value 3 is reserved and is never a `QoS`
/// (MQTT-3.3.1-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum QoS {
    /// At most once delivery.
    #[default]
    AtMostOnce = 0,
    /// At least once delivery.
    AtLeastOnce = 1,
    /// Exactly once delivery.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for the two-bit wire value, or `None` for the reserved 3.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}
