//! Helpers for the interoperability tests: start the reference server
//! in-process, run third-party clients (`mosquitto_pub`, `mosquitto_sub`,
//! the paho script in `tests/clients/`) as child processes, and wait for
//! what they print, every wait bounded by [`WAIT`].
//!
//! Missing tools make a test FAIL with what to install, never skip.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mqtt_server::{ListenerConfig, ListenerProtocol, RunningServer, ServerConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The bound on every single wait: a wide margin over what a healthy run
/// takes on a loaded 2-core CI machine (milliseconds).
pub const WAIT: Duration = Duration::from_secs(10);

/// The same bound in whole seconds, for the clients' own `-W`/`--timeout`.
pub const WAIT_SECS: u64 = 10;

/// MQTT protocol version spoken by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MQTT 3.1.1.
    V311,
    /// MQTT 5.0.
    V5,
}

impl Version {
    /// The `-V` argument of mosquitto_pub / mosquitto_sub.
    pub fn mosquitto(self) -> &'static str {
        match self {
            Version::V311 => "mqttv311",
            Version::V5 => "mqttv5",
        }
    }

    /// The `--version` argument of the paho script.
    pub fn paho(self) -> &'static str {
        match self {
            Version::V311 => "311",
            Version::V5 => "5",
        }
    }

    /// A short tag for client ids and topics.
    pub fn tag(self) -> &'static str {
        match self {
            Version::V311 => "v311",
            Version::V5 => "v5",
        }
    }
}

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

const INSTALL_MOSQUITTO: &str = "install the Mosquitto command-line clients: \
     `apt-get install -y mosquitto-clients` (mosquitto_pub/mosquitto_sub 2.0)";
const INSTALL_PAHO: &str = "install Python 3 and paho-mqtt 2.1: \
     `apt-get install -y python3 python3-pip && python3 -m pip install paho-mqtt==2.1.0`";
const INSTALL_STDBUF: &str =
    "install GNU coreutils (`stdbuf` makes mosquitto_sub's debug output line-buffered)";

fn check_tool(program: &str, args: &[&str], install: &str) -> Result<(), String> {
    match std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "`{program} {}` failed ({}): {}{}\n=> {install}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("cannot run `{program}`: {e}\n=> {install}")),
    }
}

/// Fails the test unless mosquitto_pub, mosquitto_sub (2.x) and stdbuf work.
pub fn require_mosquitto() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECK.get_or_init(|| {
        // `--help` exits with status 1; a version line proves the tool runs.
        for tool in ["mosquitto_pub", "mosquitto_sub"] {
            match std::process::Command::new(tool).arg("--help").output() {
                Ok(out) => {
                    let text = String::from_utf8_lossy(&out.stdout);
                    if !text.contains(&format!("{tool} version 2.")) {
                        return Err(format!(
                            "`{tool} --help` does not report version 2.x:\n{text}\n=> {INSTALL_MOSQUITTO}"
                        ));
                    }
                }
                Err(e) => return Err(format!("cannot run `{tool}`: {e}\n=> {INSTALL_MOSQUITTO}")),
            }
        }
        check_tool("stdbuf", &["--version"], INSTALL_STDBUF)
    });
    if let Err(e) = result {
        panic!("third-party MQTT client missing: {e}");
    }
}

/// Fails the test unless python3 with paho-mqtt 2.x works.
pub fn require_paho() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECK.get_or_init(|| {
        check_tool(
            "python3",
            &[
                "-c",
                "import paho.mqtt, sys; v = paho.mqtt.__version__; \
                 sys.exit(0 if v.startswith('2.') else 'paho-mqtt ' + v + ' is not 2.x')",
            ],
            INSTALL_PAHO,
        )
    });
    if let Err(e) = result {
        panic!("third-party MQTT client missing: {e}");
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

pub use mqtt_testkit::TestPki;

/// The reference server, started in-process on free loopback ports.
#[derive(Debug)]
pub struct Broker {
    server: Option<RunningServer>,
    /// The TCP listener.
    pub tcp: SocketAddr,
    /// The WebSocket listener, if started.
    pub ws: Option<SocketAddr>,
    /// The TLS listener, if started.
    pub tls: Option<SocketAddr>,
    /// The certificates of the TLS listener.
    pub pki: Option<TestPki>,
}

fn listener(protocol: ListenerProtocol) -> ListenerConfig {
    ListenerConfig {
        protocol,
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        cert: None,
        key: None,
    }
}

impl Broker {
    /// A server with one TCP listener and the default capabilities.
    pub async fn start() -> Broker {
        Self::start_with(false, false).await
    }

    /// A server with a TCP listener and, optionally, a WebSocket and a TLS
    /// listener (with a freshly generated certificate).
    pub async fn start_with(ws: bool, tls: bool) -> Broker {
        let mut listeners = vec![listener(ListenerProtocol::Tcp)];
        if ws {
            listeners.push(listener(ListenerProtocol::Ws));
        }
        let pki = tls.then(TestPki::generate);
        if let Some(pki) = &pki {
            let mut l = listener(ListenerProtocol::Tls);
            l.cert = Some(pki.cert.clone());
            l.key = Some(pki.key.clone());
            listeners.push(l);
        }
        let config = ServerConfig {
            listeners,
            ..ServerConfig::default()
        };
        let server = RunningServer::start(config)
            .await
            .expect("the reference server starts");
        Broker {
            tcp: server.addr(ListenerProtocol::Tcp).expect("tcp listener"),
            ws: server.addr(ListenerProtocol::Ws),
            tls: server.addr(ListenerProtocol::Tls),
            server: Some(server),
            pki,
        }
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.tcp.port()
    }

    /// The WebSocket port.
    pub fn ws_port(&self) -> u16 {
        self.ws.expect("no ws listener").port()
    }

    /// The TLS port.
    pub fn tls_port(&self) -> u16 {
        self.tls.expect("no tls listener").port()
    }

    /// Stops the server (bounded).
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            tokio::time::timeout(WAIT, server.shutdown())
                .await
                .expect("the server shuts down within the bound");
        }
    }
}

// ---------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------

/// How a finished child ended and everything it printed.
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// Every stdout line.
    pub lines: Vec<String>,
    /// All of stderr.
    pub stderr: String,
}

/// A running third-party client: its stdout read line by line, its stderr
/// collected; killed when dropped.
pub struct Proc {
    label: String,
    command: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    transcript: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_task: Option<JoinHandle<()>>,
    eof: bool,
}

impl Proc {
    /// Starts `program args`; a missing program fails the test with what to
    /// install.
    pub fn spawn(label: &str, program: &str, args: &[String], install: &str) -> Proc {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{label}: cannot run `{program}`: {e}\n=> {install}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let stderr_task = tokio::spawn(async move {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf).await;
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf));
        });
        Proc {
            label: label.to_owned(),
            command: format!("{program} {}", args.join(" ")),
            child,
            lines: rx,
            transcript: Vec::new(),
            stderr,
            stderr_task: Some(stderr_task),
            eof: false,
        }
    }

    /// The label given at spawn.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// What the process printed so far, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("--- {} ---\n$ {}\nstdout:\n", self.label, self.command);
        for l in &self.transcript {
            let _ = writeln!(s, "  {l}");
        }
        let _ = writeln!(s, "stderr:\n  {}", self.stderr.lock().unwrap().trim_end());
        s
    }

    /// The next stdout line before `deadline`: `Ok(None)` at end of output,
    /// `Err(())` when the deadline passes.
    async fn next_line_before(&mut self, deadline: Instant) -> Result<Option<String>, ()> {
        if self.eof {
            return Ok(None);
        }
        match tokio::time::timeout_at(deadline, self.lines.recv()).await {
            Ok(Some(line)) => {
                self.transcript.push(line.clone());
                Ok(Some(line))
            }
            Ok(None) => {
                self.eof = true;
                Ok(None)
            }
            Err(_) => Err(()),
        }
    }

    /// Waits (bounded) until the process's stderr is read to its end.
    async fn collect_stderr(&mut self) {
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }

    /// Every stdout line read so far.
    pub fn transcript(&self) -> &[String] {
        &self.transcript
    }

    /// Returns the stdout lines from `*cursor` up to and including the
    /// first one that satisfies `pred`, reading more output as needed
    /// (within [`WAIT`]), and moves `*cursor` past it. Lines already read
    /// are looked at first, so independent cursors (one for SUBACKs, one
    /// for messages) see every line. `pred` sees each line once. Fails the
    /// test with the transcript when no such line comes.
    pub async fn take_until(
        &mut self,
        cursor: &mut usize,
        what: &str,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut i = *cursor;
        loop {
            while i < self.transcript.len() {
                if pred(&self.transcript[i]) {
                    let lines = self.transcript[*cursor..=i].to_vec();
                    *cursor = i + 1;
                    return lines;
                }
                i += 1;
            }
            match self.next_line_before(deadline).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    self.collect_stderr().await;
                    panic!(
                        "{}: exited before printing {what}\n{}",
                        self.label,
                        self.diagnostics()
                    )
                }
                Err(()) => panic!(
                    "{}: no {what} within {WAIT:?}\n{}",
                    self.label,
                    self.diagnostics()
                ),
            }
        }
    }

    /// Waits for the process to exit (within [`WAIT`]), reading all its
    /// output.
    pub async fn finish(mut self) -> Finished {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.next_line_before(deadline).await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(()) => panic!(
                    "{}: did not exit within {WAIT:?}\n{}",
                    self.label,
                    self.diagnostics()
                ),
            }
        }
        let status = match tokio::time::timeout_at(deadline, self.child.wait()).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => panic!("{}: wait failed: {e}", self.label),
            Err(_) => panic!(
                "{}: did not exit within {WAIT:?}\n{}",
                self.label,
                self.diagnostics()
            ),
        };
        self.collect_stderr().await;
        let stderr = self.stderr.lock().unwrap().clone();
        Finished {
            status,
            lines: std::mem::take(&mut self.transcript),
            stderr,
        }
    }

    /// Like [`Proc::finish`], and fails the test unless the exit status is 0.
    pub async fn finish_ok(self) -> Finished {
        let label = self.label.clone();
        let command = self.command.clone();
        let f = self.finish().await;
        assert!(
            f.status.success(),
            "{label}: exited with {}\n$ {command}\nstdout:\n  {}\nstderr:\n  {}",
            f.status,
            f.lines.join("\n  "),
            f.stderr.trim_end()
        );
        f
    }

    /// Kills the process with SIGKILL (no chance to say goodbye) and reaps it.
    pub async fn kill9(&mut self) {
        self.child.start_kill().expect("send SIGKILL");
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("a killed process exits")
            .expect("wait for the killed process");
    }
}

// ---------------------------------------------------------------------------
// mosquitto_pub / mosquitto_sub
// ---------------------------------------------------------------------------

/// The format mosquitto_sub prints each message in (`-F`): retain flag,
/// QoS, topic, message expiry interval (empty when absent), user
/// properties, payload last so that it may contain the separator.
const SUB_FORMAT: &str = "MSG|%r|%q|%t|%E|%P|%p";

/// A message as printed by mosquitto_sub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubMsg {
    /// RETAIN flag.
    pub retain: bool,
    /// QoS of the delivery.
    pub qos: u8,
    /// Topic name.
    pub topic: String,
    /// Message Expiry Interval (5.0), if present.
    pub expiry: Option<u32>,
    /// User properties as mosquitto prints them: `k:v k:v`.
    pub user_properties: String,
    /// Payload.
    pub payload: String,
}

impl SubMsg {
    /// Parses a line printed with [`SUB_FORMAT`]; other lines give `None`.
    pub fn parse(line: &str) -> Option<SubMsg> {
        let rest = line.strip_prefix("MSG|")?;
        let mut f = rest.splitn(6, '|');
        let retain = f.next()? == "1";
        let qos = f.next()?.parse().ok()?;
        let topic = f.next()?.to_owned();
        let expiry = f.next()?;
        let expiry = if expiry.is_empty() {
            None
        } else {
            Some(expiry.parse().ok()?)
        };
        let user_properties = f.next()?.to_owned();
        let payload = f.next()?.to_owned();
        Some(SubMsg {
            retain,
            qos,
            topic,
            expiry,
            user_properties,
            payload,
        })
    }
}

/// Common arguments: host, port, version, client id.
fn base_args(port: u16, version: Version, id: &str) -> Vec<String> {
    [
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-V",
        version.mosquitto(),
        "-i",
        id,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Turns `&["-q", "1"]` into owned strings.
pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A running mosquitto_sub.
pub struct MosqSub {
    /// The process.
    pub proc: Proc,
    acks: usize,
    msgs: usize,
}

impl MosqSub {
    /// Starts `mosquitto_sub` with debug output (line-buffered through
    /// `stdbuf`) and the message format of [`SubMsg`]; `extra` adds
    /// `-t`, `-q`, `-c` and the like. Does not wait.
    pub fn spawn(port: u16, version: Version, id: &str, extra: &[String]) -> MosqSub {
        require_mosquitto();
        let mut a = args(&["-oL", "mosquitto_sub"]);
        a.extend(base_args(port, version, id));
        a.extend(args(&["-d", "-W", "60", "-F", SUB_FORMAT]));
        a.extend_from_slice(extra);
        MosqSub {
            proc: Proc::spawn(
                &format!("mosquitto_sub {id}"),
                "stdbuf",
                &a,
                INSTALL_MOSQUITTO,
            ),
            acks: 0,
            msgs: 0,
        }
    }

    /// Starts `mosquitto_sub` and waits until its SUBACK has arrived, i.e.
    /// the server has processed its SUBSCRIBE (all `-t` go in one
    /// SUBSCRIBE). Messages that arrive before the SUBACK (retained, or
    /// queued in a resumed session) are kept for [`MosqSub::messages_until`].
    pub async fn subscribed(port: u16, version: Version, id: &str, extra: &[String]) -> MosqSub {
        let mut s = Self::spawn(port, version, id, extra);
        s.wait_suback().await;
        s
    }

    /// Waits for the next "received SUBACK" line.
    pub async fn wait_suback(&mut self) {
        self.proc
            .take_until(&mut self.acks, "SUBACK", |l| l.contains("received SUBACK"))
            .await;
    }

    /// The messages from the last one returned up to the first with
    /// payload `marker` (included).
    pub async fn messages_until(&mut self, marker: &str) -> Vec<SubMsg> {
        let lines = self
            .proc
            .take_until(
                &mut self.msgs,
                &format!("a message with payload {marker:?}"),
                |l| SubMsg::parse(l).is_some_and(|m| m.payload == marker),
            )
            .await;
        lines.iter().filter_map(|l| SubMsg::parse(l)).collect()
    }

    /// The messages from the last one returned until every payload of
    /// `wanted` has been seen, in whatever order they come. For messages
    /// delivered at QoS 2, which clients hand over on PUBREL, a round trip
    /// after the PUBLISH, so a later QoS 0/1 message may overtake them.
    pub async fn messages_until_all(&mut self, wanted: &[&str]) -> Vec<SubMsg> {
        let mut missing: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
        let lines = self
            .proc
            .take_until(
                &mut self.msgs,
                &format!("messages with payloads {wanted:?}"),
                |l| {
                    if let Some(m) = SubMsg::parse(l) {
                        missing.retain(|w| *w != m.payload);
                    }
                    missing.is_empty()
                },
            )
            .await;
        lines.iter().filter_map(|l| SubMsg::parse(l)).collect()
    }
}

/// Runs `mosquitto_pub` to completion (it exits after the PUBACK or
/// PUBCOMP for QoS 1 and 2) and fails the test unless it succeeds.
pub async fn mosquitto_pub(port: u16, version: Version, id: &str, extra: &[String]) -> Finished {
    require_mosquitto();
    let mut a = base_args(port, version, id);
    a.extend_from_slice(extra);
    Proc::spawn(
        &format!("mosquitto_pub {id}"),
        "mosquitto_pub",
        &a,
        INSTALL_MOSQUITTO,
    )
    .finish_ok()
    .await
}

/// Publishes one message with mosquitto_pub at QoS 1 (so that the server
/// has processed it when this returns).
pub async fn publish_q1(port: u16, version: Version, id: &str, topic: &str, payload: &str) {
    mosquitto_pub(
        port,
        version,
        id,
        &args(&["-q", "1", "-t", topic, "-m", payload]),
    )
    .await;
}

// ---------------------------------------------------------------------------
// The paho script
// ---------------------------------------------------------------------------

/// The paho script's path.
pub fn paho_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mqtt_client.py")
}

/// Options of one run of the paho script.
#[derive(Debug, Clone)]
pub struct Paho {
    port: u16,
    version: Version,
    id: String,
    extra: Vec<String>,
}

impl Paho {
    /// A client of `version` with identifier `id` on `port`.
    pub fn new(port: u16, version: Version, id: &str) -> Paho {
        Paho {
            port,
            version,
            id: id.to_owned(),
            extra: Vec::new(),
        }
    }

    /// MQTT over WebSocket (subprotocol `mqtt`, path `/mqtt`).
    pub fn websocket(mut self) -> Paho {
        self.extra.extend(args(&["--transport", "websockets"]));
        self
    }

    /// TLS, trusting `ca`.
    pub fn tls(mut self, ca: &Path) -> Paho {
        self.extra.push("--cafile".into());
        self.extra.push(ca.display().to_string());
        self
    }

    /// Clean Session 0 (3.1.1) / Clean Start 0 (5.0).
    pub fn persistent(mut self) -> Paho {
        self.extra.extend(args(&["--clean", "0"]));
        self
    }

    /// Session Expiry Interval (5.0).
    pub fn session_expiry(mut self, secs: u32) -> Paho {
        self.extra.push("--session-expiry".into());
        self.extra.push(secs.to_string());
        self
    }

    /// A Will Message.
    pub fn will(mut self, topic: &str, payload: &str, qos: u8) -> Paho {
        self.extra
            .extend(args(&["--will", topic, payload, &qos.to_string()]));
        self
    }

    /// Starts the script with `plan` (a JSON list of steps; see the script).
    pub fn spawn(self, plan: Value) -> PahoProc {
        require_paho();
        let mut a = vec![paho_script().display().to_string()];
        a.extend(args(&[
            "--port",
            &self.port.to_string(),
            "--version",
            self.version.paho(),
            "--id",
            &self.id,
            "--timeout",
            &WAIT_SECS.to_string(),
            "--deadline",
            "60",
        ]));
        a.extend(self.extra);
        a.push(plan.to_string());
        PahoProc {
            proc: Proc::spawn(&format!("paho {}", self.id), "python3", &a, INSTALL_PAHO),
            acks: 0,
            msgs: 0,
        }
    }

    /// Runs `plan` to completion and returns the events printed; fails the
    /// test unless the script succeeds.
    pub async fn run(self, plan: Value) -> Vec<Value> {
        let f = self.spawn(plan).proc.finish_ok().await;
        f.lines
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// A running paho script.
pub struct PahoProc {
    /// The process.
    pub proc: Proc,
    acks: usize,
    msgs: usize,
}

/// The JSON event of a line, failing the test on an `error` event.
fn event(label: &str, line: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(line).ok()?;
    if v["event"] == "error" {
        panic!("{label}: {}", v["what"]);
    }
    Some(v)
}

impl PahoProc {
    /// Waits until `count` more subscribe steps have their SUBACK; returns
    /// the `subscribed` events.
    pub async fn subscribed(&mut self, count: usize) -> Vec<Value> {
        let label = self.proc.label().to_owned();
        let mut seen = 0;
        let lines = self
            .proc
            .take_until(&mut self.acks, &format!("{count} SUBACK(s)"), |l| {
                if event(&label, l).is_some_and(|v| v["event"] == "subscribed") {
                    seen += 1;
                }
                seen == count
            })
            .await;
        lines
            .iter()
            .filter_map(|l| event(&label, l))
            .filter(|v| v["event"] == "subscribed")
            .collect()
    }

    /// The messages from the last one returned up to the first with
    /// payload `marker` (included).
    pub async fn messages_until(&mut self, marker: &str) -> Vec<Value> {
        let label = self.proc.label().to_owned();
        let lines = self
            .proc
            .take_until(
                &mut self.msgs,
                &format!("a message with payload {marker:?}"),
                |l| {
                    event(&label, l)
                        .is_some_and(|v| v["event"] == "message" && v["payload"] == marker)
                },
            )
            .await;
        lines
            .iter()
            .filter_map(|l| event(&label, l))
            .filter(|v| v["event"] == "message")
            .collect()
    }

    /// The messages from the last one returned until every payload of
    /// `wanted` has been seen, in whatever order (see
    /// [`MosqSub::messages_until_all`]).
    pub async fn messages_until_all(&mut self, wanted: &[&str]) -> Vec<Value> {
        let label = self.proc.label().to_owned();
        let mut missing: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
        let lines = self
            .proc
            .take_until(
                &mut self.msgs,
                &format!("messages with payloads {wanted:?}"),
                |l| {
                    if let Some(v) = event(&label, l).filter(|v| v["event"] == "message") {
                        missing.retain(|w| v["payload"] != w.as_str());
                    }
                    missing.is_empty()
                },
            )
            .await;
        lines
            .iter()
            .filter_map(|l| event(&label, l))
            .filter(|v| v["event"] == "message")
            .collect()
    }

    /// Waits for the script to end successfully.
    pub async fn finish_ok(self) -> Finished {
        self.proc.finish_ok().await
    }
}

/// The messages among `events`.
pub fn messages(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|v| v["event"] == "message").collect()
}

/// The payloads of `msgs`.
pub fn payloads<'a>(msgs: impl IntoIterator<Item = &'a SubMsg>) -> Vec<&'a str> {
    msgs.into_iter().map(|m| m.payload.as_str()).collect()
}
