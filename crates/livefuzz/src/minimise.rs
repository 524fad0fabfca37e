//! Minimisation of a confirmed finding: chunks of events are removed while
//! the finding still reproduces, then split writes are made whole.
//!
//! A finding is observed on one connection of the case, and its replayable
//! scenario checks that connection at the end; so a smaller case counts
//! only when the finding reproduces *on that connection*. (Accepting it on
//! any connection let the minimiser remove every event of the finding's
//! connection, including the one that opens it, when another connection
//! of the case showed the same finding: the scenario then checked a client
//! it never opened and did not replay.)

use std::future::Future;

use super::case::{Case, Transport};

/// What a replay of a candidate showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The finding reproduced on these connections (indices in the case).
    pub on: Vec<usize>,
    /// It reproduced, whether or not on a connection (findings of the whole
    /// target: a death, a disagreement).
    pub any: bool,
}

impl Replayed {
    /// It reproduced on `conn`, or anywhere when `conn` is `None`.
    pub fn holds_for(&self, conn: Option<usize>) -> bool {
        match conn {
            Some(c) => self.on.contains(&c),
            None => self.any || !self.on.is_empty(),
        }
    }
}

/// True when `conn` still does something in `case` (so it is opened).
fn has_events(case: &Case, conn: usize) -> bool {
    case.events.iter().any(|e| e.conn == conn)
}

/// Minimises `case` for a finding seen on `conn` (`None`: the whole
/// target), trying at most `budget` candidates. `replay` runs a candidate
/// and says where the finding reproduced.
pub async fn minimise<F, Fut>(
    case: &Case,
    conn: Option<usize>,
    budget: usize,
    mut replay: F,
) -> Case
where
    F: FnMut(Case) -> Fut,
    Fut: Future<Output = Replayed>,
{
    let mut best = case.clone();
    let mut tries = 0;
    let mut chunk = best.events.len().div_ceil(2).max(1);
    while tries < budget {
        let mut i = 0;
        let mut progressed = false;
        while i < best.events.len() && tries < budget {
            let mut cand = best.clone();
            let end = (i + chunk).min(cand.events.len());
            cand.events.drain(i..end);
            if cand.events.is_empty() || conn.is_some_and(|c| !has_events(&cand, c)) {
                i += chunk;
                continue;
            }
            tries += 1;
            if replay(cand.clone()).await.holds_for(conn) {
                best = cand;
                progressed = true;
            } else {
                i += chunk;
            }
        }
        if !progressed {
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
    }
    if best.transports.iter().any(|t| *t != Transport::Whole) {
        let mut cand = best.clone();
        cand.transports = vec![Transport::Whole; cand.transports.len()];
        if replay(cand.clone()).await.holds_for(conn) {
            best = cand;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Action, Event};

    fn ev(conn: usize, action: Action) -> Event {
        Event { conn, action }
    }

    /// A stand-in broker: the finding shows on every connection that sent
    /// the blob `[7]`.
    async fn fake(case: Case) -> Replayed {
        let on: Vec<usize> = (0..case.conns())
            .filter(|&c| case.blobs(c).contains(&&[7u8][..]))
            .collect();
        Replayed { any: false, on }
    }

    #[tokio::test]
    async fn the_findings_connection_keeps_the_events_that_open_it() {
        // Both connections show the finding; it was reported on c0. The
        // first removal that keeps a trigger is c0's own blob, which left
        // the scenario checking a c0 it never opened.
        let case = Case {
            origin: "t".into(),
            transports: vec![Transport::Whole, Transport::Split(2)],
            events: vec![
                ev(0, Action::Send(vec![7])),
                ev(1, Action::Send(vec![7])),
                ev(0, Action::Sync),
                ev(1, Action::Sync),
            ],
            mutations: vec![],
        };
        let best = minimise(&case, Some(0), 80, fake).await;
        assert_eq!(best.events, vec![ev(0, Action::Send(vec![7]))]);
        assert_eq!(best.transports, vec![Transport::Whole; 2]);
        // The replay opens the client it checks.
        let f = super::super::oracle::Finding {
            kind: super::super::oracle::Kind::Hang,
            conn: Some(0),
            detail: "d".into(),
            statements: vec!["MQTT-3.12.4-1"],
            key: "k".into(),
            forbidden: None,
        };
        let y = super::super::replay::scenario_yaml(
            &best,
            &f,
            mqtt_codec::ProtocolVersion::V311,
            "ref",
            1,
        );
        let open = y.find("open: { client: c0 }").expect("c0 opened");
        let check = y.find("client: c0, hex: \"c0 00\"").expect("c0 checked");
        assert!(open < check, "{y}");
    }

    #[tokio::test]
    async fn a_finding_of_the_whole_target_may_move_between_connections() {
        let case = Case {
            origin: "t".into(),
            transports: vec![],
            events: vec![
                ev(0, Action::Send(vec![7])),
                ev(1, Action::Send(vec![7])),
                ev(1, Action::Sync),
            ],
            mutations: vec![],
        };
        let best = minimise(&case, None, 80, fake).await;
        assert_eq!(best.events.len(), 1, "{best:?}");
    }
}
