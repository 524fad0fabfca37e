//! A finding as a replayable scenario (scenarios/README.md format): one
//! scenario client per connection, `open` and `send_raw` for every blob,
//! `drop` where the case dropped, then the check a conforming broker
//! passes and this one failed.

use std::fmt::Write as _;

use mqtt_codec::ProtocolVersion;

use super::case::{Action, Case, Transport};
use super::oracle::{Finding, Kind};

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// YAML text of a scenario that replays `case` and checks `finding`.
/// `version` is the version the case speaks; `target` and `seed` go in the
/// description.
pub fn scenario_yaml(
    case: &Case,
    finding: &Finding,
    version: ProtocolVersion,
    target: &str,
    seed: u64,
) -> String {
    let tag = if version == ProtocolVersion::V5 {
        "5.0"
    } else {
        "3.1.1"
    };
    let n = case.conns();
    let mut clients: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let probe = matches!(
        finding.kind,
        Kind::Crash | Kind::Unresponsive | Kind::Resource
    );
    if probe {
        clients.push("probe".into());
    }
    let statements: Vec<&str> = if finding.statements.is_empty() {
        vec![if version == ProtocolVersion::V5 {
            "MQTT-4.13.1-1"
        } else {
            "MQTT-4.8.0-1"
        }]
    } else {
        finding.statements.clone()
    };
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Found by `mqtt-harness fuzz` against {target} (seed {seed}); replay with"
    );
    let _ = writeln!(
        y,
        "# `mqtt-harness conform --scenario <this file> --targets {target}`."
    );
    let _ = writeln!(
        y,
        "name: \"fuzz: {}\"",
        finding
            .detail
            .replace('"', "'")
            .chars()
            .take(150)
            .collect::<String>()
    );
    let mut desc = format!(
        "{} found by the live fuzzer from {} after mutations: {}.",
        finding.kind.as_str(),
        case.origin,
        if case.mutations.is_empty() {
            "none".to_owned()
        } else {
            case.mutations.join(", ")
        }
    );
    let special: Vec<String> = (0..n)
        .filter(|&c| case.transport(c) != Transport::Whole)
        .map(|c| format!("c{c} wrote {:?}", case.transport(c)))
        .collect();
    if !special.is_empty() {
        let _ = write!(
            desc,
            " The fuzzer's writes were split ({}); here each blob is one write.",
            special.join(", ")
        );
    }
    if case.events.iter().any(|e| e.action == Action::HalfClose) {
        desc.push_str(" The fuzzer half-closed a connection where this scenario keeps it open.");
    }
    let _ = writeln!(y, "description: \"{}\"", desc.replace('"', "'"));
    let _ = writeln!(y, "versions: [\"{tag}\"]");
    let _ = writeln!(y, "statements: [{}]", statements.join(", "));
    let _ = writeln!(y, "clients: [{}]", clients.join(", "));
    let _ = writeln!(y, "steps:");
    let mut opened = vec![false; n];
    for e in &case.events {
        let c = e.conn;
        if !opened[c] {
            opened[c] = true;
            let _ = writeln!(y, "  - open: {{ client: c{c} }}");
        }
        match &e.action {
            Action::Send(b) if !b.is_empty() => {
                let _ = writeln!(y, "  - send_raw: {{ client: c{c}, hex: \"{}\" }}", hex(b));
            }
            Action::Send(_) | Action::HalfClose => {}
            Action::Sync => {
                let _ = writeln!(y, "  - sleep: 50ms");
            }
            Action::Drop => {
                let _ = writeln!(y, "  - drop: {{ client: c{c} }}");
            }
        }
    }
    let c = finding.conn.unwrap_or(0);
    match finding.kind {
        Kind::Crash | Kind::Unresponsive | Kind::Resource => {
            let _ = writeln!(y, "  - sleep: 500ms");
            let _ = writeln!(y, "  - connect: {{ client: probe }}");
        }
        Kind::Hang | Kind::Malformed => {
            let _ = writeln!(y, "  - send_raw: {{ client: c{c}, hex: \"c0 00\" }}");
            let _ = writeln!(
                y,
                "  - expect_one_of: {{ client: c{c}, within: 10s, any: [ {{ packet: {{ type: pingresp }} }}, {{ close: ~ }} ] }}"
            );
        }
        Kind::Illegal | Kind::AcceptedInvalid | Kind::Disagreement => match &finding.forbidden {
            Some(m) => {
                let _ = writeln!(
                    y,
                    "  - expect_nothing: {{ client: c{c}, within: 1s, packet: {m} }}"
                );
            }
            None => {
                let _ = writeln!(
                    y,
                    "  - expect_one_of: {{ client: c{c}, within: 10s, any: [ {{ packet: {{ type: pingresp }} }}, {{ close: ~ }} ] }}"
                );
            }
        },
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Event;

    #[test]
    fn the_scenario_loads_with_the_library_loader() {
        let case = Case {
            origin: "x (3.1.1)".into(),
            transports: vec![Transport::Whole, Transport::Bytewise],
            events: vec![
                Event {
                    conn: 0,
                    action: Action::Send(vec![0x10, 0x00]),
                },
                Event {
                    conn: 0,
                    action: Action::Sync,
                },
                Event {
                    conn: 1,
                    action: Action::Send(vec![0xc0, 0x00]),
                },
                Event {
                    conn: 1,
                    action: Action::Drop,
                },
            ],
            mutations: vec!["raw truncate"],
        };
        for kind in [
            Kind::Crash,
            Kind::Hang,
            Kind::Illegal,
            Kind::AcceptedInvalid,
        ] {
            let f = Finding {
                kind,
                conn: Some(0),
                detail: "a \"quoted\" detail".into(),
                statements: vec!["MQTT-3.12.4-1"],
                key: "k".into(),
                forbidden: Some("{ type: puback, packet_id: 7 }".into()),
            };
            let text = scenario_yaml(&case, &f, ProtocolVersion::V311, "ref", 1);
            let s = mqtt_scenario::load::parse(&text, std::path::Path::new("f.yaml"), None)
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(s.steps.len() >= 6, "{text}");
        }
    }
}
