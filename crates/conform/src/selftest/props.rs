//! The property tests through the self-check's fault-injecting proxy
//! (`conform --selftest --props N`): the same cases (same seed) run
//! against the plain reference server, through the proxy without a fault
//! (both must show no divergence), then once per fault; a fault is
//! detected when a case diverges through its proxy. Written to
//! `reports/props-selftest.md`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use mqtt_props::{run_props_at, PropsOptions, PropsReport};
use mqtt_targets::{Target, TargetError};

use crate::selftest::{Fault, FaultProxy};

/// What the props self-check found for one fault.
#[derive(Debug, Clone, Serialize)]
pub struct FaultFinding {
    /// The fault's name.
    pub fault: String,
    /// Cases run before the first divergence (or all).
    pub cases: usize,
    /// Detected.
    pub detected: bool,
    /// The first divergence.
    pub divergence: Option<String>,
    /// Times the proxy injected it.
    pub triggered: u64,
}

/// The props self-check's findings.
#[derive(Debug, Clone, Serialize)]
pub struct PropsSelftest {
    /// The seed.
    pub seed: u64,
    /// Cases per route.
    pub cases: usize,
    /// The plain reference server.
    pub direct: PropsReport,
    /// Through the proxy without a fault.
    pub transparent: PropsReport,
    /// Per fault.
    pub faults: Vec<FaultFinding>,
    /// Detected faults.
    pub detected: usize,
    /// Wall time, seconds.
    pub seconds: f64,
}

fn addr(target: &Target) -> Result<SocketAddr, TargetError> {
    target
        .endpoint
        .authority()
        .parse()
        .map_err(|e| TargetError::Start {
            name: "ref".into(),
            message: format!("`{}` is not a socket address: {e}", target.endpoint),
        })
}

async fn through(
    fault: Option<Fault>,
    o: &PropsOptions,
) -> Result<(PropsReport, u64), TargetError> {
    let target = Target::reference().await?;
    let profile = mqtt_props::profile(&target, o);
    let name = fault.map_or("proxy".to_owned(), |f| format!("proxy+{f}"));
    let result = {
        {
            let proxy = FaultProxy::start(addr(&target)?, fault)
                .await
                .map_err(|e| TargetError::Start {
                    name: name.clone(),
                    message: format!("the proxy cannot listen: {e}"),
                })?;
            let r = run_props_at(&name, &proxy.endpoint(), &profile, None, o, None, |_| {}).await;
            let t = proxy.triggered();
            proxy.stop().await;
            (r, t)
        }
    };
    target.stop().await;
    Ok(result)
}

/// Runs the props self-check and writes `reports_dir/props-selftest.md`.
pub async fn props_selftest(
    o: &PropsOptions,
    reports_dir: &Path,
    mut progress: impl FnMut(&str),
) -> Result<(PropsSelftest, String), TargetError> {
    let started = Instant::now();
    let plain = Target::reference().await?;
    let profile = mqtt_props::profile(&plain, o);
    let direct = run_props_at("ref", &plain.endpoint, &profile, None, o, None, |_| {}).await;
    plain.stop().await;
    progress("ref");
    let (transparent, _) = through(None, o).await?;
    progress("proxy");
    let fault_options = PropsOptions {
        stop_at_first: true,
        shrink_runs: 0,
        ..o.clone()
    };
    let mut faults = Vec::new();
    for &f in Fault::ALL {
        let (r, triggered) = through(Some(f), &fault_options).await?;
        progress(f.name());
        faults.push(FaultFinding {
            fault: f.name().to_owned(),
            cases: r.cases,
            detected: r.diverged > 0,
            divergence: r.found.first().map(|x| x.first.clone()),
            triggered,
        });
    }
    let report = PropsSelftest {
        seed: o.seed,
        cases: o.cases,
        detected: faults.iter().filter(|f| f.detected).count(),
        direct,
        transparent,
        faults,
        seconds: started.elapsed().as_secs_f64(),
    };
    let md = markdown(&report);
    std::fs::create_dir_all(reports_dir).ok();
    let _ = std::fs::write(reports_dir.join("props-selftest.md"), &md);
    Ok((report, md))
}

/// The findings as Markdown.
pub fn markdown(r: &PropsSelftest) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Self-check of the property tests\n");
    let _ = writeln!(
        s,
        "**{} of {} faults detected** by property tests alone ({} cases per route, seed {}, {:.0}s).\n",
        r.detected,
        r.faults.len(),
        r.cases,
        r.seed,
        r.seconds
    );
    let _ = writeln!(
        s,
        "- plain reference server: {} cases, {} diverged, {} errors\n- transparent proxy: {} cases, {} diverged, {} errors\n",
        r.direct.cases, r.direct.diverged, r.direct.errors, r.transparent.cases, r.transparent.diverged, r.transparent.errors
    );
    let _ = writeln!(
        s,
        "| fault | triggered | detected | cases run | first divergence |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---|");
    for f in &r.faults {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | {} | {} |",
            f.fault,
            f.triggered,
            if f.detected { "yes" } else { "**no**" },
            f.cases,
            f.divergence
                .as_deref()
                .unwrap_or("-")
                .replace('|', "\\|")
                .replace('\n', " ")
        );
    }
    s
}
