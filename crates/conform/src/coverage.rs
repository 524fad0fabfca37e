//! Coverage of the statement catalogs by the scenario library, without
//! running anything: which broker-observable statements at least one
//! scenario cites, per section and overall.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use tabled::settings::Style;
use tabled::{Table, Tabled};

use mqtt_scenario::catalog::{chapter, Catalog};
use mqtt_scenario::load::{load_dir, KnownIds, LoadError};
use mqtt_targets::VersionTag;

/// Coverage of one section of one version.
#[derive(Debug, Clone, Tabled)]
pub struct SectionCoverage {
    /// `3.1.1` or `5.0`.
    pub version: String,
    /// `3.3`.
    pub section: String,
    /// Broker-observable statements.
    pub observable: usize,
    /// Of them, cited by a scenario.
    pub covered: usize,
    /// Observable ones no scenario cites.
    #[tabled(display = "join")]
    pub missing: Vec<String>,
}

fn join(v: &[String]) -> String {
    v.join(" ")
}

/// The coverage table and the overall figures, or the scenario files that
/// failed to load.
pub fn coverage(scenarios_dir: &Path) -> Result<(Vec<SectionCoverage>, String), Vec<LoadError>> {
    let catalogs: Vec<(VersionTag, Catalog)> = [VersionTag::V311, VersionTag::V5]
        .into_iter()
        .filter_map(|v| Catalog::load(scenarios_dir, v).ok().map(|c| (v, c)))
        .collect();
    let known: KnownIds = catalogs.iter().map(|(v, c)| (*v, c.ids())).collect();
    let (scenarios, errors) = load_dir(scenarios_dir, Some(&known));
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    let mut summary = String::new();
    for (v, catalog) in &catalogs {
        let cited: BTreeSet<&str> = scenarios
            .iter()
            .filter(|s| s.scenario.versions.contains(v))
            .flat_map(|s| s.scenario.statements.for_version(*v))
            .map(String::as_str)
            .collect();
        let mut sections: BTreeMap<Vec<u32>, SectionCoverage> = BTreeMap::new();
        for s in catalog.statements.iter().filter(|s| s.observable) {
            let name = chapter(&s.id);
            let order = name.split('.').filter_map(|n| n.parse().ok()).collect();
            let row = sections.entry(order).or_insert_with(|| SectionCoverage {
                version: v.as_str().into(),
                section: name.clone(),
                observable: 0,
                covered: 0,
                missing: vec![],
            });
            row.observable += 1;
            if cited.contains(s.id.as_str()) {
                row.covered += 1;
            } else {
                row.missing
                    .push(s.id.trim_start_matches("MQTT-").to_owned());
            }
        }
        let observable: usize = sections.values().map(|r| r.observable).sum();
        let covered: usize = sections.values().map(|r| r.covered).sum();
        let all = catalog.statements.len();
        let any_cited = catalog
            .statements
            .iter()
            .filter(|s| cited.contains(s.id.as_str()))
            .count();
        summary.push_str(&format!(
            "MQTT {}: {covered} of {observable} broker-observable statements covered ({:.0}%); {any_cited} of all {all} ids cited\n",
            v.as_str(),
            100.0 * covered as f64 / observable.max(1) as f64
        ));
        rows.extend(sections.into_values());
    }
    summary.push_str(&format!("{} scenario files\n", scenarios.len()));
    Ok((rows, summary))
}

/// The table as text.
pub fn render(rows: &[SectionCoverage]) -> String {
    Table::new(rows).with(Style::rounded()).to_string()
}
