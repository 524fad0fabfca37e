//! AUTH (MQTT 5.0 §3.15); it does not exist in 3.1.1.

use bytes::BytesMut;

use crate::error::{ErrorKind, Violation};
use crate::packet::reason_tail::{self, TailRules};
use crate::packet::{check_reason, PacketType};
use crate::properties::{check_auth_pair, Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// AUTH: a step of enhanced authentication (§3.15, §4.12).
///
/// Unlike PUBACK and DISCONNECT, AUTH has no form with a reason code alone:
/// either both the reason code and the properties are omitted (Success, no
/// properties, Remaining Length 0, §3.15.2.1) or both are present, and then
/// the Authentication Method must be among the properties (§3.15.2.2.2).
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

/// "It is a Protocol Error to omit the Authentication Method" (§3.15.2.2.2),
/// except in the Remaining Length 0 form.
fn check_method(code: ReasonCode, p: &Properties) -> Result<(), Violation> {
    let short_form = code == ReasonCode::SUCCESS && p.is_empty();
    if short_form || p.authentication_method.is_some() {
        Ok(())
    } else {
        Err(Violation::protocol(
            ErrorKind::AuthMethodMissing,
            &[],
            "3.15.2.2.2",
        ))
    }
}

impl Auth {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        if r.is_empty() {
            return Ok(Auth::default());
        }
        let reason_code = ReasonCode(r.u8("reason code")?);
        check_reason(
            reason_code,
            RULES.allowed,
            PacketType::Auth,
            RULES.statements,
            RULES.section,
        )?;
        let properties = Properties::decode(r, PropertyContext::Auth)?;
        check_auth_pair(&properties, "3.15.2.2.3")?;
        // A Remaining Length of 0 is the only form without the method.
        if properties.authentication_method.is_none() {
            return Err(Violation::protocol(
                ErrorKind::AuthMethodMissing,
                &[],
                "3.15.2.2.2",
            ));
        }
        Ok(Auth {
            reason_code,
            properties,
        })
    }

    pub(crate) fn check(&self, _v: ProtocolVersion) -> Result<(), Violation> {
        reason_tail::check(self.reason_code, &self.properties, &RULES, PacketType::Auth)?;
        check_auth_pair(&self.properties, "3.15.2.2.3")?;
        check_method(self.reason_code, &self.properties)
    }

    pub(crate) fn body_len(&self, _v: ProtocolVersion) -> usize {
        reason_tail::len(self.reason_code, &self.properties)
    }

    pub(crate) fn encode_body(&self, _v: ProtocolVersion, out: &mut BytesMut) {
        reason_tail::encode(self.reason_code, &self.properties, out);
    }
}
