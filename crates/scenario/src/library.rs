//! The whole scenario library of a folder, every citation checked against
//! the folder's statement catalogs, with every file that fails to load in
//! one error: what the tests that run the library need.

use std::path::Path;

use crate::catalog::known_ids;
use crate::load::{load_dir, LoadedScenario};

/// Loads every scenario under `root` (`scenarios/`), citations checked
/// against `root/spec/`; an empty library is an error too.
pub fn load_checked(root: &Path) -> Result<Vec<LoadedScenario>, String> {
    let known = known_ids(root).map_err(|e| e.to_string())?;
    let (scenarios, errors) = load_dir(root, Some(&known));
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        return Err(format!(
            "scenario files that do not load:\n{}",
            lines.join("\n")
        ));
    }
    if scenarios.is_empty() {
        return Err(format!("the library at {} is empty", root.display()));
    }
    Ok(scenarios)
}
