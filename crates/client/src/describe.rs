//! One-line, human-readable renderings of packets, payloads and durations,
//! for the trace and for error messages.

use std::fmt::Write as _;
use std::time::Duration;

use mqtt_codec::{Packet, Properties, ReasonCode};

/// How many payload or raw bytes a one-line description shows.
const PREVIEW: usize = 32;

/// A packet on one line: its type, identifiers, reason codes, topics and a
/// preview of the payload, e.g. `PUBLISH topic="a/b" qos=1 id=3 payload=5B "hello"`.
pub fn describe(packet: &Packet) -> String {
    let mut s = String::new();
    let _ = write_packet(&mut s, packet);
    s
}

fn write_packet(s: &mut String, packet: &Packet) -> std::fmt::Result {
    s.push_str(packet.packet_type().name());
    let props = match packet {
        Packet::Connect(c) => {
            write!(
                s,
                " {} client_id={:?} clean_start={} keep_alive={}",
                c.protocol_version, c.client_id, c.clean_start, c.keep_alive
            )?;
            if let Some(u) = &c.username {
                write!(s, " username={u:?}")?;
            }
            if let Some(p) = &c.password {
                write!(s, " password={}B", p.len())?;
            }
            if let Some(w) = &c.will {
                write!(
                    s,
                    " will(topic={:?} qos={} retain={} payload={})",
                    w.topic,
                    w.qos.bits(),
                    w.retain,
                    preview(&w.payload)
                )?;
            }
            &c.properties
        }
        Packet::ConnAck(c) => {
            write!(
                s,
                " {} session_present={}",
                c.reason_code, c.session_present
            )?;
            &c.properties
        }
        Packet::Publish(p) => {
            write!(s, " topic={:?} qos={}", p.topic(), p.qos.bits())?;
            if p.packet_id != 0 {
                write!(s, " id={}", p.packet_id)?;
            }
            if p.retain {
                s.push_str(" retain");
            }
            if p.dup {
                s.push_str(" dup");
            }
            write!(s, " payload={}", preview(p.payload()))?;
            &p.properties
        }
        Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
            write!(s, " id={}", r.packet_id)?;
            if r.reason_code != ReasonCode::SUCCESS {
                write!(s, " {}", r.reason_code)?;
            }
            &r.properties
        }
        Packet::Subscribe(p) => {
            write!(s, " id={} [", p.packet_id)?;
            for (i, f) in p.filters.iter().enumerate() {
                let o = &f.options;
                write!(
                    s,
                    "{}{:?} qos={}",
                    if i == 0 { "" } else { ", " },
                    f.filter,
                    o.qos.bits()
                )?;
                if o.no_local {
                    s.push_str(" no_local");
                }
                if o.retain_as_published {
                    s.push_str(" rap");
                }
                if o.retain_handling as u8 != 0 {
                    write!(s, " rh={}", o.retain_handling as u8)?;
                }
            }
            s.push(']');
            &p.properties
        }
        Packet::SubAck(p) => {
            write!(s, " id={} {}", p.packet_id, codes(&p.reason_codes))?;
            &p.properties
        }
        Packet::Unsubscribe(p) => {
            write!(s, " id={} {:?}", p.packet_id, p.filters)?;
            &p.properties
        }
        Packet::UnsubAck(p) => {
            write!(s, " id={}", p.packet_id)?;
            if !p.reason_codes.is_empty() {
                write!(s, " {}", codes(&p.reason_codes))?;
            }
            &p.properties
        }
        Packet::PingReq | Packet::PingResp => return Ok(()),
        Packet::Disconnect(d) => {
            write!(s, " {}", d.reason_code)?;
            &d.properties
        }
        Packet::Auth(a) => {
            write!(s, " {}", a.reason_code)?;
            &a.properties
        }
    };
    write_properties(s, props)
}

fn codes(codes: &[ReasonCode]) -> String {
    let list: Vec<String> = codes.iter().map(ToString::to_string).collect();
    format!("[{}]", list.join(", "))
}

/// Appends the properties that are present, as `{name: value, ...}`.
fn write_properties(s: &mut String, p: &Properties) -> std::fmt::Result {
    if *p == Properties::default() {
        return Ok(());
    }
    let mut parts: Vec<String> = Vec::new();
    macro_rules! opt {
        ($($field:ident),* $(,)?) => {$(
            if let Some(v) = &p.$field {
                parts.push(format!("{}: {:?}", stringify!($field), v));
            }
        )*};
    }
    opt!(
        payload_format_indicator,
        message_expiry_interval,
        content_type,
        response_topic,
        session_expiry_interval,
        assigned_client_identifier,
        server_keep_alive,
        authentication_method,
        request_problem_information,
        will_delay_interval,
        request_response_information,
        response_information,
        server_reference,
        reason_string,
        receive_maximum,
        topic_alias_maximum,
        topic_alias,
        maximum_qos,
        retain_available,
        maximum_packet_size,
        wildcard_subscription_available,
        subscription_identifier_available,
        shared_subscription_available,
    );
    if let Some(d) = &p.correlation_data {
        parts.push(format!("correlation_data: {}", preview(d)));
    }
    if let Some(d) = &p.authentication_data {
        parts.push(format!("authentication_data: {}", preview(d)));
    }
    if !p.subscription_identifiers.is_empty() {
        parts.push(format!(
            "subscription_identifiers: {:?}",
            p.subscription_identifiers
        ));
    }
    for (k, v) in &p.user_properties {
        parts.push(format!("user_property: {k:?}={v:?}"));
    }
    write!(s, " {{{}}}", parts.join(", "))
}

/// `5B "hello"` for printable bytes, `3B 00 ff 10` otherwise; long inputs
/// are cut after a few dozen bytes and marked with `…`.
pub fn preview(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(PREVIEW)];
    let more = if bytes.len() > PREVIEW { "…" } else { "" };
    match std::str::from_utf8(shown) {
        Ok(text) if text.chars().all(|c| !c.is_control()) => {
            format!("{}B {:?}{more}", bytes.len(), text)
        }
        _ => format!("{}B {}{more}", bytes.len(), hex(shown)),
    }
}

/// Bytes as space-separated hex pairs.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A duration as a person writes it: `5s`, `1.5s`, `250ms`, `12.345ms`.
pub fn duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d.subsec_nanos() == 0 {
        return format!("{}s", d.as_secs());
    }
    if d >= Duration::from_secs(1) {
        return format!("{}s", trim(format!("{:.3}", d.as_secs_f64())));
    }
    let ms = d.as_secs_f64() * 1000.0;
    if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{ms:.0}ms")
    } else {
        format!("{}ms", trim(format!("{ms:.3}")))
    }
}

fn trim(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// "nothing" or "2 other packets: PUBACK id=1; PINGRESP".
pub fn others(packets: &[Packet]) -> String {
    match packets {
        [] => "nothing".into(),
        [one] => format!("1 other packet: {}", describe(one)),
        many => {
            const SHOWN: usize = 5;
            let list: Vec<String> = many.iter().take(SHOWN).map(describe).collect();
            let rest = if many.len() > SHOWN {
                format!("; and {} more", many.len() - SHOWN)
            } else {
                String::new()
            };
            format!("{} other packets: {}{rest}", many.len(), list.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{MqttString, PubResponse, Publish, QoS};

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(duration(Duration::from_secs(5)), "5s");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_millis(250)), "250ms");
        assert_eq!(duration(Duration::from_micros(12_345)), "12.345ms");
        assert_eq!(duration(Duration::ZERO), "0s");
    }

    #[test]
    fn packets_fit_on_a_line() {
        let mut p = Publish::new(MqttString::from_static("a/b"), "hello");
        p.qos = QoS::AtLeastOnce;
        p.packet_id = 3;
        assert_eq!(
            describe(&Packet::Publish(p)),
            "PUBLISH topic=\"a/b\" qos=1 id=3 payload=5B \"hello\""
        );
        assert_eq!(
            describe(&Packet::PubAck(PubResponse::new(7))),
            "PUBACK id=7"
        );
        assert_eq!(preview(&[0, 255]), "2B 00 ff");
        assert_eq!(others(&[]), "nothing");
    }
}
