//! Why a campaign could not run at all (its findings are not errors).

/// Why a campaign could not run.
#[derive(Debug, thiserror::Error)]
pub enum FuzzError {
    /// The target could not be opened, resolved or restarted.
    #[error("target: {0}")]
    Target(String),
    /// No seeds.
    #[error("seeds: {0}")]
    Seeds(String),
    /// A report or finding could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
