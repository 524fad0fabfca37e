//! The campaign's supervisor: what becomes of a worker's candidate
//! (confirmed alone, minimised, written as a replayable scenario under
//! `reports/fuzz/<target>/`) and of a target that died or stopped
//! answering (the case that did it found among the recent ones, minimised,
//! the target restarted when the harness started it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mqtt_codec::ProtocolVersion;

use crate::case::Case;
use crate::exec::Bounds;
use crate::health::{self, ProcState};
use crate::judge::{diff_key, run_and_judge, signature};
use crate::live::Live;
use crate::minimise::{minimise, Replayed};
use crate::options::CampaignOptions;
use crate::oracle::{Finding, Kind};
use crate::replay;
use crate::report::{CampaignReport, ReportedFinding};
use crate::shared::{Candidate, Shared};

/// Unconfirmed candidates kept per key, for a person to look at.
const UNCONFIRMED_KEPT: u64 = 3;

/// What the supervisor owns: the targets, and the report it fills.
pub(super) struct Supervisor<'a> {
    /// The targets, in the order of the campaign's `--target`.
    pub(super) lives: Vec<Live>,
    opts: &'a CampaignOptions,
    /// Where findings go.
    out_dir: PathBuf,
    /// Keys of the findings recorded, with their place in the report.
    seen: BTreeMap<String, usize>,
    /// The report being filled.
    pub(super) report: CampaignReport,
    /// Case tokens of replays, apart from the workers' (which stay below
    /// `0xF000_0000`).
    token: u64,
}

impl<'a> Supervisor<'a> {
    /// A supervisor of `lives`, writing findings under `out_dir`.
    pub(super) fn new(
        lives: Vec<Live>,
        opts: &'a CampaignOptions,
        out_dir: PathBuf,
        report: CampaignReport,
    ) -> Self {
        Supervisor {
            lives,
            opts,
            out_dir,
            seen: BTreeMap::new(),
            report,
            token: 0xF000_0000,
        }
    }

    /// Writes an unconfirmed candidate's case, as it ran under load, to
    /// `unconfirmed/` beside the findings: not a finding, but something a
    /// person can replay and look at.
    fn keep_unconfirmed(&self, target: usize, template: &Case, f: &Finding, n: u64) {
        let dir = self.out_dir.join("unconfirmed");
        if std::fs::create_dir_all(&dir).is_err() {
            return;
        }
        let version = template
            .version(f.conn.unwrap_or(0))
            .unwrap_or(ProtocolVersion::V311);
        let name = f.key.replace(|ch: char| !ch.is_ascii_alphanumeric(), "-");
        let file = dir.join(format!("{name}-{n}.yaml"));
        let text = replay::scenario_yaml(
            &template.instantiate(0xE000_0000 + n),
            f,
            version,
            &self.lives[target].spec,
            self.opts.seed,
        );
        let _ = std::fs::write(file, text);
    }

    /// Records a resource finding against the first target.
    pub(super) fn push_resource(&mut self, detail: String) {
        let target = self.lives.first().map_or(String::new(), |l| l.spec.clone());
        self.report.findings.push(ReportedFinding {
            kind: Kind::Resource.as_str().into(),
            key: "resource".into(),
            detail,
            statements: Vec::new(),
            occurrences: 1,
            confirmed: true,
            events: (0, 0),
            scenario: None,
            targets: vec![target],
        });
    }
}

impl Supervisor<'_> {
    /// Confirms, minimises and records a candidate.
    pub(super) async fn candidate(&mut self, c: Candidate, shared: &Shared) {
        for f in c.findings {
            if let Some(&i) = self.seen.get(&f.key) {
                if let Some(r) = self.report.findings.get_mut(i) {
                    r.occurrences += 1;
                }
                continue;
            }
            let addrs: Vec<(SocketAddr, Bounds)> = if f.kind == Kind::Disagreement {
                (0..self.lives.len())
                    .map(|i| (self.lives[i].addr, shared.bounds(i, &self.opts.bounds)))
                    .collect()
            } else {
                vec![(
                    self.lives[c.target].addr,
                    shared.bounds(c.target, &self.opts.bounds),
                )]
            };
            // A hang is confirmed (and minimised) alone: no other case runs
            // meanwhile, so load cannot make it (the bound already scales with
            // the latency measured under load).
            let _alone = if f.kind == Kind::Hang {
                Some(shared.gate.write().await)
            } else {
                None
            };
            let reproduces = |case: Case, key: String, token: u64| {
                let addrs = addrs.clone();
                async move {
                    let inst = case.instantiate(token);
                    if addrs.len() > 1 {
                        let mut sigs = Vec::new();
                        for (a, bounds) in &addrs {
                            let (t, f, _) = run_and_judge(&inst, *a, bounds).await;
                            if !f.is_empty() {
                                return Replayed::default();
                            }
                            sigs.push(signature(&t, &inst));
                        }
                        return Replayed {
                            on: Vec::new(),
                            any: format!("disagreement:{}", diff_key(&sigs)) == key
                                && sigs.iter().any(|s| *s != sigs[0]),
                        };
                    }
                    let (_, found, _) = run_and_judge(&inst, addrs[0].0, &addrs[0].1).await;
                    let mut on: Vec<usize> = found
                        .iter()
                        .filter(|x| x.key == key)
                        .filter_map(|x| x.conn)
                        .collect();
                    on.dedup();
                    Replayed {
                        any: found.iter().any(|x| x.key == key),
                        on,
                    }
                }
            };
            // Confirm alone (three tries: a hang may need a quiet broker); the
            // connection it shows on is the one the scenario checks.
            let mut conn = None;
            let mut confirmed = false;
            for _ in 0..3 {
                self.token += 1;
                let r = reproduces(c.template.clone(), f.key.clone(), self.token).await;
                if r.holds_for(None) {
                    confirmed = true;
                    conn = f
                        .conn
                        .filter(|x| r.on.contains(x))
                        .or(r.on.first().copied());
                    break;
                }
            }
            if !confirmed {
                self.report.unconfirmed += 1;
                let seen = self
                    .report
                    .unconfirmed_keys
                    .entry(f.key.clone())
                    .or_default();
                *seen += 1;
                let n = *seen;
                if n <= UNCONFIRMED_KEPT {
                    self.keep_unconfirmed(c.target, &c.template, &f, n);
                }
                // Not recorded as seen: a later occurrence gets another chance.
                continue;
            }
            let mut f = f;
            f.conn = conn.or(f.conn);
            let before = c.template.events.len();
            let best = if self.opts.minimise {
                let budget = if f.kind == Kind::Hang { 12 } else { 80 };
                let key = f.key.clone();
                let tok = std::cell::Cell::new(self.token);
                let best = minimise(&c.template, conn, budget, |cand| {
                    tok.set(tok.get() + 1);
                    reproduces(cand, key.clone(), tok.get())
                })
                .await;
                self.token = tok.get();
                best
            } else {
                c.template.clone()
            };
            let version = best
                .version(f.conn.unwrap_or(0))
                .or_else(|| (0..best.conns()).find_map(|c| best.version(c)))
                .unwrap_or(ProtocolVersion::V311);
            self.token += 1;
            let inst = best.instantiate(self.token);
            let file = self.out_dir.join(format!(
                "{}-{:03}.yaml",
                f.kind.as_str(),
                self.report.findings.len() + 1
            ));
            let text = replay::scenario_yaml(
                &inst,
                &f,
                version,
                &self.lives[c.target].spec,
                self.opts.seed,
            );
            let scenario = std::fs::write(&file, text).ok().map(|()| file);
            self.seen.insert(f.key.clone(), self.report.findings.len());
            self.report.findings.push(ReportedFinding {
                kind: f.kind.as_str().into(),
                key: f.key.clone(),
                detail: f.detail.clone(),
                statements: f.statements.iter().map(|s| (*s).to_owned()).collect(),
                occurrences: 1,
                confirmed,
                events: (before, best.events.len()),
                scenario,
                targets: if f.kind == Kind::Disagreement {
                    self.lives.iter().map(|l| l.spec.clone()).collect()
                } else {
                    vec![self.lives[c.target].spec.clone()]
                },
            });
        }
    }

    /// The target died or stopped answering: find the case that did it among
    /// the recent ones, minimise it, restart. False when the campaign cannot
    /// go on (the target cannot be restarted).
    pub(super) async fn death(
        &mut self,
        i: usize,
        kind: Kind,
        why: &str,
        within: Duration,
        recent: Vec<(u64, Case)>,
    ) -> bool {
        let spec = self.lives[i].spec.clone();
        if self.opts.progress {
            eprintln!(
                "fuzz: {spec}: {}: {why}; looking for the case among the last {}",
                kind.as_str(),
                recent.len()
            );
        }
        // No case runs now (the caller holds the gate): a target that answers
        // alone was slow under load, not unresponsive.
        if kind == Kind::Unresponsive
            && health::probe(self.lives[i].addr, self.lives[i].probe_version(), within, 3)
                .await
                .is_ok()
        {
            if self.opts.progress {
                eprintln!("fuzz: {spec}: answers a CONNECT when alone; not a finding");
            }
            self.report.unconfirmed += 1;
            *self
                .report
                .unconfirmed_keys
                .entry(format!("{kind:?}: {why}"))
                .or_default() += 1;
            return true;
        }
        if !self.lives[i].restartable {
            push_death(&mut self.report, &spec, kind, why, None, recent.len(), 0);
            return false;
        }
        if self.lives[i].restart(self.opts).await.is_err() {
            push_death(&mut self.report, &spec, kind, why, None, recent.len(), 0);
            return false;
        }
        self.report.restarts += 1;
        let mut culprit = None;
        for (_, case) in recent.iter().rev() {
            self.token += 1;
            if kills(&mut self.lives[i], case, self.token, self.opts, within).await {
                self.report.restarts += 1;
                culprit = Some(case.clone());
                break;
            }
        }
        let Some(mut best) = culprit else {
            push_death(
                &mut self.report,
                &spec,
                kind,
                &format!("{why} (no single recent case reproduces it alone)"),
                None,
                recent.len(),
                0,
            );
            return true;
        };
        let before = best.events.len();
        let key = format!("{}:{}", kind.as_str(), "death");
        if self.opts.minimise {
            let mut tries = 0;
            let mut idx = 0;
            while idx < best.events.len() && tries < 40 {
                let mut cand = best.clone();
                cand.events.remove(idx);
                tries += 1;
                self.token += 1;
                if !cand.events.is_empty()
                    && kills(&mut self.lives[i], &cand, self.token, self.opts, within).await
                {
                    self.report.restarts += 1;
                    best = cand;
                } else {
                    idx += 1;
                }
            }
        }
        let f = Finding {
            kind,
            conn: Some(0),
            detail: why.to_owned(),
            statements: vec!["MQTT-3.2.0-1"],
            key: key.clone(),
            forbidden: None,
        };
        let version = (0..best.conns())
            .find_map(|c| best.version(c))
            .unwrap_or(ProtocolVersion::V311);
        self.token += 1;
        let inst = best.instantiate(self.token);
        let file = self.out_dir.join(format!(
            "{}-{:03}.yaml",
            kind.as_str(),
            self.report.findings.len() + 1
        ));
        let scenario = std::fs::write(
            &file,
            replay::scenario_yaml(&inst, &f, version, &spec, self.opts.seed),
        )
        .ok()
        .map(|()| file);
        if let Some(&n) = self.seen.get(&key) {
            if let Some(r) = self.report.findings.get_mut(n) {
                r.occurrences += 1;
            }
            return true;
        }
        self.seen.insert(key, self.report.findings.len());
        push_death(
            &mut self.report,
            &spec,
            kind,
            why,
            scenario,
            before,
            best.events.len(),
        );
        true
    }
}

/// Does `case` alone kill the target? (Restarts it when it does.)
async fn kills(
    live: &mut Live,
    case: &Case,
    token: u64,
    opts: &CampaignOptions,
    within: Duration,
) -> bool {
    let inst = case.instantiate(token);
    let bounds = Bounds {
        hang: within,
        ..opts.bounds
    };
    let _ = run_and_judge(&inst, live.addr, &bounds).await;
    let dead = live
        .pid()
        .is_some_and(|p| matches!(health::sample(p), ProcState::Dead(_)))
        || health::probe(live.addr, live.probe_version(), within, 2)
            .await
            .is_err();
    if dead {
        let _ = live.restart(opts).await;
    }
    dead
}
fn push_death(
    report: &mut CampaignReport,
    spec: &str,
    kind: Kind,
    why: &str,
    scenario: Option<PathBuf>,
    before: usize,
    after: usize,
) {
    report.findings.push(ReportedFinding {
        kind: kind.as_str().into(),
        key: format!("{}:death", kind.as_str()),
        detail: why.to_owned(),
        statements: vec!["MQTT-3.2.0-1".into()],
        occurrences: 1,
        confirmed: scenario.is_some(),
        events: (before, after),
        scenario,
        targets: vec![spec.to_owned()],
    });
}
