//! Scenarios as data: the YAML a person writes to check a rule of the
//! specification, the same file for every target and version. The format is
//! documented in `scenarios/README.md` and published as a JSON Schema.

use schemars::JsonSchema;
use serde::Deserialize;

pub use mqtt_span::Span;
pub use mqtt_targets::{Capability, VersionTag};

pub use crate::matcher::{PacketMatch, PropertiesMatch, ValueMatch};
pub use crate::packet::{IdRef, PacketSpec, PropertiesSpec};

/// How strongly the specification states what the scenario checks: a
/// broken MUST is a fail, a broken SHOULD (or a surprising but legal
/// choice) a warn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A MUST: a mismatch fails.
    #[default]
    Must,
    /// A SHOULD or a legal-but-surprising behaviour: a mismatch warns.
    Should,
}

/// One scenario file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short title.
    pub name: String,
    /// What it checks, in a sentence or two.
    #[serde(default)]
    pub description: Option<String>,
    /// The versions it applies to.
    pub versions: Vec<VersionTag>,
    /// The normative statement ids it checks (e.g. `MQTT-3.3.1-4`): one
    /// list when the ids are the same in every version, or a map from
    /// version to list where the two specifications number the rule
    /// differently.
    pub statements: Statements,
    /// Optional features it needs.
    #[serde(default)]
    pub requires: Vec<Capability>,
    /// MUST (fail on mismatch) or SHOULD (warn).
    #[serde(default)]
    pub level: Level,
    /// Runs with no other scenario in flight on the target: for a scenario
    /// whose subscriptions (`#`, `+/t`) also match other runs' topics, so
    /// that what other runs publish cannot reach, and be judged by, it.
    #[serde(default)]
    pub exclusive: bool,
    /// The client names used in the steps.
    pub clients: Vec<String>,
    /// What happens, in order. Each step is a one-key map (`- expect: {...}`).
    #[serde(with = "serde_yaml::with::singleton_map_recursive")]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Whether a step breaks links (then every client goes through the
    /// harness's proxy).
    pub fn uses_link_faults(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Fault(_) | Step::Heal(_)))
    }

    /// What its verdict rests on: a scenario that needs a durability
    /// claim (`durable`, `durable-stop`) tests the broker's own promise,
    /// not the specification's.
    pub fn class(&self) -> crate::runner::VerdictClass {
        let durable = self
            .requires
            .iter()
            .any(|c| matches!(c, Capability::Durable | Capability::DurableStop));
        if durable {
            crate::runner::VerdictClass::Durability
        } else {
            crate::runner::VerdictClass::Spec
        }
    }

    /// The lifecycle verbs its steps apply to the broker (such a scenario
    /// runs alone: it breaks the broker for everyone).
    pub fn lifecycle_verbs(&self) -> std::collections::BTreeSet<mqtt_targets::Lifecycle> {
        self.steps.iter().filter_map(Step::lifecycle).collect()
    }

    /// Runs with no other scenario in flight: asked for, or needed because
    /// it acts on the broker.
    pub fn runs_alone(&self) -> bool {
        self.exclusive || !self.lifecycle_verbs().is_empty()
    }
}

/// The statements a scenario cites.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Statements {
    /// The same ids in every version of the scenario.
    Same(Vec<String>),
    /// Ids per version.
    PerVersion(std::collections::BTreeMap<VersionTag, Vec<String>>),
}

impl Statements {
    /// The ids cited for `version`.
    pub fn for_version(&self, version: VersionTag) -> &[String] {
        match self {
            Statements::Same(ids) => ids,
            Statements::PerVersion(map) => map.get(&version).map_or(&[], Vec::as_slice),
        }
    }
}

/// One step. Strings in packets may use `{prefix}` (this run's topic prefix)
/// and `{id:NAME}` (the client id of client NAME in this run).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Open a network connection, send CONNECT, expect CONNACK.
    Connect(Box<ConnectStep>),
    /// Open a network connection and send nothing (then `send_raw` a
    /// CONNECT of your own, or anything else).
    Open(ClientRef),
    /// Send a packet built from its fields.
    Send(SendStep),
    /// Send bytes as they are, e.g. a malformed packet (hex, spaces allowed).
    SendRaw(SendRawStep),
    /// Expect a packet within a time.
    Expect(ExpectStep),
    /// Expect no packet (or none matching) within a time.
    ExpectNothing(ExpectNothingStep),
    /// Expect the server to close the connection.
    ExpectClose(ExpectCloseStep),
    /// Expect one of several legal outcomes.
    ExpectOneOf(ExpectOneOfStep),
    /// Wait (only for timing rules: keep alive, expiry, will delay).
    Sleep(Span),
    /// Close the connection abruptly, without DISCONNECT (wills fire).
    Drop(ClientRef),
    /// Send DISCONNECT and close.
    Disconnect(DisconnectStep),
    /// Break the network links of some clients (all when none is named),
    /// until `heal`: latency, bandwidth, stall, slice, close_after,
    /// partition; or reset them now. Clients connect through the harness's
    /// proxy in scenarios with fault steps.
    Fault(FaultStep),
    /// Clear the link faults of some clients (all when none is named).
    Heal(HealStep),
    /// Kill the broker at once (SIGKILL): nothing flushed. Targets the
    /// harness did not start skip the scenario.
    KillTarget(TargetStep),
    /// Stop the broker cleanly (SIGTERM, a bounded wait, then SIGKILL).
    StopTarget(TargetStep),
    /// Start the broker again: same port, config and data folder; the
    /// step ends once it accepts connections.
    RestartTarget(TargetStep),
    /// Freeze the broker (SIGSTOP): sockets open, nothing answered.
    PauseTarget(TargetStep),
    /// Thaw a frozen broker (SIGCONT).
    ResumeTarget(TargetStep),
}

/// A step on the broker itself (`kill_target: {}`); it takes no fields.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetStep {}

/// What a `fault` step does to the links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Every chunk waits `delay` plus up to `jitter`; order kept.
    Latency,
    /// At most `bytes_per_sec` each way.
    Bandwidth,
    /// Nothing passes either way, both sockets open (half-open).
    Stall,
    /// Writes cut into segments of at most `bytes`, `pause` between.
    Slice,
    /// The link closes (FIN) after `bytes` more bytes.
    CloseAfter,
    /// Cut off: open links stall, new connections reach nothing.
    Partition,
    /// RST both ways, now (not a lasting fault: nothing to heal).
    Reset,
}

/// `fault`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    /// The clients whose links break; none: every client of the scenario.
    #[serde(default)]
    pub clients: Vec<String>,
    /// What happens to them.
    pub kind: FaultKind,
    /// `latency`: the added delay.
    #[serde(default)]
    pub delay: Option<Span>,
    /// `latency`: the random extra, up to this (default none).
    #[serde(default)]
    pub jitter: Option<Span>,
    /// `bandwidth`: the cap.
    #[serde(default)]
    pub bytes_per_sec: Option<u64>,
    /// `slice`: the largest segment; `close_after`: the bytes still
    /// forwarded.
    #[serde(default)]
    pub bytes: Option<u64>,
    /// `slice`: the wait between segments (default none).
    #[serde(default)]
    pub pause: Option<Span>,
}

impl FaultStep {
    /// The link fault it sets (`None` for a reset), or what is missing or
    /// superfluous for its kind.
    pub fn link_fault(&self) -> Result<Option<mqtt_netfault::LinkFault>, String> {
        use mqtt_netfault::LinkFault;
        let kind = format!("{:?}", self.kind).to_lowercase();
        let given: Vec<&str> = [
            ("delay", self.delay.is_some()),
            ("jitter", self.jitter.is_some()),
            ("bytes_per_sec", self.bytes_per_sec.is_some()),
            ("bytes", self.bytes.is_some()),
            ("pause", self.pause.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect();
        let allowed: &[&str] = match self.kind {
            FaultKind::Latency => &["delay", "jitter"],
            FaultKind::Bandwidth => &["bytes_per_sec"],
            FaultKind::Slice => &["bytes", "pause"],
            FaultKind::CloseAfter => &["bytes"],
            FaultKind::Stall | FaultKind::Partition | FaultKind::Reset => &[],
        };
        if let Some(extra) = given.iter().find(|g| !allowed.contains(g)) {
            return Err(format!("a `{kind}` fault takes no `{extra}`"));
        }
        let need = |what: &str| format!("a `{kind}` fault needs `{what}`");
        Ok(Some(match self.kind {
            FaultKind::Latency => LinkFault::Latency {
                delay: self.delay.ok_or_else(|| need("delay"))?.0,
                jitter: self.jitter.map_or(std::time::Duration::ZERO, |j| j.0),
            },
            FaultKind::Bandwidth => LinkFault::Bandwidth {
                bytes_per_sec: match self.bytes_per_sec.ok_or_else(|| need("bytes_per_sec"))? {
                    0 => return Err("`bytes_per_sec` must be above 0".into()),
                    n => n,
                },
            },
            FaultKind::Stall => LinkFault::Stall,
            FaultKind::Slice => LinkFault::Slice {
                bytes: match self.bytes.ok_or_else(|| need("bytes"))? {
                    0 => return Err("`bytes` must be above 0".into()),
                    n => usize::try_from(n).unwrap_or(usize::MAX),
                },
                pause: self.pause.map_or(std::time::Duration::ZERO, |p| p.0),
            },
            FaultKind::CloseAfter => LinkFault::CloseAfter {
                bytes: self.bytes.ok_or_else(|| need("bytes"))?,
            },
            FaultKind::Partition => LinkFault::Partition,
            FaultKind::Reset => return Ok(None),
        }))
    }
}

/// `heal`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealStep {
    /// The clients whose links heal; none: every client.
    #[serde(default)]
    pub clients: Vec<String>,
}

/// A step that only names a client.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRef {
    /// The client.
    pub client: String,
}

/// `connect`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectStep {
    /// The client.
    pub client: String,
    /// The client id to send; default `{id:CLIENT}`. `""` sends an empty id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Clean Session / Clean Start (default true).
    #[serde(default = "yes")]
    pub clean_start: bool,
    /// Keep Alive seconds (default 60).
    #[serde(default = "sixty")]
    pub keep_alive: u16,
    /// CONNECT properties (5.0).
    #[serde(default)]
    pub properties: PropertiesSpec,
    /// A will.
    #[serde(default)]
    pub will: Option<WillSpec>,
    /// User Name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// The CONNACK expected; default: any CONNACK with reason 0 (Success).
    #[serde(default)]
    pub expect: Option<PacketMatch>,
    /// Send CONNECT without waiting for CONNACK (to expect something else next).
    #[serde(default)]
    pub no_wait: bool,
}

fn yes() -> bool {
    true
}

fn sixty() -> u16 {
    60
}

/// The will of a `connect`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WillSpec {
    /// Will Topic.
    pub topic: String,
    /// Will Payload (text).
    #[serde(default)]
    pub payload: String,
    /// Will QoS.
    #[serde(default)]
    pub qos: u8,
    /// Will Retain.
    #[serde(default)]
    pub retain: bool,
    /// Will Properties (5.0).
    #[serde(default)]
    pub properties: PropertiesSpec,
}

/// `send`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// The client.
    pub client: String,
    /// The packet.
    pub packet: PacketSpec,
}

/// `send_raw`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRawStep {
    /// The client.
    pub client: String,
    /// The bytes in hex; spaces and newlines are ignored.
    pub hex: String,
}

/// `expect`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectStep {
    /// The client.
    pub client: String,
    /// What must arrive.
    pub packet: PacketMatch,
    /// How long to wait (default 5s).
    #[serde(default)]
    pub within: Option<Span>,
    /// The very next packet must match (default: the first matching one;
    /// others stay queued for later steps).
    #[serde(default)]
    pub next: bool,
    /// Names to remember fields of the matched packet under, e.g.
    /// `{ packet_id: p1 }`, used later as `packet_id: $p1`.
    #[serde(default)]
    pub save: SaveSpec,
    /// Overrides the scenario's level for this step.
    #[serde(default)]
    pub level: Option<Level>,
    /// The statements this step rests on when they are not the scenario's
    /// own: a precondition the server must also meet (an UNSUBACK for a
    /// filter never subscribed, MQTT-3.10.4-5, in a scenario about Reason
    /// Strings). A mismatch here is reported under these, so that a
    /// verdict never cites a rule the step did not test.
    #[serde(default)]
    pub cites: Option<Statements>,
}

/// Fields of a matched packet to remember.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveSpec {
    /// Save the packet identifier under this name.
    #[serde(default)]
    pub packet_id: Option<String>,
}

/// `expect_nothing`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectNothingStep {
    /// The client.
    pub client: String,
    /// How long to watch.
    pub within: Span,
    /// Only packets matching this count (default: any packet).
    #[serde(default)]
    pub packet: Option<PacketMatch>,
    /// Overrides the scenario's level for this step.
    #[serde(default)]
    pub level: Option<Level>,
}

/// `expect_close`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectCloseStep {
    /// The client.
    pub client: String,
    /// How long to wait (default 5s).
    #[serde(default)]
    pub within: Option<Span>,
    /// If a DISCONNECT arrives before the close, it must match this.
    #[serde(default)]
    pub disconnect: Option<PacketMatch>,
    /// A DISCONNECT must arrive before the close (5.0 servers SHOULD send
    /// one, §4.13.1); default false.
    #[serde(default)]
    pub require_disconnect: bool,
    /// Nothing but (optionally) a DISCONNECT may arrive before the close,
    /// e.g. "close without sending CONNACK" (3.1.1 MQTT-3.1.4-1).
    #[serde(default)]
    pub silent: bool,
    /// Overrides the scenario's level for this step.
    #[serde(default)]
    pub level: Option<Level>,
}

/// `expect_one_of`: several outcomes the specification allows.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectOneOfStep {
    /// The client.
    pub client: String,
    /// How long to wait (default 5s).
    #[serde(default)]
    pub within: Option<Span>,
    /// The allowed outcomes.
    pub any: Vec<Outcome>,
    /// Overrides the scenario's level for this step.
    #[serde(default)]
    pub level: Option<Level>,
}

/// One allowed outcome of `expect_one_of`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// A packet arrives.
    Packet(PacketMatch),
    /// The connection is closed (after a DISCONNECT matching this, if any).
    Close(Option<PacketMatch>),
}

/// `disconnect`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisconnectStep {
    /// The client.
    pub client: String,
    /// Reason code (5.0; default 0).
    #[serde(default)]
    pub reason_code: u8,
    /// DISCONNECT properties (5.0).
    #[serde(default)]
    pub properties: PropertiesSpec,
}

impl Step {
    /// The client the step acts on, if any.
    pub fn client(&self) -> Option<&str> {
        Some(match self {
            Step::Connect(s) => &s.client,
            Step::Open(s) => &s.client,
            Step::Send(s) => &s.client,
            Step::SendRaw(s) => &s.client,
            Step::Expect(s) => &s.client,
            Step::ExpectNothing(s) => &s.client,
            Step::ExpectClose(s) => &s.client,
            Step::ExpectOneOf(s) => &s.client,
            Step::Drop(s) => &s.client,
            Step::Disconnect(s) => &s.client,
            Step::Sleep(_)
            | Step::Fault(_)
            | Step::Heal(_)
            | Step::KillTarget(_)
            | Step::StopTarget(_)
            | Step::RestartTarget(_)
            | Step::PauseTarget(_)
            | Step::ResumeTarget(_) => return None,
        })
    }

    /// The lifecycle verb of a target step.
    pub fn lifecycle(&self) -> Option<mqtt_targets::Lifecycle> {
        use mqtt_targets::Lifecycle;
        match self {
            Step::KillTarget(_) => Some(Lifecycle::Kill),
            Step::StopTarget(_) => Some(Lifecycle::Stop),
            Step::RestartTarget(_) => Some(Lifecycle::Restart),
            Step::PauseTarget(_) => Some(Lifecycle::Pause),
            Step::ResumeTarget(_) => Some(Lifecycle::Resume),
            _ => None,
        }
    }

    /// The step's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            Step::Connect(_) => "connect",
            Step::Open(_) => "open",
            Step::Send(_) => "send",
            Step::SendRaw(_) => "send_raw",
            Step::Expect(_) => "expect",
            Step::ExpectNothing(_) => "expect_nothing",
            Step::ExpectClose(_) => "expect_close",
            Step::ExpectOneOf(_) => "expect_one_of",
            Step::Sleep(_) => "sleep",
            Step::Drop(_) => "drop",
            Step::Disconnect(_) => "disconnect",
            Step::Fault(_) => "fault",
            Step::Heal(_) => "heal",
            Step::KillTarget(_) => "kill_target",
            Step::StopTarget(_) => "stop_target",
            Step::RestartTarget(_) => "restart_target",
            Step::PauseTarget(_) => "pause_target",
            Step::ResumeTarget(_) => "resume_target",
        }
    }
}

/// The JSON Schema of scenario files, for editors.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Scenario);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod schema_tests {
    /// The committed `scenarios/scenario.schema.json` is what the types
    /// generate; regenerate with `cargo xtask schema` after changing them.
    #[test]
    fn committed_schema_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scenarios/scenario.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == super::json_schema(),
            "{} is out of date: run `cargo xtask schema`",
            path.display()
        );
    }
}
