//! The campaign loop: workers generate and run cases against the target(s)
//! while a watchdog checks liveness and resources; candidates are
//! confirmed by a replay alone, minimised and written as scenarios.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqtt_codec::ProtocolVersion;
use tokio::sync::{mpsc, RwLock};

use super::case::Case;
use super::exec::{self, Bounds, Transcript};
use super::health::{self, ProcState, TICKS_PER_SEC};
use super::latency::Latency;
use super::minimise::{minimise, Replayed};
use super::oracle::{self, Coverage, Finding, Kind};
use super::report::{CampaignReport, ReportedFinding};
use super::rng::Rng;
use super::{janitor, replay, seeds, FuzzError};
use crate::scenario::VersionTag;
use crate::target::{Target, TargetsFile};

/// What to run.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// Target specs: one, or several for differential mode.
    pub targets: Vec<String>,
    /// How long to run.
    pub duration: Duration,
    /// At most this many cases (none: until the time is up).
    pub max_cases: Option<u64>,
    /// Generator seed.
    pub seed: u64,
    /// Cases in flight at once (capped by a target's `parallel`).
    pub concurrency: usize,
    /// Waits of one case.
    pub bounds: Bounds,
    /// The scenario library (seeds).
    pub scenarios: PathBuf,
    /// targets.yaml.
    pub targets_file: PathBuf,
    /// Where started brokers keep configs and logs.
    pub work: PathBuf,
    /// Where findings and reports go (`<out>/<target>/`).
    pub out: PathBuf,
    /// A broker's RSS above this many MiB is a finding.
    pub max_rss_mib: u64,
    /// Minimise findings before writing them.
    pub minimise: bool,
    /// Print progress.
    pub progress: bool,
}

impl Default for CampaignOptions {
    fn default() -> Self {
        CampaignOptions {
            targets: vec!["ref".into()],
            duration: Duration::from_secs(10),
            max_cases: None,
            seed: 1,
            concurrency: 32,
            bounds: Bounds::default(),
            scenarios: "scenarios".into(),
            targets_file: "targets.yaml".into(),
            work: "reports/work".into(),
            out: "reports/fuzz".into(),
            max_rss_mib: 2048,
            minimise: true,
            progress: false,
        }
    }
}

/// A target being fuzzed.
struct Live {
    spec: String,
    target: Option<Target>,
    addr: SocketAddr,
    versions: Vec<VersionTag>,
    restartable: bool,
}

impl Live {
    async fn open(spec: &str, opts: &CampaignOptions) -> Result<Live, FuzzError> {
        let targets =
            TargetsFile::load(&opts.targets_file).map_err(|e| FuzzError::Target(e.to_string()))?;
        let target = Target::open(spec, &targets, &opts.work)
            .await
            .map_err(|e| FuzzError::Target(e.to_string()))?;
        let ep = &target.endpoint;
        if ep.scheme != mqtt_client::Scheme::Tcp {
            return Err(FuzzError::Target(format!(
                "{spec}: the live fuzzer speaks plain TCP only, not {}",
                ep.scheme.as_str()
            )));
        }
        let addr = tokio::net::lookup_host((ep.host.as_str(), ep.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| FuzzError::Target(format!("{spec}: cannot resolve {}", ep.host)))?;
        if !addr.ip().is_loopback() && !spec.contains("://") {
            return Err(FuzzError::Target(format!(
                "{spec}: {addr} is not a loopback address"
            )));
        }
        Ok(Live {
            spec: spec.to_owned(),
            versions: target.versions.clone(),
            restartable: !spec.contains("://"),
            target: Some(target),
            addr,
        })
    }

    fn pid(&self) -> Option<u32> {
        self.target.as_ref().and_then(Target::process_id)
    }

    fn probe_version(&self) -> ProtocolVersion {
        self.versions
            .first()
            .map_or(ProtocolVersion::V311, |v| v.protocol())
    }

    async fn restart(&mut self, opts: &CampaignOptions) -> Result<(), FuzzError> {
        if let Some(t) = self.target.take() {
            t.stop().await;
        }
        let fresh = Live::open(&self.spec, opts).await?;
        *self = fresh;
        Ok(())
    }
}

/// Shared between the workers and the supervisor.
struct Shared {
    next: AtomicU64,
    stop: AtomicBool,
    cases: AtomicU64,
    refused: AtomicU64,
    connections: AtomicU64,
    gate: RwLock<Vec<SocketAddr>>,
    /// Numbers of the latest cases (a case is regenerated from its number).
    recent: Mutex<VecDeque<u64>>,
    coverage: Mutex<Coverage>,
    mutations: Mutex<BTreeMap<String, u64>>,
    trouble: tokio::sync::Notify,
    /// Answer latency of each target (same order as `gate`).
    latency: Vec<Latency>,
    /// Tokens of the cases in flight.
    in_use: Vec<AtomicBool>,
}

/// How often retained messages left by cases are cleared.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Distinct case tokens: a case uses the token of its number modulo this
/// (replays use tokens from `0xF000_0000` up).
const TOKENS: u64 = 256;

impl Shared {
    /// The waits of a case against target `i` now.
    fn bounds(&self, i: usize, configured: &Bounds) -> Bounds {
        self.latency
            .get(i)
            .map_or(*configured, |l| l.bounds(configured))
    }
}

/// A candidate from a worker.
struct Candidate {
    target: usize,
    template: Case,
    findings: Vec<Finding>,
}

/// The case of number `n`.
fn generate(seeds: &[Case], seed: u64, n: u64) -> Case {
    let mut rng = Rng::new(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut case = seeds[rng.below(seeds.len())].clone();
    if !rng.one_in(10) {
        super::mutate::mutate(&mut case, &mut rng);
    }
    case
}

/// Runs a case and judges every connection.
pub async fn run_and_judge(
    case: &Case,
    addr: SocketAddr,
    bounds: &Bounds,
) -> (Transcript, Vec<Finding>, Coverage) {
    let sents: Vec<oracle::Sent> = (0..case.conns())
        .map(|c| oracle::analyze(&case.blobs(c)))
        .collect();
    let clean: Vec<bool> = sents.iter().map(oracle::Sent::clean).collect();
    let t = exec::run(case, addr, bounds, &clean).await;
    let mut findings = Vec::new();
    let mut cov = Coverage::default();
    for (c, rec) in t.conns.iter().enumerate() {
        if rec.connect_failed.is_some() {
            continue;
        }
        // Judge what was actually written (all of the case's blobs, unless
        // a write failed or the connection was dropped early).
        let again;
        let sent = if rec.sent.len() == sents[c].blobs {
            &sents[c]
        } else {
            again = oracle::analyze(&rec.sent);
            &again
        };
        let reading = oracle::read_answers(&rec.received, sent);
        cov.add_reading(sent, &reading);
        findings.extend(oracle::judge_reading(c, rec, sent, &reading));
    }
    (t, findings, cov)
}

/// A compact account of a connection for differential comparison: the
/// answers to our requests and how it ended; deliveries (racy) left out.
fn signature(t: &Transcript, case: &Case) -> Vec<String> {
    let mut out = Vec::new();
    for (c, rec) in t.conns.iter().enumerate() {
        let v = case.version(c).unwrap_or(ProtocolVersion::V311);
        let mut d = mqtt_codec::Decoder::new(v);
        let mut buf = bytes::BytesMut::from(&rec.received[..]);
        let mut s = Vec::new();
        while let Ok(Some(p)) = d.decode(&mut buf) {
            use mqtt_codec::Packet as P;
            let item = match p {
                P::ConnAck(a) => format!(
                    "CONNACK {}",
                    if a.reason_code.0 == 0 {
                        "ok"
                    } else {
                        "refused"
                    }
                ),
                P::SubAck(a) => format!(
                    "SUBACK {}",
                    a.reason_codes
                        .iter()
                        .map(|r| if r.is_error() { "x" } else { "ok" })
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                P::Publish(_) => continue,
                other => format!("{:?}", other.packet_type()).to_uppercase(),
            };
            s.push(item);
        }
        let end = if rec.closed_by_broker {
            "closed"
        } else {
            "open"
        };
        out.push(format!("c{c}: [{}] {end}", s.join(" ")));
    }
    out
}

/// Runs a campaign; returns its report (one per target, or one for a
/// differential run) after writing them under `opts.out`.
pub async fn run(opts: &CampaignOptions) -> Result<CampaignReport, FuzzError> {
    if opts.targets.is_empty() {
        return Err(FuzzError::Target("no target given".into()));
    }
    let (library, errors) = crate::scenario::load::load_dir(&opts.scenarios, None);
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

    let mut report = CampaignReport {
        targets: opts.targets.clone(),
        seed: opts.seed,
        seeds: seeds.len(),
        ..CampaignReport::default()
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut replay_token = 0xF000_0000u64;
    let first_rss = lives[0].pid().and_then(|p| match health::sample(p) {
        ProcState::Alive(s) => Some(s),
        ProcState::Dead(_) => None,
    });
    let mut peak_rss = first_rss.map_or(0, |s| s.rss_kib);
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
                    handle_candidate(c, &shared, &mut lives, opts, &out_dir, &mut seen, &mut report, &mut replay_token).await;
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
                report.findings.len()
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
        for (i, l) in lives.iter().enumerate() {
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
            for (i, l) in lives.iter().enumerate() {
                report.probes.0 += 1;
                let within = shared.bounds(i, &opts.bounds).hang;
                if let Err(e) = health::probe(l.addr, l.probe_version(), within, 3).await {
                    report.probes.1 += 1;
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
            for (i, l) in lives.iter().enumerate() {
                let within = shared.bounds(i, &opts.bounds).hang;
                report.sweeps.0 += 1;
                match janitor::sweep(l.addr, l.probe_version(), within).await {
                    Ok(s) => report.sweeps.2 += s.cleared as u64,
                    Err(e) => {
                        report.sweeps.1 += 1;
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
            let ok = handle_death(
                i,
                kind,
                &why,
                within,
                recent,
                &mut lives,
                opts,
                &out_dir,
                &mut seen,
                &mut report,
                &mut replay_token,
            )
            .await;
            *gate = lives.iter().map(|l| l.addr).collect();
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
        report.process_cpu_seconds = Some((b - a) as f64 / TICKS_PER_SEC as f64);
    }
    report.hang_bound_s = hang_bound.as_secs_f64();
    report.latency_ms = shared
        .latency
        .first()
        .and_then(Latency::high)
        .map(|(a, b)| (a.as_secs_f64() * 1e3, b.as_secs_f64() * 1e3));

    // Idle resources of a local broker: memory, and CPU while nothing is sent.
    if let Some(pid) = lives[0].pid() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let ProcState::Alive(a) = health::sample(pid) {
            tokio::time::sleep(Duration::from_secs(3)).await;
            if let ProcState::Alive(b) = health::sample(pid) {
                let busy = (b.cpu_ticks - a.cpu_ticks) as f64 / TICKS_PER_SEC as f64 / 3.0;
                peak_rss = peak_rss.max(b.rss_kib);
                report.rss_kib = Some((first_rss.map_or(0, |s| s.rss_kib), peak_rss, b.rss_kib));
                report.cpu_seconds = Some(
                    (b.cpu_ticks - first_rss.map_or(0, |s| s.cpu_ticks)) as f64
                        / TICKS_PER_SEC as f64,
                );
                if busy > 0.5 {
                    push_resource(
                        &mut report,
                        &lives[0].spec,
                        format!(
                            "the broker used {:.0}% of a core while idle after the campaign",
                            busy * 100.0
                        ),
                    );
                }
                if b.rss_kib / 1024 > opts.max_rss_mib {
                    push_resource(
                        &mut report,
                        &lives[0].spec,
                        format!(
                            "the broker holds {} MiB after the campaign (limit {} MiB)",
                            b.rss_kib / 1024,
                            opts.max_rss_mib
                        ),
                    );
                }
            }
        }
    }
    for l in lives {
        if let Some(t) = l.target {
            t.stop().await;
        }
    }
    report.seconds = seconds;
    report.cases = cases;
    report.cases_per_second = cases as f64 / seconds.max(0.001);
    report.connections = shared.connections.load(Ordering::Relaxed);
    report.refused_cases = shared.refused.load(Ordering::Relaxed);
    report.coverage = shared
        .coverage
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    report.mutations = shared
        .mutations
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    report.finish_coverage();
    let md = out_dir.join("report.md");
    std::fs::write(&md, report.markdown()).map_err(|e| FuzzError::Io {
        path: md.clone(),
        source: e,
    })?;
    let json = out_dir.join("report.json");
    std::fs::write(
        &json,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )
    .map_err(|e| FuzzError::Io {
        path: json.clone(),
        source: e,
    })?;
    Ok(report)
}

/// CPU time of this process, clock ticks.
fn own_cpu_ticks() -> Option<u64> {
    match health::sample(std::process::id()) {
        ProcState::Alive(s) => Some(s.cpu_ticks),
        ProcState::Dead(_) => None,
    }
}

fn push_resource(report: &mut CampaignReport, target: &str, detail: String) {
    report.findings.push(ReportedFinding {
        kind: Kind::Resource.as_str().into(),
        key: "resource".into(),
        detail,
        statements: Vec::new(),
        occurrences: 1,
        confirmed: true,
        events: (0, 0),
        scenario: None,
        targets: vec![target.to_owned()],
    });
}

/// The first differing connection's two accounts, without case-specific ids.
fn diff_key(sigs: &[Vec<String>]) -> String {
    let first = &sigs[0];
    for (i, s) in sigs.iter().enumerate().skip(1) {
        for (a, b) in first.iter().zip(s) {
            if a != b {
                let strip = |x: &str| x.split_once(": ").map_or(x, |p| p.1).to_owned();
                return format!("t0 {} / t{i} {}", strip(a), strip(b));
            }
        }
    }
    "length".into()
}

/// Confirms, minimises and records a candidate.
#[allow(clippy::too_many_arguments)]
async fn handle_candidate(
    c: Candidate,
    shared: &Shared,
    lives: &mut [Live],
    opts: &CampaignOptions,
    out_dir: &Path,
    seen: &mut BTreeMap<String, usize>,
    report: &mut CampaignReport,
    token: &mut u64,
) {
    for f in c.findings {
        if let Some(&i) = seen.get(&f.key) {
            if let Some(r) = report.findings.get_mut(i) {
                r.occurrences += 1;
            }
            continue;
        }
        let addrs: Vec<(SocketAddr, Bounds)> = if f.kind == Kind::Disagreement {
            (0..lives.len())
                .map(|i| (lives[i].addr, shared.bounds(i, &opts.bounds)))
                .collect()
        } else {
            vec![(lives[c.target].addr, shared.bounds(c.target, &opts.bounds))]
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
            *token += 1;
            let r = reproduces(c.template.clone(), f.key.clone(), *token).await;
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
            report.unconfirmed += 1;
            *report.unconfirmed_keys.entry(f.key.clone()).or_default() += 1;
            // Not recorded as seen: a later occurrence gets another chance.
            continue;
        }
        let mut f = f;
        f.conn = conn.or(f.conn);
        let before = c.template.events.len();
        let best = if opts.minimise {
            let budget = if f.kind == Kind::Hang { 12 } else { 80 };
            let key = f.key.clone();
            let tok = std::cell::Cell::new(*token);
            let best = minimise(&c.template, conn, budget, |cand| {
                tok.set(tok.get() + 1);
                reproduces(cand, key.clone(), tok.get())
            })
            .await;
            *token = tok.get();
            best
        } else {
            c.template.clone()
        };
        let version = best
            .version(f.conn.unwrap_or(0))
            .or_else(|| (0..best.conns()).find_map(|c| best.version(c)))
            .unwrap_or(ProtocolVersion::V311);
        *token += 1;
        let inst = best.instantiate(*token);
        let file = out_dir.join(format!(
            "{}-{:03}.yaml",
            f.kind.as_str(),
            report.findings.len() + 1
        ));
        let text = replay::scenario_yaml(&inst, &f, version, &lives[c.target].spec, opts.seed);
        let scenario = std::fs::write(&file, text).ok().map(|()| file);
        seen.insert(f.key.clone(), report.findings.len());
        report.findings.push(ReportedFinding {
            kind: f.kind.as_str().into(),
            key: f.key.clone(),
            detail: f.detail.clone(),
            statements: f.statements.iter().map(|s| (*s).to_owned()).collect(),
            occurrences: 1,
            confirmed,
            events: (before, best.events.len()),
            scenario,
            targets: if f.kind == Kind::Disagreement {
                lives.iter().map(|l| l.spec.clone()).collect()
            } else {
                vec![lives[c.target].spec.clone()]
            },
        });
    }
}

/// The target died or stopped answering: find the case that did it among
/// the recent ones, minimise it, restart. False when the campaign cannot
/// go on (the target cannot be restarted).
#[allow(clippy::too_many_arguments)]
async fn handle_death(
    i: usize,
    kind: Kind,
    why: &str,
    within: Duration,
    recent: Vec<(u64, Case)>,
    lives: &mut [Live],
    opts: &CampaignOptions,
    out_dir: &Path,
    seen: &mut BTreeMap<String, usize>,
    report: &mut CampaignReport,
    token: &mut u64,
) -> bool {
    let spec = lives[i].spec.clone();
    if opts.progress {
        eprintln!(
            "fuzz: {spec}: {}: {why}; looking for the case among the last {}",
            kind.as_str(),
            recent.len()
        );
    }
    // No case runs now (the caller holds the gate): a target that answers
    // alone was slow under load, not unresponsive.
    if kind == Kind::Unresponsive
        && health::probe(lives[i].addr, lives[i].probe_version(), within, 3)
            .await
            .is_ok()
    {
        if opts.progress {
            eprintln!("fuzz: {spec}: answers a CONNECT when alone; not a finding");
        }
        report.unconfirmed += 1;
        *report
            .unconfirmed_keys
            .entry(format!("{kind:?}: {why}"))
            .or_default() += 1;
        return true;
    }
    if !lives[i].restartable {
        push_death(report, &spec, kind, why, None, recent.len(), 0);
        return false;
    }
    if lives[i].restart(opts).await.is_err() {
        push_death(report, &spec, kind, why, None, recent.len(), 0);
        return false;
    }
    report.restarts += 1;
    // Does `case` alone kill the target? (Restarts it when it does.)
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
    let mut culprit = None;
    for (_, case) in recent.iter().rev() {
        *token += 1;
        if kills(&mut lives[i], case, *token, opts, within).await {
            report.restarts += 1;
            culprit = Some(case.clone());
            break;
        }
    }
    let Some(mut best) = culprit else {
        push_death(
            report,
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
    if opts.minimise {
        let mut tries = 0;
        let mut idx = 0;
        while idx < best.events.len() && tries < 40 {
            let mut cand = best.clone();
            cand.events.remove(idx);
            tries += 1;
            *token += 1;
            if !cand.events.is_empty() && kills(&mut lives[i], &cand, *token, opts, within).await {
                report.restarts += 1;
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
    *token += 1;
    let inst = best.instantiate(*token);
    let file = out_dir.join(format!(
        "{}-{:03}.yaml",
        kind.as_str(),
        report.findings.len() + 1
    ));
    let scenario = std::fs::write(
        &file,
        replay::scenario_yaml(&inst, &f, version, &spec, opts.seed),
    )
    .ok()
    .map(|()| file);
    if let Some(&n) = seen.get(&key) {
        if let Some(r) = report.findings.get_mut(n) {
            r.occurrences += 1;
        }
        return true;
    }
    seen.insert(key, report.findings.len());
    push_death(
        report,
        &spec,
        kind,
        why,
        scenario,
        before,
        best.events.len(),
    );
    true
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
