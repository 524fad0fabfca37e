//! The campaign loop: workers generate and run cases against the target(s)
//! while a watchdog checks liveness and resources; candidates are
//! confirmed by a replay alone, minimised and written as scenarios.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqtt_targets::VersionTag;
use tokio::sync::{mpsc, RwLock};

use crate::case::Case;
use crate::error::FuzzError;
use crate::health::{self, ProcState, TICKS_PER_SEC};
use crate::judge::{diff_key, run_and_judge, signature};
use crate::latency::Latency;
use crate::live::Live;
use crate::options::CampaignOptions;
use crate::oracle::{Coverage, Finding, Kind};
use crate::report::CampaignReport;
use crate::rng::Rng;
use crate::shared::{Candidate, Shared};
use crate::supervisor::Supervisor;
use crate::{janitor, seeds};

/// How often retained messages left by cases are cleared.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Distinct case tokens: a case uses the token of its number modulo this
/// (replays use tokens from `0xF000_0000` up).
const TOKENS: u64 = 256;

/// The case of number `n`.
fn generate(seeds: &[Case], seed: u64, n: u64) -> Case {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut case = seeds[rng.below(seeds.len())].clone();
    if !rng.one_in(10) {
        crate::mutate::mutate(&mut case, &mut rng);
    }
    case
}

/// Runs a campaign; returns its report (one per target, or one for a
/// differential run) after writing them under `opts.out`.
pub async fn run(opts: &CampaignOptions) -> Result<CampaignReport, FuzzError> {
    if opts.targets.is_empty() {
        return Err(FuzzError::Target("no target given".into()));
    }
    let (library, errors) = mqtt_scenario::load::load_dir(&opts.scenarios, None);
    if library.is_empty() {
        return Err(FuzzError::Seeds(format!(
            "no scenario loads from {} ({} error(s){})",
            opts.scenarios.display(),
            errors.len(),
            errors
                .first()
                .map_or(String::new(), |e| format!(", first: {e}"))
        )));
    }
    let mut lives = Vec::new();
    for spec in &opts.targets {
        lives.push(Live::open(spec, opts).await?);
    }
    // Seeds every target can take.
    let versions: Vec<VersionTag> = [VersionTag::V311, VersionTag::V5]
        .into_iter()
        .filter(|v| lives.iter().all(|l| l.versions.contains(v)))
        .collect();
    let caps = lives
        .iter()
        .map(|l| {
            l.target
                .as_ref()
                .map(|t| t.capabilities.clone())
                .unwrap_or_default()
        })
        .reduce(|a, b| a.intersection(&b).copied().collect())
        .unwrap_or_default();
    let seeds = seeds::from_library(&library, &versions, &caps);
    if seeds.is_empty() {
        return Err(FuzzError::Seeds(
            "no scenario of the library applies to the target(s)".into(),
        ));
    }
    let parallel = lives
        .iter()
        .filter_map(|l| l.target.as_ref().and_then(|t| t.parallel))
        .min();
    let concurrency = parallel
        .map_or(opts.concurrency, |p| p.min(opts.concurrency))
        .max(1);
    let name = opts.targets.join("-vs-").replace(['/', ':'], "_");
    let out_dir = opts.out.join(&name);
    std::fs::create_dir_all(&out_dir).map_err(|e| FuzzError::Io {
        path: out_dir.clone(),
        source: e,
    })?;

    let shared = Arc::new(Shared {
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        cases: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        connections: AtomicU64::new(0),
        gate: RwLock::new(lives.iter().map(|l| l.addr).collect()),
        recent: Mutex::new(VecDeque::new()),
        coverage: Mutex::new(Coverage::default()),
        mutations: Mutex::new(BTreeMap::new()),
        trouble: tokio::sync::Notify::new(),
        latency: lives.iter().map(|_| Latency::default()).collect(),
        in_use: (0..TOKENS).map(|_| AtomicBool::new(false)).collect(),
    });
    let seeds = Arc::new(seeds);
    let (tx, mut rx) = mpsc::channel::<Candidate>(256);
    let started = Instant::now();
    let deadline = started + opts.duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (shared, seeds, tx, bounds, seed, max) = (
            shared.clone(),
            seeds.clone(),
            tx.clone(),
            opts.bounds,
            opts.seed,
            opts.max_cases,
        );
        workers.spawn(async move {
            // Coverage and mutation counts, merged into the shared ones now
            // and then rather than after every case.
            let mut cov_acc = Coverage::default();
            let mut mut_acc: BTreeMap<&'static str, u64> = BTreeMap::new();
            let flush = |cov: &mut Coverage, muts: &mut BTreeMap<&'static str, u64>| {
                shared
                    .coverage
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .merge(cov);
                let mut m = shared
                    .mutations
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                for (name, k) in std::mem::take(muts) {
                    *m.entry(name.to_owned()).or_default() += k;
                }
                *cov = Coverage::default();
            };
            let mut done = 0u64;
            loop {
                if done % 256 == 0 {
                    flush(&mut cov_acc, &mut mut_acc);
                }
                done += 1;
                if shared.stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                    flush(&mut cov_acc, &mut mut_acc);
                    return;
                }
                let n = shared.next.fetch_add(1, Ordering::Relaxed);
                if max.is_some_and(|m| n >= m) {
                    flush(&mut cov_acc, &mut mut_acc);
                    return;
                }
                // Client ids and topics come from a bounded set of tokens,
                // so the sessions and retained messages cases leave behind
                // do not grow the target's state (and slow it) without end;
                // a token still in use by a slow case is skipped.
                let slot = (n % TOKENS) as usize;
                if shared.in_use[slot].swap(true, Ordering::AcqRel) {
                    continue;
                }
                let template = generate(&seeds, seed, n);
                let case = template.instantiate(n % TOKENS);
                {
                    let mut r = shared
                        .recent
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    r.push_back(n);
                    if r.len() > 64 {
                        r.pop_front();
                    }
                }
                let addrs = shared.gate.read().await;
                let mut results = Vec::new();
                for (i, addr) in addrs.iter().enumerate() {
                    let r = run_and_judge(&case, *addr, &shared.bounds(i, &bounds)).await;
                    if let Some(l) = shared.latency.get(i) {
                        for d in &r.0.latencies {
                            l.record(*d);
                        }
                    }
                    results.push(r);
                }
                drop(addrs);
                shared.in_use[slot].store(false, Ordering::Release);
                // A case whose connection was refused ran against nothing:
                // counted apart, so a dead target does not inflate the rate.
                if results
                    .iter()
                    .any(|(t, _, _)| t.conns.iter().any(|c| c.connect_failed.is_some()))
                {
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                } else {
                    shared.cases.fetch_add(1, Ordering::Relaxed);
                }
                shared
                    .connections
                    .fetch_add((case.conns() * results.len()) as u64, Ordering::Relaxed);
                let mut all = Vec::new();
                let mut transcripts = Vec::new();
                for (i, (t, f, cov)) in results.into_iter().enumerate() {
                    if t.conns.iter().any(|c| c.connect_failed.is_some()) {
                        shared.trouble.notify_one();
                    }
                    cov_acc.merge(&cov);
                    for x in f {
                        all.push((i, x));
                    }
                    transcripts.push(t);
                }
                for name in &template.mutations {
                    *mut_acc.entry(name).or_default() += 1;
                }
                // Differential: answers that differ with no oracle finding.
                if transcripts.len() > 1 && all.is_empty() {
                    let sigs: Vec<Vec<String>> =
                        transcripts.iter().map(|t| signature(t, &case)).collect();
                    if sigs.iter().any(|s| *s != sigs[0]) {
                        let detail = sigs
                            .iter()
                            .enumerate()
                            .map(|(i, s)| format!("target {i}: {}", s.join("; ")))
                            .collect::<Vec<_>>()
                            .join(" | ");
                        let key = diff_key(&sigs);
                        all.push((
                            0,
                            Finding {
                                kind: Kind::Disagreement,
                                conn: Some(0),
                                detail,
                                statements: Vec::new(),
                                key: format!("disagreement:{key}"),
                                forbidden: None,
                            },
                        ));
                    }
                }
                let mut by_target: BTreeMap<usize, Vec<Finding>> = BTreeMap::new();
                for (i, f) in all {
                    by_target.entry(i).or_default().push(f);
                }
                for (target, findings) in by_target {
                    let _ = tx.try_send(Candidate {
                        target,
                        template: template.clone(),
                        findings,
                    });
                }
            }
        });
    }
    drop(tx);

    let report = CampaignReport {
        targets: opts.targets.clone(),
        seed: opts.seed,
        seeds: seeds.len(),
        ..CampaignReport::default()
    };
    let first_rss = lives[0].pid().and_then(|p| match health::sample(p) {
        ProcState::Alive(s) => Some(s),
        ProcState::Dead(_) => None,
    });
    let mut peak_rss = first_rss.map_or(0, |s| s.rss_kib);
    let mut sup = Supervisor::new(lives, opts, out_dir.clone(), report);
    let mut last_probe = Instant::now();
    let mut last_sweep = Instant::now();
    let mut last_print = Instant::now();
    let mut printed_cases = 0u64;
    let mut last_roll = Instant::now();
    let cpu_at_start = own_cpu_ticks();
    let mut hang_bound = opts.bounds.hang;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        let trouble = tokio::select! {
            c = rx.recv() => match c {
                Some(c) => {
                    sup.candidate(c, &shared).await;
                    false
                }
                None => break,
            },
            _ = tick.tick() => false,
            _ = shared.trouble.notified() => true,
        };
        if last_print.elapsed() >= Duration::from_secs(10) && opts.progress {
            let cases = shared.cases.load(Ordering::Relaxed);
            let recent_rate = (cases - printed_cases) as f64 / last_print.elapsed().as_secs_f64();
            last_print = Instant::now();
            printed_cases = cases;
            let answers = shared
                .latency
                .first()
                .and_then(Latency::high)
                .map_or(String::new(), |(p99, _)| {
                    format!(", answer p99 {:.1} ms", p99.as_secs_f64() * 1e3)
                });
            eprintln!(
                "fuzz {}: {:.0}s, {} cases ({:.0}/s, last 10 s {:.0}/s{answers}), {} finding(s)",
                name,
                started.elapsed().as_secs_f64(),
                cases,
                cases as f64 / started.elapsed().as_secs_f64(),
                recent_rate,
                sup.report.findings.len()
            );
        }
        if last_roll.elapsed() >= Duration::from_secs(2) {
            last_roll = Instant::now();
            for (i, l) in shared.latency.iter().enumerate() {
                l.roll();
                hang_bound = hang_bound.max(shared.bounds(i, &opts.bounds).hang);
            }
        }
        // Resources and process liveness.
        let mut dead = None;
        for (i, l) in sup.lives.iter().enumerate() {
            if let Some(pid) = l.pid() {
                match health::sample(pid) {
                    ProcState::Alive(s) => {
                        if i == 0 {
                            peak_rss = peak_rss.max(s.rss_kib);
                        }
                    }
                    ProcState::Dead(why) => dead = Some((i, Kind::Crash, why)),
                }
            }
        }
        if dead.is_none() && (trouble || last_probe.elapsed() >= Duration::from_secs(2)) {
            last_probe = Instant::now();
            for (i, l) in sup.lives.iter().enumerate() {
                sup.report.probes.0 += 1;
                let within = shared.bounds(i, &opts.bounds).hang;
                if let Err(e) = health::probe(l.addr, l.probe_version(), within, 3).await {
                    sup.report.probes.1 += 1;
                    dead = Some((
                        i,
                        Kind::Unresponsive,
                        format!("a fresh CONNECT got no CONNACK: {e}"),
                    ));
                    break;
                }
            }
        }
        // Retained messages cases left behind, cleared now and then so the
        // target stays at a steady state (see `janitor`).
        if dead.is_none() && last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = Instant::now();
            for (i, l) in sup.lives.iter().enumerate() {
                let within = shared.bounds(i, &opts.bounds).hang;
                sup.report.sweeps.0 += 1;
                match janitor::sweep(l.addr, l.probe_version(), within).await {
                    Ok(s) => sup.report.sweeps.2 += s.cleared as u64,
                    Err(e) => {
                        sup.report.sweeps.1 += 1;
                        tracing::debug!(target = %l.spec, "retained sweep failed: {e}");
                    }
                }
            }
        }
        if let Some((i, kind, why)) = dead {
            let mut gate = shared.gate.write().await;
            let recent: Vec<(u64, Case)> = shared
                .recent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .map(|&n| (n, generate(&seeds, opts.seed, n)))
                .collect();
            let within = shared.bounds(i, &opts.bounds).hang;
            let ok = sup.death(i, kind, &why, within, recent).await;
            *gate = sup.lives.iter().map(|l| l.addr).collect();
            drop(gate);
            if !ok {
                shared.stop.store(true, Ordering::Relaxed);
            }
        }
        if workers.is_empty() {
            break;
        }
        while let Some(r) = workers.try_join_next() {
            let _ = r;
        }
        if workers.is_empty() && rx.is_empty() {
            break;
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();
    let cases = shared.cases.load(Ordering::Relaxed);
    if let (Some(a), Some(b)) = (cpu_at_start, own_cpu_ticks()) {
        sup.report.process_cpu_seconds = Some((b - a) as f64 / TICKS_PER_SEC as f64);
    }
    sup.report.hang_bound_s = hang_bound.as_secs_f64();
    sup.report.latency_ms = shared
        .latency
        .first()
        .and_then(Latency::high)
        .map(|(a, b)| (a.as_secs_f64() * 1e3, b.as_secs_f64() * 1e3));

    // Idle resources of a local broker: memory, and CPU while nothing is sent.
    if let Some(pid) = sup.lives[0].pid() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let ProcState::Alive(a) = health::sample(pid) {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if let ProcState::Alive(b) = health::sample(pid) {
                let busy = (b.cpu_ticks - a.cpu_ticks) as f64 / TICKS_PER_SEC as f64 / 3.0;
                peak_rss = peak_rss.max(b.rss_kib);
                sup.report.rss_kib =
                    Some((first_rss.map_or(0, |s| s.rss_kib), peak_rss, b.rss_kib));
                sup.report.cpu_seconds = Some(
                    (b.cpu_ticks - first_rss.map_or(0, |s| s.cpu_ticks)) as f64
                        / TICKS_PER_SEC as f64,
                );
                if busy > 0.5 {
                    sup.push_resource(format!(
                        "the broker used {:.0}% of a core while idle after the campaign",
                        busy * 100.0
                    ));
                }
                if b.rss_kib / 1024 > opts.max_rss_mib {
                    sup.push_resource(format!(
                        "the broker holds {} MiB after the campaign (limit {} MiB)",
                        b.rss_kib / 1024,
                        opts.max_rss_mib
                    ));
                }
            }
        }
    }
    for l in sup.lives {
        if let Some(t) = l.target {
            t.stop().await;
        }
    }
    sup.report.seconds = seconds;
    sup.report.cases = cases;
    sup.report.cases_per_second = cases as f64 / seconds.max(0.001);
    sup.report.connections = shared.connections.load(Ordering::Relaxed);
    sup.report.refused_cases = shared.refused.load(Ordering::Relaxed);
    sup.report.coverage = shared
        .coverage
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    sup.report.mutations = shared
        .mutations
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    sup.report.finish_coverage();
    let md = out_dir.join("report.md");
    std::fs::write(&md, sup.report.markdown()).map_err(|e| FuzzError::Io {
        path: md.clone(),
        source: e,
    })?;
    let json = out_dir.join("report.json");
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&sup.report).unwrap_or_default(),
    )
    .map_err(|e| FuzzError::Io {
        path: json.clone(),
        source: e,
    })?;
    Ok(sup.report)
}

/// CPU time of this process, clock ticks.
fn own_cpu_ticks() -> Option<u64> {
    match health::sample(std::process::id()) {
        ProcState::Alive(s) => Some(s.cpu_ticks),
        ProcState::Dead(_) => None,
    }
}
