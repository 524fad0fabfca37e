//! A load run: expands the profile, starts the collector thread, spawns one
//! task per local client (subscribers first, connections spread over the
//! ramp-up), lets publishers run their schedules, drains until every owed
//! message arrived (or nothing arrives for a while, or the drain time is
//! over), stops the subscribers and returns what was collected. Every run is
//! bounded: tasks still running at the hard deadline are aborted.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::barrier::Barrier;
use crate::clock::Clock;
use crate::collector::{Collected, Collector, Point};
use crate::ctx::Ctx;
use crate::error::SwarmError;
use crate::event::Event;
use crate::hdrlog;
use crate::plan::{Plan, Shard};
use crate::profile::{Profile, Role};
use crate::subscriber::Countdown;

/// The collector's interval: one point and one log interval per second.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// Draining stops once nothing has arrived for this long.
pub const QUIET: Duration = Duration::from_secs(1);
/// ... or for this long in a run with faults, where subscribers may still
/// be finding a dead link (a Keep Alive) and reconnecting (a backoff).
pub const QUIET_AFTER_FAULTS: Duration = Duration::from_secs(10);
/// How often the collector takes the events queued.
const POLL: Duration = Duration::from_millis(5);
/// Time to set up before the first connection.
const LEAD: Duration = Duration::from_millis(100);
/// Total publishing rate of a process from which the metronome runs: below
/// it, publishers do not arm a timer every tick.
const METRONOME_RATE: f64 = 5_000.0;
/// The shortest tick: tokio's timer resolution.
pub const MIN_TICK: Duration = Duration::from_millis(1);
/// How long shards wait for each other to start.
const BARRIER_WAIT: Duration = Duration::from_secs(120);

/// How to run a profile.
#[derive(Debug, Clone)]
pub struct Options {
    /// The broker.
    pub addr: SocketAddr,
    /// The target's name in reports.
    pub target: String,
    /// This process's share of the clients.
    pub shard: Shard,
    /// Local addresses to connect from, round robin (empty: the system's
    /// choice).
    pub sources: Vec<IpAddr>,
    /// Client id prefix; unique per run unless persistent sessions should
    /// carry over.
    pub tag: String,
    /// Show the live progress line.
    pub progress: bool,
    /// The broker's process, for its CPU time.
    pub broker_pid: Option<u32>,
    /// The broker runs in this process on threads with this name prefix.
    pub broker_threads: Option<String>,
    /// Threads that run the client tasks (1: one thread, no work stealing,
    /// the least CPU per message).
    pub threads: usize,
    /// A directory every shard of the run sees: the shards agree there on
    /// one timeline and start publishing when all their subscribers are
    /// subscribed ([`crate::barrier`]). Fresh for every run.
    pub barrier: Option<std::path::PathBuf>,
    /// Publishers write what is due once per tick: 1 ms (tokio's timer
    /// resolution) by default; longer ticks mean fewer, larger writes and
    /// up to one tick of the corrected latency spent in the generator.
    pub tick: Duration,
    /// Write the run's trace ([`crate::trace`]) to this file.
    pub trace: Option<std::path::PathBuf>,
    /// The target claims durability across restarts (the trace's header).
    pub durable: bool,
}

impl Options {
    /// Options for `addr` with defaults: one shard, no source addresses, a
    /// fresh tag, no progress line.
    pub fn new(addr: SocketAddr, target: &str) -> Options {
        Options {
            addr,
            target: target.to_owned(),
            shard: Shard::default(),
            sources: Vec::new(),
            tag: fresh_tag(),
            progress: false,
            broker_pid: None,
            broker_threads: None,
            threads: 1,
            barrier: None,
            tick: MIN_TICK,
            trace: None,
            durable: false,
        }
    }
}

/// The runtime of the client tasks, apart from the caller's: one thread
/// driving a current-thread runtime, or a multi-thread runtime.
struct ClientRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    multi: Option<tokio::runtime::Runtime>,
}

impl ClientRuntime {
    fn new(threads: usize) -> Result<ClientRuntime, SwarmError> {
        let err = |e: std::io::Error| {
            SwarmError::Options(format!("cannot start the client runtime: {e}"))
        };
        if threads > 1 {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("swarm-clients")
                .enable_all()
                .build()
                .map_err(err)?;
            return Ok(ClientRuntime {
                handle: rt.handle().clone(),
                stop: None,
                thread: None,
                multi: Some(rt),
            });
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(err)?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("swarm-clients".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(err)?;
        Ok(ClientRuntime {
            handle,
            stop: Some(stop),
            thread: Some(thread),
            multi: None,
        })
    }

    /// Stops it; tasks still there are dropped.
    async fn close(mut self) {
        if let Some(rt) = self.multi.take() {
            rt.shutdown_background();
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// A client id prefix unique to this run.
pub fn fresh_tag() -> String {
    let ns = Clock::new().now_ns();
    format!(
        "swarm-{:x}-{}",
        (ns / 1000) & 0xff_ffff,
        std::process::id() % 10_000
    )
}

/// CPU seconds during a run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuUse {
    /// The generator (this process, less an in-process broker).
    pub generator_s: Option<f64>,
    /// The broker (its process, or its threads in this process).
    pub broker_s: Option<f64>,
}

/// The outcome of a run.
#[derive(Debug)]
pub struct Run {
    /// The profile as run.
    pub profile: Profile,
    /// The target's name.
    pub target: String,
    /// The shard.
    pub shard: Shard,
    /// Clients run here.
    pub local_clients: usize,
    /// What the collector gathered.
    pub collected: Collected,
    /// The interval histogram log (HdrHistogram log format).
    pub log: Vec<u8>,
    /// When publishing started (ns since the Unix epoch).
    pub start_ns: u64,
    /// Seconds from the start to the end of the drain.
    pub wall_s: f64,
    /// Seconds of the publishing window (ramp-up and duration).
    pub publish_s: f64,
    /// CPU used.
    pub cpu: CpuUse,
    /// Faults of the schedule that could not be carried out as asked.
    pub fault_errors: Vec<String>,
}

/// What the engine and the collector thread share.
#[derive(Debug, Default)]
struct Live {
    owed: AtomicU64,
    arrived: AtomicU64,
    last_delivery_ns: AtomicU64,
    errors: AtomicU64,
    connected: AtomicI64,
    /// Completed collector polls: a poll that began after an event was
    /// queued has counted it.
    polls: AtomicU64,
}

struct CpuMark {
    process: Option<Duration>,
    threads: Option<(Duration, Duration)>,
    broker: Option<Duration>,
}

fn cpu_mark(o: &Options) -> CpuMark {
    CpuMark {
        process: crate::cpu::own_process(),
        threads: o
            .broker_threads
            .as_deref()
            .and_then(crate::cpu::own_threads),
        broker: o.broker_pid.and_then(crate::cpu::process),
    }
}

fn cpu_use(a: &CpuMark, b: &CpuMark) -> CpuUse {
    let d = |x: Option<Duration>, y: Option<Duration>| match (x, y) {
        (Some(x), Some(y)) => Some(y.saturating_sub(x).as_secs_f64()),
        _ => None,
    };
    match (a.threads, b.threads) {
        (Some((bx, _)), Some((by, _))) => {
            let broker = by.saturating_sub(bx).as_secs_f64();
            CpuUse {
                generator_s: d(a.process, b.process).map(|p| (p - broker).max(0.0)),
                broker_s: Some(broker),
            }
        }
        _ => CpuUse {
            generator_s: d(a.process, b.process),
            broker_s: d(a.broker, b.broker),
        },
    }
}

/// Runs `profile` against `options.addr`; a profile with `faults:` needs
/// [`run_with`].
pub async fn run(profile: &Profile, options: &Options) -> Result<Run, SwarmError> {
    run_with(profile, options, None).await
}

/// Runs `profile` against `options.addr`, with `broker` (the target the
/// harness runs there) for the broker faults of the schedule. Link faults
/// need no more: the run puts its fault proxy between the clients and the
/// broker ([`crate::nemesis`]).
pub async fn run_with(
    profile: &Profile,
    options: &Options,
    broker: Option<&mqtt_targets::Target>,
) -> Result<Run, SwarmError> {
    let schedule = profile.fault_schedule();
    let links = schedule.iter().any(|f| !f.action.on_broker());
    let proxy = if links {
        Some(
            mqtt_netfault::Proxy::transparent(options.addr)
                .await
                .map_err(|e| SwarmError::Options(format!("cannot start the fault proxy: {e}")))?,
        )
    } else {
        None
    };
    let mut addrs = vec![options.addr];
    if let Some(p) = &proxy {
        addrs.clear();
        for g in 0..crate::nemesis::GROUPS {
            let a = p
                .listen(&crate::nemesis::group_name(g))
                .await
                .map_err(|e| SwarmError::Options(format!("fault proxy listener: {e}")))?;
            addrs.push(a);
        }
    }
    let r = run_inner(profile, options, broker, proxy.as_ref(), addrs, schedule).await;
    if let Some(p) = proxy {
        p.stop().await;
    }
    r
}

async fn run_inner(
    profile: &Profile,
    options: &Options,
    broker: Option<&mqtt_targets::Target>,
    proxy: Option<&mqtt_netfault::Proxy>,
    addrs: Vec<SocketAddr>,
    schedule: Vec<crate::profile::FaultAt>,
) -> Result<Run, SwarmError> {
    let plan = Plan::new(profile, options.shard, &options.tag).map_err(SwarmError::Options)?;
    let local: Vec<_> = plan.local_clients().cloned().collect();
    let nemesis = crate::nemesis::Nemesis {
        broker,
        proxy,
        groups: {
            let mut g = vec![Vec::new(); crate::nemesis::GROUPS as usize];
            for c in &local {
                g[(c.n % crate::nemesis::GROUPS) as usize].push(c.n);
            }
            g
        },
        seed: profile.seed,
    };
    if let Some(why) = nemesis.refusal(&schedule) {
        return Err(SwarmError::Options(format!(
            "profile `{}` cannot run its faults on `{}`: {why}",
            profile.name, options.target
        )));
    }
    // An in-process broker holds the other end of every connection, and
    // the fault proxy two more.
    let per_client = if options.broker_threads.is_some() {
        2
    } else {
        1
    } + if proxy.is_some() { 2 } else { 0 };
    let fds_needed = local.len() * per_client + 64;
    if fds_needed > 19_000 {
        return Err(SwarmError::Options(format!(
            "{} clients need about {fds_needed} open files in this process, more than the 20,000 allowed: \
             run the broker in another process or split the profile with --shard",
            local.len()
        )));
    }
    // An unreachable target is an error, not a run full of failed connects.
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(options.addr),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(SwarmError::Target {
                target: format!("{} ({})", options.target, options.addr),
                message: format!("cannot connect: {e}"),
            })
        }
        Err(_) => {
            return Err(SwarmError::Target {
                target: format!("{} ({})", options.target, options.addr),
                message: "no TCP connection within 5 s".into(),
            })
        }
    }
    let clock = Clock::new();
    let barrier = options
        .barrier
        .as_deref()
        .map(|d| Barrier::new(d, options.shard));
    // Sharded with a barrier: the latest shard's clock starts every shard.
    let now_ns = match &barrier {
        Some(b) => b
            .meet("start", clock.now_ns(), BARRIER_WAIT)
            .await
            .map_err(SwarmError::Options)?
            .into_iter()
            .max()
            .unwrap_or_else(|| clock.now_ns()),
        None => clock.now_ns(),
    };
    let start_ns = now_ns + LEAD.as_nanos() as u64;
    let ramp = profile.ramp_up();
    let publish_end_ns = start_ns + (ramp + profile.duration.get()).as_nanos() as u64;
    let drain_end_ns = publish_end_ns + profile.drain().as_nanos() as u64;
    let hard_end_ns = drain_end_ns + Duration::from_secs(5).as_nanos() as u64;

    let (events_tx, events_rx) = std::sync::mpsc::channel::<Vec<Event>>();
    let live = Arc::new(Live::default());
    let bar = progress_bar(options.progress);
    let mut collector = Collector::new(plan.clone(), start_ns);
    if options.trace.is_some() {
        collector = collector.with_trace(crate::trace::Trace::new(
            crate::trace::TraceMeta {
                version: match profile.version.protocol() {
                    mqtt_codec::ProtocolVersion::V5 => "5.0",
                    _ => "3.1.1",
                },
                target: options.target.clone(),
                durable: options.durable,
                session_expiry: profile.session_expiry,
            },
            start_ns,
        ));
    }
    let fault_events = events_tx.clone();
    let comment = format!(
        "mqtt-harness load: profile {} on {} shard {}/{}",
        profile.name, options.target, options.shard.index, options.shard.count
    );
    let collector_thread = {
        let live = live.clone();
        let bar = bar.clone();
        std::thread::Builder::new()
            .name("swarm-collector".into())
            .spawn(move || collect(events_rx, collector, clock, start_ns, &comment, &live, &bar))
            .map_err(|e| SwarmError::Options(format!("cannot start the collector: {e}")))?
    };

    let subscribers = local.iter().filter(|c| c.role == Role::Subscriber).count();
    let (subscribed_tx, subscribed_rx) = watch::channel(false);
    let (local_tx, mut local_rx) = watch::channel(false);
    let countdown = Arc::new(Countdown::new(subscribers, local_tx));
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        clock,
        addrs,
        sources: options.sources.clone(),
        profile: profile.clone(),
        events: events_tx,
        subscribed: subscribed_rx,
        stop: stop_rx,
        start_ns,
        publish_end_ns,
        drain_end_ns,
        tick_ns: options.tick.max(MIN_TICK).as_nanos() as u64,
        filler: Bytes::from(
            (0..4096u32)
                .map(|i| b'a' + (i % 26) as u8)
                .collect::<Vec<u8>>(),
        ),
    });

    let runtime = ClientRuntime::new(options.threads)?;
    // Busy publishers arm a timer every tick; keep the wheel from running
    // empty under them (see `metronome`).
    if local_rate(profile, &local) >= METRONOME_RATE {
        let until = clock.instant(drain_end_ns);
        let tick = options.tick.max(MIN_TICK);
        for phase in 0..2u32 {
            runtime.handle.spawn(metronome(
                clock.instant(start_ns) + tick * phase,
                tick,
                until,
            ));
        }
    }
    // Publishers go when this shard's subscribers are subscribed, and with
    // a barrier when every shard's are.
    runtime.handle.spawn(async move {
        let _ = local_rx.wait_for(|r| *r).await;
        if let Some(b) = barrier {
            let left = Duration::from_nanos(publish_end_ns.saturating_sub(clock.now_ns()));
            if let Err(e) = b.meet("subscribed", clock.now_ns(), left).await {
                tracing::warn!("{e}; publishing anyway");
            }
        }
        let _ = subscribed_tx.send(true);
    });
    let cpu_before = cpu_mark(options);
    let mut subs = JoinSet::new();
    let mut pubs = JoinSet::new();
    // Subscribers first in the ramp, then publishers.
    let mut order: Vec<_> = local
        .iter()
        .filter(|c| c.role == Role::Subscriber)
        .collect();
    order.extend(local.iter().filter(|c| c.role == Role::Publisher));
    let n = order.len().max(1) as u64;
    for (k, c) in order.into_iter().enumerate() {
        let at = start_ns + (ramp.as_nanos() as u64 * k as u64) / n;
        match c.role {
            Role::Subscriber => {
                subs.spawn_on(
                    crate::subscriber::run(ctx.clone(), c.clone(), at, countdown.clone()),
                    &runtime.handle,
                );
            }
            Role::Publisher => {
                pubs.spawn_on(
                    crate::publisher::run(ctx.clone(), c.clone(), at),
                    &runtime.handle,
                );
            }
        }
    }
    drop(countdown);

    // Publishers end by themselves (schedule done and window empty, or the
    // drain time is over); the hard deadline aborts what hangs. The
    // nemesis runs meanwhile, and always to its end: every fault begun is
    // ended (the broker restarted, the link healed).
    let hard = clock.instant(hard_end_ns);
    let mut nemesis_run = Box::pin(nemesis.run(&schedule, clock, start_ns, &fault_events));
    let mut fault_errors = None;
    while !pubs.is_empty() {
        tokio::select! {
            e = &mut nemesis_run, if fault_errors.is_none() => fault_errors = Some(e),
            r = tokio::time::timeout_at(hard.into(), pubs.join_next()) => {
                if r.is_err() {
                    pubs.abort_all();
                    break;
                }
            }
        }
    }
    let fault_errors = match fault_errors {
        Some(e) => e,
        None => (&mut nemesis_run).await,
    };
    drop(nemesis_run);
    drop(fault_events);
    let quiet = if schedule.is_empty() {
        QUIET
    } else {
        QUIET_AFTER_FAULTS
    };
    // Drain: until every owed message arrived, nothing arrived for QUIET,
    // or the drain time is over.
    let publishers_done_ns = clock.now_ns();
    // The publishers' last events are queued now; the counters hold them
    // once a whole collector poll has begun after this point.
    let fresh_from = live.polls.load(Ordering::Acquire) + 2;
    loop {
        let now = clock.now_ns();
        if live.polls.load(Ordering::Acquire) < fresh_from && now < drain_end_ns {
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        }
        let owed = live.owed.load(Ordering::Acquire);
        let arrived = live.arrived.load(Ordering::Acquire);
        let last = live
            .last_delivery_ns
            .load(Ordering::Acquire)
            .max(publishers_done_ns);
        // Sharded, this shard's subscribers also wait for the other
        // shards' publishers, which its counters do not see.
        if (arrived >= owed && options.shard.count == 1)
            || now >= drain_end_ns
            || now.saturating_sub(last) >= quiet.as_nanos() as u64
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The trace ends here: drained, every client still connected.
    let drained_ns = clock.now_ns();
    let _ = stop_tx.send(true);
    let sub_deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !subs.is_empty() {
        if tokio::time::timeout_at(sub_deadline, subs.join_next())
            .await
            .is_err()
        {
            subs.abort_all();
            while subs.join_next().await.is_some() {}
            break;
        }
    }
    let wall_s = clock.now_ns().saturating_sub(start_ns) as f64 / 1e9;
    let cpu_after = cpu_mark(options);
    drop(subs);
    drop(pubs);
    runtime.close().await;
    drop(ctx);
    let (mut collected, log) = tokio::task::spawn_blocking(move || collector_thread.join())
        .await
        .map_err(|e| SwarmError::Options(format!("collector: {e}")))?
        .map_err(|_| SwarmError::Options("the collector thread panicked".into()))?;
    bar.finish_and_clear();
    collected.ledger.profile = profile.name.clone();
    if let (Some(path), Some(trace)) = (&options.trace, collected.trace.take()) {
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
            trace.write(drained_ns, &mut out)
        };
        write().map_err(|e| {
            SwarmError::Options(format!("cannot write the trace {}: {e}", path.display()))
        })?;
    }
    Ok(Run {
        profile: profile.clone(),
        target: options.target.clone(),
        shard: options.shard,
        local_clients: local.len(),
        collected,
        log,
        start_ns,
        wall_s,
        publish_s: (ramp + profile.duration.get()).as_secs_f64(),
        cpu: cpu_use(&cpu_before, &cpu_after),
        fault_errors,
    })
}

/// Messages per second of this process's publishers.
fn local_rate(profile: &Profile, local: &[crate::plan::ClientPlan]) -> f64 {
    local
        .iter()
        .filter(|c| c.role == Role::Publisher)
        .map(|c| profile.groups[c.group].rate)
        .sum()
}

/// One of two timers, a tick apart, each re-armed two ticks ahead, so that
/// tokio's timer wheel always holds a timer for the next tick. Tokio writes
/// to its eventfd (a syscall, and a wake-up for nothing) whenever a task
/// arms a timer earlier than the earliest the wheel held at its last
/// look; without these, every busy publisher re-arming its next tick just
/// after the wheel fired did so, about one write per publisher per tick.
async fn metronome(first: std::time::Instant, tick: Duration, until: std::time::Instant) {
    let mut at = first;
    while at < until {
        tokio::time::sleep_until(at.into()).await;
        // On the grid of ticks from the start, the next one not yet past.
        let now = std::time::Instant::now();
        while at <= now {
            at += 2 * tick;
        }
    }
}

fn progress_bar(show: bool) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if show {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

fn line(p: &Point) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}ms"));
    format!(
        "sent {}/s  delivered {}/s  p50 {}  p99 {}  errors {}  connected {}",
        p.sent,
        p.delivered,
        ms(p.p50_ms),
        ms(p.p99_ms),
        p.errors,
        p.connected
    )
}

/// The collector thread: events in, a rotation every interval, the log
/// written as it goes, until every sender is gone.
fn collect(
    rx: Receiver<Vec<Event>>,
    mut c: Collector,
    clock: Clock,
    start_ns: u64,
    comment: &str,
    live: &Live,
    bar: &ProgressBar,
) -> (Collected, Vec<u8>) {
    let mut log = Vec::new();
    let step = INTERVAL.as_nanos() as u64;
    let mut next = start_ns + step;
    let publish = |c: &Collector| {
        let (owed, arrived) = c.progress();
        live.owed.store(owed, Ordering::Release);
        live.arrived.store(arrived, Ordering::Release);
        live.last_delivery_ns
            .store(c.last_delivery_ns(), Ordering::Release);
        live.errors.store(c.errors(), Ordering::Release);
        live.connected.store(c.connected(), Ordering::Release);
    };
    let written = hdrlog::write_log(&mut log, start_ns, comment, &mut |w| {
        let mut total_errors = 0u64;
        loop {
            // Polled, not woken: senders never pay for waking this thread.
            std::thread::sleep(POLL);
            let mut ended = false;
            loop {
                match rx.try_recv() {
                    Ok(batch) => {
                        for e in batch {
                            c.on_event(e);
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        ended = true;
                        break;
                    }
                }
            }
            publish(&c);
            live.polls.fetch_add(1, Ordering::AcqRel);
            let now = clock.now_ns();
            if now >= next || ended {
                let mut failed = None;
                let point = c.rotate(now.max(start_ns), |tag, h, from, len| {
                    if let Err(e) = w.interval(tag, h, from, len) {
                        failed = Some(e);
                    }
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                total_errors += point.errors;
                bar.set_message(format!("{}  (errors so far {total_errors})", line(&point)));
                bar.tick();
                publish(&c);
                while next <= now {
                    next += step;
                }
            }
            if ended {
                return Ok(());
            }
        }
    });
    if let Err(e) = written {
        tracing::warn!("interval log: {e}");
    }
    (c.finish(), log)
}
