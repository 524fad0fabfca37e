//! Protocol versions (MQTT 3.1.1 §3.1.2.2, MQTT 5.0 §3.1.2.2).

/// The protocol version negotiated by CONNECT; it drives how every other
/// packet on the connection is decoded and encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The Protocol Level byte of CONNECT (§3.1.2.2).
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version for a Protocol Level byte, if this codec supports it.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// Picks the value that applies to this version: the statement ids of the
    /// two specifications are numbered differently for the same rule.
    pub const fn pick<T: Copy>(self, v311: T, v5: T) -> T {
        match self {
            ProtocolVersion::V311 => v311,
            ProtocolVersion::V5 => v5,
        }
    }

    /// True for MQTT 5.0.
    pub const fn is_v5(self) -> bool {
        matches!(self, ProtocolVersion::V5)
    }
}

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "MQTT 3.1.1",
            ProtocolVersion::V5 => "MQTT 5.0",
        })
    }
}
