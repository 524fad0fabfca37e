//! Seeds: valid session prefixes taken from the scenario library. Each
//! scenario, in each version it applies to, becomes a case: its
//! `connect`, `send`, `send_raw`, `drop` and `disconnect` steps as blobs
//! on connections, its expectations as sync points. Client ids and topic
//! prefixes carry the [`TOKEN`] placeholder, made unique per case.

use bytes::Bytes;
use mqtt_codec::{Connect, Disconnect, MqttString, Packet, ProtocolVersion, QoS, ReasonCode, Will};

use super::case::{Action, Case, Event, Transport, TOKEN};
use mqtt_scenario::load::LoadedScenario;
use mqtt_scenario::packet::{parse_hex, Bindings};
use mqtt_scenario::{Capability, ConnectStep, Step, VersionTag};

/// Placeholders of the library, filled with the token.
struct TokenBindings {
    clients: Vec<String>,
}

impl Bindings for TokenBindings {
    fn substitute(&self, s: &str) -> String {
        let token = std::str::from_utf8(TOKEN).unwrap_or("fz00000000");
        let mut out = s.replace("{prefix}", token);
        for (i, name) in self.clients.iter().enumerate() {
            out = out.replace(&format!("{{id:{name}}}"), &client_id(i));
        }
        out
    }

    fn saved_id(&self, _name: &str) -> Option<u16> {
        Some(1)
    }
}

/// The client id of the `i`-th client of a case: the token and a letter.
pub fn client_id(i: usize) -> String {
    let token = std::str::from_utf8(TOKEN).unwrap_or("fz00000000");
    format!("{token}{}", (b'a' + (i % 26) as u8) as char)
}

fn connect_packet(
    c: &ConnectStep,
    version: ProtocolVersion,
    b: &TokenBindings,
    index: usize,
) -> Option<Packet> {
    let id = match &c.client_id {
        Some(id) => b.substitute(id),
        None => client_id(index),
    };
    let s = |v: &str| MqttString::new(b.substitute(v)).ok();
    let mut connect = Connect::new(version, s(&id)?);
    connect.clean_start = c.clean_start;
    connect.keep_alive = c.keep_alive;
    connect.properties = c.properties.build(b).ok()?;
    connect.username = match &c.username {
        Some(u) => Some(s(u)?),
        None => None,
    };
    connect.password = c.password.as_ref().map(|p| Bytes::from(p.clone()));
    if let Some(w) = &c.will {
        connect.will = Some(Will {
            topic: s(&w.topic)?,
            payload: Bytes::from(b.substitute(&w.payload)),
            qos: QoS::from_bits(w.qos)?,
            retain: w.retain,
            properties: w.properties.build(b).ok()?,
        });
    }
    Some(Packet::Connect(Box::new(connect)))
}

/// The case of `scenario` in `version`, or `None` when a step cannot be
/// built (the scenario is then not a seed).
pub fn from_scenario(scenario: &LoadedScenario, version: VersionTag) -> Option<Case> {
    let s = &scenario.scenario;
    let v = version.protocol();
    let b = TokenBindings {
        clients: s.clients.clone(),
    };
    // The open connection of each client, by client index.
    let mut current: Vec<Option<usize>> = vec![None; s.clients.len()];
    let mut conns = 0usize;
    let mut events = Vec::new();
    let index = |name: &str| s.clients.iter().position(|c| c == name);
    let encode = |p: &Packet| p.to_bytes(v).ok().map(|b| b.to_vec());
    for step in &s.steps {
        match step {
            Step::Connect(c) => {
                let i = index(&c.client)?;
                if let Some(old) = current[i] {
                    events.push(Event {
                        conn: old,
                        action: Action::Drop,
                    });
                }
                let conn = conns;
                conns += 1;
                current[i] = Some(conn);
                let bytes = encode(&connect_packet(c, v, &b, i)?)?;
                events.push(Event {
                    conn,
                    action: Action::Send(bytes),
                });
                if !c.no_wait {
                    events.push(Event {
                        conn,
                        action: Action::Sync,
                    });
                }
            }
            Step::Open(o) => {
                let i = index(&o.client)?;
                if let Some(old) = current[i] {
                    events.push(Event {
                        conn: old,
                        action: Action::Drop,
                    });
                }
                current[i] = Some(conns);
                conns += 1;
            }
            Step::Send(send) => {
                let conn = current[index(&send.client)?]?;
                let bytes = encode(&send.packet.build(&b).ok()?)?;
                events.push(Event {
                    conn,
                    action: Action::Send(bytes),
                });
            }
            Step::SendRaw(r) => {
                let conn = current[index(&r.client)?]?;
                events.push(Event {
                    conn,
                    action: Action::Send(parse_hex(&r.hex).ok()?),
                });
            }
            Step::Expect(e) => {
                let conn = current[index(&e.client)?]?;
                events.push(Event {
                    conn,
                    action: Action::Sync,
                });
            }
            Step::ExpectOneOf(e) => {
                let conn = current[index(&e.client)?]?;
                events.push(Event {
                    conn,
                    action: Action::Sync,
                });
            }
            Step::ExpectClose(e) => {
                let conn = current[index(&e.client)?]?;
                events.push(Event {
                    conn,
                    action: Action::Sync,
                });
            }
            Step::ExpectNothing(_) | Step::Sleep(_) => {}
            // A session shaped by a broken link or broker is no seed: the
            // fuzzer's connections are direct.
            Step::Fault(_)
            | Step::Heal(_)
            | Step::KillTarget(_)
            | Step::StopTarget(_)
            | Step::RestartTarget(_)
            | Step::PauseTarget(_)
            | Step::ResumeTarget(_) => return None,
            Step::Drop(d) => {
                let i = index(&d.client)?;
                if let Some(conn) = current[i].take() {
                    events.push(Event {
                        conn,
                        action: Action::Drop,
                    });
                }
            }
            Step::Disconnect(d) => {
                let i = index(&d.client)?;
                let conn = current[i].take()?;
                let packet = Packet::Disconnect(Disconnect {
                    reason_code: ReasonCode(d.reason_code),
                    properties: d.properties.build(&b).ok()?,
                });
                events.push(Event {
                    conn,
                    action: Action::Send(encode(&packet)?),
                });
                events.push(Event {
                    conn,
                    action: Action::Drop,
                });
            }
        }
    }
    if events.is_empty() {
        return None;
    }
    Some(Case {
        origin: format!("{} ({})", scenario.id, version.as_str()),
        transports: vec![Transport::Whole; conns],
        events,
        mutations: Vec::new(),
    })
}

/// Every seed of `library` for a target speaking `versions` with
/// `capabilities`.
pub fn from_library(
    library: &[LoadedScenario],
    versions: &[VersionTag],
    capabilities: &std::collections::BTreeSet<Capability>,
) -> Vec<Case> {
    let mut out = Vec::new();
    for sc in library {
        if !sc
            .scenario
            .requires
            .iter()
            .all(|c| capabilities.contains(c))
        {
            continue;
        }
        for v in &sc.scenario.versions {
            if versions.contains(v) {
                if let Some(case) = from_scenario(sc, *v) {
                    out.push(case);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_scenario_becomes_blobs_on_connections_with_the_token() {
        let text = "name: t\nversions: [\"5.0\"]\nstatements: [MQTT-3.3.1-4]\nclients: [a, b]\nsteps:\n  - connect: { client: a }\n  - send: { client: a, packet: { type: subscribe, packet_id: 7, filters: [ { filter: \"{prefix}/t\", qos: 1 } ] } }\n  - expect: { client: a, packet: { type: suback } }\n  - connect: { client: b }\n  - send_raw: { client: b, hex: \"c0 00\" }\n  - drop: { client: b }\n";
        let scenario = mqtt_scenario::load::parse(text, Path::new("t.yaml"), None).unwrap();
        let loaded = LoadedScenario {
            id: "t".into(),
            path: "t.yaml".into(),
            scenario,
        };
        let case = from_scenario(&loaded, VersionTag::V5).unwrap();
        assert_eq!(case.conns(), 2);
        assert_eq!(case.version(0), Some(ProtocolVersion::V5));
        let blobs = case.blobs(0);
        assert_eq!(blobs.len(), 2);
        let has = |b: &[u8], needle: &[u8]| b.windows(needle.len()).any(|w| w == needle);
        assert!(has(blobs[0], b"fz00000000a"), "client id carries the token");
        assert!(has(blobs[1], b"fz00000000/t"), "topic carries the token");
        assert_eq!(case.blobs(1)[1], &[0xc0, 0x00]);
        assert_eq!(case.events.last().unwrap().action, Action::Drop);
    }
}
