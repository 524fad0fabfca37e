//! Loading scenario files, with errors that name file, line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::format::{Outcome, PacketSpec, Scenario, Step, VersionTag};

/// The statement ids of each version, for checking citations.
pub type KnownIds = BTreeMap<VersionTag, BTreeSet<String>>;

/// A scenario and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Stable id: the path under the scenarios folder, without `.yaml`
    /// (e.g. `v5/3.3-publish/qos3-malformed`).
    pub id: String,
    /// The file.
    pub path: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
}

/// A scenario file that cannot be used, with the place of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Loads one file. `known_ids`, when given, are the statement ids a
/// citation may use.
pub fn load_file(
    path: &Path,
    id: String,
    known_ids: Option<&KnownIds>,
) -> Result<LoadedScenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        path: path.to_owned(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    let scenario = parse(&text, path, known_ids)?;
    Ok(LoadedScenario {
        id,
        path: path.to_owned(),
        scenario,
    })
}

/// Parses and checks scenario text.
pub fn parse(text: &str, path: &Path, known_ids: Option<&KnownIds>) -> Result<Scenario, LoadError> {
    let scenario: Scenario = serde_yaml::from_str(text).map_err(|e| LoadError {
        path: path.to_owned(),
        line: e.location().map_or(0, |l| l.line()),
        column: e.location().map_or(0, |l| l.column()),
        message: e.to_string(),
    })?;
    check(&scenario, known_ids).map_err(|(step, message)| {
        let (line, column) = step.and_then(|i| locate_step(text, i)).unwrap_or((1, 1));
        LoadError {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    })?;
    Ok(scenario)
}

/// Checks what the schema cannot: names, citations, hex. The error names
/// the step index when a step is at fault.
fn check(s: &Scenario, known: Option<&KnownIds>) -> Result<(), (Option<usize>, String)> {
    if s.versions.is_empty() {
        return Err((None, "`versions` is empty".into()));
    }
    for &v in &s.versions {
        let ids = s.statements.for_version(v);
        if ids.is_empty() {
            return Err((
                None,
                format!(
                    "`statements` cites nothing for MQTT {}: cite what the scenario checks",
                    v.as_str()
                ),
            ));
        }
        if let Some(known) = known.and_then(|k| k.get(&v)) {
            for id in ids {
                if !known.contains(id) {
                    return Err((
                        None,
                        format!(
                            "`{id}` is not a normative statement id of MQTT {}",
                            v.as_str()
                        ),
                    ));
                }
            }
        }
    }
    for (i, step) in s.steps.iter().enumerate() {
        let Step::Expect(e) = step else { continue };
        let Some(cites) = &e.cites else { continue };
        for &v in &s.versions {
            let ids = cites.for_version(v);
            if ids.is_empty() {
                return Err((
                    Some(i),
                    format!("expect: `cites` names nothing for MQTT {}", v.as_str()),
                ));
            }
            if let Some(known) = known.and_then(|k| k.get(&v)) {
                if let Some(id) = ids.iter().find(|id| !known.contains(*id)) {
                    return Err((
                        Some(i),
                        format!(
                            "expect: `cites`: `{id}` is not a normative statement id of MQTT {}",
                            v.as_str()
                        ),
                    ));
                }
            }
        }
    }
    let clients: BTreeSet<&str> = s.clients.iter().map(String::as_str).collect();
    if clients.len() != s.clients.len() {
        return Err((None, "`clients` names a client twice".into()));
    }
    if s.steps.is_empty() {
        return Err((None, "`steps` is empty".into()));
    }
    for (i, step) in s.steps.iter().enumerate() {
        if let Some(c) = step.client() {
            if !clients.contains(c) {
                return Err((
                    Some(i),
                    format!(
                        "{}: client `{c}` is not listed in `clients`",
                        step.keyword()
                    ),
                ));
            }
        }
        match step {
            Step::SendRaw(r) => {
                crate::packet::parse_hex(&r.hex)
                    .map_err(|e| (Some(i), format!("send_raw: {e}")))?;
            }
            Step::Send(send) => {
                if let PacketSpec::Publish {
                    payload_hex: Some(h),
                    ..
                } = &send.packet
                {
                    crate::packet::parse_hex(h)
                        .map_err(|e| (Some(i), format!("send: payload_hex: {e}")))?;
                }
            }
            Step::Fault(f) => {
                f.link_fault()
                    .map_err(|e| (Some(i), format!("fault: {e}")))?;
                named_clients(&clients, &f.clients)
                    .map_err(|e| (Some(i), format!("fault: {e}")))?;
            }
            Step::Heal(h) => {
                named_clients(&clients, &h.clients).map_err(|e| (Some(i), format!("heal: {e}")))?;
            }
            Step::ExpectOneOf(o) if o.any.is_empty() => {
                return Err((Some(i), "expect_one_of: `any` is empty".into()));
            }
            Step::ExpectOneOf(o) => {
                let closes = o
                    .any
                    .iter()
                    .filter(|x| matches!(x, Outcome::Close(_)))
                    .count();
                if closes > 1 {
                    return Err((Some(i), "expect_one_of: at most one `close` outcome".into()));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every client a fault or heal names is one of the scenario's.
fn named_clients(clients: &BTreeSet<&str>, named: &[String]) -> Result<(), String> {
    match named.iter().find(|c| !clients.contains(c.as_str())) {
        Some(c) => Err(format!("client `{c}` is not listed in `clients`")),
        None => Ok(()),
    }
}

/// Finds the line and column of the `index`-th item of the top-level
/// `steps:` list in block style.
fn locate_step(text: &str, index: usize) -> Option<(usize, usize)> {
    let mut lines = text.lines().enumerate();
    lines.find(|(_, l)| l.trim_end() == "steps:")?;
    let mut seen = 0;
    let mut indent = None;
    for (n, line) in lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let col = line.len() - trimmed.len();
        if col == 0 && !trimmed.starts_with('-') {
            break;
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            let ind = *indent.get_or_insert(col);
            if col == ind {
                if seen == index {
                    return Some((n + 1, col + 1));
                }
                seen += 1;
            }
        }
    }
    None
}

/// Loads every `*.yaml` under `root/v3`, `root/v5`, `root/both` and
/// `root/faults` (scenarios that break links or the broker)
/// (recursively), sorted by id. Files that fail to load are returned beside the others.
pub fn load_dir(
    root: &Path,
    known_ids: Option<&KnownIds>,
) -> (Vec<LoadedScenario>, Vec<LoadError>) {
    let mut files = Vec::new();
    for sub in ["v3", "v5", "both", "faults"] {
        collect(&root.join(sub), &mut files);
    }
    files.sort();
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        let id = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        match load_file(&path, id, known_ids) {
            Ok(s) => ok.push(s),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: t\nversions: [\"5.0\"]\nstatements: [MQTT-3.3.1-4]\nclients: [a]\nsteps:\n  - connect: { client: a }\n  - send_raw: { client: a, hex: \"36 00\" }\n  - expect_close: { client: a }\n";

    #[test]
    fn a_good_scenario_loads() {
        let s = parse(GOOD, Path::new("x.yaml"), None).unwrap();
        assert_eq!(s.steps.len(), 3);
    }

    #[test]
    fn schema_errors_name_line_and_column() {
        let bad = GOOD.replace("send_raw", "send_rawx");
        let e = parse(&bad, Path::new("x.yaml"), None).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        assert!(e.to_string().starts_with("x.yaml:7:"), "{e}");
    }

    #[test]
    fn unknown_client_names_the_step_line() {
        let bad = GOOD.replace("expect_close: { client: a }", "expect_close: { client: b }");
        let e = parse(&bad, Path::new("x.yaml"), None).unwrap_err();
        assert_eq!((e.line, e.column), (8, 3), "{e}");
        assert!(e.message.contains("client `b`"), "{e}");
    }

    #[test]
    fn fault_steps_are_checked_for_their_kind_and_clients() {
        let with = |step: &str| {
            GOOD.replace(
                "  - send_raw: { client: a, hex: \"36 00\" }\n",
                &format!("  - {step}\n"),
            )
        };
        let ok = [
            "fault: { kind: stall }",
            "fault: { clients: [a], kind: latency, delay: 200ms, jitter: 20ms }",
            "fault: { kind: close_after, bytes: 10 }",
            "fault: { kind: slice, bytes: 3 }",
            "fault: { kind: reset, clients: [a] }",
            "heal: {}",
            "heal: { clients: [a] }",
            "kill_target: {}",
            "restart_target: {}",
        ];
        for step in ok {
            let s = parse(&with(step), Path::new("x.yaml"), None)
                .unwrap_or_else(|e| panic!("{step}: {e}"));
            assert_eq!(s.steps.len(), 3);
        }
        let bad = [
            ("fault: { kind: latency }", "needs `delay`"),
            ("fault: { kind: stall, bytes: 3 }", "takes no `bytes`"),
            ("fault: { kind: bandwidth, bytes_per_sec: 0 }", "above 0"),
            ("fault: { kind: stall, clients: [z] }", "client `z`"),
            ("heal: { clients: [z] }", "client `z`"),
            ("fault: { kind: melt }", "unknown variant"),
            ("fault: { kind: latency, delay: soon }", "soon"),
            ("kill_target: { now: true }", "unknown field"),
        ];
        for (step, why) in bad {
            let e = parse(&with(step), Path::new("x.yaml"), None).unwrap_err();
            assert!(e.message.contains(why), "{step}: {e}");
            assert_eq!(e.line, 7, "{step}: {e}");
        }
        let s = parse(&with("kill_target: {}"), Path::new("x.yaml"), None).unwrap();
        assert!(s.runs_alone() && !s.uses_link_faults());
        let s = parse(&with("fault: { kind: stall }"), Path::new("x.yaml"), None).unwrap();
        assert!(!s.runs_alone() && s.uses_link_faults());
    }

    #[test]
    fn bad_hex_and_unknown_statements_are_refused() {
        let bad = GOOD.replace("36 00", "3g");
        assert!(parse(&bad, Path::new("x.yaml"), None)
            .unwrap_err()
            .message
            .contains("hex"));
        let known: KnownIds = [(VersionTag::V5, ["MQTT-1.5.4-1".to_string()].into())].into();
        let e = parse(GOOD, Path::new("x.yaml"), Some(&known)).unwrap_err();
        assert!(e.message.contains("MQTT-3.3.1-4"), "{e}");
    }

    #[test]
    fn a_step_citation_must_be_a_known_statement() {
        let with = |id: &str| {
            GOOD.replace(
                "  - expect_close: { client: a }\n",
                &format!(
                    "  - expect: {{ client: a, cites: [{id}], packet: {{ type: pingresp }} }}\n"
                ),
            )
        };
        let known: KnownIds = [(
            VersionTag::V5,
            ["MQTT-3.3.1-4".to_string(), "MQTT-3.12.4-1".to_string()].into(),
        )]
        .into();
        assert!(parse(&with("MQTT-3.12.4-1"), Path::new("x.yaml"), Some(&known)).is_ok());
        let e = parse(&with("MQTT-9.9.9-9"), Path::new("x.yaml"), Some(&known)).unwrap_err();
        assert!(e.message.contains("`cites`: `MQTT-9.9.9-9`"), "{e}");
        assert_eq!(e.line, 8, "{e}");
    }

    #[test]
    fn broken_yaml_is_an_error_not_a_panic() {
        let e = parse("name: [unclosed\n", Path::new("x.yaml"), None).unwrap_err();
        assert!(e.line >= 1, "{e}");
    }
}
