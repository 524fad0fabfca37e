//! Reports of a load run: the JSON document (stable schema), the terminal
//! summary, the HTML page with plots, and where they go
//! (`reports/<target>/load/`).

pub mod html;
pub mod json;
pub mod plots;
pub mod summary;

use std::path::{Path, PathBuf};

use crate::engine::Run;
use crate::error::SwarmError;

/// Files written for one run.
#[derive(Debug, Clone)]
pub struct Written {
    /// The JSON report.
    pub json: PathBuf,
    /// The HTML report.
    pub html: PathBuf,
    /// The interval histogram log.
    pub hlog: PathBuf,
    /// The ledger in mergeable form (`load merge` accounts across shards
    /// with it).
    pub ledger: PathBuf,
}

/// The ledger file that goes with an interval log written by [`write`]
/// (`x.hlog` → `x.ledger.json`).
pub fn ledger_beside(hlog: &Path) -> PathBuf {
    hlog.with_extension("ledger.json")
}

/// A file-name-safe form of a target name (`tcp://127.0.0.1:1883` becomes
/// `tcp-127.0.0.1-1883`).
pub fn safe_name(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut out = String::new();
    for c in s.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_matches('-').to_owned()
}

/// The folder of a target's load reports: `<reports>/<target>/load`.
pub fn folder(reports: &Path, target: &str) -> PathBuf {
    reports.join(safe_name(target)).join("load")
}

/// Writes the JSON, HTML and interval log of `run` into `dir`, named after
/// the profile (and the shard, in a sharded run).
pub fn write(run: &Run, dir: &Path) -> Result<Written, SwarmError> {
    std::fs::create_dir_all(dir).map_err(|e| SwarmError::report(dir, e))?;
    let stem = if run.shard.count > 1 {
        format!(
            "{}.shard-{}-of-{}",
            safe_name(&run.profile.name),
            run.shard.index,
            run.shard.count
        )
    } else {
        safe_name(&run.profile.name)
    };
    let report = json::Report::of(run);
    let w = Written {
        json: dir.join(format!("{stem}.json")),
        html: dir.join(format!("{stem}.html")),
        hlog: dir.join(format!("{stem}.hlog")),
        ledger: dir.join(format!("{stem}.ledger.json")),
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| SwarmError::report(&w.json, e))?;
    std::fs::write(&w.json, text + "\n").map_err(|e| SwarmError::report(&w.json, e))?;
    std::fs::write(&w.hlog, &run.log).map_err(|e| SwarmError::report(&w.hlog, e))?;
    std::fs::write(&w.html, html::page(run, &report))
        .map_err(|e| SwarmError::report(&w.html, e))?;
    run.collected.ledger.write(&w.ledger)?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_become_file_names() {
        assert_eq!(safe_name("tcp://127.0.0.1:1883"), "tcp-127.0.0.1-1883");
        assert_eq!(safe_name("ref"), "ref");
        assert_eq!(
            ledger_beside(Path::new("r/p.shard-0-of-2.hlog")),
            Path::new("r/p.shard-0-of-2.ledger.json")
        );
        assert_eq!(
            folder(Path::new("reports"), "ref"),
            Path::new("reports/ref/load")
        );
    }
}
