//! What a check found: counts, violations with their excerpts, and the two
//! renderings (human text, JSON `check/1`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::trace::TraceVersion;

/// The `schema` field of the JSON report.
pub const REPORT_SCHEMA: &str = "check/1";

/// A rule of the checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An owed QoS >= 1 message never received by the owing session.
    AckedThenLost,
    /// A QoS 2 message received twice in one continuous session.
    Qos2Duplicate,
    /// A received message no earlier `publish` line named.
    UnknownMessage,
    /// First arrivals out of publish order (one publisher, topic, QoS).
    Reordered,
    /// The broker answered Session Present 0 to a session it should hold.
    SessionLost,
    /// Session Present 1 where no session could be present.
    SessionPresentUnexpected,
}

impl Rule {
    /// The rule's name as reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::AckedThenLost => "acked-then-lost",
            Rule::Qos2Duplicate => "qos2-duplicate",
            Rule::UnknownMessage => "unknown-message",
            Rule::Reordered => "reordered",
            Rule::SessionLost => "session-lost",
            Rule::SessionPresentUnexpected => "session-present-unexpected",
        }
    }
}

/// Which verdicts a violation counts in: the specification's, or the
/// durability claims' (counted apart, ARCHITECTURE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// A breach of the specification.
    Spec,
    /// A breach of the target's durability claim.
    Durability,
}

/// How bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The run fails.
    Fail,
    /// Worth a look; legal in some reading the trace cannot exclude.
    Warn,
}

/// One line of an excerpt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcerptLine {
    /// 1-based line number in the trace.
    pub line: usize,
    /// The line's text (empty until [`Report::fill_text`] saw it).
    pub text: String,
}

/// One violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which rule.
    pub rule: Rule,
    /// Spec or durability.
    pub class: Class,
    /// Fail or warn.
    pub severity: Severity,
    /// Normative statement ids of the trace's version.
    pub statements: Vec<&'static str>,
    /// "expected X, saw Y".
    pub message: String,
    /// The client concerned (the subscriber, or the client connecting).
    pub client: Option<String>,
    /// The message concerned, if any.
    pub msg: Option<String>,
    /// The shortest list of trace lines that proves it, in line order.
    pub excerpt: Vec<ExcerptLine>,
}

/// Per-QoS counters (index = QoS).
pub type PerQos = [u64; 3];

/// What the trace held, and what the rules found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Trace lines read up to and including `end`.
    pub lines: u64,
    /// Distinct messages with a `publish` line, by publish QoS.
    pub published: PerQos,
    /// Distinct messages with an `acked` line, by publish QoS.
    pub acked: PerQos,
    /// QoS 2 messages with a `completed` line.
    pub completed: u64,
    /// `received` lines, by delivered QoS.
    pub received: PerQos,
    /// (message, session) pairs owed at effective QoS 1 and 2 (index 0 unused).
    pub owed: PerQos,
    /// Owed pairs never received (acked-then-lost), by effective QoS.
    pub lost: PerQos,
    /// Receipts beyond the first in one session, by effective (else delivered) QoS.
    pub duplicates: PerQos,
    /// First arrivals behind a later-published message (bound or not).
    pub reordered: u64,
    /// Of those, the ones the ordering rule binds (fail or warn).
    pub reordered_bound: u64,
    /// `received` lines naming no message published before them.
    pub unknown: u64,
    /// Receipts in a session that held no matching subscription when the
    /// message was first published (not owed, not a violation).
    pub received_unmatched: u64,
    /// Deliveries through shared subscriptions only (not checked for loss).
    pub shared_not_checked: u64,
    /// Sessions seen (continuous runs of one client's state).
    pub sessions: u64,
    /// Session Present 0 to a session that should have been held, by class:
    /// while the broker ran (spec), across a restart (durability).
    pub sessions_lost_spec: u64,
    /// Sessions lost across a broker restart (violations only with durable).
    pub sessions_lost_restart: u64,
    /// Fault lines.
    pub faults: u64,
}

/// How many violations of one rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// Fail severity.
    pub fail: u64,
    /// Warn severity.
    pub warn: u64,
}

/// The checker's verdict on one trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// The trace's protocol version.
    pub version: TraceVersion,
    /// The target named in the header.
    pub target: Option<String>,
    /// Whether durability was checked (header, or `--durable`).
    pub durable: bool,
    /// Counters.
    pub counts: Counts,
    /// Violations per rule name (all of them, also those not listed).
    pub violation_counts: BTreeMap<&'static str, RuleCount>,
    /// The violations, at most `max_per_rule` of each rule, in the order found.
    pub violations: Vec<Violation>,
    /// Whether some violations were counted but not listed.
    pub truncated: bool,
}

impl Report {
    /// True when some violation has severity fail.
    pub fn has_failures(&self) -> bool {
        self.violation_counts.values().any(|c| c.fail > 0)
    }

    /// The line numbers the excerpts need text for.
    pub fn excerpt_lines(&self) -> BTreeSet<usize> {
        self.violations
            .iter()
            .flat_map(|v| v.excerpt.iter().map(|l| l.line))
            .collect()
    }

    /// Gives the excerpts their text: call with every `(line number,
    /// text)` of the trace, or just those of [`Report::excerpt_lines`].
    pub fn fill_text<'a>(&mut self, lines: impl IntoIterator<Item = (usize, &'a str)>) {
        let wanted = self.excerpt_lines();
        let mut texts: BTreeMap<usize, &str> = BTreeMap::new();
        for (n, text) in lines {
            if wanted.contains(&n) {
                texts.insert(n, text);
            }
        }
        for v in &mut self.violations {
            for l in &mut v.excerpt {
                if let Some(t) = texts.get(&l.line) {
                    l.text = t.trim_end().to_owned();
                }
            }
        }
    }

    /// The JSON report (`"schema": "check/1"`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human report: counts, then each listed violation with its
    /// excerpt. `max_shown` bounds the violations printed per rule.
    pub fn to_text(&self, max_shown: usize) -> String {
        let c = &self.counts;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "trace: MQTT {}, target {}, durability {}",
            self.version.as_str(),
            self.target.as_deref().unwrap_or("?"),
            if self.durable {
                "checked"
            } else {
                "not claimed"
            }
        );
        let _ = writeln!(
            s,
            "{} lines, {} sessions, {} faults",
            c.lines, c.sessions, c.faults
        );
        let _ = writeln!(s);
        let _ = writeln!(s, "{:<22}{:>10}{:>10}{:>10}", "", "QoS 0", "QoS 1", "QoS 2");
        let rows: [(&str, PerQos); 6] = [
            ("published", c.published),
            ("acked", c.acked),
            ("received", c.received),
            ("owed", c.owed),
            ("lost", c.lost),
            ("duplicates", c.duplicates),
        ];
        for (name, q) in rows {
            let _ = writeln!(s, "{:<22}{:>10}{:>10}{:>10}", name, q[0], q[1], q[2]);
        }
        let _ = writeln!(s, "{:<22}{:>10}", "completed (QoS 2)", c.completed);
        let _ = writeln!(
            s,
            "{:<22}{:>10}  ({} bound by the ordering rule)",
            "reordered", c.reordered, c.reordered_bound
        );
        let _ = writeln!(s, "{:<22}{:>10}", "unknown received", c.unknown);
        let _ = writeln!(
            s,
            "{:<22}{:>10}",
            "received unmatched", c.received_unmatched
        );
        let _ = writeln!(
            s,
            "{:<22}{:>10}",
            "shared, not checked", c.shared_not_checked
        );
        let _ = writeln!(
            s,
            "{:<22}{:>10}  (+{} across a broker restart)",
            "sessions lost", c.sessions_lost_spec, c.sessions_lost_restart
        );
        let _ = writeln!(s);
        if self.violation_counts.is_empty() {
            let _ = writeln!(s, "no violations");
            return s;
        }
        for (rule, n) in &self.violation_counts {
            let _ = writeln!(s, "{rule}: {} fail, {} warn", n.fail, n.warn);
        }
        let mut shown: BTreeMap<Rule, usize> = BTreeMap::new();
        for v in &self.violations {
            let k = shown.entry(v.rule).or_insert(0);
            *k += 1;
            if *k > max_shown {
                continue;
            }
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "{} {} [{}] {}",
                match v.severity {
                    Severity::Fail => "FAIL",
                    Severity::Warn => "WARN",
                },
                v.rule.name(),
                match v.class {
                    Class::Spec => "spec",
                    Class::Durability => "durability",
                },
                v.statements.join(", ")
            );
            let _ = writeln!(s, "  {}", v.message);
            for l in &v.excerpt {
                let _ = writeln!(s, "  {:>8} | {}", l.line, l.text);
            }
        }
        for (rule, k) in &shown {
            if *k > max_shown {
                let _ = writeln!(s, "\n({} more {} not shown)", k - max_shown, rule.name());
            }
        }
        if self.truncated {
            let _ = writeln!(
                s,
                "(some violations were counted but not kept: see the counts)"
            );
        }
        s
    }
}
