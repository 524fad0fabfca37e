//! The scenario library a run selects: both statement catalogs, the files
//! or folder, the filter, exclusions and version, every citation checked
//! against the catalogs.

use mqtt_scenario::catalog::Catalog;
use mqtt_scenario::load::{load_dir, load_file, KnownIds, LoadedScenario};
use mqtt_targets::VersionTag;

use crate::error::ConformError;
use crate::options::ConformOptions;

/// The catalogs of both versions and the scenarios `o` selects (library or
/// files, filter, exclusions, version), every citation checked against the
/// catalogs. Shared by the conformance run and the self-check.
pub fn load_library(
    o: &ConformOptions,
) -> Result<(Vec<Catalog>, Vec<LoadedScenario>), ConformError> {
    let catalogs = vec![
        Catalog::load(&o.scenarios_dir, VersionTag::V311)?,
        Catalog::load(&o.scenarios_dir, VersionTag::V5)?,
    ];
    let known: KnownIds = [
        (VersionTag::V311, catalogs[0].ids()),
        (VersionTag::V5, catalogs[1].ids()),
    ]
    .into();
    let mut scenarios = load_scenarios(o, &known)?;
    if let Some(v) = o.version {
        for s in &mut scenarios {
            s.scenario.versions.retain(|x| *x == v);
        }
        scenarios.retain(|s| !s.scenario.versions.is_empty());
    }
    if scenarios.is_empty() {
        return Err(ConformError::Empty(o.scenarios_dir.display().to_string()));
    }
    Ok((catalogs, scenarios))
}

fn load_scenarios(
    o: &ConformOptions,
    known: &KnownIds,
) -> Result<Vec<LoadedScenario>, ConformError> {
    let (mut ok, errors) = if o.scenario_files.is_empty() {
        load_dir(&o.scenarios_dir, Some(known))
    } else {
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for f in &o.scenario_files {
            let id = f.with_extension("").to_string_lossy().replace('\\', "/");
            match load_file(f, id, Some(known)) {
                Ok(s) => ok.push(s),
                Err(e) => errors.push(e),
            }
        }
        (ok, errors)
    };
    if !errors.is_empty() {
        return Err(ConformError::Load(
            errors.iter().map(ToString::to_string).collect(),
        ));
    }
    if let Some(f) = &o.filter {
        ok.retain(|s| s.id.contains(f.as_str()));
    }
    ok.retain(|s| !o.exclude.iter().any(|x| s.id.contains(x.as_str())));
    Ok(ok)
}
