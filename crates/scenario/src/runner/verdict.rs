//! Verdicts of a scenario run and of a statement, with the evidence a
//! person needs: the step, what was expected, what was seen.

use std::time::Duration;

use serde::Serialize;

/// The verdict of one scenario run on one target and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "reason", rename_all = "lowercase")]
pub enum Verdict {
    /// Every step held.
    Pass,
    /// A MUST was broken.
    Fail,
    /// A SHOULD was broken, or a legal but surprising behaviour was seen.
    Warn,
    /// Not run: a capability or version is absent (the reason says which).
    Skip(String),
    /// The harness or the target could not run it (the reason says why).
    Error(String),
}

impl Verdict {
    /// `pass`, `fail`, `warn`, `skip`, `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Warn => "warn",
            Verdict::Skip(_) => "skip",
            Verdict::Error(_) => "error",
        }
    }
}

/// The step that decided a fail, warn or error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// Index of the step (0-based) and its keyword.
    pub step: usize,
    /// `expect`, `connect`, ...
    pub keyword: String,
    /// What the scenario expected.
    pub expected: String,
    /// What the target did.
    pub seen: String,
}

/// What a verdict rests on: the specification, or a promise of the
/// broker's own that the specification does not make (it has no
/// restarts: that sessions, queued messages and retained messages survive
/// a kill or a clean stop is the broker's claim, `durable` or
/// `durable-stop` in `targets.yaml`). Reports show the two apart: a
/// durability failure is not a specification failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictClass {
    /// Rests on the specification's statements.
    #[default]
    Spec,
    /// Rests on the broker's own durability claim.
    Durability,
}

impl VerdictClass {
    /// `spec` or `durability`.
    pub fn label(self) -> &'static str {
        match self {
            VerdictClass::Spec => "spec",
            VerdictClass::Durability => "durability",
        }
    }
}

/// One scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioRun {
    /// Scenario id (path under `scenarios/`).
    pub id: String,
    /// Scenario title.
    pub name: String,
    /// `3.1.1` or `5.0`.
    pub version: String,
    /// Statement ids it checks.
    pub statements: Vec<String>,
    /// What its verdict rests on: the specification or the broker's own
    /// durability claim.
    pub class: VerdictClass,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Why, for fail, warn and error.
    pub evidence: Option<Evidence>,
    /// How long it took.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// The clients' traces, for fail, warn and error.
    pub trace: Option<String>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}
