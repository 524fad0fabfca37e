//! What the workers and the supervisor of a campaign share: the case
//! counter, the gate that lets the supervisor run something alone, answer
//! latencies, coverage, and the candidates workers hand over.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Mutex;

use tokio::sync::RwLock;

use crate::case::Case;
use crate::exec::Bounds;
use crate::latency::Latency;
use crate::oracle::{Coverage, Finding};

/// Shared between the workers and the supervisor.
pub(crate) struct Shared {
    pub(crate) next: AtomicU64,
    pub(crate) stop: AtomicBool,
    pub(crate) cases: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) connections: AtomicU64,
    /// Where the targets listen; the supervisor write-locks it to run
    /// something alone.
    pub(crate) gate: RwLock<Vec<SocketAddr>>,
    /// Numbers of the latest cases (a case is regenerated from its number).
    pub(crate) recent: Mutex<VecDeque<u64>>,
    pub(crate) coverage: Mutex<Coverage>,
    pub(crate) mutations: Mutex<BTreeMap<String, u64>>,
    pub(crate) trouble: tokio::sync::Notify,
    /// Answer latency of each target (same order as `gate`).
    pub(crate) latency: Vec<Latency>,
    /// Tokens of the cases in flight.
    pub(crate) in_use: Vec<AtomicBool>,
}

impl Shared {
    /// The waits of a case against target `i` now.
    pub(crate) fn bounds(&self, i: usize, configured: &Bounds) -> Bounds {
        self.latency
            .get(i)
            .map_or(*configured, |l| l.bounds(configured))
    }
}

/// A candidate from a worker.
pub(crate) struct Candidate {
    /// Which target (index of `--target`).
    pub(crate) target: usize,
    /// The case before instantiation (it replays under fresh tokens).
    pub(crate) template: Case,
    /// What the oracles found.
    pub(crate) findings: Vec<Finding>,
}
