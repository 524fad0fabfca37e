//! The errors of the swarm.

/// A load profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The YAML does not parse into a profile.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// Line (1-based; 0 when unknown).
        line: usize,
        /// Column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The profile parses but makes no sense.
    #[error("{path}:{line}: {}{message}", group.as_ref().map(|g| format!("group `{g}`: ")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: String,
        /// Line of the group (0 when unknown).
        line: usize,
        /// The group at fault, if one.
        group: Option<String>,
        /// What is wrong.
        message: String,
    },
}

/// A load run could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// Bad profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Bad option (shard, source addresses, rate...).
    #[error("{0}")]
    Options(String),
    /// The target refused or could not be reached by every client.
    #[error("target {target}: {message}")]
    Target {
        /// The address.
        target: String,
        /// What happened.
        message: String,
    },
    /// Writing a report failed.
    #[error("{path}: {message}")]
    Report {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Shards' ledgers do not make one run.
    #[error("merging shard ledgers: {0}")]
    Merge(String),
    /// A histogram log could not be read or merged.
    #[error("{path}: {message}")]
    Log {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

impl SwarmError {
    /// A report-writing error for `path`.
    pub fn report(path: &std::path::Path, e: impl std::fmt::Display) -> SwarmError {
        SwarmError::Report {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}
