//! Writing a divergence as a YAML scenario (the format of
//! `scenarios/README.md`) under `reports/<target>/counterexamples/`: the
//! recorded steps of the (shrunk) case up to the divergence, the
//! expectation the target broke, and in the description the seed, the
//! case, the expected and the observed packets.

use std::path::{Path, PathBuf};

use super::exec::{CaseRun, Divergence};
use super::Case;
use mqtt_scenario::catalog::known_ids;
use mqtt_targets::VersionTag;

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

/// Where and for what run counterexamples are written.
#[derive(Debug, Clone, Copy)]
pub struct Saver<'a> {
    /// The scenario library (its statement catalogs filter the ids cited).
    pub scenarios_dir: &'a Path,
    /// The reports folder (`<reports>/<target>/counterexamples/`).
    pub reports_dir: &'a Path,
    /// The target's name.
    pub target: &'a str,
    /// The run's seed.
    pub seed: u64,
}

impl Saver<'_> {
    /// Writes case `index`'s counterexample in its `form`'s folder;
    /// returns its path.
    pub fn write(
        &self,
        form: Form,
        index: usize,
        case: &Case,
        run: &CaseRun,
        d: &Divergence,
    ) -> std::io::Result<PathBuf> {
        let Saver {
            scenarios_dir,
            reports_dir,
            target,
            seed,
        } = *self;
        let mut dir = reports_dir
            .join(mqtt_targets::sanitize(target))
            .join("counterexamples");
        if form == Form::Unshrunk {
            dir.push("unshrunk");
        }
        let dir = dir.as_path();
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
             (case {index}, {} operations{}). The model and the target diverged at {step} \
             ({}), client {}, rule {}.\nExpected (model): {}\nObserved ({target}): {}",
            index + 1,
            case.ops.len(),
            if form == Form::Shrunk {
                " after shrinking"
            } else {
                ", not shrunk"
            },
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
}
