//! A rendezvous of the shards of one run through a directory they all see
//! (one machine, or a volume shared by pods). A subscriber in one shard
//! receives the publishers of another, so the shards must agree on when
//! publishing starts: each shard writes `<phase>.<i>-of-<N>` holding a
//! number (a time in ns) and waits until all N have, polling every 10 ms,
//! for a bounded time. Phase `start` gives every shard the same timeline
//! (the latest of their clocks); phase `subscribed` holds every publisher
//! until every shard's subscribers are subscribed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::plan::Shard;

/// How often the directory is looked at.
const POLL: Duration = Duration::from_millis(10);

/// One shard's side of the rendezvous.
#[derive(Debug, Clone)]
pub struct Barrier {
    dir: PathBuf,
    shard: Shard,
}

impl Barrier {
    /// The barrier of `shard` in `dir` (created if missing).
    pub fn new(dir: &Path, shard: Shard) -> Barrier {
        Barrier {
            dir: dir.to_owned(),
            shard,
        }
    }

    fn file(&self, phase: &str, index: u32) -> PathBuf {
        self.dir
            .join(format!("{phase}.{index}-of-{}", self.shard.count))
    }

    /// Says this shard reached `phase` with `value`, then waits until every
    /// shard has (at most `timeout`); returns every shard's value.
    pub async fn meet(
        &self,
        phase: &str,
        value: u64,
        timeout: Duration,
    ) -> Result<Vec<u64>, String> {
        let mine = self.file(phase, self.shard.index);
        if mine.exists() {
            return Err(format!(
                "{} exists already: give every run a fresh barrier directory",
                mine.display()
            ));
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        // Written whole, then renamed: a reader never sees half a number.
        let tmp = self.dir.join(format!(
            ".{phase}.{}-of-{}.tmp",
            self.shard.index, self.shard.count
        ));
        std::fs::write(&tmp, value.to_string()).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &mine).map_err(|e| format!("{}: {e}", mine.display()))?;
        let deadline = Instant::now() + timeout;
        loop {
            let values: Vec<Option<u64>> = (0..self.shard.count)
                .map(|i| {
                    std::fs::read_to_string(self.file(phase, i))
                        .ok()
                        .and_then(|t| t.trim().parse().ok())
                })
                .collect();
            if values.iter().all(Option::is_some) {
                return Ok(values.into_iter().flatten().collect());
            }
            if Instant::now() >= deadline {
                let missing: Vec<String> = values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_none())
                    .map(|(i, _)| format!("{i}/{}", self.shard.count))
                    .collect();
                return Err(format!(
                    "barrier `{phase}` in {}: shard(s) {} not there within {timeout:?}",
                    self.dir.display(),
                    missing.join(", ")
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shards_meet_and_a_missing_one_times_out() {
        let dir = std::env::temp_dir().join(format!("swarm-barrier-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Barrier::new(&dir, Shard { index: 0, count: 2 });
        let b = Barrier::new(&dir, Shard { index: 1, count: 2 });
        let t = Duration::from_secs(5);
        let (x, y) = tokio::join!(a.meet("start", 7, t), b.meet("start", 9, t));
        assert_eq!(x.unwrap(), vec![7, 9]);
        assert_eq!(y.unwrap(), vec![7, 9]);
        // Used twice: refused.
        assert!(a.meet("start", 1, t).await.unwrap_err().contains("fresh"));
        let e = a
            .meet("subscribed", 1, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(e.contains("shard(s) 1/2"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
