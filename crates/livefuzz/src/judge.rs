//! Judging one case: run it, read every connection's answers with the
//! oracles; and the compact signature of a transcript that differential
//! mode compares across targets.

use std::net::SocketAddr;

use mqtt_codec::ProtocolVersion;

use crate::case::Case;
use crate::exec::{self, Bounds, Transcript};
use crate::oracle::{self, Coverage, Finding};

/// Runs a case and judges every connection.
pub async fn run_and_judge(
    case: &Case,
    addr: SocketAddr,
    bounds: &Bounds,
) -> (Transcript, Vec<Finding>, Coverage) {
    let sents: Vec<oracle::Sent> = (0..case.conns())
        .map(|c| oracle::analyze(&case.blobs(c)))
        .collect();
    let clean: Vec<bool> = sents.iter().map(oracle::Sent::clean).collect();
    let t = exec::run(case, addr, bounds, &clean).await;
    let mut findings = Vec::new();
    let mut cov = Coverage::default();
    for (c, rec) in t.conns.iter().enumerate() {
        if rec.connect_failed.is_some() {
            continue;
        }
        // Judge what was actually written (all of the case's blobs, unless
        // a write failed or the connection was dropped early).
        let again;
        let sent = if rec.sent.len() == sents[c].blobs {
            &sents[c]
        } else {
            again = oracle::analyze(&rec.sent);
            &again
        };
        let reading = oracle::read_answers(&rec.received, sent);
        cov.add_reading(sent, &reading);
        findings.extend(oracle::judge_reading(c, rec, sent, &reading));
    }
    (t, findings, cov)
}

/// A compact account of a connection for differential comparison: the
/// answers to our requests and how it ended; deliveries (racy) left out.
pub(crate) fn signature(t: &Transcript, case: &Case) -> Vec<String> {
    let mut out = Vec::new();
    for (c, rec) in t.conns.iter().enumerate() {
        let v = case.version(c).unwrap_or(ProtocolVersion::V311);
        let mut d = mqtt_codec::Decoder::new(v);
        let mut buf = bytes::BytesMut::from(&rec.received[..]);
        let mut s = Vec::new();
        while let Ok(Some(p)) = d.decode(&mut buf) {
            use mqtt_codec::Packet as P;
            let item = match p {
                P::ConnAck(a) => format!(
                    "CONNACK {}",
                    if a.reason_code.0 == 0 {
                        "ok"
                    } else {
                        "refused"
                    }
                ),
                P::SubAck(a) => format!(
                    "SUBACK {}",
                    a.reason_codes
                        .iter()
                        .map(|r| if r.is_error() { "x" } else { "ok" })
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                P::Publish(_) => continue,
                other => format!("{:?}", other.packet_type()).to_uppercase(),
            };
            s.push(item);
        }
        let end = if rec.closed_by_broker {
            "closed"
        } else {
            "open"
        };
        out.push(format!("c{c}: [{}] {end}", s.join(" ")));
    }
    out
}

/// The first differing connection's two accounts, without case-specific ids.
pub(crate) fn diff_key(sigs: &[Vec<String>]) -> String {
    let first = &sigs[0];
    for (i, s) in sigs.iter().enumerate().skip(1) {
        for (a, b) in first.iter().zip(s) {
            if a != b {
                let strip = |x: &str| x.split_once(": ").map_or(x, |p| p.1).to_owned();
                return format!("t0 {} / t{i} {}", strip(a), strip(b));
            }
        }
    }
    "length".into()
}
