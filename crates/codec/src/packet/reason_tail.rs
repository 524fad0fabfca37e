//! The optional "reason code, then properties" ending shared by PUBACK,
//! PUBREC, PUBREL, PUBCOMP, DISCONNECT and AUTH in MQTT 5.0: both may be
//! left out when the code is Success (or Normal disconnection) and there are
//! no properties, and the properties may be left out alone (§3.4.2.1,
//! §3.14.2.1, §3.15.2.1).

use bytes::{BufMut, BytesMut};

use crate::error::Violation;
use crate::packet::check_reason;
use crate::properties::{Properties, PropertyContext};
use crate::reason::ReasonCode;
use crate::wire::Reader;

/// The rules of one packet's reason code and properties.
pub(crate) struct TailRules {
    pub(crate) ctx: PropertyContext,
    pub(crate) allowed: &'static [u8],
    pub(crate) statements: &'static [&'static str],
    pub(crate) section: &'static str,
}

pub(crate) fn decode(
    r: &mut Reader<'_>,
    rules: &TailRules,
) -> Result<(ReasonCode, Properties), Violation> {
    let mut code = ReasonCode::SUCCESS;
    let mut props = Properties::default();
    decode_into(r, rules, &mut code, &mut props)?;
    Ok((code, props))
}

/// [`decode`] into the packet's fields, which must hold Success and no
/// properties.
pub(crate) fn decode_into(
    r: &mut Reader<'_>,
    rules: &TailRules,
    code: &mut ReasonCode,
    props: &mut Properties,
) -> Result<(), Violation> {
    if !r.is_empty() {
        *code = ReasonCode(r.u8("reason code")?);
        check_reason(
            *code,
            rules.allowed,
            r.packet,
            rules.statements,
            rules.section,
        )?;
        if !r.is_empty() {
            props.decode_into(r, rules.ctx)?;
        }
    }
    Ok(())
}

pub(crate) fn check(
    code: ReasonCode,
    props: &Properties,
    rules: &TailRules,
    ptype: crate::PacketType,
) -> Result<(), Violation> {
    check_reason(code, rules.allowed, ptype, rules.statements, rules.section)?;
    props.check(rules.ctx)
}

/// Bytes of the shortest form.
pub(crate) fn len(code: ReasonCode, props: &Properties) -> usize {
    if !props.is_empty() {
        1 + props.encoded_len()
    } else if code != ReasonCode::SUCCESS {
        1
    } else {
        0
    }
}

pub(crate) fn encode(code: ReasonCode, props: &Properties, out: &mut BytesMut) {
    let n = len(code, props);
    if n > 0 {
        out.put_u8(code.0);
    }
    if n > 1 {
        props.encode(out);
    }
}
