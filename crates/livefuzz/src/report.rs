//! The campaign report: executions per second, packet types, properties
//! and reason codes exercised, resources, and the findings with their
//! scenarios; Markdown for people, JSON for tools.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::oracle::Coverage;

/// One finding as reported.
#[derive(Debug, Clone, Serialize)]
pub struct ReportedFinding {
    /// Kind (crash, hang, malformed-response, ...).
    pub kind: String,
    /// Dedupe key.
    pub key: String,
    /// What happened.
    pub detail: String,
    /// Statements it breaks.
    pub statements: Vec<String>,
    /// Cases that showed it during the campaign.
    pub occurrences: u64,
    /// Confirmed by a replay of the case alone.
    pub confirmed: bool,
    /// Events before and after minimisation.
    pub events: (usize, usize),
    /// The replayable scenario.
    pub scenario: Option<PathBuf>,
    /// The targets involved (differential mode: all of them).
    pub targets: Vec<String>,
}

/// What a campaign did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CampaignReport {
    /// Target(s).
    pub targets: Vec<String>,
    /// Seed of the generator.
    pub seed: u64,
    /// Seconds the campaign ran.
    pub seconds: f64,
    /// Cases executed.
    pub cases: u64,
    /// Cases per second.
    pub cases_per_second: f64,
    /// Network connections opened.
    pub connections: u64,
    /// Cases not counted in `cases`: a connection of theirs was refused
    /// (the target was down or not accepting).
    pub refused_cases: u64,
    /// Seeds available (scenario and version pairs).
    pub seeds: usize,
    /// Mutations applied, by name.
    pub mutations: BTreeMap<String, u64>,
    /// Packets sent by type, received by type, properties and reason codes.
    #[serde(skip)]
    pub coverage: Coverage,
    /// Packets sent, by type (valid, and invalid).
    pub sent: BTreeMap<String, u64>,
    /// Packets received, by type.
    pub received: BTreeMap<String, u64>,
    /// 5.0 properties carried, by name.
    pub properties: BTreeMap<String, u64>,
    /// Reason codes received.
    pub reason_codes: BTreeMap<String, u64>,
    /// RSS of the broker at start, peak and end, KiB (local processes).
    pub rss_kib: Option<(u64, u64, u64)>,
    /// CPU seconds the broker used during the campaign.
    pub cpu_seconds: Option<f64>,
    /// Liveness probes made and failed.
    pub probes: (u64, u64),
    /// The first target's answer latency at the end, 99th and 99.9th
    /// percentiles, milliseconds (what sync points and the hang bound
    /// scale with).
    pub latency_ms: Option<(f64, f64)>,
    /// The largest hang bound used, seconds.
    pub hang_bound_s: f64,
    /// CPU seconds of the harness process (with the reference server when
    /// it runs in-process), for cases per CPU-second on a shared machine.
    pub process_cpu_seconds: Option<f64>,
    /// Target restarts after a crash or hang.
    pub restarts: u64,
    /// Retained-message sweeps made, failed, and messages they cleared
    /// (see [`super::janitor`]).
    pub sweeps: (u64, u64, u64),
    /// Findings.
    pub findings: Vec<ReportedFinding>,
    /// Candidates that did not reproduce alone (flaky, or load-dependent).
    pub unconfirmed: u64,
    /// How often each unconfirmed candidate's key came up, for a person
    /// to look at (a load-dependent answer, or a flaky harness wait).
    pub unconfirmed_keys: BTreeMap<String, u64>,
}

impl CampaignReport {
    /// Copies the coverage tables out for serialisation.
    pub fn finish_coverage(&mut self) {
        self.sent = self.coverage.sent.clone();
        self.received = self.coverage.received.clone();
        self.properties = self.coverage.properties.clone();
        self.reason_codes = self.coverage.reason_codes.clone();
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# Fuzzing campaign: {}\n", self.targets.join(" vs "));
        let _ = writeln!(m, "| figure | value |\n|---|---|");
        let _ = writeln!(m, "| seed | {} |", self.seed);
        let _ = writeln!(m, "| duration | {:.1} s |", self.seconds);
        let _ = writeln!(m, "| cases | {} |", self.cases);
        let _ = writeln!(m, "| cases per second | {:.0} |", self.cases_per_second);
        let _ = writeln!(m, "| connections | {} |", self.connections);
        let _ = writeln!(
            m,
            "| cases not counted (a connection refused) | {} |",
            self.refused_cases
        );
        let _ = writeln!(m, "| seeds (scenario x version) | {} |", self.seeds);
        let _ = writeln!(
            m,
            "| liveness probes (failed) | {} ({}) |",
            self.probes.0, self.probes.1
        );
        let _ = writeln!(m, "| restarts | {} |", self.restarts);
        let _ = writeln!(
            m,
            "| retained sweeps (failed), messages cleared | {} ({}), {} |",
            self.sweeps.0, self.sweeps.1, self.sweeps.2
        );
        if let Some((p99, p999)) = self.latency_ms {
            let _ = writeln!(
                m,
                "| answer latency p99 / p99.9 (end) | {p99:.2} / {p999:.2} ms |"
            );
        }
        let _ = writeln!(
            m,
            "| largest hang bound used | {:.1} s |",
            self.hang_bound_s
        );
        if let Some(cpu) = self.process_cpu_seconds {
            let _ = writeln!(
                m,
                "| harness CPU (cases per CPU-second) | {cpu:.1} s ({:.0}) |",
                self.cases as f64 / cpu.max(0.001)
            );
        }
        if let Some((a, b, c)) = self.rss_kib {
            let _ = writeln!(
                m,
                "| broker RSS start / peak / end | {} / {} / {} MiB |",
                a / 1024,
                b / 1024,
                c / 1024
            );
        }
        if let Some(cpu) = self.cpu_seconds {
            let _ = writeln!(m, "| broker CPU | {cpu:.1} s |");
        }
        let _ = writeln!(
            m,
            "| findings (unconfirmed candidates) | {} ({}) |\n",
            self.findings.len(),
            self.unconfirmed
        );
        if !self.unconfirmed_keys.is_empty() {
            let _ = writeln!(
                m,
                "Candidates that did not reproduce alone (the first three of each kind are in `unconfirmed/`):\n"
            );
            for (key, n) in &self.unconfirmed_keys {
                let _ = writeln!(m, "- `{key}` ({n}x)");
            }
            let _ = writeln!(m);
        }
        let _ = writeln!(m, "## Findings\n");
        if self.findings.is_empty() {
            let _ = writeln!(m, "None.\n");
        }
        for f in &self.findings {
            let _ = writeln!(
                m,
                "- **{}** `{}` ({} occurrence(s), {}, {} -> {} events): {}  \n  statements: {}; scenario: {}",
                f.kind,
                f.key,
                f.occurrences,
                if f.confirmed { "confirmed alone" } else { "not reproduced alone" },
                f.events.0,
                f.events.1,
                f.detail,
                f.statements.join(", "),
                f.scenario.as_ref().map_or("-".into(), |p| p.display().to_string())
            );
        }
        let table = |m: &mut String, title: &str, map: &BTreeMap<String, u64>| {
            let _ = writeln!(m, "\n## {title}\n\n| item | count |\n|---|---|");
            for (k, v) in map {
                let _ = writeln!(m, "| {k} | {v} |");
            }
        };
        table(&mut m, "Packets sent", &self.coverage.sent);
        table(&mut m, "Packets received", &self.coverage.received);
        table(
            &mut m,
            "Properties exercised (sent or received)",
            &self.coverage.properties,
        );
        table(&mut m, "Reason codes received", &self.coverage.reason_codes);
        table(&mut m, "Mutations", &self.mutations);
        m
    }
}
