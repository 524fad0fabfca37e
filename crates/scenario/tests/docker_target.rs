//! The testcontainers path, end to end: `docker:mosquitto` starts the
//! `mqtt-harness/mosquitto:local` image (built here from the installed
//! mosquitto when absent) in a Docker daemon (the private one of
//! `cargo xtask docker daemon start`, started here when none is configured),
//! and scenarios run against it.
//!
//! Docker is required in CI (`CI=true`): without it the test fails, saying
//! how to install it. Elsewhere it returns early with a note.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_scenario::load::load_dir;
use mqtt_scenario::runner::{RunSettings, Verdict};
use mqtt_scenario::suite::run_suite;
use mqtt_targets::{Target, TargetsFile};

/// The xtask's daemon and image code, shared rather than copied, and
/// called directly rather than through a nested `cargo xtask` build.
#[allow(dead_code)]
#[path = "../../../xtask/src/docker.rs"]
mod xdocker;

/// The image `docker:mosquitto` runs (targets.yaml's `image`).
const IMAGE: &str = "mqtt-harness/mosquitto:local";

/// The scenario folders run against the container.
const FOLDERS: &[&str] = &["both/3.3-publish/", "v5/3.8-subscribe/"];

/// Scenarios mosquitto 2.0 is known to fail (its baseline): they must fail
/// here too, which shows the broker in the container is mosquitto.
const KNOWN_MOSQUITTO_FAILURES: &[&str] =
    &["v5/3.8-subscribe/no-local-on-shared-subscription-protocol-error"];

/// The whole test, start to clean-up, is bounded by this.
const BUDGET: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// A missing requirement: fails the test in CI (`CI=true`), else notes it
/// (the caller then returns).
fn missing(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI requires {what} for the docker target test (.ci/run installs it)");
    }
    eprintln!("note: docker_target skipped: {what} is missing");
}

fn docker(host: &str) -> Command {
    let mut c = Command::new("docker");
    c.args(["--host", host]);
    c
}

fn answers(host: &str) -> bool {
    docker(host)
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn lines(cmd: &mut Command) -> Vec<String> {
    let out = cmd.output().expect("docker runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Stops the private daemon when this test started it, even on a panic.
struct DaemonGuard {
    root: PathBuf,
    started: bool,
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if self.started {
            if let Err(e) = xdocker::daemon_stop(&self.root) {
                eprintln!("stopping the private dockerd: {e:#}");
            }
        }
    }
}

#[test]
fn docker_mosquitto_passes_scenarios_through_testcontainers() {
    let t0 = Instant::now();
    if !on_path("docker") || !on_path("dockerd") {
        missing("Docker (`apt-get install -y docker.io`)");
        return;
    }
    if !Path::new("/usr/sbin/mosquitto").is_file() {
        missing("mosquitto (`apt-get install -y mosquitto`), to build the image");
        return;
    }
    let root = root();

    // The daemon: DOCKER_HOST's or the system one when they answer, else
    // the private one (reused if it runs, else started and stopped here).
    let private = format!(
        "unix://{}",
        root.join("target/docker/docker.sock")
            .canonicalize()
            .unwrap_or_else(|_| root.join("target/docker/docker.sock"))
            .display()
    );
    let configured = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            Path::new("/var/run/docker.sock")
                .exists()
                .then(|| "unix:///var/run/docker.sock".to_owned())
        })
        .filter(|h| answers(h));
    let mut guard = DaemonGuard {
        root: root.clone(),
        started: false,
    };
    let host = match configured {
        Some(host) => host,
        None => {
            if !answers(&private) {
                xdocker::daemon_start(&root).unwrap_or_else(|e| {
                    panic!("cannot start the private dockerd (root is needed): {e:#}")
                });
                guard.started = true;
            }
            let sock = root
                .join("target/docker/docker.sock")
                .canonicalize()
                .unwrap();
            format!("unix://{}", sock.display())
        }
    };
    // Before any thread is started: testcontainers and bollard read it.
    std::env::set_var("DOCKER_HOST", &host);
    let t_daemon = t0.elapsed();

    // The image.
    let have_image = docker(&host)
        .args(["image", "inspect", IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_image {
        xdocker::image(&root, "mosquitto").unwrap_or_else(|e| panic!("building {IMAGE}: {e:#}"));
    }
    let t_image = t0.elapsed();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let budget = BUDGET.saturating_sub(t0.elapsed());
    let outcome = rt.block_on(async {
        tokio::time::timeout(budget, run(&root, &host))
            .await
            .unwrap_or_else(|_| Err(format!("the run did not finish within {budget:?}")))
    });
    // Clean up whatever happened, then judge.
    drop(rt);
    let leftovers = lines(docker(&host).args([
        "ps",
        "-aq",
        "--filter",
        "label=mqtt-harness.target=docker:mosquitto",
    ]));
    if !leftovers.is_empty() {
        let _ = docker(&host).args(["rm", "-f"]).args(&leftovers).status();
    }
    drop(guard);
    let t_end = t0.elapsed();
    eprintln!(
        "docker_target timings: daemon ready {t_daemon:.1?}, image ready {t_image:.1?}, total {t_end:.1?}"
    );

    let report = outcome.unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{report}");
    assert!(
        leftovers.is_empty(),
        "containers left after Target::stop: {leftovers:?}"
    );
}

/// Opens `docker:mosquitto`, runs the scenarios, stops it; a summary or
/// what went wrong.
async fn run(root: &Path, host: &str) -> Result<String, String> {
    let targets = TargetsFile::load(&root.join("targets.yaml")).map_err(|e| e.to_string())?;
    if targets
        .targets
        .get("mosquitto")
        .and_then(|d| d.image.as_deref())
        != Some(IMAGE)
    {
        return Err(format!(
            "targets.yaml's mosquitto should name image {IMAGE}"
        ));
    }
    let (scenarios, errors) = load_dir(&root.join("scenarios"), None);
    if !errors.is_empty() {
        return Err(format!("scenario files that do not load: {errors:?}"));
    }
    let scenarios: Vec<_> = scenarios
        .into_iter()
        .filter(|s| FOLDERS.iter().any(|f| s.id.starts_with(f)))
        .collect();
    if scenarios.len() < 10 {
        return Err(format!(
            "only {} scenarios under {FOLDERS:?}",
            scenarios.len()
        ));
    }

    let t = Instant::now();
    let work = root.join("target/docker/work");
    let target = Target::open("docker:mosquitto", &targets, &work)
        .await
        .map_err(|e| e.to_string())?;
    let t_open = t.elapsed();
    let running = lines(docker(host).args([
        "ps",
        "-q",
        "--filter",
        "label=mqtt-harness.target=docker:mosquitto",
        "--filter",
        &format!("ancestor={IMAGE}"),
    ]));
    let settings = RunSettings {
        default_wait: Duration::from_secs(10),
        ..RunSettings::default()
    };
    let parallel = target.parallel.unwrap_or(8);
    let endpoint = target.endpoint.to_string();
    let runs = run_suite(&scenarios, &target, &settings, parallel, |_| {}).await;
    let t_runs = t.elapsed();
    target.stop().await;
    let t_stop = t.elapsed();

    if running.len() != 1 {
        return Err(format!(
            "expected one running {IMAGE} container during the run, saw {running:?}"
        ));
    }
    let mut bad = Vec::new();
    for r in &runs {
        let known = KNOWN_MOSQUITTO_FAILURES.contains(&r.id.as_str());
        match (&r.verdict, known) {
            (Verdict::Pass, false) => {}
            (Verdict::Fail, true) => {}
            (v, _) => bad.push(format!(
                "  {} [{}] {v:?}{}{}",
                r.id,
                r.version,
                if known {
                    " (mosquitto is known to fail it)"
                } else {
                    ""
                },
                r.evidence.as_ref().map_or(String::new(), |e| format!(
                    ": expected {}, seen {}",
                    e.expected, e.seen
                ))
            )),
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "{} of {} runs against docker:mosquitto at {endpoint} are not as expected:\n{}",
            bad.len(),
            runs.len(),
            bad.join("\n")
        ));
    }
    Ok(format!(
        "docker:mosquitto at {endpoint}: {} runs as expected ({} known mosquitto failure); \
         open {t_open:.1?}, scenarios {:.1?}, stop {:.1?}",
        runs.len(),
        KNOWN_MOSQUITTO_FAILURES.len(),
        t_runs - t_open,
        t_stop - t_runs
    ))
}
