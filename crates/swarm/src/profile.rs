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
    /// Faults during the run: broker kills, restarts, pauses (through the
    /// target's lifecycle) and partitions or latency (through a proxy in
    /// front of the broker). Checked when the profile loads; the engine
    /// does not carry it out yet, so `load` refuses a profile that has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultEntry>,
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

/// One entry of a profile's `faults:` schedule: when (`at`, optionally
/// repeated `every` so long, `times` times) and exactly one action.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    /// When the (first) fault takes effect, from the start of the run
    /// (the ramp-up included).
    pub at: Span,
    /// Repeat on this period (with `times`).
    #[serde(default)]
    pub every: Option<Span>,
    /// How many occurrences in all (with `every`; 1 without).
    #[serde(default)]
    pub times: Option<u32>,
    /// Kill the broker (SIGKILL: nothing flushed), wait `down`, restart it.
    #[serde(default)]
    pub kill_restart: Option<DownFor>,
    /// Stop the broker cleanly, wait `down` (0 by default), start it.
    #[serde(default)]
    pub restart: Option<RestartSpec>,
    /// Freeze the broker (SIGSTOP) for a while, then thaw it.
    #[serde(default)]
    pub pause: Option<ForSpan>,
    /// Cut a seed-chosen share of the clients off from the broker, then heal.
    #[serde(default)]
    pub partition: Option<PartitionSpec>,
    /// Delay every byte between the clients and the broker for a while.
    #[serde(default)]
    pub latency: Option<LatencySpec>,
}

/// `kill_restart: {down: 1s}`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DownFor {
    /// How long the broker stays down.
    pub down: Span,
}

/// `restart: {}` or `restart: {down: 500ms}`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// How long the broker stays stopped (0 by default).
    #[serde(default)]
    pub down: Option<Span>,
}

/// `pause: {for: 2s}`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForSpan {
    /// How long.
    #[serde(rename = "for")]
    pub length: Span,
}

/// `partition: {percent: 20, for: 3s}`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PartitionSpec {
    /// Share of the clients cut off (more than 0, at most 100), chosen from
    /// the profile's seed and the occurrence.
    pub percent: f64,
    /// How long until healed.
    #[serde(rename = "for")]
    pub length: Span,
}

/// `latency: {ms: 200, jitter_ms: 50, for: 5s}`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// Added to every chunk each way.
    pub ms: u64,
    /// Random extra, from 0 up to this.
    #[serde(default)]
    pub jitter_ms: u64,
    /// How long until healed.
    #[serde(rename = "for")]
    pub length: Span,
}

/// What one fault occurrence does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultAction {
    /// Kill, wait, restart.
    KillRestart {
        /// Down time.
        down: std::time::Duration,
    },
    /// Clean stop, wait, start.
    Restart {
        /// Down time.
        down: std::time::Duration,
    },
    /// Pause, wait, resume.
    Pause {
        /// Frozen time.
        length: std::time::Duration,
    },
    /// Partition `percent` of the clients, wait, heal.
    Partition {
        /// Share of the clients.
        percent: f64,
        /// Until healed.
        length: std::time::Duration,
    },
    /// Latency on every link, wait, heal.
    Latency {
        /// Delay.
        delay: std::time::Duration,
        /// Jitter.
        jitter: std::time::Duration,
        /// Until healed.
        length: std::time::Duration,
    },
}

impl FaultAction {
    /// How long the fault lasts (the broker down, the link cut or slow).
    pub fn length(&self) -> std::time::Duration {
        match *self {
            FaultAction::KillRestart { down } | FaultAction::Restart { down } => down,
            FaultAction::Pause { length }
            | FaultAction::Partition { length, .. }
            | FaultAction::Latency { length, .. } => length,
        }
    }

    /// Whether it acts on the broker (needs a target with a lifecycle).
    pub fn on_broker(&self) -> bool {
        matches!(
            self,
            FaultAction::KillRestart { .. }
                | FaultAction::Restart { .. }
                | FaultAction::Pause { .. }
        )
    }

    /// Its name in reports: `kill_restart`, `restart`, `pause`,
    /// `partition`, `latency`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::KillRestart { .. } => "kill_restart",
            FaultAction::Restart { .. } => "restart",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Partition { .. } => "partition",
            FaultAction::Latency { .. } => "latency",
        }
    }
}

/// One occurrence of a fault of the schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultAt {
    /// Index of the `faults:` entry.
    pub entry: usize,
    /// Occurrence of that entry, from 0.
    pub occurrence: u32,
    /// When it takes effect, from the run's start.
    pub at: std::time::Duration,
    /// What it does.
    pub action: FaultAction,
}

impl FaultEntry {
    /// The one action of the entry, or what is wrong.
    pub fn action(&self) -> Result<FaultAction, String> {
        let mut found = Vec::new();
        if let Some(k) = self.kill_restart {
            found.push(FaultAction::KillRestart { down: k.down.get() });
        }
        if let Some(r) = self.restart {
            found.push(FaultAction::Restart {
                down: r.down.map(Span::get).unwrap_or_default(),
            });
        }
        if let Some(p) = self.pause {
            found.push(FaultAction::Pause {
                length: p.length.get(),
            });
        }
        if let Some(p) = self.partition {
            found.push(FaultAction::Partition {
                percent: p.percent,
                length: p.length.get(),
            });
        }
        if let Some(l) = self.latency {
            found.push(FaultAction::Latency {
                delay: std::time::Duration::from_millis(l.ms),
                jitter: std::time::Duration::from_millis(l.jitter_ms),
                length: l.length.get(),
            });
        }
        match found.len() {
            1 => Ok(found[0]),
            0 => Err("no action: give one of `kill_restart`, `restart`, `pause`, `partition`, `latency`".into()),
            _ => Err("one action per entry: `kill_restart`, `restart`, `pause`, `partition` or `latency`".into()),
        }
    }

    /// The occurrences, in time order.
    pub fn occurrences(&self, entry: usize) -> Result<Vec<FaultAt>, String> {
        let action = self.action()?;
        let times = match (self.every, self.times) {
            (None, None) => 1,
            (Some(_), Some(t)) if t >= 1 => t,
            (Some(_), Some(_)) => return Err("`times` must be at least 1".into()),
            (Some(_), None) => return Err("`every` needs `times`".into()),
            (None, Some(_)) => return Err("`times` needs `every`".into()),
        };
        let every = self.every.map(Span::get).unwrap_or_default();
        if times > 1 && every <= action.length() {
            return Err(format!(
                "`every` ({}) must be longer than the fault lasts ({})",
                Span(every),
                Span(action.length())
            ));
        }
        Ok((0..times)
            .map(|k| FaultAt {
                entry,
                occurrence: k,
                at: self.at.get() + every * k,
                action,
            })
            .collect())
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
            let line = match group.as_deref() {
                Some(g) => line_of_group(text, g),
                None if message.starts_with("`faults`") => text
                    .lines()
                    .position(|l| l.trim_end() == "faults:")
                    .map(|i| i + 1),
                None => None,
            }
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

    /// Every fault occurrence of the schedule, in time order (the profile
    /// is checked: entries are valid).
    pub fn fault_schedule(&self) -> Vec<FaultAt> {
        let mut v: Vec<FaultAt> = self
            .faults
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.occurrences(i).ok())
            .flatten()
            .collect();
        v.sort_by(|a, b| a.at.cmp(&b.at).then(a.entry.cmp(&b.entry)));
        v
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
        self.check_faults().map_err(top)
    }

    /// The `faults:` schedule's checks (run by the loader; again by a
    /// caller that changed the duration or the ramp-up).
    pub fn check_faults(&self) -> Result<(), String> {
        if self.faults.is_empty() {
            return Ok(());
        }
        let window = self.ramp_up() + self.duration.get();
        let mut longest = std::time::Duration::ZERO;
        let mut network = false;
        for (i, f) in self.faults.iter().enumerate() {
            let err = |m: String| format!("`faults` entry {} (at {}): {m}", i + 1, f.at);
            let occurrences = f.occurrences(i).map_err(err)?;
            let action = f.action().map_err(err)?;
            if let FaultAction::Partition { percent, .. } = action {
                if !(percent.is_finite() && percent > 0.0 && percent <= 100.0) {
                    return Err(err(format!(
                        "`percent` {percent} must be more than 0 and at most 100"
                    )));
                }
            }
            if let FaultAction::Latency { delay, .. } = action {
                if delay > std::time::Duration::from_secs(60) {
                    return Err(err("`ms` must be at most 60000".into()));
                }
            }
            network |= !action.on_broker();
            if action.length().is_zero() && !matches!(action, FaultAction::Restart { .. }) {
                return Err(err("the fault must last more than 0".into()));
            }
            longest = longest.max(action.length());
            for o in &occurrences {
                if o.at + action.length() > window {
                    return Err(err(format!(
                        "occurrence {} ends at {}, after the publishing window ({}: ramp-up and duration)",
                        o.occurrence + 1,
                        Span(o.at + action.length()),
                        Span(window)
                    )));
                }
            }
        }
        if let Some(g) = self.groups.iter().find(|g| g.clean(self)) {
            return Err(format!(
                "`faults` need persistent sessions: group `{}` has a clean session (set `clean_session: false`)",
                g.name
            ));
        }
        if network && self.keep_alive == 0 {
            return Err(
                "`faults` with partitions or latency need `keep_alive` > 0: a cut link is found by it"
                    .into(),
            );
        }
        if self.version == Version::V5 {
            let expiry = self.session_expiry.unwrap_or(0);
            if f64::from(expiry) <= longest.as_secs_f64() {
                return Err(format!(
                    "`faults` need `session_expiry` (seconds) longer than the longest fault ({}), else sessions end while the broker is away; it is {expiry}",
                    Span(longest)
                ));
            }
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

    const FAULTS: &str = "
name: f
duration: 20s
clean_session: false
session_expiry: 30
keep_alive: 2
groups:
  - {name: p, role: publisher, count: 2, topic: 'f/{id}', qos: 1, rate: 10}
  - {name: s, role: subscriber, count: 2, topic: 'f/+', qos: 2}
faults:
  - at: 2s
    every: 5s
    times: 3
    kill_restart: {down: 1s}
  - {at: 4s, partition: {percent: 50, for: 3s}}
  - {at: 9s, latency: {ms: 200, jitter_ms: 50, for: 2s}}
  - {at: 15s, restart: {}}
";

    #[test]
    fn a_fault_schedule_expands_in_time_order() {
        let p = Profile::from_yaml(FAULTS, "f.yaml").unwrap();
        let s = p.fault_schedule();
        let at: Vec<u64> = s.iter().map(|f| f.at.as_secs()).collect();
        assert_eq!(at, vec![2, 4, 7, 9, 12, 15]);
        assert_eq!(s[0].action.name(), "kill_restart");
        assert_eq!(s[1].action.name(), "partition");
        assert_eq!(s[4].occurrence, 2);
        assert!(s[5].action.on_broker() && !s[3].action.on_broker());
    }

    #[test]
    fn bad_fault_schedules_say_what_is_wrong() {
        let bad = |from: &str, to: &str, want: &str| {
            let text = FAULTS.replace(from, to);
            assert_ne!(text, FAULTS, "{from}");
            let s = Profile::from_yaml(&text, "f.yaml").unwrap_err().to_string();
            assert!(s.contains(want), "{from} -> {to}: {s}");
        };
        bad("percent: 50", "percent: 150", "percent");
        bad("percent: 50", "percent: 0", "percent");
        bad("times: 3", "times: 5", "after the publishing window");
        bad("every: 5s", "every: 1s", "must be longer");
        bad("    times: 3\n", "", "`every` needs `times`");
        bad(
            "kill_restart: {down: 1s}",
            "kill_restart: {down: 1s, up: 2s}",
            "unknown field `up`",
        );
        bad("restart: {}", "reboot: {}", "unknown field `reboot`");
        bad(
            "restart: {}",
            "restart: {}, pause: {for: 1s}",
            "one action per entry",
        );
        bad("session_expiry: 30", "session_expiry: 2", "session_expiry");
        bad(
            "clean_session: false",
            "clean_session: true",
            "persistent sessions",
        );
        bad("keep_alive: 2", "keep_alive: 0", "keep_alive");
        let s = Profile::from_yaml(&FAULTS.replace("percent: 50", "percent: 150"), "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(s.starts_with("f.yaml:10:"), "{s}");
    }

    proptest::proptest! {
        /// Any repeat form within the window expands to `times`
        /// occurrences `every` apart, each ending in the window; any that
        /// leaves the window is refused.
        #[test]
        fn repeated_faults_stay_in_the_window(
            at in 0u64..30, every in 1u64..20, times in 1u32..8, down in 1u64..5,
        ) {
            let text = format!("
name: f
duration: 60s
clean_session: false
session_expiry: 100
groups:
  - {{name: p, role: publisher, count: 1, topic: 'f', qos: 1, rate: 10}}
faults:
  - {{at: {at}s, every: {every}s, times: {times}, kill_restart: {{down: {down}s}}}}
");
            let fits = (times == 1 || every > down) && at + every * u64::from(times - 1) + down <= 60;
            match Profile::from_yaml(&text, "f.yaml") {
                Ok(p) => {
                    proptest::prop_assert!(fits);
                    let s = p.fault_schedule();
                    proptest::prop_assert_eq!(s.len(), times as usize);
                    for (k, f) in s.iter().enumerate() {
                        proptest::prop_assert_eq!(f.at.as_secs(), at + every * k as u64);
                        proptest::prop_assert!(f.at.as_secs() + down <= 60);
                    }
                }
                Err(e) => proptest::prop_assert!(!fits, "{}", e),
            }
        }
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
