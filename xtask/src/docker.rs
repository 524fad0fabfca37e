//! `cargo xtask docker ...`: a private Docker daemon and the harness's broker
//! images, for the testcontainers path (`--targets docker:mosquitto`).
//!
//! * `cargo xtask docker daemon start|stop|status`: a dockerd of the
//!   project's own (root needed; `apt-get install -y docker.io` provides it),
//!   its socket, data and logs under `target/docker/`, with no bridge and no
//!   iptables rules: containers run with host networking, on loopback. It
//!   installs nothing.
//! * `cargo xtask docker image mosquitto`: builds `mqtt-harness/mosquitto:local`
//!   by `docker import` from a root filesystem assembled from the installed
//!   `/usr/sbin/mosquitto` and the libraries `ldd` lists (no registry needed).

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long dockerd gets to answer after it is started.
const DAEMON_READY: Duration = Duration::from_secs(60);
/// How long dockerd gets to exit after SIGTERM before SIGKILL.
const DAEMON_STOP: Duration = Duration::from_secs(20);

/// An image this task knows how to build.
struct ImageRecipe {
    /// The name used on the command line (and in targets.yaml).
    name: &'static str,
    /// The image reference (the `image` of the target in targets.yaml).
    reference: &'static str,
    /// The program and where it is installed on this machine.
    binary: &'static str,
    /// How to install the program when it is missing.
    install: &'static str,
    /// Files written into the image: path, contents.
    files: &'static [(&'static str, &'static str)],
    /// `docker import --change` instructions.
    changes: &'static [&'static str],
}

/// `/etc` files every image gets: enough for getpwnam/getgrnam (glibc has
/// the `files` NSS module built in) and for a broker dropping root.
const ETC: &[(&str, &str)] = &[
    (
        "etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\n\
         mosquitto:x:100:101:mosquitto:/var/empty:/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
    ),
    (
        "etc/group",
        "root:x:0:\nmosquitto:x:101:\nnogroup:x:65534:\n",
    ),
    (
        "etc/nsswitch.conf",
        "passwd: files\ngroup: files\nhosts: files\n",
    ),
    ("etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"),
];

/// The images, by name.
const IMAGES: &[ImageRecipe] = &[ImageRecipe {
    name: "mosquitto",
    reference: "mqtt-harness/mosquitto:local",
    binary: "/usr/sbin/mosquitto",
    install: "apt-get install -y mosquitto",
    files: &[(
        // The default config, for running the image by hand; the harness
        // writes its own (targets.yaml) and passes `-c` to it.
        "mosquitto/config/mosquitto.conf",
        "listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n",
    )],
    changes: &[
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENTRYPOINT [\"/usr/sbin/mosquitto\"]",
        "CMD [\"-c\", \"/mosquitto/config/mosquitto.conf\"]",
    ],
}];

/// Where the private daemon keeps everything.
struct DaemonPaths {
    dir: PathBuf,
}

impl DaemonPaths {
    fn new(root: &Path) -> DaemonPaths {
        DaemonPaths {
            dir: root.join("target/docker"),
        }
    }
    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }
    fn pidfile(&self) -> PathBuf {
        self.dir.join("dockerd.pid")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }
    fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }
}

/// `cargo xtask docker daemon start`.
pub(crate) fn daemon_start(root: &Path) -> Result<()> {
    let paths = DaemonPaths::new(root);
    let host = paths.host();
    if daemon_pid(&paths).is_some() && answers(&host) {
        println!("a private dockerd already runs");
        println!("export DOCKER_HOST={host}");
        return Ok(());
    }
    if !on_path("dockerd") {
        bail!("dockerd is not installed: install Docker with `apt-get install -y docker.io` (this task installs nothing)");
    }
    std::fs::create_dir_all(&paths.dir)
        .with_context(|| format!("creating {}", paths.dir.display()))?;
    // A stale socket or pid file from a daemon that died.
    let _ = std::fs::remove_file(paths.socket());
    let _ = std::fs::remove_file(paths.pidfile());
    let log = std::fs::File::create(paths.log())
        .with_context(|| format!("creating {}", paths.log().display()))?;
    let data = paths.dir.join("data");
    let exec = paths.dir.join("exec");
    let mut child = Command::new("dockerd")
        .arg("--iptables=false")
        .arg("--ip6tables=false")
        .arg("--bridge=none")
        .arg("--data-root")
        .arg(&data)
        .arg("--exec-root")
        .arg(&exec)
        .arg("--pidfile")
        .arg(paths.pidfile())
        .arg("-H")
        .arg(&host)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C meant for cargo does not reach it.
        .process_group(0)
        .spawn()
        .context("starting dockerd")?;
    let deadline = Instant::now() + DAEMON_READY;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "dockerd exited at start ({status}); is this root? See {}:\n{}",
                paths.log().display(),
                tail(&paths.log(), 15)
            );
        }
        if answers(&host) {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "dockerd did not answer within {DAEMON_READY:?}; see {}:\n{}",
                paths.log().display(),
                tail(&paths.log(), 15)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "dockerd started (pid {}, log {})",
        child.id(),
        paths.log().display()
    );
    println!("export DOCKER_HOST={host}");
    Ok(())
}

/// `cargo xtask docker daemon stop`: stops the private daemon (and so its
/// containers).
pub(crate) fn daemon_stop(root: &Path) -> Result<()> {
    let paths = DaemonPaths::new(root);
    let Some(pid) = daemon_pid(&paths) else {
        println!("no private dockerd runs");
        return Ok(());
    };
    // Containers first, so none outlives the daemon as an orphan shim.
    let host = paths.host();
    if answers(&host) {
        if let Ok(out) = docker(&host).args(["ps", "-aq"]).output() {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if !ids.is_empty() {
                println!("removing {} container(s)", ids.len());
                let _ = docker(&host)
                    .args(["rm", "-f"])
                    .args(&ids)
                    .stdout(Stdio::null())
                    .status();
            }
        }
    }
    signal(pid, "TERM")?;
    let deadline = Instant::now() + DAEMON_STOP;
    while alive(pid) {
        if Instant::now() >= deadline {
            println!("dockerd (pid {pid}) ignored SIGTERM for {DAEMON_STOP:?}: SIGKILL");
            signal(pid, "KILL")?;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::fs::remove_file(paths.pidfile());
    let _ = std::fs::remove_file(paths.socket());
    println!("dockerd (pid {pid}) stopped");
    Ok(())
}

/// `cargo xtask docker daemon status`.
pub(crate) fn daemon_status(root: &Path) -> Result<()> {
    let paths = DaemonPaths::new(root);
    match daemon_pid(&paths) {
        Some(pid) if answers(&paths.host()) => {
            println!("a private dockerd runs (pid {pid})");
            println!("export DOCKER_HOST={}", paths.host());
        }
        Some(pid) => println!("dockerd pid {pid} is alive but does not answer"),
        None => println!("no private dockerd runs"),
    }
    Ok(())
}

/// `cargo xtask docker image NAME`.
pub(crate) fn image(root: &Path, name: &str) -> Result<()> {
    let Some(recipe) = IMAGES.iter().find(|r| r.name == name) else {
        let names: Vec<&str> = IMAGES.iter().map(|r| r.name).collect();
        bail!(
            "no image recipe for `{name}`: known are {}",
            names.join(", ")
        );
    };
    let host = docker_host(root);
    if !answers(&host) {
        bail!("no Docker daemon answers at {host}: start one with `cargo xtask docker daemon start` (or set DOCKER_HOST)");
    }
    let binary = Path::new(recipe.binary);
    if !binary.is_file() {
        bail!("{} is not installed: `{}`", recipe.binary, recipe.install);
    }
    let rootfs = root.join("target/docker/rootfs").join(recipe.name);
    if rootfs.exists() {
        std::fs::remove_dir_all(&rootfs)
            .with_context(|| format!("clearing {}", rootfs.display()))?;
    }
    let started = Instant::now();
    copy_in(&rootfs, binary)?;
    for lib in ldd(binary)? {
        copy_in(&rootfs, &lib)?;
    }
    for (path, text) in ETC.iter().chain(recipe.files) {
        let to = rootfs.join(path);
        std::fs::create_dir_all(to.parent().expect("a file in a folder"))?;
        std::fs::write(&to, text).with_context(|| format!("writing {}", to.display()))?;
    }
    for dir in ["tmp", "var/empty", "harness"] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    // tar of the rootfs | docker import - REF
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("running tar")?;
    let mut import = docker(&host);
    import.arg("import");
    for change in recipe.changes {
        import.args(["--change", change]);
    }
    let status = import
        .args(["-", recipe.reference])
        .stdin(tar.stdout.take().expect("piped"))
        .stdout(Stdio::null())
        .status()
        .context("running docker import")?;
    let tar_status = tar.wait()?;
    if !tar_status.success() || !status.success() {
        bail!(
            "building {} failed (tar: {tar_status}, docker import: {status})",
            recipe.reference
        );
    }
    println!(
        "built {} from {} and its libraries in {:.1}s (DOCKER_HOST={host})",
        recipe.reference,
        recipe.binary,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The daemon to use: DOCKER_HOST, else the private one if it runs, else
/// the system socket.
fn docker_host(root: &Path) -> String {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        if !host.is_empty() {
            return host;
        }
    }
    let private = DaemonPaths::new(root);
    if private.socket().exists() {
        return private.host();
    }
    "unix:///var/run/docker.sock".to_owned()
}

/// The docker client against `host`.
fn docker(host: &str) -> Command {
    let mut c = Command::new("docker");
    c.args(["--host", host]);
    c
}

/// True when the daemon at `host` answers.
fn answers(host: &str) -> bool {
    docker(host)
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The pid in the private daemon's pid file, if that process is alive.
fn daemon_pid(paths: &DaemonPaths) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(paths.pidfile())
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid).then_some(pid)
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() && alive(pid) {
        bail!("kill -{sig} {pid} failed ({status})");
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// The shared libraries `ldd` lists for `binary`, the loader included.
fn ldd(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .context("running ldd")?;
    if !out.status.success() {
        bail!(
            "ldd {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)"; not "linux-vdso.so.1 (0x...)".
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// Copies `file` (following symlinks) to the same absolute path under
/// `rootfs`, keeping its permissions.
fn copy_in(rootfs: &Path, file: &Path) -> Result<()> {
    let to = rootfs.join(file.strip_prefix("/").unwrap_or(file));
    std::fs::create_dir_all(to.parent().expect("a file in a folder"))?;
    std::fs::copy(file, &to)
        .with_context(|| format!("copying {} to {}", file.display(), to.display()))?;
    Ok(())
}

/// The last `n` lines of a file, for error messages.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for line in &lines[lines.len().saturating_sub(n)..] {
        let _ = writeln!(out, "  {line}");
    }
    String::from_utf8_lossy(&out).into_owned()
}
