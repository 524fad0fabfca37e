//! CONNECT (MQTT 3.1.1 §3.1, MQTT 5.0 §3.1).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{ErrorKind, Violation};
use crate::packet::{check_no_properties, PacketType};
use crate::properties::{check_auth_pair, Properties, PropertyContext};
use crate::qos::QoS;
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::topic::validate_topic_name;
use crate::version::ProtocolVersion;
use crate::wire::{check_binary_len, put_binary, put_string, Reader};

/// CONNECT: the first packet a client sends (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Connect {
    /// The version the client speaks (Protocol Level, §3.1.2.2).
    pub protocol_version: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5.0), §3.1.2.4.
    pub clean_start: bool,
    /// Keep Alive in seconds (§3.1.2.10).
    pub keep_alive: u16,
    /// CONNECT properties (5.0 only, §3.1.2.11).
    pub properties: Properties,
    /// Client Identifier (§3.1.3.1).
    pub client_id: MqttString,
    /// The Will Message, when the Will Flag is set (§3.1.2.5).
    pub will: Option<Will>,
    /// User Name (§3.1.3.5 in 3.1.1, §3.1.3.5 in 5.0).
    pub username: Option<MqttString>,
    /// Password (§3.1.3.6).
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::fuzzing::opt_bytes))]
    pub password: Option<Bytes>,
}

/// The Will Message of a CONNECT (§3.1.2.5-7, §3.1.3.2-4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Will {
    /// Will Topic.
    pub topic: MqttString,
    /// Will Payload.
    #[cfg_attr(feature = "arbitrary", arbitrary(with = crate::fuzzing::bytes))]
    pub payload: Bytes,
    /// Will QoS.
    pub qos: QoS,
    /// Will Retain.
    pub retain: bool,
    /// Will Properties (5.0 only).
    pub properties: Properties,
}

const PROTOCOL_NAME: &[u8] = b"MQTT";

impl Connect {
    /// A CONNECT with the given client id and every other field at its
    /// default (clean start, keep alive 60, no will, no credentials).
    pub fn new(version: ProtocolVersion, client_id: MqttString) -> Self {
        Connect {
            protocol_version: version,
            clean_start: true,
            keep_alive: 60,
            properties: Properties::default(),
            client_id,
            will: None,
            username: None,
            password: None,
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, Violation> {
        let name = r.binary("protocol name")?;
        if name.as_ref() != PROTOCOL_NAME {
            return Err(Violation::new(
                ErrorKind::InvalidProtocolName(String::from_utf8_lossy(&name).into_owned()),
                &["MQTT-3.1.2-1"],
                "3.1.2.1",
                ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            ));
        }
        let level = r.u8("protocol level")?;
        let Some(v) = ProtocolVersion::from_level(level) else {
            return Err(Violation::new(
                ErrorKind::UnsupportedProtocolLevel(level),
                &["MQTT-3.1.2-2"],
                "3.1.2.2",
                ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            ));
        };
        r.version = v;
        let flags = r.u8("connect flags")?;
        check_flags(flags, v)?;
        let keep_alive = r.u16("keep alive")?;
        let properties = if v.is_v5() {
            let p = Properties::decode(r, PropertyContext::Connect)?;
            check_auth_pair(&p, "3.1.2.11.10")?;
            p
        } else {
            Properties::default()
        };
        let client_id = r.string("client identifier")?;
        let will = if flags & 0x04 != 0 {
            let must = v.pick(&["MQTT-3.1.2-9"][..], &["MQTT-3.1.2-9"][..]);
            let properties = if v.is_v5() {
                Properties::decode(r, PropertyContext::Will).map_err(|e| cite_missing(e, must))?
            } else {
                Properties::default()
            };
            let topic = r.string("will topic").map_err(|e| cite_missing(e, must))?;
            validate_topic_name(&topic, v, false)?;
            let payload = r
                .binary("will payload")
                .map_err(|e| cite_missing(e, must))?;
            Some(Will {
                topic,
                payload,
                qos: QoS::from_bits((flags >> 3) & 0x03).unwrap_or_default(),
                retain: flags & 0x20 != 0,
                properties,
            })
        } else {
            None
        };
        let username = if flags & 0x80 != 0 {
            let must = v.pick(&["MQTT-3.1.2-19"][..], &["MQTT-3.1.2-17"][..]);
            Some(r.string("user name").map_err(|e| cite_missing(e, must))?)
        } else {
            None
        };
        let password = if flags & 0x40 != 0 {
            let must = v.pick(&["MQTT-3.1.2-21"][..], &["MQTT-3.1.2-19"][..]);
            Some(r.binary("password").map_err(|e| cite_missing(e, must))?)
        } else {
            None
        };
        Ok(Connect {
            protocol_version: v,
            clean_start: flags & 0x02 != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }

    fn flags(&self) -> u8 {
        let mut f = 0;
        if self.clean_start {
            f |= 0x02;
        }
        if let Some(w) = &self.will {
            f |= 0x04 | (w.qos.bits() << 3);
            if w.retain {
                f |= 0x20;
            }
        }
        if self.password.is_some() {
            f |= 0x40;
        }
        if self.username.is_some() {
            f |= 0x80;
        }
        f
    }

    pub(crate) fn check(&self) -> Result<(), Violation> {
        let v = self.protocol_version;
        check_flags(self.flags(), v)?;
        check_no_properties(&self.properties, PacketType::Connect, v)?;
        if v.is_v5() {
            self.properties.check(PropertyContext::Connect)?;
            check_auth_pair(&self.properties, "3.1.2.11.10")?;
        }
        if let Some(w) = &self.will {
            validate_topic_name(&w.topic, v, false)?;
            check_binary_len(w.payload.len(), "will payload", v)?;
            check_no_properties(&w.properties, PacketType::Connect, v)?;
            if v.is_v5() {
                w.properties.check(PropertyContext::Will)?;
            }
        }
        if let Some(p) = &self.password {
            check_binary_len(p.len(), "password", v)?;
        }
        Ok(())
    }

    pub(crate) fn body_len(&self) -> usize {
        let v5 = self.protocol_version.is_v5();
        let mut n = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        if v5 {
            n += self.properties.encoded_len();
        }
        n += 2 + self.client_id.len();
        if let Some(w) = &self.will {
            if v5 {
                n += w.properties.encoded_len();
            }
            n += 2 + w.topic.len() + 2 + w.payload.len();
        }
        n += self.username.as_ref().map_or(0, |u| 2 + u.len());
        n += self.password.as_ref().map_or(0, |p| 2 + p.len());
        n
    }

    pub(crate) fn encode_body(&self, out: &mut BytesMut) {
        let v5 = self.protocol_version.is_v5();
        put_binary(out, PROTOCOL_NAME);
        out.put_u8(self.protocol_version.level());
        out.put_u8(self.flags());
        out.put_u16(self.keep_alive);
        if v5 {
            self.properties.encode(out);
        }
        put_string(out, &self.client_id);
        if let Some(w) = &self.will {
            if v5 {
                w.properties.encode(out);
            }
            put_string(out, &w.topic);
            put_binary(out, &w.payload);
        }
        if let Some(u) = &self.username {
            put_string(out, u);
        }
        if let Some(p) = &self.password {
            put_binary(out, p);
        }
    }
}

/// A field the flags promise but the packet lacks breaks the statement that
/// requires it to be present.
fn cite_missing(mut e: Violation, statements: &'static [&'static str]) -> Violation {
    if matches!(e.kind, ErrorKind::Truncated { .. }) {
        e.statements = statements;
    }
    e
}

/// The Connect Flags rules (§3.1.2.3-3.1.2.9).
fn check_flags(flags: u8, v: ProtocolVersion) -> Result<(), Violation> {
    if flags & 0x01 != 0 {
        return Err(Violation::malformed(
            ErrorKind::ConnectReservedFlag,
            &["MQTT-3.1.2-3"],
            "3.1.2.3",
        ));
    }
    let will = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0x03;
    let will_retain = flags & 0x20 != 0;
    if !will && will_qos != 0 {
        return Err(Violation::malformed(
            ErrorKind::WillQosWithoutWill(will_qos),
            v.pick(&["MQTT-3.1.2-11", "MQTT-3.1.2-13"], &["MQTT-3.1.2-11"]),
            "3.1.2.6",
        ));
    }
    if !will && will_retain {
        return Err(Violation::malformed(
            ErrorKind::WillRetainWithoutWill,
            v.pick(&["MQTT-3.1.2-11", "MQTT-3.1.2-15"], &["MQTT-3.1.2-13"]),
            "3.1.2.7",
        ));
    }
    if will_qos == 3 {
        return Err(Violation::malformed(
            ErrorKind::InvalidWillQos,
            v.pick(&["MQTT-3.1.2-14"], &["MQTT-3.1.2-12"]),
            "3.1.2.6",
        ));
    }
    if v == ProtocolVersion::V311 && flags & 0x40 != 0 && flags & 0x80 == 0 {
        return Err(Violation::malformed(
            ErrorKind::PasswordWithoutUsername,
            &["MQTT-3.1.2-22"],
            "3.1.2.9",
        ));
    }
    Ok(())
}
