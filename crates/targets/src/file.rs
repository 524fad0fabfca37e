//! `targets.yaml`: the named targets and how the harness starts each one
//! (a local program with its config, or a container image).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::capability::{Capability, VersionTag};
use crate::error::TargetError;

/// The `targets.yaml` file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetsFile {
    /// Named targets.
    pub targets: BTreeMap<String, TargetDef>,
}

/// One named target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDef {
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// How to install it, for messages and `cargo xtask brokers install`.
    #[serde(default)]
    pub install: Option<String>,
    /// How to start it; absent when the broker is already running.
    #[serde(default)]
    pub start: Option<StartDef>,
    /// Its address; `{port}` is the port chosen for this run.
    pub address: String,
    /// Versions it speaks.
    pub versions: Vec<VersionTag>,
    /// Optional features it has.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// Docker image for the testcontainers path (where Docker is present).
    #[serde(default)]
    pub image: Option<String>,
    /// At most this many scenario runs at once (some brokers handle
    /// connection handshakes one at a time).
    #[serde(default)]
    pub parallel: Option<usize>,
    /// The broker's data folder, for targets that keep state on disk
    /// (`{data}` in its config and arguments).
    #[serde(default)]
    pub data: Option<DataDef>,
}

/// A broker's data folder: emptied at each run's start, handed to the
/// user the broker runs as, and checked after a clean stop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataDef {
    /// The folder, relative to the target's working folder `{dir}`
    /// (default `data`).
    #[serde(default = "default_data_folder")]
    pub folder: String,
    /// The user the broker drops to when started as root (mosquitto drops
    /// to `mosquitto` and then silently cannot write a folder root owns):
    /// when the harness runs as root, the folder is given to this user.
    #[serde(default)]
    pub owner: Option<String>,
    /// A file (relative to the folder) the broker must have written once it
    /// has stopped cleanly: if it is missing, the broker kept nothing and
    /// the stop is an error rather than a silent loss.
    #[serde(default)]
    pub file: Option<String>,
}

fn default_data_folder() -> String {
    "data".into()
}

/// How to start a local broker.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartDef {
    /// The program.
    pub command: String,
    /// Arguments; `{config}` is the written config file, `{port}` the port,
    /// `{dir}` a fresh working directory.
    #[serde(default)]
    pub args: Vec<String>,
    /// Config file text, with `{port}` and `{dir}` replaced.
    #[serde(default)]
    pub config: Option<String>,
    /// Config file name (default `broker.conf`).
    #[serde(default)]
    pub config_name: Option<String>,
    /// How long to wait for the port to accept connections (default 20s).
    #[serde(default)]
    pub ready_seconds: Option<u64>,
    /// More files the broker reads (plugin configs...): path relative to
    /// `{dir}` → text, with the same placeholders as `config`.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
}

impl TargetsFile {
    /// Loads `targets.yaml`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<TargetsFile, TargetError> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(TargetsFile {
                targets: BTreeMap::new(),
            });
        };
        serde_yaml::from_str(&text).map_err(|e| TargetError::File {
            path: path.display().to_string(),
            line: e.location().map_or(0, |l| l.line()),
            column: e.location().map_or(0, |l| l.column()),
            message: e.to_string(),
        })
    }
}
