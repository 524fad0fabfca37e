//! The model as a checker of fault runs (issue 14, item 6): the trace a
//! load run wrote during faults — what each publisher had acknowledged,
//! what each subscriber received — checked against the session and QoS
//! rules in force, each violation shown with the shortest excerpt of the
//! trace that proves it. Sans-IO: lines in, a [`Report`] out.
//!
//! ```
//! use mqtt_model::checker::{check_str, CheckOptions};
//!
//! let trace = r#"{"ev":"meta","format":"mqtt-harness-trace/1","version":"5.0","target":"ref","durable":false}
//! {"t_ms":0,"ev":"connack","client":"s","clean_start":true,"session_expiry":60,"session_present":false}
//! {"t_ms":1,"ev":"subscribed","client":"s","filter":"t/#","qos":1}
//! {"t_ms":2,"ev":"connack","client":"p","clean_start":true,"session_expiry":0,"session_present":false}
//! {"t_ms":3,"ev":"publish","client":"p","msg":"p/0","topic":"t/a","qos":1,"dup":false}
//! {"t_ms":4,"ev":"acked","client":"p","msg":"p/0","qos":1}
//! {"t_ms":9,"ev":"end"}"#;
//! let report = check_str(trace, CheckOptions::default()).unwrap();
//! assert!(report.has_failures());
//! assert_eq!(report.violations[0].rule.name(), "acked-then-lost");
//! assert_eq!(report.violations[0].excerpt.len(), 5); // connack, subscribed, publish, acked, end
//! ```
//!
//! The format and the rules are described in `checker/README.md`
//! (`crates/model/src/checker/README.md`); a summary:
//!
//! * **Sessions.** Per client, a session is continuous from a CONNACK
//!   until a CONNACK with Session Present 0 (a clean start, or the broker
//!   lost it), or until a `disconnect`/`connection-lost` of a connection
//!   whose session expiry is 0. In 3.1.1 the expiry is 0 with
//!   CleanSession 1 and "never" with CleanSession 0, whatever the line
//!   says; in 5.0 `session_expiry` is taken as the interval in force
//!   (`4294967295`: never).
//! * **Owed.** A message is owed to a session when its publisher's `acked`
//!   line exists (QoS 1; QoS 2 also needs `completed`, or the publisher's
//!   session continuing to `end` so that it re-sends PUBREL), a matching
//!   subscription was `subscribed` in that session before the message's
//!   first `publish`, min(publish QoS, highest granted QoS) is at least 1,
//!   and the session is continuous until `end` with its client connected
//!   then. Shared subscriptions (5.0 `$share/`) are not checked for loss.
//! * **Rules**: `acked-then-lost`, `qos2-duplicate`, `unknown-message`,
//!   `reordered`, `session-lost`, `session-present-unexpected` (see
//!   [`Rule`]).
//! * **Durability.** A Session Present 0 to a Clean Start 0 client whose
//!   session had not expired is a `session-lost`: of class spec (fail)
//!   when the broker ran throughout, of class durability when a `kill`,
//!   `restart` or `stop` came between (fail with `durable`, else not a
//!   violation and the session simply ends). A session found lost is
//!   bridged (still continuous), so the messages it was owed count as
//!   `acked-then-lost`. A loss with a broker restart after the message's
//!   first publish is of class durability (fail with `durable`, else warn).

mod excerpt;
mod report;
mod rules;
mod statements;
mod trace;

pub use report::{
    Class, Counts, ExcerptLine, PerQos, Report, Rule, RuleCount, Severity, Violation, REPORT_SCHEMA,
};
pub use rules::{CheckOptions, Checker};
pub use trace::{
    parse_header, parse_line, Event, FaultKind, Header, Line, MsgName, TraceError, TraceVersion,
    TRACE_FORMAT,
};

/// Checks a whole trace held in memory, excerpts with their text.
pub fn check_str(text: &str, opts: CheckOptions) -> Result<Report, TraceError> {
    let mut checker = Checker::new(opts);
    for line in text.lines() {
        checker.push_line(line)?;
    }
    let mut report = checker.finish()?;
    report.fill_text(text.lines().enumerate().map(|(i, l)| (i + 1, l)));
    Ok(report)
}
