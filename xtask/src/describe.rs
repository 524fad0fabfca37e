//! One-line descriptions of packets for `cargo xtask codec`: the fields that
//! are set, in the specification's words, and only the properties present.

use bytes::Bytes;
use mqtt_codec::{
    MqttString, Packet, Properties, ProtocolVersion, PubResponse, ReasonCode, Subscription,
};

/// A byte string: quoted when it is short printable text, else its size and
/// first bytes in hex.
fn binary(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if b.len() <= 40 && !s.chars().any(char::is_control) => format!("{s:?}"),
        _ => {
            let head: Vec<String> = b.iter().take(12).map(|x| format!("{x:02x}")).collect();
            let more = if b.len() > 12 { " .." } else { "" };
            format!("{} bytes [{}{more}]", b.len(), head.join(" "))
        }
    }
}

/// A reason code as `0x87 Not authorized`.
fn code(c: ReasonCode) -> String {
    c.to_string()
}

/// A 3.1.1 CONNACK return code (§3.2.2.3, Table 3.1).
fn return_code(c: ReasonCode) -> String {
    let text = match c.0 {
        0 => "Connection Accepted",
        1 => "Connection Refused, unacceptable protocol version",
        2 => "Connection Refused, identifier rejected",
        3 => "Connection Refused, Server unavailable",
        4 => "Connection Refused, bad user name or password",
        5 => "Connection Refused, not authorized",
        _ => "reserved",
    };
    format!("0x{:02X} {text}", c.0)
}

/// The properties that are present, as `{name=value, ...}`, or an empty
/// string when there are none.
pub(crate) fn properties(p: &Properties) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut num = |name: &str, v: Option<u32>| {
        if let Some(v) = v {
            out.push(format!("{name}={v}"));
        }
    };
    num(
        "payload_format_indicator",
        p.payload_format_indicator.map(u32::from),
    );
    num("message_expiry_interval", p.message_expiry_interval);
    num("session_expiry_interval", p.session_expiry_interval);
    num("server_keep_alive", p.server_keep_alive.map(u32::from));
    num(
        "request_problem_information",
        p.request_problem_information.map(u32::from),
    );
    num("will_delay_interval", p.will_delay_interval);
    num(
        "request_response_information",
        p.request_response_information.map(u32::from),
    );
    num("receive_maximum", p.receive_maximum.map(u32::from));
    num("topic_alias_maximum", p.topic_alias_maximum.map(u32::from));
    num("topic_alias", p.topic_alias.map(u32::from));
    num("maximum_qos", p.maximum_qos.map(u32::from));
    num("retain_available", p.retain_available.map(u32::from));
    num("maximum_packet_size", p.maximum_packet_size);
    num(
        "wildcard_subscription_available",
        p.wildcard_subscription_available.map(u32::from),
    );
    num(
        "subscription_identifier_available",
        p.subscription_identifier_available.map(u32::from),
    );
    num(
        "shared_subscription_available",
        p.shared_subscription_available.map(u32::from),
    );
    let strings: [(&str, &Option<MqttString>); 7] = [
        ("content_type", &p.content_type),
        ("response_topic", &p.response_topic),
        ("assigned_client_identifier", &p.assigned_client_identifier),
        ("authentication_method", &p.authentication_method),
        ("response_information", &p.response_information),
        ("server_reference", &p.server_reference),
        ("reason_string", &p.reason_string),
    ];
    for (name, v) in strings {
        if let Some(v) = v {
            out.push(format!("{name}={:?}", v.as_str()));
        }
    }
    let binaries: [(&str, &Option<Bytes>); 2] = [
        ("correlation_data", &p.correlation_data),
        ("authentication_data", &p.authentication_data),
    ];
    for (name, v) in binaries {
        if let Some(v) = v {
            out.push(format!("{name}={}", binary(v)));
        }
    }
    if !p.subscription_identifiers.is_empty() {
        out.push(format!(
            "subscription_identifiers={:?}",
            p.subscription_identifiers
        ));
    }
    for (k, v) in &p.user_properties {
        out.push(format!("user_property={:?}:{:?}", k.as_str(), v.as_str()));
    }
    if out.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", out.join(", "))
    }
}

/// A filter with its options.
fn subscription(s: &Subscription) -> String {
    let o = &s.options;
    let mut out = format!("{:?} qos={}", s.filter.as_str(), o.qos.bits());
    if o.no_local {
        out.push_str(" no_local");
    }
    if o.retain_as_published {
        out.push_str(" retain_as_published");
    }
    out.push_str(&format!(" retain_handling={}", o.retain_handling as u8));
    out
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP (3.1.1 has no reason code).
fn response(name: &str, r: &PubResponse, v: ProtocolVersion) -> String {
    if v.is_v5() {
        format!(
            "{name} id={} {}{}",
            r.packet_id,
            code(r.reason_code),
            properties(&r.properties)
        )
    } else {
        format!("{name} id={}", r.packet_id)
    }
}

/// Reason codes as a list.
fn codes(cs: &[ReasonCode]) -> String {
    let list: Vec<String> = cs.iter().map(|c| code(*c)).collect();
    format!("[{}]", list.join(", "))
}

/// The packet on one line, as received in version `v` (CONNECT carries its
/// own).
pub(crate) fn packet(p: &Packet, v: ProtocolVersion) -> String {
    match p {
        Packet::Connect(c) => {
            let mut out = format!(
                "CONNECT {} client_id={:?} clean_start={} keep_alive={}",
                c.protocol_version,
                c.client_id.as_str(),
                c.clean_start,
                c.keep_alive
            );
            if let Some(w) = &c.will {
                out.push_str(&format!(
                    " will=[topic={:?} qos={} retain={} payload={}{}]",
                    w.topic.as_str(),
                    w.qos.bits(),
                    w.retain,
                    binary(&w.payload),
                    properties(&w.properties)
                ));
            }
            if let Some(u) = &c.username {
                out.push_str(&format!(" username={:?}", u.as_str()));
            }
            if let Some(pw) = &c.password {
                out.push_str(&format!(" password=<{} bytes>", pw.len()));
            }
            out + &properties(&c.properties)
        }
        Packet::ConnAck(a) => format!(
            "CONNACK session_present={} {}{}",
            a.session_present,
            v.pick(return_code as fn(ReasonCode) -> String, code)(a.reason_code),
            properties(&a.properties)
        ),
        Packet::Publish(p) => {
            let mut out = format!("PUBLISH qos={}", p.qos.bits());
            if p.packet_id != 0 {
                out.push_str(&format!(" id={}", p.packet_id));
            }
            if p.dup {
                out.push_str(" dup");
            }
            if p.retain {
                out.push_str(" retain");
            }
            format!(
                "{out} topic={:?} payload={}{}",
                p.topic(),
                binary(p.payload()),
                properties(&p.properties)
            )
        }
        Packet::PubAck(r) => response("PUBACK", r, v),
        Packet::PubRec(r) => response("PUBREC", r, v),
        Packet::PubRel(r) => response("PUBREL", r, v),
        Packet::PubComp(r) => response("PUBCOMP", r, v),
        Packet::Subscribe(s) => {
            let filters: Vec<String> = s.filters.iter().map(subscription).collect();
            format!(
                "SUBSCRIBE id={} [{}]{}",
                s.packet_id,
                filters.join(", "),
                properties(&s.properties)
            )
        }
        Packet::SubAck(s) => format!(
            "SUBACK id={} {}{}",
            s.packet_id,
            codes(&s.reason_codes),
            properties(&s.properties)
        ),
        Packet::Unsubscribe(u) => {
            let filters: Vec<String> = u
                .filters
                .iter()
                .map(|f| format!("{:?}", f.as_str()))
                .collect();
            format!(
                "UNSUBSCRIBE id={} [{}]{}",
                u.packet_id,
                filters.join(", "),
                properties(&u.properties)
            )
        }
        Packet::UnsubAck(u) => {
            let list = if u.reason_codes.is_empty() {
                String::new()
            } else {
                format!(" {}", codes(&u.reason_codes))
            };
            format!(
                "UNSUBACK id={}{list}{}",
                u.packet_id,
                properties(&u.properties)
            )
        }
        Packet::PingReq => "PINGREQ".to_owned(),
        Packet::PingResp => "PINGRESP".to_owned(),
        Packet::Disconnect(_) if !v.is_v5() => "DISCONNECT".to_owned(),
        Packet::Disconnect(d) => format!(
            "DISCONNECT {}{}",
            code(d.reason_code),
            properties(&d.properties)
        ),
        Packet::Auth(a) => format!("AUTH {}{}", code(a.reason_code), properties(&a.properties)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{MqttString, Publish};

    #[test]
    fn a_publish_fits_on_one_line() {
        let p = Packet::Publish(Publish::new(MqttString::from_static("a/b"), "hi"));
        assert_eq!(
            packet(&p, ProtocolVersion::V5),
            r#"PUBLISH qos=0 topic="a/b" payload="hi""#
        );
    }

    #[test]
    fn binary_payloads_are_shown_in_hex() {
        assert_eq!(binary(&[0, 1, 255]), "3 bytes [00 01 ff]");
    }
}
