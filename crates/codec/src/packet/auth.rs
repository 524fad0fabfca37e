//! AUTH (MQTT 5.0 §3.15); it does not exist in 3.1.1.

use bytes::BytesMut;

use crate::error::Violation;
use crate::packet::reason_tail::{self, TailRules};
use crate::packet::PacketType;
use crate::properties::{check_auth_pair, Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// AUTH: a step of enhanced authentication (§3.15, §4.12).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Auth {
    /// Authenticate Reason Code (0x00, 0x18 or 0x19).
    pub reason_code: ReasonCode,
    /// AUTH properties: method, data, reason string, user properties.
    pub properties: Properties,
}

const RULES: TailRules = TailRules {
    ctx: PropertyContext::Auth,
    allowed: allowed::AUTH,
    statements: &["MQTT-3.15.2-1"],
    section: "3.15.2.1",
};

impl Auth {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        let (reason_code, properties) = reason_tail::decode(r, &RULES)?;
        check_auth_pair(&properties, "3.15.2.2.3")?;
        Ok(Auth {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, _v: ProtocolVersion) -> Result<(), Violation> {
        reason_tail::check(self.reason_code, &self.properties, &RULES, PacketType::Auth)?;
        check_auth_pair(&self.properties, "3.15.2.2.3")
    }

    pub(crate) fn body_len(&self, _v: ProtocolVersion) -> usize {
        reason_tail::len(self.reason_code, &self.properties)
    }

    pub(crate) fn encode_body(&self, _v: ProtocolVersion, out: &mut BytesMut) {
        reason_tail::encode(self.reason_code, &self.properties, out);
    }
}
