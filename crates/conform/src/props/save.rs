//! Writing a divergence as a YAML scenario (the format of
//! `scenarios/README.md`) under `reports/<target>/counterexamples/`: the
//! recorded steps of the (shrunk) case up to the divergence, the
//! expectation the target broke, and in the description the seed, the
//! case, the expected and the observed packets.

use std::path::{Path, PathBuf};

use super::exec::{CaseRun, Divergence};
use super::Case;
use crate::catalog::known_ids;
use crate::scenario::VersionTag;

/// Which folder a counterexample goes to under
/// `reports/<target>/counterexamples/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The minimal sequence the shrinker found (or the case itself when
    /// shrinking kept nothing smaller): `counterexamples/`.
    Shrunk,
    /// A divergent case as it ran: `counterexamples/unshrunk/`.
    Unshrunk,
}

/// Writes a counterexample in its `form`'s folder; returns its path.
#[allow(clippy::too_many_arguments)]
pub fn write(
    form: Form,
    scenarios_dir: &Path,
    reports_dir: &Path,
    target: &str,
    seed: u64,
    index: usize,
    case: &Case,
    run: &CaseRun,
    d: &Divergence,
) -> std::io::Result<PathBuf> {
    let mut dir = reports_dir
        .join(crate::app::sanitize(target))
        .join("counterexamples");
    if form == Form::Unshrunk {
        dir.push("unshrunk");
    }
    write_in(&dir, scenarios_dir, target, seed, index, case, run, d)
}

#[allow(clippy::too_many_arguments)]
fn write_in(
    dir: &Path,
    scenarios_dir: &Path,
    target: &str,
    seed: u64,
    index: usize,
    case: &Case,
    run: &CaseRun,
    d: &Divergence,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let v5 = case.version == VersionTag::V5;
    let known = known_ids(scenarios_dir).ok();
    let mut statements: Vec<String> = d
        .rule
        .statements(v5)
        .iter()
        .map(|s| (*s).to_owned())
        .filter(|s| {
            known
                .as_ref()
                .and_then(|k| k.get(&case.version))
                .is_none_or(|ids| ids.contains(s))
        })
        .collect();
    if statements.is_empty() {
        statements.push("MQTT-4.5.0-1".to_owned());
    }
    let step = d.step.map_or("after the last operation".to_owned(), |s| {
        format!("operation {s}")
    });
    let description = format!(
        "Counterexample found by `mqtt-harness conform --targets {target} --props {} --seed {seed}` \
         (case {index}, {} operations after shrinking). The model and the target diverged at {step} \
         ({}), client {}, rule {}.\nExpected (model): {}\nObserved ({target}): {}",
        index + 1,
        case.ops.len(),
        d.op,
        d.client,
        d.rule.name(),
        d.expected,
        d.observed
    );
    let name = format!(
        "props {}: {} (seed {seed}, case {index})",
        d.rule.name(),
        target
    );
    let yaml = run
        .script
        .to_yaml(&name, &description, case.version.as_str(), &statements);
    let path = dir.join(format!(
        "{}-{}-seed{seed}-case{index}.yaml",
        d.rule.name(),
        case.version.as_str().replace('.', "")
    ));
    std::fs::write(&path, yaml)?;
    Ok(path)
}
