//! Why the conformance job could not run at all (a failing broker is a
//! verdict, not an error).

/// Why the job could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ConformError {
    /// Scenario files failed to load.
    #[error("{} scenario file(s) failed to load:\n{}", .0.len(), .0.join("\n"))]
    Load(Vec<String>),
    /// A catalog failed to load.
    #[error(transparent)]
    Catalog(#[from] mqtt_scenario::catalog::CatalogError),
    /// A target could not be opened.
    #[error(transparent)]
    Target(#[from] mqtt_targets::TargetError),
    /// A baseline is malformed.
    #[error("baseline: {0}")]
    Baseline(String),
    /// Reports could not be written.
    #[error("writing reports to {0}: {1}")]
    Write(String, std::io::Error),
    /// Nothing to run.
    #[error("no scenario matched (library {0})")]
    Empty(String),
}
