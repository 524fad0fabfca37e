//! Runs one scenario, in one version, against one endpoint: step by step,
//! every wait bounded, the first broken expectation deciding the verdict.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_client::{ClientError, ConnectOptions, Endpoint, Matcher, TestClient};
use mqtt_codec::{Connect, Packet, QoS, ReasonCode, Will};
use mqtt_netfault::{Proxy, Selector};
use mqtt_targets::{Lifecycle, Target};

use super::bindings::RunBindings;
use super::verdict::{Evidence, ScenarioRun, Verdict};
use crate::format::{
    ConnectStep, FaultStep, Level, Outcome, PacketMatch, Step, VersionTag, WillSpec,
};
use crate::load::LoadedScenario;
use crate::packet::{parse_hex, Bindings};

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// How long an `expect` waits when the scenario gives no `within`.
    pub default_wait: Duration,
    /// Client options (connect timeout, TLS).
    pub client: ConnectOptions,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            default_wait: Duration::from_secs(5),
            client: ConnectOptions::default(),
        }
    }
}

/// What ended a scenario early.
enum Stop {
    /// An expectation broke, at this level.
    Broken(Level, Evidence),
    /// The harness or target could not go on.
    Error(Evidence),
}

struct Run<'a> {
    endpoint: &'a Endpoint,
    /// The scenario's clients, for faults on "every client".
    names: &'a [String],
    /// The target, for lifecycle steps.
    target: Option<&'a Target>,
    /// The proxy every client goes through when the scenario breaks links:
    /// each client is a group of its own.
    proxy: Option<Proxy>,
    /// What the lifecycle steps left the broker as: (down, frozen).
    broker: (bool, bool),
    version: VersionTag,
    settings: &'a RunSettings,
    bindings: Arc<RunBindings>,
    clients: BTreeMap<String, TestClient>,
    /// The traces of connections a reconnect replaced, by client name,
    /// oldest first: evidence keeps every connection, not just the last.
    earlier: BTreeMap<String, Vec<mqtt_client::Trace>>,
    /// The statements a malformed packet from the broker broke, when one
    /// ended the run: the verdict is judged under them, unless this run
    /// sent invalid bytes itself (then the broker's odd answer, such as a
    /// PUBACK echoing a forbidden packet id 0, shows it accepted them, and
    /// the scenario's own statements say what it should have done).
    broker_violation: std::cell::RefCell<Option<Vec<String>>>,
    /// Whether a `send_raw` step has run.
    sent_raw: bool,
    level: Level,
}

/// Runs `scenario` in `version` against `endpoint`. A scenario with
/// lifecycle steps needs the target: see [`run_scenario_on`].
pub async fn run_scenario(
    scenario: &LoadedScenario,
    version: VersionTag,
    endpoint: &Endpoint,
    bindings: RunBindings,
    settings: &RunSettings,
) -> ScenarioRun {
    run(scenario, version, endpoint, None, bindings, settings).await
}

/// Runs `scenario` in `version` against `target`, whose lifecycle its
/// target steps may use; a broker left killed or frozen is started or
/// thawed again at the end, so that the next run finds it up.
pub async fn run_scenario_on(
    scenario: &LoadedScenario,
    version: VersionTag,
    target: &Target,
    bindings: RunBindings,
    settings: &RunSettings,
) -> ScenarioRun {
    run(
        scenario,
        version,
        &target.endpoint,
        Some(target),
        bindings,
        settings,
    )
    .await
}

async fn run(
    scenario: &LoadedScenario,
    version: VersionTag,
    endpoint: &Endpoint,
    target: Option<&Target>,
    bindings: RunBindings,
    settings: &RunSettings,
) -> ScenarioRun {
    let started = Instant::now();
    let s = &scenario.scenario;
    let proxy = if s.uses_link_faults() {
        match proxy_for(endpoint).await {
            Ok(p) => Some(p),
            Err(e) => {
                return ScenarioRun {
                    id: scenario.id.clone(),
                    name: s.name.clone(),
                    version: version.as_str().to_owned(),
                    statements: s.statements.for_version(version).to_vec(),
                    class: s.class(),
                    verdict: Verdict::Error(format!("no fault proxy: {e}")),
                    evidence: None,
                    duration: started.elapsed(),
                    trace: None,
                };
            }
        }
    } else {
        None
    };
    let mut run = Run {
        endpoint,
        names: &s.clients,
        target,
        proxy,
        broker: (false, false),
        version,
        settings,
        bindings: Arc::new(bindings),
        clients: BTreeMap::new(),
        earlier: BTreeMap::new(),
        broker_violation: std::cell::RefCell::new(None),
        sent_raw: false,
        level: s.level,
    };
    let mut outcome = Ok(());
    for (i, step) in s.steps.iter().enumerate() {
        if let Err(stop) = run.step(i, step).await {
            outcome = Err(stop);
            break;
        }
    }
    let (verdict, evidence) = match outcome {
        Ok(()) => (Verdict::Pass, None),
        Err(Stop::Broken(Level::Must, e)) => (Verdict::Fail, Some(e)),
        Err(Stop::Broken(Level::Should, e)) => (Verdict::Warn, Some(e)),
        Err(Stop::Error(e)) => (
            Verdict::Error(format!("{}: {}", e.keyword, e.seen)),
            Some(e),
        ),
    };
    // A step that rests on another statement than the scenario's own
    // (`cites`) is judged under that statement; a malformed packet from
    // the broker, under the statements it breaks.
    let statements = evidence
        .as_ref()
        .and_then(|e| match s.steps.get(e.step) {
            Some(Step::Expect(x)) => x.cites.as_ref(),
            _ => None,
        })
        .map(|c| c.for_version(version).to_vec())
        .or_else(|| {
            (!run.sent_raw)
                .then(|| run.broker_violation.borrow().clone())
                .flatten()
        })
        .unwrap_or_else(|| s.statements.for_version(version).to_vec());
    let trace = (verdict != Verdict::Pass).then(|| run.traces());
    for c in run.clients.values_mut() {
        c.drop_connection().await;
    }
    let (verdict, evidence) = match run.restore().await {
        Ok(()) => (verdict, evidence),
        Err(e) if verdict == Verdict::Pass => (
            Verdict::Error(format!("the broker could not be brought back: {e}")),
            None,
        ),
        Err(e) => {
            // The run's own verdict stands; the next runs will say more.
            tracing::warn!("{}: the broker could not be brought back: {e}", scenario.id);
            (verdict, evidence)
        }
    };
    ScenarioRun {
        id: scenario.id.clone(),
        name: s.name.clone(),
        version: version.as_str().to_owned(),
        statements,
        class: s.class(),
        verdict,
        evidence,
        duration: started.elapsed(),
        trace,
    }
}

/// The clients a fault or heal names (all the scenario's when none).
fn fault_clients<'c>(all: &'c [String], named: &'c [String]) -> &'c [String] {
    if named.is_empty() {
        all
    } else {
        named
    }
}

/// A transparent proxy in front of `endpoint`'s broker (loopback only);
/// TLS endpoints are refused (the proxy relays bytes, a fault needs to see
/// where packets end). The property tests' link faults use it too.
pub async fn proxy_for(endpoint: &Endpoint) -> Result<Proxy, String> {
    if endpoint.scheme.is_tls() {
        return Err(format!(
            "link faults need a plain tcp:// or ws:// endpoint, not {}",
            endpoint.scheme.as_str()
        ));
    }
    let upstream = tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|e| format!("{}: {e}", endpoint.host))?
        .next()
        .ok_or_else(|| format!("{}: no address", endpoint.host))?;
    Proxy::transparent(upstream)
        .await
        .map_err(|e| e.to_string())
}

/// Where client `name` connects: `endpoint` itself without a proxy, else
/// its own listener of `proxy` (its group, for faults per client).
pub async fn endpoint_through(
    proxy: Option<&Proxy>,
    endpoint: &Endpoint,
    name: &str,
) -> std::io::Result<Endpoint> {
    let Some(proxy) = proxy else {
        return Ok(endpoint.clone());
    };
    let addr = proxy.listen(name).await?;
    Ok(Endpoint {
        scheme: endpoint.scheme,
        host: addr.ip().to_string(),
        port: addr.port(),
        path: endpoint.path.clone(),
    })
}

impl Run<'_> {
    /// Where client `name` connects: the broker, or its own listener of
    /// the fault proxy.
    async fn endpoint_of(&mut self, name: &str) -> std::io::Result<Endpoint> {
        endpoint_through(self.proxy.as_ref(), self.endpoint, name).await
    }

    async fn fault(&mut self, i: usize, step: &Step, f: &FaultStep) -> Result<(), Stop> {
        let fault = f.link_fault().map_err(|e| Run::error(i, step, e))?;
        let Some(proxy) = &self.proxy else {
            return Err(Run::error(i, step, "no fault proxy".into()));
        };
        for name in fault_clients(self.names, &f.clients) {
            // The group exists before its first connection, so a fault set
            // now reaches the connections to come.
            proxy
                .listen(name)
                .await
                .map_err(|e| Run::error(i, step, e.to_string()))?;
            let group = Selector::Group(name.clone());
            match fault {
                Some(fault) => {
                    proxy.apply(&group, fault);
                }
                None => {
                    proxy.reset(&group);
                }
            }
        }
        Ok(())
    }

    fn heal(&mut self, i: usize, step: &Step, clients: &[String]) -> Result<(), Stop> {
        let Some(proxy) = &self.proxy else {
            return Err(Run::error(i, step, "no fault proxy".into()));
        };
        for name in fault_clients(self.names, clients) {
            proxy.heal(&Selector::Group(name.clone()));
        }
        Ok(())
    }

    async fn lifecycle(&mut self, i: usize, step: &Step, verb: Lifecycle) -> Result<(), Stop> {
        let Some(target) = self.target else {
            return Err(Run::error(
                i,
                step,
                "this run has no target to act on (lifecycle steps run only in a suite)".into(),
            ));
        };
        target
            .lifecycle(verb)
            .await
            .map_err(|e| Run::error(i, step, e.to_string()))?;
        self.broker = match verb {
            Lifecycle::Kill | Lifecycle::Stop => (true, false),
            Lifecycle::Restart | Lifecycle::Resume => (false, false),
            Lifecycle::Pause => (self.broker.0, true),
        };
        Ok(())
    }

    /// Brings a broker the steps left down or frozen back up.
    async fn restore(&mut self) -> Result<(), String> {
        let Some(target) = self.target else {
            return Ok(());
        };
        let verb = match self.broker {
            (true, _) => Lifecycle::Restart,
            (false, true) => Lifecycle::Resume,
            (false, false) => return Ok(()),
        };
        self.broker = (false, false);
        target.lifecycle(verb).await.map_err(|e| e.to_string())
    }

    fn traces(&self) -> String {
        let mut out = String::new();
        for (name, c) in &self.clients {
            let id = self.bindings.client_id(name);
            let current = c.trace();
            let earlier = self.earlier.get(name).map_or(&[][..], Vec::as_slice);
            let all: Vec<&mqtt_client::Trace> =
                earlier.iter().chain(std::iter::once(&current)).collect();
            for (n, t) in all.iter().enumerate() {
                // Connections are numbered only when there were several.
                let which = if all.len() > 1 {
                    format!(", connection {}", n + 1)
                } else {
                    String::new()
                };
                out.push_str(&format!("--- client {name} ({id}){which}\n{t}"));
            }
        }
        out
    }

    /// Drops client `name`'s connection, if any, keeping its trace.
    async fn retire(&mut self, name: &str) {
        if let Some(mut old) = self.clients.remove(name) {
            old.drop_connection().await;
            self.earlier
                .entry(name.to_owned())
                .or_default()
                .push(old.trace());
        }
    }

    fn wait(&self, within: Option<crate::format::Span>) -> Duration {
        within.map_or(self.settings.default_wait, |s| s.0)
    }

    fn broken(
        &self,
        level: Option<Level>,
        i: usize,
        step: &Step,
        expected: String,
        seen: String,
    ) -> Stop {
        Stop::Broken(
            level.unwrap_or(self.level),
            Evidence {
                step: i,
                keyword: step.keyword().into(),
                expected,
                seen,
            },
        )
    }

    fn error(i: usize, step: &Step, seen: String) -> Stop {
        Stop::Error(Evidence {
            step: i,
            keyword: step.keyword().into(),
            expected: "the step to run".into(),
            seen,
        })
    }

    fn client(&mut self, i: usize, step: &Step, name: &str) -> Result<&mut TestClient, Stop> {
        self.clients.get_mut(name).ok_or_else(|| {
            Run::error(
                i,
                step,
                format!("client `{name}` has no connection yet (connect it first)"),
            )
        })
    }

    /// A client matcher for a scenario matcher, bound to this run's names.
    fn matcher(&self, m: &PacketMatch) -> Matcher {
        let m = m.clone();
        let b = self.bindings.clone();
        Matcher::new(m.type_name(), move |p| m.check(p, b.as_ref()).is_ok())
    }

    /// Why no queued packet matched: the nearest packet of the right type
    /// and its first differing field, else what was queued.
    fn explain(&self, m: &PacketMatch, client: &TestClient, err: &ClientError) -> String {
        if err.violation().is_none() {
            for p in client.pending() {
                if let Err(mm) = m.check(&p, self.bindings.as_ref()) {
                    if mm.field != "type" {
                        return mm.to_string();
                    }
                }
            }
        }
        self.seen(err)
    }

    /// What the target did, from the client's error; a malformed packet
    /// from the broker also sets the statements the verdict cites.
    fn seen(&self, err: &ClientError) -> String {
        if let Some(v) = err.violation().filter(|v| !v.statements.is_empty()) {
            *self.broker_violation.borrow_mut() =
                Some(v.statements.iter().map(|s| (*s).to_owned()).collect());
        }
        err.to_string()
    }

    async fn step(&mut self, i: usize, step: &Step) -> Result<(), Stop> {
        match step {
            Step::Connect(c) => self.connect(i, step, c).await,
            Step::Open(o) => {
                let client = self.open(i, step, &o.client).await?;
                self.clients.insert(o.client.clone(), client);
                Ok(())
            }
            Step::Send(s) => {
                let packet = s
                    .packet
                    .build(self.bindings.as_ref())
                    .map_err(|e| Run::error(i, step, e.to_string()))?;
                let client = self.client(i, step, &s.client)?;
                let sent = match packet {
                    // A client closes the network connection after sending
                    // DISCONNECT (3.1.1 MQTT-3.14.4-1, 5.0 MQTT-3.14.4-2):
                    // the sending direction is shut, the reader goes on.
                    // Waiting for the server to close without that would
                    // judge a SHOULD (3.1.1 §3.14.4) as a MUST.
                    Packet::Disconnect(d) => client.disconnect_with(d).await,
                    other => client.send(&other).await,
                };
                sent.map_err(|e| Run::error(i, step, e.to_string()))
            }
            Step::SendRaw(r) => {
                let bytes = parse_hex(&r.hex).map_err(|e| Run::error(i, step, e))?;
                self.sent_raw = true;
                let client = self.client(i, step, &r.client)?;
                client
                    .send_raw(Bytes::from(bytes))
                    .await
                    .map_err(|e| Run::error(i, step, e.to_string()))
            }
            Step::Expect(e) => {
                let wait = self.wait(e.within);
                let matcher = self.matcher(&e.packet);
                let bindings = self.bindings.clone();
                let client = self.client(i, step, &e.client)?;
                let got = if e.next {
                    client.expect_next(&matcher, wait).await
                } else {
                    client.expect(&matcher, wait).await
                };
                match got {
                    Ok(packet) => {
                        if let Some(name) = &e.save.packet_id {
                            if let Some(id) = packet_id(&packet) {
                                bindings.save_id(name, id);
                            }
                        }
                        Ok(())
                    }
                    Err(err) => {
                        let client = &self.clients[&e.client];
                        let seen = self.explain(&e.packet, client, &err);
                        Err(self.broken(e.level, i, step, describe_match(&e.packet, wait), seen))
                    }
                }
            }
            Step::ExpectNothing(n) => {
                let matcher = n.packet.as_ref().map(|m| self.matcher(m));
                let client = self.client(i, step, &n.client)?;
                match client.expect_nothing(matcher.as_ref(), n.within.0).await {
                    Ok(()) => Ok(()),
                    Err(err) => Err(self.broken(
                        n.level,
                        i,
                        step,
                        format!(
                            "nothing{} within {:?}",
                            n.packet
                                .as_ref()
                                .map_or(String::new(), |m| format!(" matching {}", m.type_name())),
                            n.within.0
                        ),
                        self.seen(&err),
                    )),
                }
            }
            Step::ExpectClose(c) => {
                let wait = self.wait(c.within);
                let client = self.client(i, step, &c.client)?;
                let closed = client.expect_closed(wait).await;
                let others = client.pending();
                if let (true, Ok(_), false) = (c.silent, &closed, others.is_empty()) {
                    let seen: Vec<String> =
                        others.iter().map(mqtt_client::describe::describe).collect();
                    return Err(self.broken(
                        c.level,
                        i,
                        step,
                        "the connection closed with nothing sent before it".into(),
                        format!("received first: {}", seen.join(", ")),
                    ));
                }
                match closed {
                    Ok(report) => match (&report.disconnect, &c.disconnect) {
                        (None, _) if c.require_disconnect => Err(self.broken(
                            c.level,
                            i,
                            step,
                            "a DISCONNECT before the close".into(),
                            format!("closed without DISCONNECT ({})", report.kind),
                        )),
                        (Some(d), Some(m)) => m
                            .check(&Packet::Disconnect(d.clone()), self.bindings.as_ref())
                            .map_err(|mm| {
                                self.broken(
                                    c.level,
                                    i,
                                    step,
                                    "the DISCONNECT before the close to match".into(),
                                    mm.to_string(),
                                )
                            }),
                        _ => Ok(()),
                    },
                    Err(err) => Err(self.broken(
                        c.level,
                        i,
                        step,
                        format!("the connection closed within {wait:?}"),
                        self.seen(&err),
                    )),
                }
            }
            Step::ExpectOneOf(o) => self.expect_one_of(i, step, o).await,
            Step::Sleep(span) => {
                tokio::time::sleep(span.0).await;
                Ok(())
            }
            Step::Fault(f) => self.fault(i, step, f).await,
            Step::Heal(h) => self.heal(i, step, &h.clients),
            Step::KillTarget(_)
            | Step::StopTarget(_)
            | Step::RestartTarget(_)
            | Step::PauseTarget(_)
            | Step::ResumeTarget(_) => {
                let verb = step.lifecycle().expect("a target step");
                self.lifecycle(i, step, verb).await
            }
            Step::Drop(d) => {
                let client = self.client(i, step, &d.client)?;
                client.drop_connection().await;
                Ok(())
            }
            Step::Disconnect(d) => {
                let props = d
                    .properties
                    .build(self.bindings.as_ref())
                    .map_err(|e| Run::error(i, step, e.to_string()))?;
                let wait = self.settings.default_wait;
                let client = self.client(i, step, &d.client)?;
                client
                    .disconnect_with(mqtt_codec::Disconnect {
                        reason_code: ReasonCode(d.reason_code),
                        properties: props,
                    })
                    .await
                    .map_err(|e| Run::error(i, step, e.to_string()))?;
                // The server closes its side once it has processed the
                // DISCONNECT (it SHOULD, §3.14.4): waiting for that keeps a
                // following step from racing it. A server that keeps the
                // connection open is not judged here.
                let _ = client.expect_closed(wait).await;
                client.drop_connection().await;
                Ok(())
            }
        }
    }

    async fn connect(&mut self, i: usize, step: &Step, c: &ConnectStep) -> Result<(), Stop> {
        let b = self.bindings.clone();
        let id = match &c.client_id {
            Some(id) => b.substitute(id),
            None => b.client_id(&c.client),
        };
        let s = |field: &str, v: &str| {
            mqtt_codec::MqttString::new(b.substitute(v))
                .map_err(|e| Run::error(i, step, format!("{field}: {e:?}")))
        };
        let mut connect = Connect::new(self.version.protocol(), s("client_id", &id)?);
        connect.clean_start = c.clean_start;
        connect.keep_alive = c.keep_alive;
        connect.properties = c
            .properties
            .build(b.as_ref())
            .map_err(|e| Run::error(i, step, e.to_string()))?;
        connect.username = c
            .username
            .as_deref()
            .map(|u| s("username", u))
            .transpose()?;
        connect.password = c.password.as_ref().map(|p| Bytes::from(p.clone()));
        if let Some(w) = &c.will {
            connect.will = Some(self.will(i, step, w)?);
        }
        let mut client = self.open(i, step, &c.client).await?;
        let wait = self.settings.default_wait;
        let sent = client.send(&Packet::Connect(Box::new(connect))).await;
        self.clients.insert(c.client.clone(), client);
        sent.map_err(|e| Run::error(i, step, e.to_string()))?;
        if c.no_wait {
            return Ok(());
        }
        let expected = c.expect.clone().unwrap_or(PacketMatch::Connack {
            session_present: None,
            reason_code: Some(crate::format::ValueMatch::Exact(0)),
            properties: None,
        });
        let client = self.clients.get_mut(&c.client).expect("inserted above");
        match client.expect(&Matcher::connack(), wait).await {
            Ok(packet) => expected.check(&packet, b.as_ref()).map_err(|mm| {
                self.broken(
                    None,
                    i,
                    step,
                    describe_match(&expected, wait),
                    mm.to_string(),
                )
            }),
            Err(err) => Err(self.broken(
                None,
                i,
                step,
                describe_match(&expected, wait),
                self.seen(&err),
            )),
        }
    }

    /// A new network connection for `name`, closing its old one abruptly.
    async fn open(&mut self, i: usize, step: &Step, name: &str) -> Result<TestClient, Stop> {
        self.retire(name).await;
        let options = self
            .settings
            .client
            .clone()
            .version(self.version.protocol());
        let endpoint = self
            .endpoint_of(name)
            .await
            .map_err(|e| Run::error(i, step, e.to_string()))?;
        TestClient::open(&endpoint, &options)
            .await
            .map_err(|e| Run::error(i, step, e.to_string()))
    }

    fn will(&self, i: usize, step: &Step, w: &WillSpec) -> Result<Will, Stop> {
        let b = self.bindings.as_ref();
        Ok(Will {
            topic: mqtt_codec::MqttString::new(b.substitute(&w.topic))
                .map_err(|e| Run::error(i, step, format!("will topic: {e:?}")))?,
            payload: Bytes::from(b.substitute(&w.payload)),
            qos: QoS::from_bits(w.qos)
                .ok_or_else(|| Run::error(i, step, format!("will qos {} (use send_raw)", w.qos)))?,
            retain: w.retain,
            properties: w
                .properties
                .build(b)
                .map_err(|e| Run::error(i, step, e.to_string()))?,
        })
    }

    async fn expect_one_of(
        &mut self,
        i: usize,
        step: &Step,
        o: &crate::format::ExpectOneOfStep,
    ) -> Result<(), Stop> {
        let wait = self.wait(o.within);
        let packets: Vec<PacketMatch> = o
            .any
            .iter()
            .filter_map(|x| match x {
                Outcome::Packet(m) => Some(m.clone()),
                Outcome::Close(_) => None,
            })
            .collect();
        let close = o.any.iter().find_map(|x| match x {
            Outcome::Close(m) => Some(m.clone()),
            Outcome::Packet(_) => None,
        });
        let mut choices: Vec<&str> = packets.iter().map(|m| m.type_name()).collect();
        if close.is_some() {
            choices.push("the connection closed");
        }
        let expected = format!("one of: {}", choices.join(", or "));
        let b = self.bindings.clone();
        let any = {
            let packets = packets.clone();
            let b = b.clone();
            Matcher::new(expected.clone(), move |p| {
                packets.iter().any(|m| m.check(p, b.as_ref()).is_ok())
            })
        };
        let client = self.client(i, step, &o.client)?;
        match client.expect(&any, wait).await {
            Ok(_) => Ok(()),
            Err(ClientError::Closed { .. }) if close.is_some() => {
                let report = client
                    .expect_closed(Duration::ZERO)
                    .await
                    .map_err(|e| Run::error(i, step, e.to_string()))?;
                match (report.disconnect, close.flatten()) {
                    (Some(d), Some(m)) => {
                        m.check(&Packet::Disconnect(d), b.as_ref()).map_err(|mm| {
                            self.broken(o.level, i, step, expected.clone(), mm.to_string())
                        })
                    }
                    _ => Ok(()),
                }
            }
            Err(err) => Err(self.broken(o.level, i, step, expected, self.seen(&err))),
        }
    }
}

fn packet_id(p: &Packet) -> Option<u16> {
    match p {
        Packet::Publish(p) => Some(p.packet_id),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            Some(a.packet_id)
        }
        Packet::SubAck(a) => Some(a.packet_id),
        Packet::UnsubAck(a) => Some(a.packet_id),
        _ => None,
    }
}

fn describe_match(m: &PacketMatch, wait: Duration) -> String {
    let text = serde_json::to_string(&MatchText(m)).unwrap_or_default();
    format!("{} within {wait:?} {text}", m.type_name())
}

/// The matcher as the scenario wrote it, for evidence.
struct MatchText<'a>(&'a PacketMatch);

impl serde::Serialize for MatchText<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:?}", self.0))
    }
}
