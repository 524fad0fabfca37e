//! Reports of a conformance run: verdicts per statement, coverage, a
//! terminal table grouped by section, `conformance.json` (stable schema),
//! `junit.xml`, `summary.md`, the baseline gate, and the matrix across
//! targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use tabled::settings::Style;
use tabled::{Table, Tabled};

use mqtt_scenario::catalog::{chapter, Catalog};
use mqtt_scenario::runner::{ScenarioRun, Verdict, VerdictClass};

/// Schema id of `conformance.json`; bumped on incompatible change.
///
/// 2: `summary` and `statements` count specification runs only; the runs
/// that rest on the broker's own durability claim are counted apart in
/// `durability`, and every run carries its `class`.
pub const SCHEMA: &str = "mqtt-harness/conformance/2";

/// Counts of verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Warned.
    pub warn: usize,
    /// Skipped.
    pub skip: usize,
    /// Errored.
    pub error: usize,
}

impl Counts {
    fn add(&mut self, v: &Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Warn => self.warn += 1,
            Verdict::Skip(_) => self.skip += 1,
            Verdict::Error(_) => self.error += 1,
        }
    }
}

/// The verdict on one statement: the worst of the runs that cite it (fail,
/// error, warn, pass), skip when all of them skipped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatementVerdict {
    /// `3.1.1` or `5.0`.
    pub version: String,
    /// Statement id.
    pub id: String,
    /// Subsection.
    pub section: String,
    /// `pass`, `fail`, `warn`, `skip`, `error`, or `untested`.
    pub verdict: String,
    /// Whether a broker test can observe it.
    pub observable: bool,
    /// Scenario ids that cite it.
    pub scenarios: Vec<String>,
}

/// Coverage of one version's broker-observable statements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Coverage {
    /// `3.1.1` or `5.0`.
    pub version: String,
    /// Statements in the catalog.
    pub statements: usize,
    /// Broker-observable ones.
    pub observable: usize,
    /// Observable ones cited by at least one scenario.
    pub covered: usize,
}

/// A whole run against one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConformanceReport {
    /// [`SCHEMA`].
    pub schema: String,
    /// Target name.
    pub target: String,
    /// Seconds the run took.
    pub seconds: f64,
    /// Verdict counts over the runs that rest on the specification.
    pub summary: Counts,
    /// Verdict counts over the runs that rest on the broker's own
    /// durability claim (`durable`, `durable-stop`): shown apart, never
    /// mixed into the specification's verdicts.
    pub durability: Counts,
    /// Coverage per version.
    pub coverage: Vec<Coverage>,
    /// Every scenario run.
    pub runs: Vec<serde_json::Value>,
    /// Every statement of the catalogs.
    pub statements: Vec<StatementVerdict>,
}

fn rank(label: &str) -> u8 {
    match label {
        "fail" => 5,
        "error" => 4,
        "warn" => 3,
        "pass" => 2,
        "skip" => 1,
        _ => 0,
    }
}

impl ConformanceReport {
    /// Builds the report of `runs` against `target`; `catalogs` are the
    /// statement catalogs of the versions run.
    pub fn build(target: &str, runs: &[ScenarioRun], catalogs: &[Catalog], seconds: f64) -> Self {
        let mut summary = Counts::default();
        let mut durability = Counts::default();
        for r in runs {
            match r.class {
                VerdictClass::Spec => summary.add(&r.verdict),
                VerdictClass::Durability => durability.add(&r.verdict),
            }
        }
        // Statements are judged by the specification's runs only.
        let mut cited: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
        for r in runs.iter().filter(|r| r.class == VerdictClass::Spec) {
            for id in &r.statements {
                let e = cited
                    .entry((r.version.clone(), id.clone()))
                    .or_insert_with(|| ("skip".into(), vec![]));
                if rank(r.verdict.label()) > rank(&e.0) {
                    e.0 = r.verdict.label().into();
                }
                if !e.1.contains(&r.id) {
                    e.1.push(r.id.clone());
                }
            }
        }
        let mut statements = Vec::new();
        let mut coverage = Vec::new();
        for c in catalogs {
            let mut cov = Coverage {
                version: c.version.clone(),
                statements: c.statements.len(),
                observable: 0,
                covered: 0,
            };
            for s in &c.statements {
                let (verdict, scenarios) = cited
                    .get(&(c.version.clone(), s.id.clone()))
                    .cloned()
                    .unwrap_or_else(|| ("untested".into(), vec![]));
                if s.observable {
                    cov.observable += 1;
                    if !scenarios.is_empty() {
                        cov.covered += 1;
                    }
                }
                statements.push(StatementVerdict {
                    version: c.version.clone(),
                    id: s.id.clone(),
                    section: s.section.clone(),
                    verdict,
                    observable: s.observable,
                    scenarios,
                });
            }
            coverage.push(cov);
        }
        ConformanceReport {
            schema: SCHEMA.into(),
            target: target.into(),
            seconds,
            summary,
            durability,
            coverage,
            runs: runs
                .iter()
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .collect(),
            statements,
        }
    }

    /// Writes `conformance.json`, `junit.xml` and `summary.md` into `dir`.
    pub fn write(&self, dir: &Path, runs: &[ScenarioRun]) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("conformance.json"),
            serde_json::to_string_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::write(dir.join("junit.xml"), junit(&self.target, runs))?;
        std::fs::write(dir.join("summary.md"), self.markdown(runs))?;
        Ok(())
    }

    /// The terminal view: statements by section, then what failed.
    pub fn table(&self, runs: &[ScenarioRun]) -> String {
        #[derive(Tabled)]
        struct Row {
            version: String,
            section: String,
            statements: usize,
            pass: usize,
            fail: usize,
            warn: usize,
            skip: usize,
            error: usize,
            untested: usize,
        }
        let mut rows: BTreeMap<(String, Vec<u32>), Row> = BTreeMap::new();
        for s in self.statements.iter().filter(|s| s.observable) {
            let section = chapter(&s.id);
            let order: Vec<u32> = section.split('.').filter_map(|n| n.parse().ok()).collect();
            let key = (s.version.clone(), order);
            let row = rows.entry(key.clone()).or_insert_with(|| Row {
                version: key.0.clone(),
                section: section.clone(),
                statements: 0,
                pass: 0,
                fail: 0,
                warn: 0,
                skip: 0,
                error: 0,
                untested: 0,
            });
            row.statements += 1;
            match s.verdict.as_str() {
                "pass" => row.pass += 1,
                "fail" => row.fail += 1,
                "warn" => row.warn += 1,
                "skip" => row.skip += 1,
                "error" => row.error += 1,
                _ => row.untested += 1,
            }
        }
        let mut out = Table::new(rows.into_values())
            .with(Style::rounded())
            .to_string();
        out.push('\n');
        for c in &self.coverage {
            out.push_str(&format!(
                "MQTT {}: {} of {} broker-observable statements covered ({:.0}%)\n",
                c.version,
                c.covered,
                c.observable,
                100.0 * c.covered as f64 / c.observable.max(1) as f64
            ));
        }
        let s = &self.summary;
        out.push_str(&format!(
            "scenario runs against {}: {} pass, {} fail, {} warn, {} skip, {} error in {:.1}s\n",
            self.target, s.pass, s.fail, s.warn, s.skip, s.error, self.seconds
        ));
        let d = &self.durability;
        if *d != Counts::default() {
            out.push_str(&format!(
                "durability runs (the broker's own claim, not the specification's): {} pass, {} fail, {} skip, {} error\n",
                d.pass, d.fail, d.skip, d.error
            ));
        }
        for r in runs
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error(_)))
        {
            let class = match r.class {
                VerdictClass::Spec => "",
                VerdictClass::Durability => "DURABILITY ",
            };
            out.push_str(&format!(
                "\n{class}{} {} [{}] {}\n",
                r.verdict.label().to_uppercase(),
                r.id,
                r.version,
                r.statements.join(", ")
            ));
            if let Some(e) = &r.evidence {
                out.push_str(&format!(
                    "  step {} ({}): expected {}\n  seen: {}\n",
                    e.step, e.keyword, e.expected, e.seen
                ));
            }
        }
        out
    }

    fn markdown(&self, runs: &[ScenarioRun]) -> String {
        let mut md = format!("# Conformance of `{}`\n\n", self.target);
        for c in &self.coverage {
            md.push_str(&format!(
                "- MQTT {}: {} of {} broker-observable statements covered\n",
                c.version, c.covered, c.observable
            ));
        }
        let s = &self.summary;
        let d = &self.durability;
        md.push_str(&format!(
            "- scenario runs on the specification: {} pass, {} fail, {} warn, {} skip, {} error\n\
             - durability runs (the broker's own claim, not the specification's): {} pass, {} fail, {} skip, {} error\n",
            s.pass, s.fail, s.warn, s.skip, s.error, d.pass, d.fail, d.skip, d.error
        ));
        for (class, title) in [
            (VerdictClass::Spec, "Specification"),
            (
                VerdictClass::Durability,
                "Durability (the broker's own claim)",
            ),
        ] {
            let of_class: Vec<&ScenarioRun> = runs.iter().filter(|r| r.class == class).collect();
            if of_class.is_empty() {
                continue;
            }
            md.push_str(&format!(
                "\n## {title}\n\n| scenario | version | verdict | statements | evidence |\n|---|---|---|---|---|\n"
            ));
            for r in of_class {
                let evidence = match (&r.verdict, &r.evidence) {
                    (Verdict::Skip(reason), _) => reason.clone(),
                    (_, Some(e)) => format!(
                        "step {} {}: expected {}; seen {}",
                        e.step, e.keyword, e.expected, e.seen
                    ),
                    _ => String::new(),
                };
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    r.id,
                    r.version,
                    r.verdict.label(),
                    r.statements.join(" "),
                    evidence.replace('|', "\\|").replace('\n', " ")
                ));
            }
        }
        md
    }
}

fn junit(target: &str, runs: &[ScenarioRun]) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new(format!("mqtt-harness conformance: {target}"));
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    for r in runs {
        // Durability runs get suites of their own: they rest on the
        // broker's claim, not on the specification.
        let (key, title) = match r.class {
            VerdictClass::Spec => (r.version.clone(), format!("MQTT {}", r.version)),
            VerdictClass::Durability => (
                format!("durability {}", r.version),
                format!("durability (the broker's own claim), MQTT {}", r.version),
            ),
        };
        let suite = suites.entry(key).or_insert_with(|| TestSuite::new(title));
        let mut status = match &r.verdict {
            Verdict::Pass => TestCaseStatus::success(),
            Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Verdict::Error(_) => TestCaseStatus::non_success(NonSuccessKind::Error),
            Verdict::Skip(_) | Verdict::Warn => TestCaseStatus::skipped(),
        };
        let message = match (&r.verdict, &r.evidence) {
            (Verdict::Skip(reason), _) => Some(reason.clone()),
            (_, Some(e)) => Some(format!(
                "{}: expected {}; seen {}",
                r.statements.join(", "),
                e.expected,
                e.seen
            )),
            _ => None,
        };
        if let Some(m) = message {
            status.set_message(m);
        }
        let mut case = TestCase::new(r.id.clone(), status);
        case.set_classname(format!("{target}.{}.{}", r.class.label(), r.version));
        case.set_time(r.duration);
        if let Some(t) = &r.trace {
            case.set_system_out(t.clone());
        }
        suite.add_test_case(case);
    }
    report.add_test_suites(suites.into_values());
    report.to_string().unwrap_or_default()
}

/// Known failures of a target, `reports/baselines/<target>.yaml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// `scenario-id@version` entries that are known to fail, each with a
    /// comment in the file saying why.
    #[serde(default)]
    pub known_failures: BTreeSet<String>,
}

impl Baseline {
    /// Loads a baseline; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<Baseline, String> {
        match std::fs::read_to_string(path) {
            Err(_) => Ok(Baseline::default()),
            Ok(text) => serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        }
    }

    /// Runs that failed (or errored) and are not listed: what gates CI.
    pub fn regressions<'a>(&self, runs: &'a [ScenarioRun]) -> Vec<&'a ScenarioRun> {
        runs.iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error(_)))
            .filter(|r| {
                !self
                    .known_failures
                    .contains(&format!("{}@{}", r.id, r.version))
            })
            .collect()
    }
}

/// `reports/matrix.md`: every scenario run side by side across targets.
pub fn matrix(results: &[(String, Vec<ScenarioRun>)]) -> String {
    let mut md = String::from("# Conformance matrix\n\n| scenario | version |");
    for (t, _) in results {
        md.push_str(&format!(" {t} |"));
    }
    md.push_str("\n|---|---|");
    for _ in results {
        md.push_str("---|");
    }
    md.push('\n');
    let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
    for (_, runs) in results {
        keys.extend(runs.iter().map(|r| (r.id.clone(), r.version.clone())));
    }
    // Durability rows are marked: their verdicts rest on the broker's
    // own claim.
    let durable: BTreeSet<(String, String)> = results
        .iter()
        .flat_map(|(_, runs)| runs)
        .filter(|r| r.class == VerdictClass::Durability)
        .map(|r| (r.id.clone(), r.version.clone()))
        .collect();
    for (id, version) in keys {
        let mark = if durable.contains(&(id.clone(), version.clone())) {
            " (durability)"
        } else {
            ""
        };
        md.push_str(&format!("| {id}{mark} | {version} |"));
        for (_, runs) in results {
            let cell = runs
                .iter()
                .find(|r| r.id == id && r.version == version)
                .map_or("–", |r| r.verdict.label());
            md.push_str(&format!(" {cell} |"));
        }
        md.push('\n');
    }
    md.push_str(
        "\n| target | class | pass | fail | warn | skip | error |\n|---|---|---|---|---|---|---|\n",
    );
    for (t, runs) in results {
        for class in [VerdictClass::Spec, VerdictClass::Durability] {
            let mut c = Counts::default();
            for r in runs.iter().filter(|r| r.class == class) {
                c.add(&r.verdict);
            }
            if class == VerdictClass::Durability && c == Counts::default() {
                continue;
            }
            md.push_str(&format!(
                "| {t} | {} | {} | {} | {} | {} | {} |\n",
                class.label(),
                c.pass,
                c.fail,
                c.warn,
                c.skip,
                c.error
            ));
        }
    }
    md
}
