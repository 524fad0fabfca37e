//! DISCONNECT (MQTT 3.1.1 §3.14, MQTT 5.0 §3.14).

use bytes::BytesMut;

use crate::error::{ErrorKind, Violation};
use crate::packet::reason_tail::{self, TailRules};
use crate::packet::{check_no_properties, PacketType};
use crate::properties::{Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// DISCONNECT (§3.14). In 3.1.1 it has no body; in 5.0 a reason code and
/// properties, both optional on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Disconnect {
    /// Disconnect Reason Code (5.0; 0x00 Normal disconnection).
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (5.0 only).
    pub properties: Properties,
}

const RULES: TailRules = TailRules {
    ctx: PropertyContext::Disconnect,
    allowed: allowed::DISCONNECT,
    statements: &["MQTT-3.14.2-1"],
    section: "3.14.2.1",
};

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Disconnect {
            reason_code,
            properties: Properties::default(),
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        if !r.version.is_v5() {
            return Ok(Disconnect::default());
        }
        let (reason_code, properties) = reason_tail::decode(r, &RULES)?;
        Ok(Disconnect {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        check_no_properties(&self.properties, PacketType::Disconnect, v)?;
        match v {
            ProtocolVersion::V311 if self.reason_code != ReasonCode::SUCCESS => {
                Err(Violation::malformed(
                    ErrorKind::ReasonCodeInV311 {
                        packet: PacketType::Disconnect,
                        code: self.reason_code,
                    },
                    &[],
                    "3.14",
                ))
            }
            ProtocolVersion::V311 => Ok(()),
            ProtocolVersion::V5 => reason_tail::check(
                self.reason_code,
                &self.properties,
                &RULES,
                PacketType::Disconnect,
            ),
        }
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        if v.is_v5() {
            reason_tail::len(self.reason_code, &self.properties)
        } else {
            0
        }
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        if v.is_v5() {
            reason_tail::encode(self.reason_code, &self.properties, out);
        }
    }
}
