//! The durable store of `--data DIR`: one redb file, `DIR/state.redb`,
//! written in one transaction per batch of inputs, before their outputs
//! leave the broker task (see the crate README, "Durable state").
//!
//! Tables (keys are UTF-8 strings, values postcard-encoded model values):
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `schema_version` | `u32`, [`SCHEMA_VERSION`] |
//! | `meta` | `broker` | [`mqtt_model::durable::DurableMeta`] |
//! | `sessions` | client id | [`mqtt_model::DurableSession`] |
//! | `retained` | topic | [`mqtt_model::Message`] |

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use mqtt_model::durable::DurableMeta;
use mqtt_model::{Broker, DurableSession, DurableState, Message, RestoreError};
use redb::backends::FileBackend;
use redb::{
    Database, Durability, ReadableTable, ReadableTableMetadata, StorageBackend, TableDefinition,
};
use serde::Deserialize;

/// The version of the record format this server reads and writes. A store
/// of another version is refused at startup, never guessed at.
pub const SCHEMA_VERSION: u32 = 1;

/// The store's file inside the data directory.
pub const STORE_FILE: &str = "state.redb";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");
const VERSION_KEY: &str = "schema_version";
const BROKER_KEY: &str = "broker";

/// When a commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// One transaction per input, fsync'd before that input's
    /// acknowledgements are sent. The default.
    #[default]
    Always,
    /// Group commit: one transaction per batch of inputs the broker task
    /// took together (up to 257), fsync'd before any of their
    /// acknowledgements are sent.
    Batch,
    /// Group commit without fsync: the data reaches the operating system
    /// before the acknowledgements, so it survives the server process
    /// being killed, but not a power loss or a kernel crash.
    Never,
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Batch => "batch",
            FsyncPolicy::Never => "never",
        })
    }
}

impl FsyncPolicy {
    /// What the policy promises, for the startup log.
    pub fn describe(self) -> &'static str {
        match self {
            FsyncPolicy::Always => {
                "every input's changes committed and fsync'd before its acknowledgements"
            }
            FsyncPolicy::Batch => {
                "group commit: each batch of inputs committed and fsync'd before its acknowledgements"
            }
            FsyncPolicy::Never => {
                "group commit without fsync: survives a killed process, not a power loss"
            }
        }
    }
}

/// `--fsync` could not be parsed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown fsync policy {0:?}: use always, batch or never")]
pub struct FsyncPolicyError(String);

impl FromStr for FsyncPolicy {
    type Err = FsyncPolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(FsyncPolicy::Always),
            "batch" => Ok(FsyncPolicy::Batch),
            "never" => Ok(FsyncPolicy::Never),
            other => Err(FsyncPolicyError(other.to_owned())),
        }
    }
}

/// Where and how the server keeps its state (`data:` in the config,
/// `--data DIR` and `--fsync` on the command line).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The data directory; created if absent.
    pub dir: PathBuf,
    /// When commits reach the disk.
    #[serde(default)]
    pub fsync: FsyncPolicy,
}

/// Why the store could not be opened, read or written. Each names the
/// file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created or is not a directory.
    #[error("durable state: data directory {path}: {message}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// redb refused the file (not a redb database, corrupt, locked by
    /// another process).
    #[error(
        "durable state {path}: cannot open the store (corrupt, not a store of \
         mqtt-harness serve, or in use by another process): {message}"
    )]
    Open {
        /// The store's file.
        path: PathBuf,
        /// redb's error.
        message: String,
    },
    /// Reading or writing the store failed.
    #[error("durable state {path}: {message}")]
    Db {
        /// The store's file.
        path: PathBuf,
        /// redb's error.
        message: String,
    },
    /// The store was written by a server with another record format.
    #[error(
        "durable state {path}: schema version {found}; this server reads version {expected} only \
         (move the directory away to start empty)"
    )]
    Version {
        /// The store's file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this server reads.
        expected: u32,
    },
    /// The file is a redb database but has tables and no schema version:
    /// not a store of this server.
    #[error("durable state {path}: no schema version: not a store of mqtt-harness serve")]
    NoVersion {
        /// The store's file.
        path: PathBuf,
    },
    /// A record does not decode.
    #[error("durable state {path}: table `{table}`, key {key:?}: unreadable record: {message}")]
    Decode {
        /// The store's file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A value could not be encoded.
    #[error("durable state {path}: cannot encode the record of {key:?}: {message}")]
    Encode {
        /// The store's file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The state read back was refused by the model.
    #[error("durable state {path}: {reason}")]
    Restore {
        /// The store's file.
        path: PathBuf,
        /// The model's reason.
        reason: RestoreError,
    },
}

/// A redb backend that writes every page to the file but never fsyncs:
/// what a commit wrote is in the operating system's hands when the commit
/// returns (a killed process loses nothing) but may not be on the disk.
#[derive(Debug)]
struct NoSync(FileBackend);

impl StorageBackend for NoSync {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.0.len()
    }
    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, std::io::Error> {
        self.0.read(offset, len)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.set_len(len)
    }
    fn sync_data(&self, _eventual: bool) -> Result<(), std::io::Error> {
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.write(offset, data)
    }
}

/// The open store.
pub(crate) struct Store {
    db: Database,
    path: PathBuf,
    policy: FsyncPolicy,
    /// Client ids that have a record, so that a session that was never
    /// stored (expiry 0) costs no delete.
    stored: HashSet<String>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("policy", &self.policy)
            .field("sessions", &self.stored.len())
            .finish()
    }
}

fn db_err<E: Into<redb::Error>>(path: &Path) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Db {
        path: path.to_owned(),
        message: e.into().to_string(),
    }
}

fn open_err<E: Into<redb::Error>>(path: &Path) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Open {
        path: path.to_owned(),
        message: e.into().to_string(),
    }
}

impl Store {
    /// Opens (or creates) the store in `cfg.dir` and reads everything in it.
    pub(crate) fn open(cfg: &DataConfig) -> Result<(Store, DurableState), StoreError> {
        let dir = &cfg.dir;
        if dir.exists() && !dir.is_dir() {
            return Err(StoreError::Dir {
                path: dir.clone(),
                message: "exists and is not a directory".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Dir {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let path = dir.join(STORE_FILE);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::Dir {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let backend = FileBackend::new(file).map_err(open_err(&path))?;
        let builder = Database::builder();
        let db = match cfg.fsync {
            FsyncPolicy::Never => builder.create_with_backend(NoSync(backend)),
            FsyncPolicy::Always | FsyncPolicy::Batch => builder.create_with_backend(backend),
        }
        .map_err(open_err(&path))?;
        let mut store = Store {
            db,
            path,
            policy: cfg.fsync,
            stored: HashSet::new(),
        };
        let state = store.load()?;
        store.stored = state.sessions.iter().map(|s| s.client_id.clone()).collect();
        Ok((store, state))
    }

    /// The store's file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The fsync policy.
    pub(crate) fn policy(&self) -> FsyncPolicy {
        self.policy
    }

    /// Checks the schema version (writing it into a new store) and reads
    /// every record.
    fn load(&mut self) -> Result<DurableState, StoreError> {
        let path = self.path.clone();
        let txn = self.db.begin_write().map_err(db_err(&path))?;
        let version = {
            let meta = txn.open_table(META).map_err(db_err(&path))?;
            let v = meta.get(VERSION_KEY).map_err(db_err(&path))?;
            v.map(|v| v.value().to_vec())
        };
        match version {
            None => {
                let sessions = txn.open_table(SESSIONS).map_err(db_err(&path))?;
                let retained = txn.open_table(RETAINED).map_err(db_err(&path))?;
                let empty = sessions.is_empty().map_err(db_err(&path))?
                    && retained.is_empty().map_err(db_err(&path))?;
                drop((sessions, retained));
                if !empty {
                    return Err(StoreError::NoVersion { path });
                }
                let mut meta = txn.open_table(META).map_err(db_err(&path))?;
                let bytes =
                    postcard::to_allocvec(&SCHEMA_VERSION).map_err(|e| StoreError::Encode {
                        path: path.clone(),
                        key: VERSION_KEY.into(),
                        message: e.to_string(),
                    })?;
                meta.insert(VERSION_KEY, bytes.as_slice())
                    .map_err(db_err(&path))?;
            }
            Some(bytes) => {
                let found: u32 = postcard::from_bytes(&bytes).map_err(|e| StoreError::Decode {
                    path: path.clone(),
                    table: "meta",
                    key: VERSION_KEY.into(),
                    message: e.to_string(),
                })?;
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Version {
                        path,
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
        }
        let mut state = DurableState::default();
        {
            let meta = txn.open_table(META).map_err(db_err(&path))?;
            if let Some(v) = meta.get(BROKER_KEY).map_err(db_err(&path))? {
                state.meta = decode::<DurableMeta>(&path, "meta", BROKER_KEY, v.value())?;
            }
            let sessions = txn.open_table(SESSIONS).map_err(db_err(&path))?;
            for row in sessions.iter().map_err(db_err(&path))? {
                let (k, v) = row.map_err(db_err(&path))?;
                let s: DurableSession = decode(&path, "sessions", k.value(), v.value())?;
                if s.client_id != k.value() {
                    return Err(StoreError::Decode {
                        path,
                        table: "sessions",
                        key: k.value().to_owned(),
                        message: format!("the record is for client id {:?}", s.client_id),
                    });
                }
                state.sessions.push(s);
            }
            let retained = txn.open_table(RETAINED).map_err(db_err(&path))?;
            for row in retained.iter().map_err(db_err(&path))? {
                let (k, v) = row.map_err(db_err(&path))?;
                let m: Message = decode(&path, "retained", k.value(), v.value())?;
                if m.topic() != k.value() {
                    return Err(StoreError::Decode {
                        path,
                        table: "retained",
                        key: k.value().to_owned(),
                        message: format!("the record is for topic {:?}", m.topic()),
                    });
                }
                state.retained.push(m);
            }
        }
        txn.commit().map_err(db_err(&path))?;
        Ok(state)
    }

    /// Writes what `broker` changed since the last commit, in one
    /// transaction, durable per the policy when this returns. Returns
    /// whether anything was written.
    pub(crate) fn commit(&mut self, broker: &mut Broker) -> Result<bool, StoreError> {
        let changes = broker.take_changes();
        if changes.is_empty() {
            return Ok(false);
        }
        let path = &self.path;
        let mut txn = self.db.begin_write().map_err(db_err(path))?;
        // `Never` fsyncs nothing through its backend; a durable commit
        // keeps redb's page recycling going.
        txn.set_durability(Durability::Immediate);
        {
            let mut sessions = txn.open_table(SESSIONS).map_err(db_err(path))?;
            for id in &changes.sessions {
                match broker.export_session(id) {
                    Some(d) => {
                        let bytes = encode(path, id, &d)?;
                        sessions
                            .insert(id.as_str(), bytes.as_slice())
                            .map_err(db_err(path))?;
                        if !self.stored.contains(id) {
                            self.stored.insert(id.clone());
                        }
                    }
                    None => {
                        if self.stored.remove(id) {
                            sessions.remove(id.as_str()).map_err(db_err(path))?;
                        }
                    }
                }
            }
            let mut retained = txn.open_table(RETAINED).map_err(db_err(path))?;
            for topic in &changes.retained {
                match broker.export_retained(topic) {
                    Some(m) => {
                        let bytes = encode(path, topic, &m)?;
                        retained
                            .insert(topic.as_str(), bytes.as_slice())
                            .map_err(db_err(path))?;
                    }
                    None => {
                        retained.remove(topic.as_str()).map_err(db_err(path))?;
                    }
                }
            }
            if changes.meta {
                let bytes = encode(path, BROKER_KEY, &broker.export_meta())?;
                let mut meta = txn.open_table(META).map_err(db_err(path))?;
                meta.insert(BROKER_KEY, bytes.as_slice())
                    .map_err(db_err(path))?;
            }
        }
        txn.commit().map_err(db_err(path))?;
        Ok(true)
    }
}

fn encode<T: serde::Serialize>(path: &Path, key: &str, v: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(v).map_err(|e| StoreError::Encode {
        path: path.to_owned(),
        key: key.to_owned(),
        message: e.to_string(),
    })
}

fn decode<T: serde::de::DeserializeOwned>(
    path: &Path,
    table: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Decode {
        path: path.to_owned(),
        table,
        key: key.to_owned(),
        message: e.to_string(),
    })
}

/// Opens the store of `cfg`, restores it into `broker` at `now` (sessions
/// connected at the crash go offline, their Wills are published) and
/// writes what the restore changed.
pub(crate) fn open_into(
    cfg: &DataConfig,
    broker: &mut Broker,
    now: mqtt_model::Time,
) -> Result<Store, StoreError> {
    let (mut store, state) = Store::open(cfg)?;
    let (sessions, retained) = (state.sessions.len(), state.retained.len());
    broker.set_change_tracking(true);
    broker
        .restore(state, now)
        .map_err(|reason| StoreError::Restore {
            path: store.path.clone(),
            reason,
        })?;
    store.commit(broker)?;
    tracing::info!(
        "durable state in {} (fsync {}: {}): {sessions} sessions and {retained} retained messages restored",
        store.path.display(),
        store.policy,
        store.policy.describe()
    );
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_model::Config;

    fn cfg(dir: &Path) -> DataConfig {
        DataConfig {
            dir: dir.to_owned(),
            fsync: FsyncPolicy::Batch,
        }
    }

    fn write_version(dir: &Path, version: Option<u32>, session: bool) {
        std::fs::create_dir_all(dir).unwrap();
        let db = Database::create(dir.join(STORE_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            if let Some(v) = version {
                let bytes = postcard::to_allocvec(&v).unwrap();
                meta.insert(VERSION_KEY, bytes.as_slice()).unwrap();
            }
            let mut sessions = txn.open_table(SESSIONS).unwrap();
            if session {
                sessions.insert("c", [1u8, 2, 3].as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    #[test]
    fn an_unknown_schema_version_names_the_file() {
        let dir = mqtt_testkit::TempDir::new("store-version");
        write_version(dir.path(), Some(99), false);
        let e = Store::open(&cfg(dir.path())).unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::Version {
                    found: 99,
                    expected: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains(STORE_FILE), "{e}");
    }

    #[test]
    fn records_without_a_version_are_not_ours() {
        let dir = mqtt_testkit::TempDir::new("store-noversion");
        write_version(dir.path(), None, true);
        let e = Store::open(&cfg(dir.path())).unwrap_err();
        assert!(matches!(e, StoreError::NoVersion { .. }), "{e}");
    }

    #[test]
    fn an_unreadable_record_names_table_and_key() {
        let dir = mqtt_testkit::TempDir::new("store-record");
        write_version(dir.path(), Some(SCHEMA_VERSION), true);
        let e = Store::open(&cfg(dir.path())).unwrap_err();
        assert!(
            matches!(&e, StoreError::Decode { table: "sessions", key, .. } if key == "c"),
            "{e}"
        );
    }

    #[test]
    fn what_is_committed_is_read_back() {
        use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion, Publish, QoS};
        use mqtt_model::{ConnId, Time};
        let dir = mqtt_testkit::TempDir::new("store-roundtrip");
        let mut broker = Broker::new(Config::default());
        let mut store = open_into(&cfg(dir.path()), &mut broker, Time(1_000)).unwrap();
        broker.connection_opened(ConnId(1), Time(1_000)).unwrap();
        let mut c = Connect::new(ProtocolVersion::V311, MqttString::from_static("keep"));
        c.clean_start = false;
        broker
            .packet(ConnId(1), Packet::Connect(Box::new(c)), Time(1_000))
            .unwrap();
        let p = Publish::new(MqttString::from_static("r"), "v")
            .with_qos(QoS::AtLeastOnce, 1)
            .with_retain(true);
        broker
            .packet(ConnId(1), Packet::Publish(p), Time(1_000))
            .unwrap();
        assert!(store.commit(&mut broker).unwrap());
        assert!(!store.commit(&mut broker).unwrap(), "nothing new");
        let want = broker.export_all();
        drop(store);
        let (_store, state) = Store::open(&cfg(dir.path())).unwrap();
        assert_eq!(state, want);
    }
}
