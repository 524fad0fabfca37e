//! Parsing one line of a fault-run trace (`mqtt-harness-trace/1`, JSONL)
//! into a typed [`Line`]. Every refusal is a [`TraceError`] naming the
//! 1-based line and what was wrong; nothing here panics on input.

use serde::Deserialize;

/// The trace format this reader understands (the header's `format`).
pub const TRACE_FORMAT: &str = "mqtt-harness-trace/1";

/// Why a trace could not be read: the line (1-based; 0 when the trace as
/// a whole is at fault, e.g. empty) and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct TraceError {
    /// 1-based line number (0: the trace as a whole).
    pub line: usize,
    /// What was wrong, in words.
    pub what: String,
}

impl TraceError {
    pub(crate) fn new(line: usize, what: impl Into<String>) -> Self {
        TraceError {
            line,
            what: what.into(),
        }
    }
}

/// The protocol version of a run (the header's `version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TraceVersion {
    /// MQTT 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.0.
    #[serde(rename = "5.0")]
    V5,
}

impl TraceVersion {
    /// As the header writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceVersion::V311 => "3.1.1",
            TraceVersion::V5 => "5.0",
        }
    }
}

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Protocol version of every client in the run.
    pub version: TraceVersion,
    /// The target's name, if given.
    pub target: Option<String>,
    /// Whether the target claims durability (the `durable` capability).
    pub durable: bool,
}

/// The kind of a `fault` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The broker was killed (SIGKILL or in-process kill).
    Kill,
    /// The broker was restarted.
    Restart,
    /// The broker was stopped cleanly.
    Stop,
    /// The broker was paused (SIGSTOP).
    Pause,
    /// The broker was resumed.
    Resume,
    /// Some clients were cut off from the broker.
    Partition,
    /// A partition was healed.
    Heal,
    /// Latency was added.
    Latency,
}

impl FaultKind {
    /// A fault after which a broker keeps only what it stored durably.
    pub fn loses_memory(self) -> bool {
        matches!(self, FaultKind::Kill | FaultKind::Restart | FaultKind::Stop)
    }
}

/// A message name: `<publisher client id>/<seq>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MsgName {
    /// The publisher's client id.
    pub publisher: String,
    /// Its sequence number (publish order, per publisher).
    pub seq: u64,
}

impl MsgName {
    /// Splits `text` at its last `/`; `None` if it is not `<id>/<u64>`.
    pub fn parse(text: &str) -> Option<MsgName> {
        let (publisher, seq) = text.rsplit_once('/')?;
        let seq = seq.parse().ok()?;
        Some(MsgName {
            publisher: publisher.to_owned(),
            seq,
        })
    }
}

/// What one line says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A CONNACK arrived.
    Connack {
        /// The CONNECT's Clean Start / CleanSession.
        clean_start: bool,
        /// Session Expiry Interval in force, seconds (0: none).
        session_expiry: u32,
        /// The CONNACK's Session Present.
        session_present: bool,
    },
    /// The connection closed or failed without our DISCONNECT.
    ConnectionLost,
    /// We sent DISCONNECT.
    Disconnect,
    /// A SUBACK granted `qos` for `filter`.
    Subscribed {
        /// The filter as subscribed (`$share/...` included).
        filter: String,
        /// Granted QoS.
        qos: u8,
    },
    /// A PUBLISH was written to the socket.
    Publish {
        /// The message.
        msg: MsgName,
        /// Its topic.
        topic: String,
        /// Its QoS.
        qos: u8,
        /// A retransmission.
        dup: bool,
    },
    /// PUBACK (QoS 1) or successful PUBREC (QoS 2).
    Acked {
        /// The message.
        msg: MsgName,
        /// Its QoS.
        qos: u8,
    },
    /// PUBCOMP (QoS 2).
    Completed {
        /// The message.
        msg: MsgName,
    },
    /// A PUBLISH arrived at a subscriber.
    Received {
        /// The message, as the payload named it (raw: it may name nothing).
        msg: String,
        /// Its topic.
        topic: String,
        /// QoS as delivered.
        qos: u8,
        /// DUP as delivered.
        dup: bool,
    },
    /// A fault took effect.
    Fault {
        /// Which.
        kind: FaultKind,
        /// Free text.
        detail: String,
        /// The clients a partition concerns.
        clients: Vec<String>,
    },
    /// All draining finished; nothing after counts.
    End,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub line: usize,
    /// Milliseconds since the run's start.
    pub t_ms: u64,
    /// The client (absent for `fault` and `end`).
    pub client: Option<String>,
    /// What happened.
    pub event: Event,
}

/// Every field any line may carry; unknown fields are ignored.
#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    ev: Option<std::borrow::Cow<'a, str>>,
    t_ms: Option<u64>,
    client: Option<String>,
    format: Option<String>,
    version: Option<String>,
    target: Option<String>,
    durable: Option<bool>,
    clean_start: Option<bool>,
    session_expiry: Option<u32>,
    session_present: Option<bool>,
    filter: Option<String>,
    msg: Option<String>,
    topic: Option<String>,
    qos: Option<u8>,
    dup: Option<bool>,
    kind: Option<String>,
    detail: Option<String>,
    clients: Option<Vec<String>>,
}

fn need<T>(line: usize, ev: &str, name: &str, v: Option<T>) -> Result<T, TraceError> {
    v.ok_or_else(|| TraceError::new(line, format!("`{ev}` line without `{name}`")))
}

fn qos(line: usize, ev: &str, q: Option<u8>) -> Result<u8, TraceError> {
    let q = need(line, ev, "qos", q)?;
    if q > 2 {
        return Err(TraceError::new(
            line,
            format!("`{ev}`: qos {q} is not 0, 1 or 2"),
        ));
    }
    Ok(q)
}

fn msg_name(line: usize, ev: &str, m: Option<String>) -> Result<MsgName, TraceError> {
    let m = need(line, ev, "msg", m)?;
    MsgName::parse(&m).ok_or_else(|| {
        TraceError::new(
            line,
            format!("`{ev}`: msg {m:?} is not `<publisher client id>/<seq>`"),
        )
    })
}

fn raw(line: usize, text: &str) -> Result<Raw<'_>, TraceError> {
    serde_json::from_str(text)
        .map_err(|e| TraceError::new(line, format!("not a JSON object of the trace: {e}")))
}

/// Parses the header (the first line).
pub fn parse_header(line: usize, text: &str) -> Result<Header, TraceError> {
    let r = raw(line, text)?;
    if r.ev.as_deref() != Some("meta") {
        return Err(TraceError::new(
            line,
            "the first line must be the header {\"ev\":\"meta\",...}",
        ));
    }
    match r.format.as_deref() {
        Some(TRACE_FORMAT) => {}
        Some(other) => {
            return Err(TraceError::new(
                line,
                format!("format {other:?} is not {TRACE_FORMAT:?}"),
            ))
        }
        None => return Err(TraceError::new(line, "header without `format`")),
    }
    let version = match r.version.as_deref() {
        Some("3.1.1") => TraceVersion::V311,
        Some("5.0") => TraceVersion::V5,
        Some(other) => {
            return Err(TraceError::new(
                line,
                format!("version {other:?} is not \"3.1.1\" or \"5.0\""),
            ))
        }
        None => return Err(TraceError::new(line, "header without `version`")),
    };
    Ok(Header {
        version,
        target: r.target,
        durable: r.durable.unwrap_or(false),
    })
}

/// Parses one line after the header.
pub fn parse_line(line: usize, text: &str) -> Result<Line, TraceError> {
    let r = raw(line, text)?;
    let ev =
        r.ev.as_deref()
            .ok_or_else(|| TraceError::new(line, "line without `ev`"))?
            .to_owned();
    let ev = ev.as_str();
    let t_ms = need(line, ev, "t_ms", r.t_ms)?;
    let needs_client = !matches!(ev, "fault" | "end" | "meta");
    if needs_client && r.client.is_none() {
        return Err(TraceError::new(
            line,
            format!("`{ev}` line without `client`"),
        ));
    }
    let event = match ev {
        "meta" => return Err(TraceError::new(line, "a second header line")),
        "connack" => Event::Connack {
            clean_start: need(line, ev, "clean_start", r.clean_start)?,
            session_expiry: r.session_expiry.unwrap_or(0),
            session_present: need(line, ev, "session_present", r.session_present)?,
        },
        "connection-lost" => Event::ConnectionLost,
        "disconnect" => Event::Disconnect,
        "subscribed" => Event::Subscribed {
            filter: need(line, ev, "filter", r.filter)?,
            qos: qos(line, ev, r.qos)?,
        },
        "publish" => Event::Publish {
            msg: msg_name(line, ev, r.msg)?,
            topic: need(line, ev, "topic", r.topic)?,
            qos: qos(line, ev, r.qos)?,
            dup: r.dup.unwrap_or(false),
        },
        "acked" => Event::Acked {
            msg: msg_name(line, ev, r.msg)?,
            qos: qos(line, ev, r.qos)?,
        },
        "completed" => Event::Completed {
            msg: msg_name(line, ev, r.msg)?,
        },
        "received" => Event::Received {
            msg: need(line, ev, "msg", r.msg)?,
            topic: need(line, ev, "topic", r.topic)?,
            qos: qos(line, ev, r.qos)?,
            dup: r.dup.unwrap_or(false),
        },
        "fault" => {
            let kind = need(line, ev, "kind", r.kind)?;
            let kind = match kind.as_str() {
                "kill" => FaultKind::Kill,
                "restart" => FaultKind::Restart,
                "stop" => FaultKind::Stop,
                "pause" => FaultKind::Pause,
                "resume" => FaultKind::Resume,
                "partition" => FaultKind::Partition,
                "heal" => FaultKind::Heal,
                "latency" => FaultKind::Latency,
                other => {
                    return Err(TraceError::new(
                        line,
                        format!("unknown fault kind {other:?}"),
                    ))
                }
            };
            Event::Fault {
                kind,
                detail: r.detail.unwrap_or_default(),
                clients: r.clients.unwrap_or_default(),
            }
        }
        "end" => Event::End,
        other => return Err(TraceError::new(line, format!("unknown ev {other:?}"))),
    };
    Ok(Line {
        line,
        t_ms,
        client: r.client,
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_lines_parse() {
        let h = parse_header(
            1,
            r#"{"ev":"meta","format":"mqtt-harness-trace/1","version":"5.0","target":"ref","durable":true,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(h.version, TraceVersion::V5);
        assert!(h.durable);
        let l = parse_line(
            2,
            r#"{"t_ms":5,"ev":"publish","client":"p/1","msg":"p/1/7","topic":"a/b","qos":1,"dup":false}"#,
        )
        .unwrap();
        assert_eq!(
            l.event,
            Event::Publish {
                msg: MsgName {
                    publisher: "p/1".into(),
                    seq: 7
                },
                topic: "a/b".into(),
                qos: 1,
                dup: false
            }
        );
    }

    #[test]
    fn errors_name_the_line_and_the_fault() {
        let e = parse_line(9, r#"{"t_ms":1,"ev":"bogus","client":"c"}"#).unwrap_err();
        assert_eq!(e.line, 9);
        assert!(e.what.contains("unknown ev"), "{e}");
        let e = parse_line(
            3,
            r#"{"t_ms":1,"ev":"publish","client":"c","msg":"c/x","topic":"t","qos":1}"#,
        )
        .unwrap_err();
        assert!(e.what.contains("not `<publisher"), "{e}");
        let e = parse_line(
            4,
            r#"{"t_ms":1,"ev":"subscribed","client":"c","filter":"t","qos":3}"#,
        )
        .unwrap_err();
        assert!(e.what.contains("qos 3"), "{e}");
        let e = parse_line(5, "{not json").unwrap_err();
        assert_eq!(e.line, 5);
        let e = parse_line(6, r#"{"ev":"end"}"#).unwrap_err();
        assert!(e.what.contains("t_ms"), "{e}");
        let e = parse_header(1, r#"{"ev":"meta","format":"other/2","version":"5.0"}"#).unwrap_err();
        assert!(e.what.contains("format"), "{e}");
    }
}
