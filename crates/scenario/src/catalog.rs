//! The statement catalogs (`scenarios/spec/mqtt-3.1.1.yaml`,
//! `mqtt-5.0.yaml`): every normative statement id, with a summary in our
//! words and whether a broker test can observe it. They are the denominator
//! of every coverage figure.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use crate::format::VersionTag;

/// One catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct Catalog {
    /// `3.1.1` or `5.0`.
    pub version: String,
    /// Every statement, in the specification's order.
    pub statements: Vec<Statement>,
}

/// One normative statement.
#[derive(Debug, Clone, Deserialize)]
pub struct Statement {
    /// `MQTT-3.3.1-4`.
    pub id: String,
    /// Subsection, e.g. `3.3.1.2`.
    pub section: String,
    /// `must`, `should` or `may`.
    pub level: String,
    /// `server`, `client` or `both`.
    pub actor: String,
    /// Whether a test driving a broker can observe it.
    pub observable: bool,
    /// One line in our words.
    pub summary: String,
    /// Why not observable, or how.
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a catalog could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct CatalogError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Catalog {
    /// The catalog file of `version` under `scenarios_dir/spec/`.
    pub fn path(scenarios_dir: &Path, version: VersionTag) -> std::path::PathBuf {
        scenarios_dir.join("spec").join(match version {
            VersionTag::V311 => "mqtt-3.1.1.yaml",
            VersionTag::V5 => "mqtt-5.0.yaml",
        })
    }

    /// Loads the catalog of `version`.
    pub fn load(scenarios_dir: &Path, version: VersionTag) -> Result<Catalog, CatalogError> {
        let path = Catalog::path(scenarios_dir, version);
        let err = |message: String| CatalogError {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        serde_yaml::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// Every id.
    pub fn ids(&self) -> BTreeSet<String> {
        self.statements.iter().map(|s| s.id.clone()).collect()
    }

    /// The statement with `id`.
    pub fn get(&self, id: &str) -> Option<&Statement> {
        self.statements.iter().find(|s| s.id == id)
    }
}

/// The statement ids of both catalogs, for checking scenario citations.
pub fn known_ids(scenarios_dir: &Path) -> Result<crate::load::KnownIds, CatalogError> {
    Ok([
        (
            VersionTag::V311,
            Catalog::load(scenarios_dir, VersionTag::V311)?.ids(),
        ),
        (
            VersionTag::V5,
            Catalog::load(scenarios_dir, VersionTag::V5)?.ids(),
        ),
    ]
    .into())
}

/// The top-level section of a statement id: `MQTT-3.3.1-4` → `3.3`.
pub fn chapter(id: &str) -> String {
    let body = id.trim_start_matches("MQTT-");
    let mut parts = body.split(['.', '-']);
    match (parts.next(), parts.next()) {
        (Some(a), Some(b)) => format!("{a}.{b}"),
        (Some(a), None) => a.to_owned(),
        _ => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
    }

    /// The catalogs hold exactly the ids of the specification lists in
    /// scenarios/spec/ids (copies of the project's shared/spec: 141 and 251),
    /// each once, in order.
    #[test]
    fn catalogs_match_the_specification_id_lists() {
        let shared = repo().join("spec/ids");
        for (version, file, count) in [
            (VersionTag::V311, "mqtt-3.1.1-statement-ids.txt", 141),
            (VersionTag::V5, "mqtt-5.0-statement-ids.txt", 251),
        ] {
            let list = std::fs::read_to_string(shared.join(file))
                .unwrap_or_else(|e| panic!("{file} must be in scenarios/spec/ids: {e}"));
            let want: Vec<&str> = list
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            let catalog = Catalog::load(&repo(), version).unwrap();
            let have: Vec<&str> = catalog.statements.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(have, want, "{file}");
            assert_eq!(have.len(), count);
            for s in &catalog.statements {
                assert!(
                    !s.summary.is_empty() && !s.summary.contains('\n'),
                    "{}",
                    s.id
                );
                assert!(
                    ["server", "client", "both"].contains(&s.actor.as_str()),
                    "{}",
                    s.id
                );
                if s.actor == "client" {
                    assert!(
                        !s.observable,
                        "{}: client-only statements are not broker-observable",
                        s.id
                    );
                }
            }
        }
    }

    #[test]
    fn chapters_are_the_first_two_numbers() {
        assert_eq!(chapter("MQTT-3.3.1-4"), "3.3");
        assert_eq!(chapter("MQTT-4.2-1"), "4.2");
        assert_eq!(chapter("MQTT-1.5.4-1"), "1.5");
    }
}
