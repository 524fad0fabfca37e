//! `mqtt-harness load`: open-loop load runs (`load`), capacity steps
//! (`load capacity`) and merging shards' histogram logs (`load merge`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mqtt_span::Span;
use mqtt_swarm::capacity::{self, CapacityOptions};
use mqtt_swarm::engine::{self, Options};
use mqtt_swarm::report::{self, json::Report, summary};
use mqtt_swarm::target::{RefServer, REF_THREADS};
use mqtt_swarm::{Profile, Shard};
use mqtt_targets::{Target, TargetsFile};

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct LoadArgs {
    /// Boxed: it holds a second set of run options.
    #[command(subcommand)]
    command: Option<Box<LoadCommand>>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Subcommand)]
enum LoadCommand {
    /// Raise the rate step by step until the SLO breaks; the knee is the
    /// capacity (reports/<target>/capacity.md and .html).
    Capacity(CapacityArgs),
    /// Merge the interval histogram logs of shards exactly, and summarise.
    Merge(MergeArgs),
    /// Generator efficiency side by side: mqttwrk 0.2.0 and the swarm on
    /// the same broker and fan-in shape, CPU of each and of the broker
    /// (reports/<target>/load/compare.md).
    Compare(CompareArgs),
}

/// Arguments of `load compare`.
#[derive(Debug, clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Publishers.
    #[arg(long, default_value_t = 10)]
    publishers: u32,
    /// Messages per publisher.
    #[arg(long, default_value_t = 20_000)]
    count: u64,
    /// QoS.
    #[arg(long, default_value_t = 1)]
    qos: u8,
    /// Payload bytes.
    #[arg(long, default_value_t = 100)]
    payload: u32,
    /// In-flight window per publisher.
    #[arg(long, default_value_t = 100)]
    inflight: u16,
    /// The swarm's total rate; mqttwrk's achieved rate by default.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds mqttwrk may run (it waits forever when a message is lost).
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Options shared by runs and capacity steps.
#[derive(Debug, Clone, clap::Args)]
struct RunArgs {
    /// Load profiles (YAML), run one after the other.
    #[arg(long, short, default_value = "scenarios/load/fan-in.yaml")]
    profile: Vec<PathBuf>,
    /// `ref` (the reference server in this process, on its own threads),
    /// an address (tcp://host:port), or a name from targets.yaml (started
    /// and stopped by the harness).
    #[arg(long, short, default_value = "ref")]
    target: String,
    /// Named targets.
    #[arg(long, default_value = "targets.yaml")]
    targets_file: PathBuf,
    /// Where reports go (reports/<target>/load/).
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Run shard i of N (clients n with n % N == i); merge the logs with
    /// `load merge`.
    #[arg(long, value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// With --shard: a directory every shard sees (fresh for each run),
    /// where the shards agree on one timeline and wait for each other's
    /// subscribers before publishing.
    #[arg(long, requires = "shard")]
    barrier: Option<PathBuf>,
    /// Connect from this many loopback source addresses (127.0.0.1,
    /// 127.0.0.2, ...) to get past one address's ephemeral port range;
    /// 0 picks one per 20,000 clients.
    #[arg(long, default_value_t = 0)]
    sources: u8,
    /// Replace the profile's duration (e.g. 10s).
    #[arg(long, value_parser = Span::parse)]
    duration: Option<Span>,
    /// Multiply every publisher's rate.
    #[arg(long, default_value_t = 1.0)]
    rate_scale: f64,
    /// Threads running the client tasks (1 spends the least CPU per
    /// message; more for very many clients or rates one core cannot carry).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Publishers write what is due once per tick (1ms, tokio's timer
    /// resolution, to 100ms): longer ticks make fewer, larger writes, and
    /// up to one tick of the corrected latency is the generator's.
    #[arg(long, value_parser = Span::parse)]
    tick: Option<Span>,
    /// Worker threads of the in-process reference server.
    #[arg(long, default_value_t = 1)]
    ref_threads: usize,
    /// Process id of the broker, for its CPU time (found from the port for
    /// local brokers when not given).
    #[arg(long)]
    broker_pid: Option<u32>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
    /// Write the run's trace (JSONL, `mqtt-harness-trace/1`) here, for
    /// `mqtt-harness check` (one profile at a time).
    #[arg(long)]
    trace: Option<PathBuf>,
}

/// Arguments of `load capacity`.
#[derive(Debug, clap::Args)]
struct CapacityArgs {
    #[command(flatten)]
    run: RunArgs,
    /// First total rate (messages/s of all publishers); the profile's by
    /// default.
    #[arg(long)]
    start_rate: Option<f64>,
    /// Rate multiplier between steps.
    #[arg(long, default_value_t = 1.5)]
    factor: f64,
    /// Most rising steps.
    #[arg(long, default_value_t = 12)]
    max_steps: usize,
    /// Refinement steps between the knee and the first broken rate.
    #[arg(long, default_value_t = 2)]
    refine: usize,
    /// Corrected p99 bound of the SLO in ms (the profile's by default).
    #[arg(long)]
    slo_p99_ms: Option<f64>,
}

/// Arguments of `load merge`.
#[derive(Debug, clap::Args)]
struct MergeArgs {
    /// Interval histogram logs (.hlog) of the shards; the ledger written
    /// beside each (`x.ledger.json` for `x.hlog`) is merged into the
    /// delivery accounting of the whole run.
    #[arg(required = true)]
    logs: Vec<PathBuf>,
    /// The merged log; the merged accounting goes beside it
    /// (`x.accounting.json`).
    #[arg(long, short, default_value = "reports/merged.hlog")]
    out: PathBuf,
    /// Merge the histograms only, even where ledgers are missing.
    #[arg(long)]
    no_accounting: bool,
}

/// A started target and what to measure.
struct Opened {
    name: String,
    addr: SocketAddr,
    broker_pid: Option<u32>,
    ref_threads: bool,
    durable: bool,
    guard: Guard,
}

enum Guard {
    Ref(RefServer),
    Target(Box<Target>),
}

impl Opened {
    /// The target with a lifecycle, for the broker faults of a profile.
    fn lifecycle(&self) -> Option<&Target> {
        match &self.guard {
            Guard::Ref(_) => None,
            Guard::Target(t) => Some(t),
        }
    }

    async fn close(self) {
        match self.guard {
            Guard::Ref(r) => {
                let _ = tokio::task::spawn_blocking(move || r.stop()).await;
            }
            Guard::Target(t) => t.stop().await,
        }
    }
}

/// Opens the target; `faults` asks for one the harness can kill and restart
/// (`ref` is then the reference server of `mqtt-targets`, in this process
/// but not on threads of its own: its CPU time is not told apart).
async fn open(a: &RunArgs, faults: bool) -> anyhow::Result<Opened> {
    if a.target == "ref" && !faults {
        let server = RefServer::start(a.ref_threads)?;
        return Ok(Opened {
            name: "ref".into(),
            addr: server.addr(),
            broker_pid: None,
            ref_threads: true,
            durable: false,
            guard: Guard::Ref(server),
        });
    }
    let targets = TargetsFile::load(&a.targets_file)?;
    let work = a.reports.join("work");
    let target = Target::open(&a.target, &targets, &work)
        .await
        .with_context(|| format!("target `{}`", a.target))?;
    let e = &target.endpoint;
    if e.scheme.as_str() != "tcp" {
        target.stop().await;
        bail!(
            "target `{}`: load runs speak plain TCP only (tcp://)",
            a.target
        );
    }
    let authority = e.authority();
    let addr = tokio::net::lookup_host(&authority)
        .await
        .with_context(|| format!("target `{}`: cannot resolve {authority}", a.target))?
        .next()
        .with_context(|| format!("target `{}`: {authority} has no address", a.target))?;
    let broker_pid = a.broker_pid.or_else(|| {
        addr.ip()
            .is_loopback()
            .then(|| mqtt_swarm::cpu::listener_pid(addr.port()))
            .flatten()
    });
    Ok(Opened {
        name: target.name.clone(),
        addr,
        broker_pid,
        ref_threads: false,
        durable: target
            .capabilities
            .contains(&mqtt_targets::Capability::Durable),
        guard: Guard::Target(Box::new(target)),
    })
}

fn options(a: &RunArgs, t: &Opened, clients: u64) -> Options {
    let mut o = Options::new(t.addr, &t.name);
    o.shard = a.shard.unwrap_or_default();
    o.barrier = a.barrier.clone();
    if let Some(t) = a.tick {
        o.tick = t
            .get()
            .clamp(engine::MIN_TICK, std::time::Duration::from_millis(100));
    }
    let sources = match a.sources {
        0 => clients.div_ceil(20_000).max(1) as u8,
        n => n,
    };
    if t.addr.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST) && sources > 1 {
        o.sources = (1..=sources)
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
            .collect();
    }
    o.progress = !a.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    o.broker_pid = t.broker_pid;
    o.broker_threads = t.ref_threads.then(|| REF_THREADS.to_owned());
    o.threads = a.threads.clamp(1, 64);
    o.trace = a.trace.clone();
    o.durable = t.durable;
    o
}

fn load_profile(path: &Path, a: &RunArgs) -> anyhow::Result<Profile> {
    let mut p = Profile::load(path)?;
    if let Some(d) = a.duration {
        p.duration = d;
        p.check_faults()
            .map_err(|e| anyhow::anyhow!("{}: with --duration {d}: {e}", path.display()))?;
    }
    if a.rate_scale != 1.0 {
        if !(a.rate_scale.is_finite() && a.rate_scale > 0.0) {
            bail!("--rate-scale must be more than 0");
        }
        p = p.scaled(a.rate_scale);
    }
    Ok(p)
}

pub(crate) async fn run(args: LoadArgs) -> anyhow::Result<()> {
    match args.command.map(|c| *c) {
        None => run_profiles(&args.run).await,
        Some(LoadCommand::Capacity(c)) => run_capacity(c).await,
        Some(LoadCommand::Merge(m)) => merge(&m),
        Some(LoadCommand::Compare(c)) => compare(c).await,
    }
}

async fn run_profiles(a: &RunArgs) -> anyhow::Result<()> {
    // Every profile is checked before anything starts.
    let profiles = a
        .profile
        .iter()
        .map(|p| load_profile(p, a))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if a.trace.is_some() && profiles.len() > 1 {
        bail!(
            "--trace takes one profile at a time ({} given)",
            profiles.len()
        );
    }
    let faults = profiles.iter().any(|p| !p.faults.is_empty());
    let target = open(a, faults).await?;
    let mut failed = Vec::new();
    let mut result = Ok(());
    for p in &profiles {
        let o = options(a, &target, p.clients());
        match engine::run_with(p, &o, target.lifecycle()).await {
            Ok(run) => {
                for e in &run.fault_errors {
                    eprintln!("fault not carried out: {e}");
                }
                if !run.fault_errors.is_empty() {
                    failed.push(format!("{} (faults not carried out)", p.name));
                }
                if let Some(t) = &a.trace {
                    println!(
                        "trace: {} (check it: mqtt-harness check {})",
                        t.display(),
                        t.display()
                    );
                }
                let r = Report::of(&run);
                print!("{}", summary::render(&r));
                match report::write(&run, &report::folder(&a.reports, &target.name)) {
                    Ok(w) => println!(
                        "reports: {} {} {} {}",
                        w.json.display(),
                        w.html.display(),
                        w.hlog.display(),
                        w.ledger.display()
                    ),
                    Err(e) => {
                        result = Err(e.into());
                        break;
                    }
                }
                if !r.verdict.delivery_ok {
                    failed.push(p.name.clone());
                }
            }
            Err(e) => {
                result = Err(anyhow::Error::from(e).context(format!("profile `{}`", p.name)));
                break;
            }
        }
    }
    target.close().await;
    result?;
    if !failed.is_empty() {
        bail!("delivery failed in: {}", failed.join(", "));
    }
    Ok(())
}

async fn run_capacity(c: CapacityArgs) -> anyhow::Result<()> {
    let a = &c.run;
    let mut profiles = Vec::new();
    for path in &a.profile {
        let mut p = load_profile(path, a)?;
        if !p.faults.is_empty() {
            bail!(
                "{}: capacity steps find the knee of a healthy broker; run a profile with `faults:` \
                 with `mqtt-harness load --profile`",
                path.display()
            );
        }
        if let Some(ms) = c.slo_p99_ms {
            p.slo.p99_ms = ms;
        }
        profiles.push(p);
    }
    let target = open(a, false).await?;
    let cap = CapacityOptions {
        start_rate: c.start_rate,
        factor: c.factor,
        max_steps: c.max_steps,
        refine: c.refine,
        step_duration: a.duration,
        ..CapacityOptions::default()
    };
    let mut result = Ok(());
    let mut md = String::new();
    let mut html = String::new();
    for p in &profiles {
        let o = options(a, &target, p.clients());
        let outcome = capacity::capacity(p, &o, &cap, |s| {
            eprintln!(
                "  {:>10.0} msg/s: p99 {} ms, lost {:?}: {}",
                s.rate,
                s.corrected
                    .as_ref()
                    .map_or("-".into(), |h| format!("{:.2}", h.p99_ms)),
                s.lost,
                if s.held { "held" } else { "broken" }
            );
        })
        .await;
        match outcome {
            Ok(cap) => {
                let m = capacity::markdown(&cap);
                print!("{m}");
                md.push_str(&m);
                md.push('\n');
                html.push_str(&capacity::html(&cap));
            }
            Err(e) => {
                result = Err(anyhow::Error::from(e).context(format!("profile `{}`", p.name)));
                break;
            }
        }
    }
    let name = target.name.clone();
    target.close().await;
    result?;
    let dir = a.reports.join(report::safe_name(&name));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    let md_path = dir.join("capacity.md");
    let html_path = dir.join("capacity.html");
    std::fs::write(&md_path, md).with_context(|| md_path.display().to_string())?;
    std::fs::write(&html_path, html).with_context(|| html_path.display().to_string())?;
    println!("reports: {} {}", md_path.display(), html_path.display());
    Ok(())
}

fn merge(m: &MergeArgs) -> anyhow::Result<()> {
    let merged = mqtt_swarm::hdrlog::merge(&m.logs)?;
    if let Some(dir) = m.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    let mut out = Vec::new();
    merged
        .write(
            &mut out,
            &format!("mqtt-harness load merge of {} logs", m.logs.len()),
        )
        .context("writing the merged log")?;
    std::fs::write(&m.out, out).with_context(|| m.out.display().to_string())?;
    println!(
        "merged {} interval histograms from {} logs into {}",
        merged.read,
        m.logs.len(),
        m.out.display()
    );
    println!(
        "{:<32} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "tag", "count", "p50 ms", "p99 ms", "p99.9 ms", "max ms", ""
    );
    for (tag, h) in &merged.totals {
        let s = mqtt_swarm::metrics::Summary::of(h);
        println!(
            "{:<32} {:>10} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            tag, s.count, s.p50_ms, s.p99_ms, s.p999_ms, s.max_ms
        );
    }
    if m.no_accounting {
        return Ok(());
    }
    merge_accounting(m)
}

/// The delivery accounting of the whole run from the shards' ledgers; an
/// error when a ledger is missing or the run lost QoS 1/2 messages.
fn merge_accounting(m: &MergeArgs) -> anyhow::Result<()> {
    use mqtt_swarm::crossshard::{self, ShardLedger};
    let ledgers = m
        .logs
        .iter()
        .map(|log| {
            let path = report::ledger_beside(log);
            if !path.exists() {
                bail!(
                    "{}: no ledger beside this log, so delivery cannot be accounted across shards \
                     (written by runs of this version; --no-accounting merges histograms only)",
                    path.display()
                );
            }
            Ok(ShardLedger::read(&path)?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merged = crossshard::merge(&ledgers)?;
    let path = m.out.with_extension("accounting.json");
    let text = crossshard::to_json(&merged)? + "\n";
    std::fs::write(&path, text).with_context(|| path.display().to_string())?;
    let a = &merged.accounting;
    println!(
        "\ndelivery accounting of {} shards of `{}`: {} messages sent",
        merged.shards, merged.profile, merged.sent
    );
    print!("{}", summary::qos_table(a));
    if a.unconfirmed + a.unexpected + a.foreign > 0 {
        println!(
            "unconfirmed (sent, never acknowledged) {} of which delivered {}; unexpected {}; foreign payloads {}",
            a.unconfirmed, a.unconfirmed_delivered, a.unexpected, a.foreign
        );
    }
    print!("{}", summary::problem_lines(a));
    for why in &merged.inexact {
        println!("inexact: {why}");
    }
    println!("accounting: {}", path.display());
    if !a.passed() {
        bail!(
            "delivery failed: QoS 1 lost {}, QoS 2 lost {} and duplicated {}",
            a.qos[1].lost,
            a.qos[2].lost,
            a.qos[2].duplicated
        );
    }
    Ok(())
}

async fn compare(c: CompareArgs) -> anyhow::Result<()> {
    use mqtt_swarm::compare::Shape;
    let shape = Shape {
        publishers: c.publishers,
        count: c.count,
        qos: c.qos.min(2),
        payload: c.payload,
        inflight: c.inflight,
    };
    let target = open(&c.run, false).await?;
    let outcome = compare_on(&c, &target, &shape).await;
    let name = target.name.clone();
    target.close().await;
    let text = outcome?;
    print!("{text}");
    let dir = report::folder(&c.run.reports, &name);
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    let path = dir.join(format!("compare-qos{}.md", shape.qos));
    std::fs::write(&path, &text).with_context(|| path.display().to_string())?;
    println!("report: {}", path.display());
    Ok(())
}

async fn compare_on(
    c: &CompareArgs,
    target: &Opened,
    shape: &mqtt_swarm::compare::Shape,
) -> anyhow::Result<String> {
    use mqtt_swarm::compare;
    let (addr, pid, s) = (target.addr, target.broker_pid, shape.clone());
    let timeout = std::time::Duration::from_secs(c.timeout);
    let peer =
        tokio::task::spawn_blocking(move || compare::mqttwrk(addr, &s, pid, timeout)).await??;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let rate = c
        .rate
        .unwrap_or(if peer.completed { peer.rate } else { 10_000.0 });
    let profile = compare::profile(shape, rate);
    let o = options(&c.run, target, profile.clients());
    let run = engine::run(&profile, &o).await?;
    let r = Report::of(&run);
    let swarm_messages = r.counters.sent + r.counters.delivered;
    let swarm_per_cpu = r.messages_per_generator_cpu_s;
    let mut t = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        t,
        "### {} publishers x {} messages, QoS {}, {} B, window {}, 1 subscriber, on {}\n",
        shape.publishers, shape.count, shape.qos, shape.payload, shape.inflight, target.name
    );
    let _ = writeln!(t, "| generator | completed | sent/s | messages (sent + delivered) | generator CPU s | broker CPU s | messages per generator CPU-s | corrected p99 ms |");
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|---:|---:|");
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(
        t,
        "| {} | {} | {:.0} | {} | {} | {} | {} | (not measured) |",
        peer.tool,
        if peer.completed {
            "yes"
        } else {
            "no (timed out or failed)"
        },
        peer.rate,
        peer.messages,
        f(peer.cpu_s),
        f(peer.broker_cpu_s),
        peer.per_cpu_s.map_or("-".into(), |v| format!("{v:.0}")),
    );
    let _ = writeln!(
        t,
        "| mqtt-swarm (open loop at {:.0}/s) | {} | {:.0} | {} | {} | {} | {} | {} |",
        rate,
        if r.verdict.delivery_ok {
            "yes, nothing lost"
        } else {
            "delivery FAILED"
        },
        r.counters.sent as f64 / r.publish_s.max(1e-9),
        swarm_messages,
        f(r.cpu.generator_s),
        f(r.cpu.broker_s),
        swarm_per_cpu.map_or("-".into(), |v| format!("{v:.0}")),
        r.latency
            .get(mqtt_swarm::metrics::E2E_CORRECTED)
            .map_or("-".into(), |s| format!("{:.2}", s.p99_ms)),
    );
    if let (Some(a), Some(b)) = (swarm_per_cpu, peer.per_cpu_s) {
        let _ = writeln!(
            t,
            "\nmqtt-swarm / mqttwrk messages per generator CPU-second: **{:.2}x**",
            a / b
        );
    }
    let _ = writeln!(t, "\npeer command: `{}`\n", peer.command);
    Ok(t)
}

#[cfg(test)]
mod k8s_tests;
