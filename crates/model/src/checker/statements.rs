//! The normative statements each rule cites, per version. Every id is in
//! `scenarios/spec/ids/` (a test below reads those lists).

use super::trace::TraceVersion;

/// Statements an acked-then-lost message breaks. `pub_qos` is the QoS the
/// broker acknowledged at; `resumed` when the subscriber reconnected (to
/// the same session) after the message was published.
pub(crate) fn acked_then_lost(v: TraceVersion, pub_qos: u8, resumed: bool) -> Vec<&'static str> {
    let mut ids = Vec::new();
    match v {
        TraceVersion::V311 => {
            // The broker, as receiver, owned the message (PUBACK / PUBREC)...
            ids.push(if pub_qos == 2 {
                "MQTT-4.3.3-2"
            } else {
                "MQTT-4.3.2-2"
            });
            // ...and keeps session state, queued messages included.
            ids.push("MQTT-4.1.0-1");
            if resumed {
                ids.extend(["MQTT-3.1.2-5", "MQTT-4.4.0-1"]);
            }
        }
        TraceVersion::V5 => {
            ids.push(if pub_qos == 2 {
                "MQTT-4.3.3-8"
            } else {
                "MQTT-4.3.2-4"
            });
            ids.push("MQTT-4.1.0-1");
            if resumed {
                ids.extend(["MQTT-3.1.2-23", "MQTT-3.1.2-5", "MQTT-4.4.0-1"]);
            }
        }
    }
    ids
}

/// A QoS 2 message delivered twice. `fresh_copy` when the second copy
/// came with DUP 0 (so it was not even sent as a re-delivery).
pub(crate) fn qos2_duplicate(v: TraceVersion, fresh_copy: bool) -> Vec<&'static str> {
    let mut ids = match v {
        // Receiver side: no duplicate onward delivery; sender side: no
        // PUBLISH again after PUBREL.
        TraceVersion::V311 => vec!["MQTT-4.3.3-2", "MQTT-4.3.3-1"],
        TraceVersion::V5 => vec!["MQTT-4.3.3-10", "MQTT-4.3.3-6"],
    };
    if fresh_copy {
        ids.push("MQTT-3.3.1-1");
    }
    ids
}

/// A received message that nobody published. No normative statement of
/// either version says "deliver only what was published" in so many
/// words; the checker cites none rather than a wrong one.
pub(crate) fn unknown_message(_v: TraceVersion) -> Vec<&'static str> {
    Vec::new()
}

/// Ordered Topics (§4.6), the same ids in both versions.
pub(crate) fn reordered(_v: TraceVersion) -> Vec<&'static str> {
    vec!["MQTT-4.6.0-5", "MQTT-4.6.0-6"]
}

/// Session Present 0 to a Clean Start 0 client whose session the broker
/// should hold.
pub(crate) fn session_lost(v: TraceVersion) -> Vec<&'static str> {
    match v {
        TraceVersion::V311 => vec!["MQTT-3.1.2-4", "MQTT-3.2.2-2"],
        TraceVersion::V5 => vec!["MQTT-3.1.2-5", "MQTT-3.2.2-3", "MQTT-4.1.0-2"],
    }
}

/// Session Present 1 answering Clean Start 1.
pub(crate) fn present_after_clean_start(v: TraceVersion) -> Vec<&'static str> {
    match v {
        TraceVersion::V311 => vec!["MQTT-3.2.2-1", "MQTT-3.1.2-6"],
        TraceVersion::V5 => vec!["MQTT-3.2.2-2", "MQTT-3.1.2-4"],
    }
}

/// Session Present 1 for a session that had ended (closed with expiry 0,
/// or its expiry had passed).
pub(crate) fn present_after_end(v: TraceVersion) -> Vec<&'static str> {
    match v {
        TraceVersion::V311 => vec!["MQTT-3.1.2-6"],
        TraceVersion::V5 => vec!["MQTT-4.1.0-2", "MQTT-3.2.2-3"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(file: &str) -> BTreeSet<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/spec/ids")
            .join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_cited_id_exists_in_its_version() {
        for (v, file) in [
            (TraceVersion::V311, "mqtt-3.1.1-statement-ids.txt"),
            (TraceVersion::V5, "mqtt-5.0-statement-ids.txt"),
        ] {
            let known = ids(file);
            assert!(known.len() > 100, "{file}");
            let mut cited = Vec::new();
            for q in [1, 2] {
                for r in [false, true] {
                    cited.extend(acked_then_lost(v, q, r));
                }
            }
            for f in [false, true] {
                cited.extend(qos2_duplicate(v, f));
            }
            cited.extend(unknown_message(v));
            cited.extend(reordered(v));
            cited.extend(session_lost(v));
            cited.extend(present_after_clean_start(v));
            cited.extend(present_after_end(v));
            for id in cited {
                assert!(known.contains(id), "{id} is not a {} statement", v.as_str());
            }
        }
    }
}
