//! A broker's data folder (`data:` in `targets.yaml`): emptied at each
//! run's start so that no run inherits another's state, given to the user
//! the broker drops to when the harness runs as root, and checked after a
//! clean stop, so that a broker that could not write it fails loudly
//! instead of losing its state in silence.
//!
//! mosquitto started as root drops to user `mosquitto` (its `user`
//! option's default) after reading its config; a folder that root owns is
//! then not writable, and mosquitto logs one line and carries on without
//! persistence. Handing the folder over and checking the file catch both.

use std::path::{Path, PathBuf};

use crate::file::DataDef;

/// A prepared data folder.
#[derive(Debug, Clone)]
pub(crate) struct DataFolder {
    /// The folder (absolute): `{data}`.
    pub(crate) path: PathBuf,
    /// The file the broker must have written once stopped cleanly.
    pub(crate) file: Option<PathBuf>,
}

impl DataFolder {
    /// Empties (or creates) `def`'s folder under `dir` and, when this
    /// process runs as root, gives it to `def.owner`.
    pub(crate) fn prepare(def: &DataDef, dir: &Path) -> Result<DataFolder, String> {
        let rel = Path::new(&def.folder);
        if rel.is_absolute() || rel.components().any(|c| c.as_os_str() == "..") {
            return Err(format!(
                "data folder `{}` must be relative to the target's folder, without `..`",
                def.folder
            ));
        }
        let path = dir.join(rel);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Some(owner) = &def.owner {
            if nix::unistd::geteuid().is_root() {
                give_to(&path, owner)?;
            }
        }
        Ok(DataFolder {
            file: def.file.as_ref().map(|f| path.join(f)),
            path,
        })
    }

    /// After a clean stop: the file the broker must have written is there.
    pub(crate) fn check_after_stop(&self) -> Result<(), String> {
        match &self.file {
            Some(file) if !file.exists() => Err(format!(
                "its data file {} did not appear after a clean stop: the broker kept nothing \
                 (is the folder writable by the user it runs as? see its log)",
                file.display()
            )),
            _ => Ok(()),
        }
    }
}

/// Gives `path` to user `owner` (and that user's primary group).
fn give_to(path: &Path, owner: &str) -> Result<(), String> {
    let user = nix::unistd::User::from_name(owner)
        .map_err(|e| format!("looking up user `{owner}`: {e}"))?
        .ok_or_else(|| {
            format!(
                "the data folder's owner `{owner}` is not a user here (the broker drops to it when started as root)"
            )
        })?;
    nix::unistd::chown(path, Some(user.uid), Some(user.gid))
        .map_err(|e| format!("giving {} to `{owner}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(folder: &str, file: Option<&str>) -> DataDef {
        DataDef {
            folder: folder.into(),
            owner: None,
            file: file.map(Into::into),
        }
    }

    #[test]
    fn prepare_empties_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("data/old.db");
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::write(&old, b"from an earlier run").unwrap();
        let d = DataFolder::prepare(&def("data", None), dir.path()).unwrap();
        assert!(d.path.is_dir());
        assert!(!old.exists());
    }

    #[test]
    fn a_missing_data_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataFolder::prepare(&def("data", Some("broker.db")), dir.path()).unwrap();
        let e = d.check_after_stop().unwrap_err();
        assert!(e.contains("broker.db"), "{e}");
        std::fs::write(d.path.join("broker.db"), b"state").unwrap();
        d.check_after_stop().unwrap();
    }

    #[test]
    fn a_folder_outside_the_target_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DataFolder::prepare(&def("../x", None), dir.path()).is_err());
        assert!(DataFolder::prepare(&def("/tmp/x", None), dir.path()).is_err());
    }

    #[test]
    fn an_unknown_owner_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = give_to(dir.path(), "no-such-user-mqtt-harness").unwrap_err();
        assert!(e.contains("no-such-user-mqtt-harness"), "{e}");
    }
}
