//! Load profiles: YAML files (scenarios/load/) that describe groups of
//! publishers and subscribers, their topics, QoS mix, payload sizes, rates,
//! connection churn and sessions. The format is documented in
//! `scenarios/load/README.md` and published as a JSON Schema
//! (`scenarios/load/profile.schema.json`).

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ProfileError;
use crate::template;
use mqtt_span::Span;

/// The smallest payload: the header every message carries
/// ([`crate::payload::HEADER_LEN`]).
pub const MIN_PAYLOAD: u32 = crate::payload::HEADER_LEN as u32;

/// A whole load profile.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name, used in report file names.
    pub name: String,
    /// What the profile models.
    #[serde(default)]
    pub description: String,
    /// MQTT protocol version of every client: `3.1.1` or `5.0`.
    #[serde(default)]
    pub version: Version,
    /// How long publishers publish, after the ramp-up.
    pub duration: Span,
    /// Connections are spread evenly over this time (0: all at once).
    #[serde(default)]
    pub ramp_up: Option<Span>,
    /// After the last intended send, how long to wait at most for
    /// acknowledgements and deliveries still in flight.
    #[serde(default)]
    pub drain: Option<Span>,
    /// Keep Alive in seconds (§3.1.2.10); 0 turns it off.
    #[serde(default = "default_keep_alive")]
    pub keep_alive: u16,
    /// Clean session (3.1.1) / Clean Start (5.0) of every client, unless its
    /// group says otherwise.
    #[serde(default = "yes")]
    pub clean_session: bool,
    /// Session Expiry Interval in seconds (5.0, §3.1.2.11.2) for persistent
    /// sessions.
    #[serde(default)]
    pub session_expiry: Option<u32>,
    /// Seed of the random draws (Poisson gaps, QoS mix, payload sizes).
    #[serde(default)]
    pub seed: u64,
    /// The service level objective of capacity mode and of the verdict.
    #[serde(default)]
    pub slo: Slo,
    /// The client groups.
    pub groups: Vec<Group>,
}

fn default_keep_alive() -> u16 {
    60
}

fn yes() -> bool {
    true
}

/// The protocol version of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
pub enum Version {
    /// MQTT 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
    /// MQTT 5.0.
    #[serde(rename = "5.0")]
    #[default]
    V5,
}

impl Version {
    /// The codec's version.
    pub fn protocol(self) -> mqtt_codec::ProtocolVersion {
        match self {
            Version::V311 => mqtt_codec::ProtocolVersion::V311,
            Version::V5 => mqtt_codec::ProtocolVersion::V5,
        }
    }
}

/// A service level objective: what "held" means for one run or one
/// capacity step.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The corrected end-to-end p99 must stay under this many milliseconds.
    #[serde(default = "default_p99")]
    pub p99_ms: f64,
    /// Lost QoS 0 messages break the SLO too (QoS 1 and 2 losses always do).
    #[serde(default)]
    pub qos0_loss_breaks: bool,
}

fn default_p99() -> f64 {
    50.0
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            p99_ms: default_p99(),
            qos0_loss_breaks: false,
        }
    }
}

/// What a group's clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Publishes on a schedule.
    Publisher,
    /// Subscribes and accounts for what arrives.
    Subscriber,
}

/// A group of identical clients.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Name, unique in the profile: `{group}` in templates, and the key of
    /// per-group histograms.
    pub name: String,
    /// Publisher or subscriber.
    pub role: Role,
    /// How many clients.
    pub count: u32,
    /// Publishers: the topic template (`sensors/{group}/{id}/temp`).
    /// Subscribers: the topic filter template (`sensors/+/+/temp`).
    /// Placeholders: `{group}`, `{id}` (index in the group), `{n}` (index in
    /// the profile).
    pub topic: String,
    /// Publishers: the QoS mix (`1`, or weights `{0: 0.5, 1: 0.5}`).
    /// Subscribers: the subscription's maximum QoS.
    #[serde(default)]
    pub qos: QosMix,
    /// Publishers: messages per second per client.
    #[serde(default)]
    pub rate: f64,
    /// Publishers: `constant` gaps, or `poisson` (exponential gaps).
    #[serde(default)]
    pub arrival: Arrival,
    /// Publishers: payload size in bytes (at least the 32-byte header).
    #[serde(default)]
    pub payload: PayloadSize,
    /// Publishers: QoS 1 and 2 messages unacknowledged at once per client.
    #[serde(default = "default_inflight")]
    pub inflight: u16,
    /// Reconnect every this long (connection churn). Subscribers may churn
    /// only with persistent sessions, else they would lose messages by design.
    #[serde(default)]
    pub churn: Option<Span>,
    /// Subscribers: share the subscription in this group
    /// (`$share/<shared>/<filter>`, MQTT 5.0 §4.8.2).
    #[serde(default)]
    pub shared: Option<String>,
    /// Overrides the profile's `clean_session` for this group.
    #[serde(default)]
    pub clean_session: Option<bool>,
}

fn default_inflight() -> u16 {
    16
}

/// A QoS or a weighted mix of them.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum QosMix {
    /// Every message at this QoS.
    One(u8),
    /// Weights per QoS (`{0: 1, 1: 3}`: a quarter QoS 0).
    Mix(BTreeMap<u8, f64>),
}

impl Default for QosMix {
    fn default() -> Self {
        QosMix::One(0)
    }
}

impl QosMix {
    /// Cumulative weights of QoS 0, 1 and 2, normalised to 1.
    pub fn cumulative(&self) -> [f64; 3] {
        let mut w = [0.0; 3];
        match self {
            QosMix::One(q) => w[usize::from((*q).min(2))] = 1.0,
            QosMix::Mix(m) => {
                for (q, v) in m {
                    if let Some(slot) = w.get_mut(usize::from(*q)) {
                        *slot = v.max(0.0);
                    }
                }
            }
        }
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        let mut out = [0.0; 3];
        for (i, v) in w.iter().enumerate() {
            acc += v / total;
            out[i] = acc;
        }
        out
    }

    /// The highest QoS with a weight.
    pub fn max(&self) -> u8 {
        match self {
            QosMix::One(q) => *q,
            QosMix::Mix(m) => m
                .iter()
                .filter(|(_, w)| **w > 0.0)
                .map(|(q, _)| *q)
                .max()
                .unwrap_or(0),
        }
    }
}

/// Arrival process of a publisher's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced sends.
    #[default]
    Constant,
    /// Exponentially distributed gaps with the same mean.
    Poisson,
}

/// Payload size distribution.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum PayloadSize {
    /// Every payload this many bytes.
    Fixed(u32),
    /// Uniform between `min` and `max` bytes, both included.
    Uniform {
        /// Smallest.
        min: u32,
        /// Largest.
        max: u32,
    },
    /// Sizes with weights.
    Choices {
        /// `[{size: 64, weight: 9}, {size: 4096, weight: 1}]`.
        choices: Vec<SizeChoice>,
    },
}

/// One weighted payload size.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeChoice {
    /// Bytes.
    pub size: u32,
    /// Relative weight.
    pub weight: f64,
}

impl Default for PayloadSize {
    fn default() -> Self {
        PayloadSize::Fixed(64)
    }
}

impl PayloadSize {
    /// Smallest and largest size.
    pub fn bounds(&self) -> (u32, u32) {
        match self {
            PayloadSize::Fixed(n) => (*n, *n),
            PayloadSize::Uniform { min, max } => (*min, *max),
            PayloadSize::Choices { choices } => (
                choices.iter().map(|c| c.size).min().unwrap_or(0),
                choices.iter().map(|c| c.size).max().unwrap_or(0),
            ),
        }
    }
}

impl Group {
    /// Whether this group's sessions are clean.
    pub fn clean(&self, profile: &Profile) -> bool {
        self.clean_session.unwrap_or(profile.clean_session)
    }
}

impl Profile {
    /// Loads and checks a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Profile::from_yaml(&text, &path.display().to_string())
    }

    /// Parses and checks a profile; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = serde_yaml::from_str(text).map_err(|e| ProfileError::Syntax {
            path: origin.to_owned(),
            line: e.location().map_or(0, |l| l.line()),
            column: e.location().map_or(0, |l| l.column()),
            message: e.to_string(),
        })?;
        profile.check().map_err(|(group, message)| {
            let line = group
                .as_deref()
                .and_then(|g| line_of_group(text, g))
                .unwrap_or(0);
            ProfileError::Invalid {
                path: origin.to_owned(),
                line,
                group,
                message,
            }
        })?;
        Ok(profile)
    }

    /// The ramp-up.
    pub fn ramp_up(&self) -> std::time::Duration {
        self.ramp_up.map(Span::get).unwrap_or_default()
    }

    /// The drain timeout (5 s when not given).
    pub fn drain(&self) -> std::time::Duration {
        self.drain
            .map(Span::get)
            .unwrap_or(std::time::Duration::from_secs(5))
    }

    /// Total clients.
    pub fn clients(&self) -> u64 {
        self.groups.iter().map(|g| u64::from(g.count)).sum()
    }

    /// Intended messages per second of all publishers together.
    pub fn total_rate(&self) -> f64 {
        self.groups
            .iter()
            .filter(|g| g.role == Role::Publisher)
            .map(|g| g.rate * f64::from(g.count))
            .sum()
    }

    /// The same profile with every publisher's rate multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Profile {
        let mut p = self.clone();
        for g in &mut p.groups {
            g.rate *= factor;
        }
        p
    }

    /// Semantic checks; the error names the group.
    fn check(&self) -> Result<(), (Option<String>, String)> {
        let top = |m: String| (None, m);
        if self.groups.is_empty() {
            return Err(top("no groups".into()));
        }
        if self.duration.get().is_zero() {
            return Err(top("`duration` must be more than 0".into()));
        }
        if self.slo.p99_ms.is_nan() || self.slo.p99_ms <= 0.0 {
            return Err(top("`slo.p99_ms` must be more than 0".into()));
        }
        let mut names = std::collections::BTreeSet::new();
        for g in &self.groups {
            let err = |m: String| (Some(g.name.clone()), m);
            if !names.insert(g.name.as_str()) {
                return Err(err(format!("two groups are named `{}`", g.name)));
            }
            if g.name.is_empty() || g.name.contains(['/', '+', '#', ' ', ',']) {
                return Err(err(
                    "a group name must be non-empty, without `/`, `+`, `#`, spaces or commas"
                        .into(),
                ));
            }
            if g.count == 0 {
                return Err(err("`count` must be at least 1".into()));
            }
            template::check(&g.topic).map_err(|m| err(format!("`topic`: {m}")))?;
            match &g.qos {
                QosMix::One(q) if *q > 2 => {
                    return Err(err(format!("`qos` {q}: use 0, 1 or 2")));
                }
                QosMix::Mix(m) => {
                    if m.keys().any(|q| *q > 2) {
                        return Err(err("`qos` mix keys must be 0, 1 or 2".into()));
                    }
                    if m.values().any(|w| !w.is_finite() || *w < 0.0)
                        || m.values().sum::<f64>() <= 0.0
                    {
                        return Err(err("`qos` weights must be >= 0 with a positive sum".into()));
                    }
                }
                QosMix::One(_) => {}
            }
            match g.role {
                Role::Publisher => {
                    if !(g.rate.is_finite() && g.rate > 0.0 && g.rate <= 1_000_000.0) {
                        return Err(err(format!(
                            "`rate` {} must be between 0 (excluded) and 1000000 messages/s",
                            g.rate
                        )));
                    }
                    if g.topic.contains(['+', '#']) {
                        return Err(err("a publisher's topic cannot hold wildcards".into()));
                    }
                    if g.shared.is_some() {
                        return Err(err("`shared` is for subscribers".into()));
                    }
                    if g.inflight == 0 {
                        return Err(err("`inflight` must be at least 1".into()));
                    }
                    let (min, max) = g.payload.bounds();
                    if min < MIN_PAYLOAD || max > 16 * 1024 * 1024 || min > max {
                        return Err(err(format!(
                            "payload sizes must be between {MIN_PAYLOAD} (the header) and 16 MiB"
                        )));
                    }
                    if let PayloadSize::Choices { choices } = &g.payload {
                        if choices.iter().any(|c| c.weight.is_nan() || c.weight < 0.0)
                            || choices.iter().map(|c| c.weight).sum::<f64>() <= 0.0
                        {
                            return Err(err(
                                "payload weights must be >= 0 with a positive sum".into()
                            ));
                        }
                    }
                }
                Role::Subscriber => {
                    if let QosMix::Mix(_) = g.qos {
                        return Err(err("a subscriber's `qos` is one number".into()));
                    }
                    if g.rate != 0.0 {
                        return Err(err("`rate` is for publishers".into()));
                    }
                    if g.churn.is_some() && g.clean(self) {
                        return Err(err(
                            "churning subscribers need `clean_session: false` (a clean session loses its messages by design)".into(),
                        ));
                    }
                    if let Some(s) = &g.shared {
                        if self.version == Version::V311 {
                            return Err(err("shared subscriptions need version 5.0".into()));
                        }
                        if s.is_empty() || s.contains(['/', '+', '#']) {
                            return Err(err(
                                "`shared` must be a share name without `/`, `+`, `#`".into()
                            ));
                        }
                    }
                }
            }
            if let Some(c) = g.churn {
                if c.get() < std::time::Duration::from_millis(50) {
                    return Err(err("`churn` must be at least 50ms".into()));
                }
            }
        }
        if !self.groups.iter().any(|g| g.role == Role::Publisher) {
            return Err(top("no publisher group".into()));
        }
        Ok(())
    }
}

/// The line of `name: <group>` in the text, for error messages.
fn line_of_group(text: &str, group: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("name:")
                .map(|v| v.trim().trim_matches(['"', '\'']) == group)
                .unwrap_or(false)
        })
        .map(|i| i + 1)
}

/// The JSON Schema of profiles (`scenarios/load/profile.schema.json`).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Profile);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "
name: t
duration: 1s
groups:
  - name: pubs
    role: publisher
    count: 2
    topic: t/{id}
    qos: {0: 1, 1: 3}
    rate: 10
  - name: subs
    role: subscriber
    count: 1
    topic: t/+
    qos: 1
";

    #[test]
    fn a_good_profile_loads() {
        let p = Profile::from_yaml(OK, "ok.yaml").unwrap();
        assert_eq!(p.clients(), 3);
        assert_eq!(p.total_rate(), 20.0);
        let c = p.groups[0].qos.cumulative();
        assert!((c[0] - 0.25).abs() < 1e-9 && (c[2] - 1.0).abs() < 1e-9);
        assert_eq!(p.groups[0].qos.max(), 1);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let e = Profile::from_yaml("name: t\nduration: [\n", "bad.yaml").unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("bad.yaml:"), "{s}");
    }

    #[test]
    fn semantic_errors_name_the_group_and_its_line() {
        let bad = OK.replace("rate: 10", "rate: 0");
        let s = Profile::from_yaml(&bad, "p.yaml").unwrap_err().to_string();
        assert!(
            s.contains("p.yaml:5") && s.contains("pubs") && s.contains("rate"),
            "{s}"
        );
        let bad = OK.replace("topic: t/{id}", "topic: t/{nope}");
        let s = Profile::from_yaml(&bad, "p.yaml").unwrap_err().to_string();
        assert!(s.contains("nope"), "{s}");
        let bad = OK.replace("topic: t/+\n", "topic: t/+\n    churn: 1s\n");
        let s = Profile::from_yaml(&bad, "p.yaml").unwrap_err().to_string();
        assert!(s.contains("clean_session"), "{s}");
        let bad = OK.replace("duration: 1s", "duration: 1s\nfoo: 1");
        assert!(Profile::from_yaml(&bad, "p.yaml").is_err());
    }

    #[test]
    fn scaling_multiplies_every_rate() {
        let p = Profile::from_yaml(OK, "ok.yaml").unwrap().scaled(2.5);
        assert_eq!(p.total_rate(), 50.0);
    }

    /// The committed schema is what the types generate; regenerate with
    /// `cargo xtask load schema` after changing them.
    #[test]
    fn committed_schema_is_current() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/load/profile.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == json_schema(),
            "{} is stale: run `cargo xtask load schema`",
            path.display()
        );
    }
}
