//! The trace of a load run (`load --trace FILE.jsonl`): every connection,
//! subscription, publish, acknowledgement, delivery and fault as one JSON
//! line of the `mqtt-harness-trace/1` format that `mqtt-harness check` (the
//! model's checker, `mqtt_model::checker`) reads. Sans-IO: the collector
//! hands it events, it keeps the lines with their times, and [`Trace::write`]
//! puts them out in time order (client tasks report in batches, so events
//! reach the collector a little out of order; their own times restore it).

use std::io::Write;

use serde_json::{json, Value};

use crate::event::Event;
use crate::plan::Plan;

/// The format name of the header.
pub const FORMAT: &str = "mqtt-harness-trace/1";

/// What the header says of the run.
#[derive(Debug, Clone)]
pub struct TraceMeta {
    /// `3.1.1` or `5.0`.
    pub version: &'static str,
    /// The target's name.
    pub target: String,
    /// Whether the target claims durability across restarts.
    pub durable: bool,
    /// The Session Expiry Interval of the clients' CONNECT (5.0), seconds.
    pub session_expiry: Option<u32>,
}

/// The lines of a run being traced.
#[derive(Debug)]
pub struct Trace {
    meta: TraceMeta,
    start_ns: u64,
    lines: Vec<(u64, String)>,
}

impl Trace {
    /// An empty trace of a run starting at `start_ns`.
    pub fn new(meta: TraceMeta, start_ns: u64) -> Trace {
        Trace {
            meta,
            start_ns,
            lines: Vec::new(),
        }
    }

    /// Lines so far (the header and `end` not counted).
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// No line yet.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn t_ms(&self, at_ns: u64) -> u64 {
        at_ns.saturating_sub(self.start_ns) / 1_000_000
    }

    fn push(&mut self, at_ns: u64, mut v: Value) {
        v["t_ms"] = json!(self.t_ms(at_ns));
        self.lines.push((at_ns, v.to_string()));
    }

    /// Adds what `e` says, if it is part of the trace.
    pub fn event(&mut self, plan: &Plan, e: &Event) {
        let id = |n: u32| {
            plan.clients
                .get(n as usize)
                .map_or_else(|| format!("client-{n}"), |c| c.client_id.clone())
        };
        let topic = |n: u32| {
            plan.clients
                .get(n as usize)
                .map_or_else(String::new, |c| c.topic.clone())
        };
        let msg = |n: u32, seq: u64| format!("{}/{seq}", id(n));
        match e {
            Event::Connected {
                client,
                clean,
                session_present,
                at_ns,
                ..
            } => {
                let mut v = json!({"ev": "connack", "client": id(*client),
                    "clean_start": clean, "session_present": session_present});
                if let Some(x) = self.meta.session_expiry.filter(|_| !clean) {
                    v["session_expiry"] = json!(x);
                }
                self.push(*at_ns, v);
            }
            Event::Disconnected {
                client,
                lost,
                at_ns,
            } => {
                let ev = if *lost { "connection-lost" } else { "disconnect" };
                self.push(*at_ns, json!({"ev": ev, "client": id(*client)}));
            }
            Event::SubAcked {
                client,
                granted: Some(q),
                at_ns,
                ..
            } => self.push(
                *at_ns,
                json!({"ev": "subscribed", "client": id(*client), "filter": topic(*client), "qos": q}),
            ),
            Event::Sent {
                publisher,
                seq,
                qos,
                dup,
                at_ns,
                ..
            } => self.push(
                *at_ns,
                json!({"ev": "publish", "client": id(*publisher), "msg": msg(*publisher, *seq),
                    "topic": topic(*publisher), "qos": qos, "dup": dup}),
            ),
            Event::Owned {
                publisher,
                seq,
                qos,
                at_ns,
                ..
            } => self.push(
                *at_ns,
                json!({"ev": "acked", "client": id(*publisher), "msg": msg(*publisher, *seq), "qos": qos}),
            ),
            Event::Completed {
                publisher,
                seq,
                at_ns,
                ..
            } => self.push(
                *at_ns,
                json!({"ev": "completed", "client": id(*publisher), "msg": msg(*publisher, *seq)}),
            ),
            Event::Delivered {
                subscriber,
                qos,
                dup,
                header,
                at_ns,
            } => self.push(
                *at_ns,
                json!({"ev": "received", "client": id(*subscriber),
                    "msg": msg(header.publisher, header.seq),
                    "topic": topic(header.publisher), "qos": qos, "dup": dup}),
            ),
            Event::Fault(f) => {
                let clients: Vec<String> = f.clients.iter().map(|n| id(*n)).collect();
                let mut v = json!({"ev": "fault", "kind": f.kind, "detail": f.detail});
                if !clients.is_empty() {
                    v["clients"] = json!(clients);
                }
                self.push(f.at_ns, v);
            }
            Event::SubAcked { granted: None, .. }
            | Event::SessionLost { .. }
            | Event::Foreign { .. }
            | Event::Error { .. } => {}
        }
    }

    /// Writes the header, every line up to `end_ns` in time order, and
    /// `end` there: `end_ns` is when draining finished, before the clients
    /// disconnect (the checker owes a message only to a session still there
    /// at `end`; what happens after it does not count).
    pub fn write(mut self, end_ns: u64, out: &mut impl Write) -> std::io::Result<()> {
        let header = json!({"ev": "meta", "format": FORMAT, "version": self.meta.version,
            "target": self.meta.target, "durable": self.meta.durable});
        writeln!(out, "{header}")?;
        // Stable: events of one task at the same millisecond keep their order.
        self.lines.sort_by_key(|(t, _)| *t);
        for (_, l) in self.lines.iter().filter(|(t, _)| *t <= end_ns) {
            writeln!(out, "{l}")?;
        }
        let end = json!({"ev": "end", "t_ms": self.t_ms(end_ns)});
        writeln!(out, "{end}")?;
        out.flush()
    }
}
