//! CONNACK (MQTT 3.1.1 §3.2, MQTT 5.0 §3.2).

use bytes::{BufMut, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, check_reason, PacketType};
use crate::properties::{check_auth_pair, Properties, PropertyContext};
use crate::reason::{allowed, ReasonCode};
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// CONNACK: the server's answer to CONNECT (§3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ConnAck {
    /// Session Present (§3.2.2.2).
    pub session_present: bool,
    /// Connect Reason Code (5.0, §3.2.2.2) or Connect Return Code (3.1.1,
    /// §3.2.2.3, values 0-5).
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0 only).
    pub properties: Properties,
}

impl ConnAck {
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        let v = r.version;
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(Violation::malformed(
                ErrorKind::ConnackFlagsReserved(flags),
                v.pick(&[], &["MQTT-3.2.2-1"]),
                "3.2.2.1",
            ));
        }
        let reason_code = ReasonCode(r.u8("connect reason code")?);
        let properties = if v.is_v5() {
            let p = Properties::decode(r, PropertyContext::ConnAck)?;
            check_auth_pair(&p, "3.2.2.3.18")?;
            p
        } else {
            Properties::default()
        };
        let ack = ConnAck {
            session_present: flags & 0x01 != 0,
            reason_code,
            properties,
        };
        ack.check_code(v)?;
        Ok(ack)
    }

    fn check_code(&self, v: ProtocolVersion) -> Result<(), Violation> {
        let code = self.reason_code;
        match v {
            ProtocolVersion::V311 => check_reason(
                code,
                allowed::CONNACK_V311,
                PacketType::ConnAck,
                &[],
                "3.2.2.3",
            )?,
            ProtocolVersion::V5 => check_reason(
                code,
                allowed::CONNACK,
                PacketType::ConnAck,
                &["MQTT-3.2.2-8"],
                "3.2.2.2",
            )?,
        }
        if self.session_present && code.0 != 0 {
            return Err(Violation::protocol(
                ErrorKind::SessionPresentOnError(code.0),
                v.pick(&["MQTT-3.2.2-4"], &["MQTT-3.2.2-6"]),
                "3.2.2.2",
            ));
        }
        Ok(())
    }

    pub(crate) fn check(&self, v: ProtocolVersion) -> Result<(), Violation> {
        self.check_code(v)?;
        check_no_properties(&self.properties, PacketType::ConnAck, v)?;
        if v.is_v5() {
            self.properties.check(PropertyContext::ConnAck)?;
            check_auth_pair(&self.properties, "3.2.2.3.18")?;
        }
        Ok(())
    }

    pub(crate) fn body_len(&self, v: ProtocolVersion) -> usize {
        2 + if v.is_v5() {
            self.properties.encoded_len()
        } else {
            0
        }
    }

    pub(crate) fn encode_body(&self, v: ProtocolVersion, out: &mut BytesMut) {
        out.put_u8(u8::from(self.session_present));
        out.put_u8(self.reason_code.0);
        if v.is_v5() {
            self.properties.encode(out);
        }
    }
}
