//! Runs one case against a live target and the model side by side, step
//! by step: each operation goes to both; the model's outputs become what
//! each client must receive ([`Want`]); the step ends when every want has
//! arrived (a bounded wait: only a divergence runs into it), and what is
//! already queued beyond that is judged at once. The case ends with a
//! short quiet window in which nothing more may arrive.
//!
//! Every connection carries a Will, and when a case closes connections
//! abruptly an observer client subscribes to every will first: the will
//! reaching it proves the broker has seen the close before the next step
//! (no race between a close and the next CONNECT or PUBLISH).

mod special;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use bytes::Bytes;
use mqtt_client::{ClientError, ConnectOptions, Endpoint, Matcher, TestClient};
use mqtt_codec::topic::matches;
use mqtt_codec::{
    Connect, Disconnect, MqttString, Packet, Properties, PubResponse, Publish, QoS, ReasonCode,
    RetainHandling, Subscribe, Subscription, SubscriptionOptions, Unsubscribe, Will,
};
use mqtt_model::subscriptions::parse_filter;
use mqtt_model::{Broker, Config, ConnId, Output, Time};
use serde_yaml::Value;
use tokio::time::Instant;

use super::case::{
    client_name, filter, filter_kind, observer_filter, topic, will_topic, AliasOp, Case,
    FilterKind, Op, RestartKind, OBSERVER, STALL_MS, TOPICS, USER_KEYS, USER_VALUES,
};
use super::script::{map, one_of, seq, Script};
use super::want::{
    fits_extra, fits_other, fits_required, same_kind, shared_retained_allowed, source_of,
    Allowance, Deliver, Rule, Source, Want,
};
use mqtt_netfault::{LinkFault, Proxy, Selector};
use mqtt_scenario::packet::Bindings;
use mqtt_scenario::runner::execute::{endpoint_through, proxy_for};
use mqtt_scenario::runner::RunBindings;
use mqtt_targets::{Capability, Lifecycle, Target, VersionTag};

/// How a case runs.
#[derive(Debug, Clone)]
pub struct ExecSettings {
    /// Bound on waiting for a packet the model says must arrive.
    pub wait: Duration,
    /// Quiet window at the end of a case in which nothing more may arrive.
    pub quiet: Duration,
    /// Client options.
    pub client: ConnectOptions,
    /// The target's capabilities (operations needing others are skipped).
    pub capabilities: BTreeSet<Capability>,
    /// The model's configuration.
    pub model: Config,
}

impl Default for ExecSettings {
    fn default() -> Self {
        ExecSettings {
            wait: Duration::from_secs(3),
            quiet: Duration::from_millis(30),
            client: ConnectOptions::default(),
            capabilities: mqtt_targets::ALL_CAPABILITIES.iter().copied().collect(),
            model: Config::default(),
        }
    }
}

/// Where the target and the model parted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the operation (`None`: setup or the final quiet window).
    pub step: Option<usize>,
    /// The operation, as written.
    pub op: String,
    /// The client that saw it.
    pub client: String,
    /// The rule concerned.
    pub rule: Rule,
    /// What the model expected.
    pub expected: String,
    /// What the target did.
    pub observed: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self
            .step
            .map_or("after the last step".to_owned(), |s| format!("step {s}"));
        write!(
            f,
            "{at} ({}), client {}, {}: expected {}; observed {}",
            self.op,
            self.client,
            self.rule.name(),
            self.expected,
            self.observed
        )
    }
}

/// What running a case gave.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// The divergence, if any.
    pub divergence: Option<Divergence>,
    /// The harness or the target could not run the case (connection
    /// refused...).
    pub error: Option<String>,
    /// Operations executed (the others' preconditions did not hold).
    pub executed: usize,
    /// The steps as a scenario.
    pub script: Script,
    /// Latitudes of the specifications the target used (legal choices,
    /// surprising ones counted so that a report can warn), by name.
    pub allowances: BTreeMap<&'static str, usize>,
    /// Faults of the fault alphabet executed (`reset`, `stall`,
    /// `restart`), with how many times.
    pub faults: BTreeMap<&'static str, usize>,
}

/// A delivery received and not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct Unacked {
    live_id: u16,
    live_qos: u8,
    model_party: usize,
    model_id: u16,
    model_qos: u8,
    save: usize,
}

impl Unacked {
    /// A delivery the live target sent that the model has no counterpart
    /// for (a legal extra copy): acknowledged on the live side only.
    fn live_only(party: usize, live_id: u16, live_qos: u8) -> Unacked {
        Unacked {
            live_id,
            live_qos,
            model_party: party,
            model_id: 0,
            model_qos: 0,
            save: 0,
        }
    }
}

/// One client on both sides.
struct Party {
    name: String,
    id: String,
    manual: bool,
    live: Option<TestClient>,
    conn: Option<ConnId>,
    persistent: bool,
    ever_persistent: bool,
    alias_max: u16,
    aliases: BTreeMap<u16, String>,
    unacked: Vec<Unacked>,
    /// model id -> live id of QoS 2 deliveries awaiting PUBREL.
    rel: HashMap<u16, u16>,
    /// Live PUBRELs to answer without the model (live QoS 2, model lower).
    live_only_rel: BTreeSet<u16>,
    /// Live SUBACK grants, by filter as subscribed.
    grants: BTreeMap<String, u8>,
    /// Deliveries received: topic, payload, QoS, live id (re-send allowance).
    received: Vec<(String, Bytes, u8, u16)>,
    /// Matched deliveries that allow further copies, with copies used.
    extras: Vec<(Deliver, Vec<bool>)>,
    /// Retained messages a shared subscription of this connection may
    /// have caused (topic, payload, QoS retained), each allowed once.
    shared_retained: Vec<(String, Bytes, u8)>,
    next_id: u16,
}

impl Party {
    fn packet_id(&mut self) -> u16 {
        self.next_id = if self.next_id >= 60_000 {
            1
        } else {
            self.next_id + 1
        };
        self.next_id
    }
}

/// Routing of one message at publish time: the plain sources per receiving
/// party and the share groups (members).
#[derive(Debug, Clone, Default)]
struct Template {
    publisher: String,
    plain: BTreeMap<usize, Vec<Source>>,
    shared: Vec<Vec<usize>>,
}

struct PendingWant {
    party: usize,
    want: Want,
    done: bool,
}

struct Exec<'a> {
    case: &'a Case,
    s: &'a ExecSettings,
    endpoint: &'a Endpoint,
    /// The fault proxy the case's clients connect through, when it breaks
    /// links.
    proxy: Option<Proxy>,
    /// The target, for restarts.
    lifecycle: Option<&'a Target>,
    b: RunBindings,
    t_bound: String,
    v5: bool,
    model: Broker,
    start: Instant,
    parties: Vec<Party>,
    conn_of: BTreeMap<ConnId, usize>,
    next_conn: u64,
    wants: Vec<PendingWant>,
    templates: HashMap<(String, Bytes), Template>,
    copies: HashMap<(usize, String, Bytes), usize>,
    model_only_rel: BTreeSet<(usize, u16)>,
    closing: Option<ConnId>,
    closing_party: Option<usize>,
    script: Script,
    saves: HashMap<usize, String>,
    step: Option<usize>,
    op_text: String,
    subscribing: Option<(usize, Vec<String>)>,
    allowances: BTreeMap<&'static str, usize>,
}

type Step<T> = Result<T, Stop>;

/// How long a wait for one client's packet lasts before the others are
/// looked at again.
const WAIT_SLICE: Duration = Duration::from_millis(5);

enum Stop {
    Diverged(Divergence),
    Error(String),
}

fn qos(q: u8) -> QoS {
    QoS::from_bits(q.min(2)).unwrap_or(QoS::AtMostOnce)
}

fn mstr(s: &str) -> MqttString {
    MqttString::new(s).unwrap_or_default()
}

/// Runs `case` against `endpoint` with the names of `bindings`;
/// `lifecycle`, the target behind it, restarts the broker for
/// [`Op::Restart`] (without it restarts are skipped).
pub async fn run_case(
    case: &Case,
    endpoint: &Endpoint,
    bindings: RunBindings,
    settings: &ExecSettings,
    lifecycle: Option<&Target>,
) -> CaseRun {
    let proxy = if case.uses_link_faults() && !endpoint.scheme.is_tls() {
        match proxy_for(endpoint).await {
            Ok(p) => Some(p),
            Err(e) => {
                return CaseRun {
                    divergence: None,
                    error: Some(format!("no fault proxy: {e}")),
                    executed: 0,
                    script: Script::default(),
                    allowances: BTreeMap::new(),
                    faults: BTreeMap::new(),
                }
            }
        }
    } else {
        None
    };
    let v5 = case.version == VersionTag::V5;
    let mut parties: Vec<Party> = (0..case.clients.len())
        .map(|i| {
            let name = client_name(i as u8);
            party(&bindings, name, case.clients[i].manual_ack)
        })
        .collect();
    if case.has_drop() {
        parties.push(party(&bindings, OBSERVER.to_owned(), false));
    }
    let t_bound = bindings.client_id("t");
    let mut e = Exec {
        case,
        s: settings,
        endpoint,
        proxy,
        lifecycle,
        t_bound,
        v5,
        model: Broker::new(settings.model.clone()),
        start: Instant::now(),
        parties,
        conn_of: BTreeMap::new(),
        next_conn: 1,
        wants: Vec::new(),
        templates: HashMap::new(),
        copies: HashMap::new(),
        model_only_rel: BTreeSet::new(),
        closing: None,
        closing_party: None,
        script: Script::default(),
        saves: HashMap::new(),
        step: None,
        op_text: "setup".into(),
        subscribing: None,
        allowances: BTreeMap::new(),
        b: bindings,
    };
    let mut executed = 0;
    let mut faults = BTreeMap::new();
    let mut outcome = e.setup().await;
    if outcome.is_ok() {
        for (i, op) in case.ops.iter().enumerate() {
            e.step = Some(i);
            e.op_text = format!("{op:?}");
            match e.op(i, op).await {
                Ok(true) => {
                    executed += 1;
                    let fault = match op {
                        Op::Reset { .. } => Some("reset"),
                        Op::Stall { .. } => Some("stall"),
                        Op::Restart { .. } => Some("restart"),
                        _ => None,
                    };
                    if let Some(f) = fault {
                        *faults.entry(f).or_insert(0) += 1;
                    }
                }
                Ok(false) => {}
                Err(stop) => {
                    outcome = Err(stop);
                    break;
                }
            }
        }
    }
    if outcome.is_ok() {
        e.step = None;
        e.op_text = "quiet window".into();
        outcome = e.finish().await;
    }
    e.cleanup().await;
    if let Some(p) = e.proxy.take() {
        p.stop().await;
    }
    let (divergence, error) = match outcome {
        Ok(()) => (None, None),
        Err(Stop::Diverged(d)) => (Some(d), None),
        Err(Stop::Error(m)) => (None, Some(m)),
    };
    CaseRun {
        divergence,
        error,
        executed,
        script: e.script,
        allowances: e.allowances,
        faults,
    }
}

fn party(b: &RunBindings, name: String, manual: bool) -> Party {
    Party {
        id: b.client_id(&name),
        name,
        manual,
        live: None,
        conn: None,
        persistent: false,
        ever_persistent: false,
        alias_max: 0,
        aliases: BTreeMap::new(),
        unacked: Vec::new(),
        rel: HashMap::new(),
        live_only_rel: BTreeSet::new(),
        grants: BTreeMap::new(),
        received: Vec::new(),
        extras: Vec::new(),
        shared_retained: Vec::new(),
        next_id: 0,
    }
}

impl Exec<'_> {
    fn now(&self) -> Time {
        Time(self.start.elapsed().as_millis() as u64)
    }

    fn bind(&self, s: &str) -> String {
        self.b.substitute(s)
    }

    /// A bound name back in placeholder syntax, for scenarios.
    fn unbind(&self, s: &str) -> String {
        s.replace(&self.t_bound, "{id:t}")
    }

    fn diverged(&self, party: usize, rule: Rule, expected: String, observed: String) -> Stop {
        Stop::Diverged(Divergence {
            step: self.step,
            op: self.op_text.clone(),
            client: self.parties[party].name.clone(),
            rule,
            expected,
            observed,
        })
    }

    fn has(&self, c: Capability) -> bool {
        self.s.capabilities.contains(&c)
    }

    // ---- sending to both sides ----

    async fn send_live(&mut self, party: usize, packet: &Packet) -> Step<()> {
        let Some(c) = self.parties[party].live.as_mut() else {
            return Ok(());
        };
        if let Err(e) = c.send(packet).await {
            return Err(self.diverged(
                party,
                Rule::Connection,
                format!("to send {}", packet.packet_type()),
                format!("the connection is gone: {e}"),
            ));
        }
        Ok(())
    }

    fn send_model(&mut self, party: usize, packet: Packet) -> Step<()> {
        let Some(conn) = self.parties[party].conn else {
            return Ok(());
        };
        let now = self.now();
        self.model
            .packet(conn, packet, now)
            .map_err(|e| Stop::Error(format!("model: {e}")))
    }

    async fn send_both(&mut self, party: usize, packet: Packet) -> Step<()> {
        self.send_live(party, &packet).await?;
        self.send_model(party, packet)
    }

    // ---- setup, operations, end ----

    async fn setup(&mut self) -> Step<()> {
        let Some(obs) = self.parties.iter().position(|p| p.name == OBSERVER) else {
            return Ok(());
        };
        self.connect(obs, true, false, None).await?;
        let f = observer_filter();
        self.subscribe(
            obs,
            vec![(f, SubscriptionOptions::qos(QoS::AtMostOnce))],
            None,
        )
        .await
    }

    async fn op(&mut self, i: usize, op: &Op) -> Step<bool> {
        self.copies.clear();
        let c = usize::from(op.client());
        if c >= self.case.clients.len() {
            return Ok(false);
        }
        let connected = self.parties[c].conn.is_some();
        match op {
            Op::Connect {
                clean,
                persist,
                will,
                ..
            } => {
                if connected {
                    return Ok(false);
                }
                let persistent = self.has(Capability::PersistentSession)
                    && if self.v5 { *persist } else { !*clean };
                let clean = *clean || !self.has(Capability::PersistentSession);
                let retain = will.retain && self.has(Capability::Retain);
                let w = (
                    will_topic(&self.parties[c].name),
                    format!("will-{}-{i}", self.parties[c].name),
                    will.qos,
                    retain,
                );
                self.connect(c, clean, persistent, Some(w)).await?;
                Ok(true)
            }
            Op::Refused { kind, .. } => self.refused(c, *kind).await,
            Op::Lapse { .. } => self.lapse(c).await,
            _ if !connected => Ok(false),
            Op::Malformed { kind, .. } => self.malformed(c, *kind).await,
            Op::Expire {
                topic: t,
                qos: q,
                expiry,
                ..
            } => {
                if !self.has(Capability::Retain) {
                    return Ok(false);
                }
                self.expire(c, i, *t, *q, *expiry).await
            }
            Op::Disconnect { publish_will, .. } => {
                let reason = if self.v5 && *publish_will { 0x04 } else { 0 };
                self.disconnect(c, reason).await?;
                Ok(true)
            }
            Op::Drop { .. } => {
                self.drop_party(c).await?;
                Ok(true)
            }
            Op::Reset { .. } => self.reset_party(c).await,
            Op::Stall { .. } => self.stall_party(c).await,
            Op::Restart { .. } => self.restart(i).await,
            Op::Subscribe { filters, id, .. } => {
                let persistent = self.parties[c].persistent;
                let mut subs = Vec::new();
                let mut shared = false;
                for f in filters {
                    let kind = filter_kind(f.filter);
                    let options = if kind == FilterKind::Shared {
                        // Shared subscriptions: 5.0 only, by clients whose
                        // session ends with the connection, at QoS 0 without
                        // No Local (MQTT-3.8.3-4) or Retain As Published, so
                        // that which member gets a message is the only latitude.
                        if !self.v5 || persistent || !self.has(Capability::SharedSubscription) {
                            continue;
                        }
                        shared = true;
                        SubscriptionOptions::qos(QoS::AtMostOnce)
                    } else {
                        SubscriptionOptions {
                            qos: qos(f.qos),
                            no_local: self.v5 && f.no_local,
                            retain_as_published: self.v5 && f.rap,
                            retain_handling: match (self.v5, f.rh) {
                                (true, 1) => RetainHandling::SendIfNew,
                                (true, 2) => RetainHandling::DoNotSend,
                                _ => RetainHandling::SendAtSubscribe,
                            },
                        }
                    };
                    let text = filter(f.filter);
                    if subs.iter().any(|(t, _)| *t == text) {
                        continue;
                    }
                    subs.push((text, options));
                }
                if subs.is_empty() {
                    return Ok(false);
                }
                let id = id
                    .filter(|_| self.v5 && !shared && self.has(Capability::SubscriptionIdentifier));
                self.subscribe(c, subs, id).await?;
                Ok(true)
            }
            Op::Unsubscribe { filters, .. } => {
                let mut list: Vec<String> = Vec::new();
                for &f in filters {
                    if filter_kind(f) == FilterKind::Shared && !self.v5 {
                        continue;
                    }
                    let t = filter(f);
                    if !list.contains(&t) {
                        list.push(t);
                    }
                }
                if list.is_empty() {
                    return Ok(false);
                }
                self.unsubscribe(c, list).await?;
                Ok(true)
            }
            Op::Publish {
                topic: t,
                qos: q,
                retain,
                empty,
                count,
                props,
                ..
            } => {
                let retain = *retain && self.has(Capability::Retain);
                let n = (*count).clamp(1, 3);
                for k in 0..n {
                    // Only the last of a burst is empty: identical messages
                    // in one step would make which copy stands for which
                    // ambiguous (shared groups alternate with plain copies).
                    let payload = if *empty && k + 1 == n {
                        String::new()
                    } else {
                        format!("p{i}.{k}")
                    };
                    self.publish(c, topic(*t), *q, retain, payload, props)
                        .await?;
                }
                self.settle().await?;
                Ok(true)
            }
            Op::Ack { .. } => {
                if self.parties[c].unacked.is_empty() {
                    return Ok(false);
                }
                self.ack_all(c).await?;
                self.settle().await?;
                Ok(true)
            }
            Op::Ping { .. } => {
                self.round_trip(c).await?;
                Ok(true)
            }
        }
    }

    async fn connect(
        &mut self,
        c: usize,
        clean: bool,
        persistent: bool,
        will: Option<(String, String, u8, bool)>,
    ) -> Step<()> {
        let name = self.parties[c].name.clone();
        let mut connect = Connect::new(self.case.version.protocol(), mstr(&self.parties[c].id));
        connect.clean_start = clean;
        let expiry = (self.v5 && persistent).then_some(300u32);
        connect.properties.session_expiry_interval = expiry;
        if let Some((t, payload, q, retain)) = &will {
            connect.will = Some(Will {
                topic: mstr(&self.bind(t)),
                payload: Bytes::from(payload.clone()),
                qos: qos(*q),
                retain: *retain,
                properties: Properties::default(),
            });
        }
        let options = self.s.client.clone().version(self.case.version.protocol());
        let endpoint = endpoint_through(self.proxy.as_ref(), self.endpoint, &name)
            .await
            .map_err(|e| Stop::Error(format!("fault proxy: {e}")))?;
        let client = TestClient::open(&endpoint, &options)
            .await
            .map_err(|e| Stop::Error(format!("{name}: cannot connect: {e}")))?;
        let p = &mut self.parties[c];
        p.live = Some(client);
        p.persistent = persistent;
        p.ever_persistent |= persistent;
        p.aliases.clear();
        p.alias_max = 0;
        p.unacked.clear();
        p.extras.clear();
        p.shared_retained.clear();
        if clean {
            p.rel.clear();
            p.live_only_rel.clear();
            p.grants.clear();
        }
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        self.conn_of.insert(conn, c);
        self.parties[c].conn = Some(conn);
        let now = self.now();
        self.model
            .connection_opened(conn, now)
            .map_err(|e| Stop::Error(format!("model: {e}")))?;
        let packet = Packet::Connect(Box::new(connect));
        self.send_both(c, packet).await?;
        // The CONNACK first (its Session Present goes into the script).
        let present = self.model_connack(c)?;
        self.script.connect(&name, clean, expiry, will, present);
        self.settle().await
    }

    /// Finds the model's CONNACK among its outputs (leaving the others) and
    /// checks the live one against it.
    fn model_connack(&mut self, c: usize) -> Step<bool> {
        self.drain_model()?;
        let present = self
            .wants
            .iter()
            .find_map(|w| match &w.want {
                Want::ConnAck { session_present } if w.party == c => Some(*session_present),
                _ => None,
            })
            .unwrap_or(false);
        Ok(present)
    }

    async fn disconnect(&mut self, c: usize, reason: u8) -> Step<()> {
        self.drain_all().await?;
        self.will_template(c);
        let name = self.parties[c].name.clone();
        self.script.disconnect(&name, reason);
        let d = Disconnect::new(ReasonCode(reason));
        if let Some(live) = self.parties[c].live.as_mut() {
            let _ = live.disconnect_with(d.clone()).await;
            // The server closes its side once it has processed the
            // DISCONNECT: waiting for that orders it before the next step.
            let _ = live.expect_closed(self.s.wait).await;
        }
        self.closing = self.parties[c].conn;
        self.closing_party = Some(c);
        self.send_model(c, Packet::Disconnect(d))?;
        let drained = self.drain_all().await;
        self.closing = None;
        self.closing_party = None;
        drained?;
        self.detach(c);
        self.settle().await
    }

    /// [`Op::Drop`]: the client closes its connection without DISCONNECT.
    async fn drop_party(&mut self, c: usize) -> Step<()> {
        self.close_abruptly(c, false).await
    }

    /// The connection of `c` ends without DISCONNECT, by the client's close
    /// or (`reset`) by an RST of the fault proxy; to the model, a closed
    /// connection: its Will fires.
    async fn close_abruptly(&mut self, c: usize, reset: bool) -> Step<()> {
        self.drain_all().await?;
        self.will_template(c);
        let name = self.parties[c].name.clone();
        if reset {
            self.script.fault(&name, "reset");
            self.script.expect_close(&name);
            if let Some(p) = &self.proxy {
                p.reset(&Selector::Group(name.clone()));
            }
        } else {
            self.script.drop_connection(&name);
        }
        if let Some(mut live) = self.parties[c].live.take() {
            if reset {
                // The reset reached the client: its connection is closed.
                let _ = live.expect_closed(self.s.wait).await;
            }
            live.drop_connection().await;
        }
        if let Some(conn) = self.parties[c].conn {
            let now = self.now();
            self.model
                .connection_closed(conn, now)
                .map_err(|e| Stop::Error(format!("model: {e}")))?;
        }
        self.detach(c);
        self.settle().await
    }

    /// A PINGREQ/PINGRESP round trip on both sides: the broker has read
    /// everything `c` sent before (a reset may discard bytes in flight).
    async fn round_trip(&mut self, c: usize) -> Step<()> {
        let name = self.parties[c].name.clone();
        self.script
            .send(&name, map(vec![("type", "pingreq".into())]));
        self.send_both(c, Packet::PingReq).await?;
        self.settle().await
    }

    /// [`Op::Reset`]: RST both ways under `c`, then as a drop.
    async fn reset_party(&mut self, c: usize) -> Step<bool> {
        if self.proxy.is_none() {
            return Ok(false);
        }
        self.round_trip(c).await?;
        self.close_abruptly(c, true).await?;
        Ok(true)
    }

    /// [`Op::Stall`]: `c`'s link carries nothing for [`STALL_MS`], then
    /// heals; a round trip after shows it carries again.
    async fn stall_party(&mut self, c: usize) -> Step<bool> {
        if self.proxy.is_none() {
            return Ok(false);
        }
        self.settle().await?;
        let name = self.parties[c].name.clone();
        let group = Selector::Group(name.clone());
        self.script.fault(&name, "stall");
        self.script.sleep(STALL_MS);
        self.script.heal(&name);
        if let Some(p) = &self.proxy {
            p.apply(&group, LinkFault::Stall);
        }
        tokio::time::sleep(Duration::from_millis(STALL_MS)).await;
        if let Some(p) = &self.proxy {
            p.heal(&group);
        }
        self.round_trip(c).await?;
        Ok(true)
    }

    /// [`Op::Restart`]: every client disconnects normally, the broker is
    /// killed (or stopped) and started again; the model keeps its state
    /// when the target claims it, else starts empty.
    async fn restart(&mut self, i: usize) -> Step<bool> {
        let Some(target) = self.lifecycle else {
            return Ok(false);
        };
        let kind = RestartKind::of(&target.capabilities);
        self.settle().await?;
        for c in 0..self.parties.len() {
            if self.parties[c].conn.is_some() {
                self.disconnect(c, 0).await?;
            }
        }
        let verb = if kind == RestartKind::CleanDurable {
            Lifecycle::Stop
        } else {
            Lifecycle::Kill
        };
        for v in [verb, Lifecycle::Restart] {
            self.script.target(v);
            target
                .lifecycle(v)
                .await
                .map_err(|e| Stop::Error(format!("step {i}: {e}")))?;
        }
        let now = self.now();
        let mut fresh = Broker::new(self.s.model.clone());
        if kind.keeps_state() {
            let state = self.model.export_all();
            fresh
                .restore(state, now)
                .map_err(|e| Stop::Error(format!("model restore: {e}")))?;
        }
        self.model = fresh;
        self.drain_model()?;
        // The observer of wills comes back.
        self.setup().await?;
        Ok(true)
    }

    fn detach(&mut self, c: usize) {
        if let Some(conn) = self.parties[c].conn.take() {
            self.conn_of.remove(&conn);
        }
        self.parties[c].live = None;
    }

    /// The routing of `c`'s will, computed before it is published.
    fn will_template(&mut self, c: usize) {
        let Some(conn) = self.parties[c].conn else {
            return;
        };
        let Some(w) = self.model.connection(conn).and_then(|x| x.will.clone()) else {
            return;
        };
        let t = self.template(w.topic.as_str(), w.qos.bits(), w.retain, c);
        self.templates
            .insert((w.topic.as_str().to_owned(), w.payload.clone()), t);
    }

    async fn subscribe(
        &mut self,
        c: usize,
        subs: Vec<(String, SubscriptionOptions)>,
        id: Option<u32>,
    ) -> Step<()> {
        let packet_id = self.parties[c].packet_id();
        let properties = Properties::from(mqtt_codec::PropertyValues {
            subscription_identifiers: id.into_iter().collect(),
            ..mqtt_codec::PropertyValues::default()
        });
        let packet = Subscribe {
            packet_id,
            properties,
            filters: subs
                .iter()
                .map(|(f, o)| Subscription {
                    filter: mstr(&self.bind(f)),
                    options: *o,
                })
                .collect(),
        };
        let yaml_filters = subs
            .iter()
            .map(|(f, o)| {
                let mut pairs = vec![
                    ("filter", Value::from(f.as_str())),
                    ("qos", o.qos.bits().into()),
                ];
                if self.v5 {
                    pairs.push(("no_local", o.no_local.into()));
                    pairs.push(("retain_as_published", o.retain_as_published.into()));
                    pairs.push(("retain_handling", (o.retain_handling as u8).into()));
                }
                map(pairs)
            })
            .collect();
        let props = id.map_or(Value::Null, |i| {
            map(vec![("subscription_identifiers", seq(vec![i.into()]))])
        });
        let name = self.parties[c].name.clone();
        self.script.send(
            &name,
            map(vec![
                ("type", "subscribe".into()),
                ("packet_id", packet_id.into()),
                ("filters", seq(yaml_filters)),
                ("properties", props),
            ]),
        );
        let bound: Vec<String> = subs.iter().map(|(f, _)| self.bind(f)).collect();
        let now = self.now();
        let mut topics: Vec<String> = (0..TOPICS.len() as u8).map(topic).collect();
        topics.extend(self.parties.iter().map(|p| will_topic(&p.name)));
        let kept: Vec<(String, Bytes, u8)> = topics
            .iter()
            .filter_map(|t| self.model.retained().get(&self.bind(t)))
            .filter(|m| !m.is_expired(now))
            .map(|m| {
                (
                    m.publish.topic().to_owned(),
                    m.publish.payload_bytes(),
                    m.publish.qos.bits(),
                )
            })
            .collect();
        let allowed = if self.v5 {
            shared_retained_allowed(&bound, &kept)
        } else {
            Vec::new()
        };
        self.parties[c].shared_retained.extend(allowed);
        self.subscribing = Some((c, bound));
        self.send_both(c, Packet::Subscribe(packet)).await?;
        let r = self.settle().await;
        self.subscribing = None;
        r
    }

    async fn unsubscribe(&mut self, c: usize, filters: Vec<String>) -> Step<()> {
        let packet_id = self.parties[c].packet_id();
        let packet = Unsubscribe {
            packet_id,
            properties: Properties::default(),
            filters: filters.iter().map(|f| mstr(&self.bind(f))).collect(),
        };
        let name = self.parties[c].name.clone();
        self.script.send(
            &name,
            map(vec![
                ("type", "unsubscribe".into()),
                ("packet_id", packet_id.into()),
                (
                    "filters",
                    seq(filters.iter().map(|f| Value::from(f.as_str())).collect()),
                ),
            ]),
        );
        for f in &filters {
            let b = self.bind(f);
            self.parties[c].grants.remove(&b);
        }
        self.send_both(c, Packet::Unsubscribe(packet)).await?;
        self.settle().await
    }

    async fn publish(
        &mut self,
        c: usize,
        t: String,
        q: u8,
        retain: bool,
        payload: String,
        props: &super::case::PubProps,
    ) -> Step<()> {
        let mut bound = self.bind(&t);
        let packet_id = if q > 0 {
            self.parties[c].packet_id()
        } else {
            0
        };
        let mut p = Publish::new(mstr(&bound), Bytes::from(payload.clone()));
        p.qos = qos(q);
        p.retain = retain;
        p.packet_id = packet_id;
        let mut yaml_props: Vec<(&str, Value)> = Vec::new();
        let mut yaml_topic = t.clone();
        if self.v5 {
            p.properties.message_expiry_interval = props.expiry;
            if let Some(e) = props.expiry {
                yaml_props.push(("message_expiry_interval", e.into()));
            }
            p.properties.user_properties = props
                .user
                .iter()
                .map(|&(k, v)| {
                    (
                        mstr(USER_KEYS[usize::from(k) % USER_KEYS.len()]),
                        mstr(USER_VALUES[usize::from(v) % USER_VALUES.len()]),
                    )
                })
                .collect();
            if !props.user.is_empty() {
                yaml_props.push((
                    "user_properties",
                    seq(p
                        .properties
                        .user_properties
                        .iter()
                        .map(|(k, v)| seq(vec![k.as_str().into(), v.as_str().into()]))
                        .collect()),
                ));
            }
            if props.content_type {
                p.properties.content_type = Some(mstr("text/plain"));
                yaml_props.push(("content_type", "text/plain".into()));
            }
            let alias_ok = |n: u16, party: &Party| {
                n >= 1 && n <= party.alias_max && n <= self.s.model.topic_alias_maximum
            };
            let alias = match props.alias {
                AliasOp::None => None,
                AliasOp::Set(n) | AliasOp::Use(n) if !alias_ok(n, &self.parties[c]) => None,
                // The topic is the one the alias was last set to, not the
                // one the case drew (§3.3.2.3.4): the message is routed,
                // and predicted, on that topic.
                AliasOp::Use(n) if self.parties[c].aliases.contains_key(&n) => {
                    bound = self.parties[c].aliases[&n].clone();
                    p.set_topic(MqttString::default());
                    yaml_topic = String::new();
                    Some(n)
                }
                AliasOp::Set(n) | AliasOp::Use(n) => {
                    self.parties[c].aliases.insert(n, bound.clone());
                    Some(n)
                }
            };
            if let Some(n) = alias {
                p.properties.topic_alias = Some(n);
                yaml_props.push(("topic_alias", n.into()));
            }
        }
        let name = self.parties[c].name.clone();
        let yaml_payload = payload.clone();
        self.script.send(
            &name,
            map(vec![
                ("type", "publish".into()),
                ("topic", yaml_topic.into()),
                ("payload", yaml_payload.into()),
                ("qos", q.into()),
                ("retain", retain.into()),
                (
                    "packet_id",
                    if q > 0 { packet_id.into() } else { Value::Null },
                ),
                (
                    "properties",
                    if yaml_props.is_empty() {
                        Value::Null
                    } else {
                        map(yaml_props)
                    },
                ),
            ]),
        );
        let tpl = self.template(&bound, q, retain, c);
        self.templates.insert((bound, Bytes::from(payload)), tpl);
        self.send_both(c, Packet::Publish(p)).await
    }

    /// How a message on `topic` is routed now, per the model's sessions
    /// (with the live broker's grants where they are lower).
    fn template(&self, topic: &str, pub_qos: u8, retain: bool, publisher: usize) -> Template {
        let mut t = Template {
            publisher: self.parties[publisher].name.clone(),
            ..Template::default()
        };
        let mut groups: BTreeMap<(String, String), Vec<usize>> = BTreeMap::new();
        for (i, p) in self.parties.iter().enumerate() {
            let Some(session) = self.model.session(&p.id) else {
                continue;
            };
            for (f, stored) in &session.subscriptions {
                let (group, inner) = parse_filter(f, self.v5);
                if !matches(inner, topic) {
                    continue;
                }
                let o = stored.entry.options;
                let granted = o.qos.bits().min(p.grants.get(f).copied().unwrap_or(2));
                if let Some(g) = group {
                    groups
                        .entry((g.to_owned(), inner.to_owned()))
                        .or_default()
                        .push(i);
                    continue;
                }
                if o.no_local && i == publisher {
                    continue;
                }
                t.plain.entry(i).or_default().push(Source {
                    qos: pub_qos.min(granted),
                    retain: o.retain_as_published && retain,
                    id: stored.entry.identifier,
                });
            }
        }
        t.shared = groups.into_values().collect();
        t
    }

    // ---- acknowledgements ----

    async fn ack(&mut self, c: usize, u: Unacked) -> Step<()> {
        let name = self.parties[c].name.clone();
        let save = self.saves.get(&u.save).cloned();
        let ref_id = |s: &Option<String>, id: u16| {
            s.as_ref()
                .map_or(Value::from(id), |n| Value::from(format!("${n}")))
        };
        match u.live_qos {
            1 => {
                self.script.send(
                    &name,
                    map(vec![
                        ("type", "puback".into()),
                        ("packet_id", ref_id(&save, u.live_id)),
                    ]),
                );
                self.send_live(c, &Packet::PubAck(PubResponse::new(u.live_id)))
                    .await?;
            }
            2 => {
                self.script.send(
                    &name,
                    map(vec![
                        ("type", "pubrec".into()),
                        ("packet_id", ref_id(&save, u.live_id)),
                    ]),
                );
                self.send_live(c, &Packet::PubRec(PubResponse::new(u.live_id)))
                    .await?;
                if u.model_qos != 2 {
                    self.parties[c].live_only_rel.insert(u.live_id);
                }
            }
            _ => {}
        }
        let m = u.model_party;
        match u.model_qos {
            1 => self.send_model(m, Packet::PubAck(PubResponse::new(u.model_id)))?,
            2 => {
                if u.live_qos == 2 {
                    self.parties[m].rel.insert(u.model_id, u.live_id);
                } else {
                    self.model_only_rel.insert((m, u.model_id));
                }
                self.send_model(m, Packet::PubRec(PubResponse::new(u.model_id)))?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn ack_all(&mut self, c: usize) -> Step<()> {
        let list = std::mem::take(&mut self.parties[c].unacked);
        for u in list {
            self.ack(c, u).await?;
        }
        Ok(())
    }

    // ---- model outputs ----

    fn drain_model(&mut self) -> Step<()> {
        while let Some(o) = self.model.poll_output() {
            match o {
                Output::Send { conn, packet, .. } => {
                    let Some(&party) = self.conn_of.get(&conn) else {
                        continue;
                    };
                    self.want_from_model(party, packet)?;
                }
                Output::Close { conn, reason } => {
                    if self.closing == Some(conn) {
                        continue;
                    }
                    let party = self.conn_of.get(&conn).copied().unwrap_or(0);
                    return Err(Stop::Error(format!(
                        "the model closed {}'s connection ({reason:?}): the generator made an invalid operation",
                        self.parties[party].name
                    )));
                }
                Output::Event(_) => {}
            }
        }
        Ok(())
    }

    fn want_from_model(&mut self, party: usize, packet: Packet) -> Step<()> {
        let want = match packet {
            Packet::ConnAck(a) => Want::ConnAck {
                session_present: a.session_present,
            },
            Packet::SubAck(a) => Want::SubAck {
                id: a.packet_id,
                codes: a.reason_codes.iter().map(|c| c.0).collect(),
            },
            Packet::UnsubAck(a) => Want::UnsubAck {
                id: a.packet_id,
                codes: a.reason_codes.iter().map(|c| c.0).collect(),
            },
            Packet::PubAck(a) => Want::PubAck(a.packet_id),
            Packet::PubRec(a) => Want::PubRec(a.packet_id),
            Packet::PubComp(a) => Want::PubComp(a.packet_id),
            Packet::PubRel(r) => {
                if self.model_only_rel.remove(&(party, r.packet_id)) {
                    return self.send_model(party, Packet::PubComp(PubResponse::new(r.packet_id)));
                }
                let live_id = self.parties[party]
                    .rel
                    .get(&r.packet_id)
                    .copied()
                    .unwrap_or(r.packet_id);
                Want::PubRel {
                    model_id: r.packet_id,
                    live_id,
                }
            }
            Packet::PingResp => Want::PingResp,
            Packet::Publish(p) => Want::Deliver(Box::new(self.deliver_want(party, &p))),
            // Closing for a malformed packet: the DISCONNECT is optional
            // (5.0 §4.13) and judged where the close is awaited.
            Packet::Disconnect(_) if self.closing_party == Some(party) => return Ok(()),
            other => {
                return Err(Stop::Error(format!(
                    "the model sent {} to {}: the generator made an invalid operation",
                    other.packet_type(),
                    self.parties[party].name
                )))
            }
        };
        self.wants.push(PendingWant {
            party,
            want,
            done: false,
        });
        Ok(())
    }

    fn deliver_want(&mut self, party: usize, p: &Publish) -> Deliver {
        let key = (p.topic().to_owned(), p.payload_bytes());
        let nth = {
            let n = self
                .copies
                .entry((party, key.0.clone(), key.1.clone()))
                .or_insert(0);
            *n += 1;
            *n - 1
        };
        let model_qos = p.qos.bits();
        let model_copy = Source {
            qos: model_qos,
            retain: p.retain,
            id: p.properties.subscription_identifiers.first().copied(),
        };
        let retained_now =
            self.subscribing.as_ref().is_some_and(|(c, _)| *c == party) && p.retain && !p.dup;
        let tpl = self.templates.get(&key);
        let (sources, candidates, ordered, mut qos_ok) = match tpl {
            _ if retained_now => {
                // A retained message sent because of this SUBSCRIBE: at
                // the QoS of the subscription that matched (a lower live
                // grant lowers it).
                let low = self
                    .subscribing
                    .as_ref()
                    .map(|(_, fs)| {
                        fs.iter()
                            .filter_map(|f| self.parties[party].grants.get(f).copied())
                            .min()
                            .unwrap_or(model_qos)
                    })
                    .unwrap_or(model_qos);
                let ok: BTreeSet<u8> = (low.min(model_qos)..=model_qos).collect();
                (vec![model_copy], vec![party], false, ok)
            }
            // Identical messages (empty payloads) share a key: the copy is
            // the plain one unless the party also has a share group match,
            // then plain and shared alternate (plain first, as routed).
            Some(t)
                if t.plain.contains_key(&party)
                    && nth % (1 + t.shared.iter().filter(|g| g.contains(&party)).count()) == 0 =>
            {
                let s = t.plain[&party].clone();
                let max = s.iter().map(|x| x.qos).max().unwrap_or(model_qos);
                (s, vec![party], true, [max].into())
            }
            Some(t) if t.shared.iter().any(|g| g.contains(&party)) => {
                let g = t
                    .shared
                    .iter()
                    .find(|g| g.contains(&party))
                    .cloned()
                    .unwrap_or_default();
                let members: Vec<usize> = g
                    .into_iter()
                    .filter(|&m| self.parties[m].conn.is_some())
                    .collect();
                (vec![model_copy], members, false, [model_qos].into())
            }
            _ => (vec![model_copy], vec![party], true, [model_qos].into()),
        };
        if p.dup {
            // A re-send on session resume carries the QoS first sent.
            qos_ok = [model_qos].into();
        }
        let retain_ok: BTreeSet<bool> = if retained_now {
            [true].into()
        } else if p.dup {
            [p.retain].into()
        } else {
            sources.iter().map(|s| s.retain).collect()
        };
        let mut ids: Vec<u32> = if sources.len() > 1 || tpl.is_some() && !retained_now {
            sources.iter().filter_map(|s| s.id).collect()
        } else {
            p.properties.subscription_identifiers.clone()
        };
        if p.dup {
            ids = p.properties.subscription_identifiers.clone();
        }
        ids.sort_unstable();
        ids.dedup();
        let publisher = tpl.map(|t| t.publisher.clone()).unwrap_or_default();
        Deliver {
            topic: key.0,
            payload: key.1,
            publisher,
            pub_qos: model_qos,
            model_qos,
            model_id: p.packet_id,
            dup: p.dup,
            qos_ok,
            retain_ok,
            ids,
            sources,
            user: p
                .properties
                .user_properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            content_type: p.properties.content_type.as_deref().map(str::to_owned),
            expiry: p
                .properties
                .message_expiry_interval
                .map(|r| (r.saturating_sub(2), r.saturating_add(1))),
            candidates,
            ordered,
            model_party: party,
        }
    }

    // ---- receiving ----

    /// The next packet queued at `c` within `wait` (`None`: nothing).
    async fn pull(&mut self, c: usize, wait: Duration) -> Step<Option<Packet>> {
        let Some(live) = self.parties[c].live.as_mut() else {
            return Ok(None);
        };
        match live.expect(&Matcher::any(), wait).await {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.is_timeout() => Ok(None),
            Err(ClientError::Closed { .. }) if self.closing_party == Some(c) => Ok(None),
            Err(ClientError::Closed { close, .. }) => Err(self.diverged(
                c,
                Rule::Connection,
                "the connection to stay open".into(),
                close.to_string(),
            )),
            Err(e) => Err(self.diverged(
                c,
                Rule::Connection,
                "well-formed packets".into(),
                e.to_string(),
            )),
        }
    }

    async fn drain_all(&mut self) -> Step<()> {
        for c in 0..self.parties.len() {
            while let Some(p) = self.pull(c, Duration::ZERO).await? {
                self.classify(c, p).await?;
            }
        }
        self.drain_model()
    }

    /// Waits until every want has arrived, judging what arrives.
    async fn settle(&mut self) -> Step<()> {
        let deadline = Instant::now() + self.s.wait;
        loop {
            self.drain_model()?;
            self.drain_all().await?;
            let open = self
                .wants
                .iter()
                .find(|w| !w.done)
                .map(|w| (w.party, w.want.clone()));
            let Some((wparty, want)) = open else {
                self.wants.clear();
                return Ok(());
            };
            let now = Instant::now();
            let target = match &want {
                Want::Deliver(d) => d.candidates.first().copied().unwrap_or(wparty),
                _ => wparty,
            };
            if now >= deadline || self.parties[target].live.is_none() {
                return Err(self.missing(target, &want));
            }
            // In slices, so that what other clients receive meanwhile is
            // answered: a broker that releases a QoS 2 message only on the
            // publisher's PUBREL (Method A of §4.3.3, figure 4.3) waits for
            // the PUBREC that another client holds to be answered.
            let slice = WAIT_SLICE.min(deadline - now);
            if let Some(p) = self.pull(target, slice).await? {
                self.classify(target, p).await?;
            }
        }
    }

    fn missing(&mut self, party: usize, want: &Want) -> Stop {
        let rule = match want {
            Want::ConnAck { .. } => Rule::Connack,
            Want::SubAck { .. } => Rule::Suback,
            Want::UnsubAck { .. } => Rule::Unsuback,
            Want::PubAck(_) | Want::PubRec(_) | Want::PubComp(_) | Want::PubRel { .. } => {
                Rule::PublishAck
            }
            Want::PingResp => Rule::Pingresp,
            Want::Deliver(_) => Rule::MissingDelivery,
        };
        let name = self.parties[party].name.clone();
        let m = self.matcher(want, None);
        self.script.expect(&name, m, None);
        let pending = self.parties[party]
            .live
            .as_ref()
            .map(|c| c.pending())
            .unwrap_or_default();
        let copies: Vec<u8> = match want {
            Want::Deliver(d) => self.parties[party]
                .received
                .iter()
                .filter(|(t, pl, _, _)| *t == d.topic && *pl == d.payload)
                .map(|r| r.2)
                .collect(),
            _ => Vec::new(),
        };
        let earlier = if copies.is_empty() {
            String::new()
        } else {
            format!(" (copies of it received before, at QoS {copies:?})")
        };
        let observed = if pending.is_empty() {
            format!("nothing within {:?}{earlier}", self.s.wait)
        } else {
            format!(
                "nothing matching within {:?}{earlier}; queued: {}",
                self.s.wait,
                pending
                    .iter()
                    .map(mqtt_client::describe::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.diverged(party, rule, want.describe(), observed)
    }

    /// Judges one packet received at `c`.
    async fn classify(&mut self, c: usize, packet: Packet) -> Step<()> {
        // What the model has said so far is what the packet is judged by.
        self.drain_model()?;
        let v5 = self.v5;
        match packet {
            Packet::Publish(p) => self.classify_publish(c, p).await,
            Packet::PubRel(r) if self.parties[c].live_only_rel.remove(&r.packet_id) => {
                self.send_live(c, &Packet::PubComp(PubResponse::new(r.packet_id)))
                    .await
            }
            other => {
                let mut misfit = None;
                let mut hit = None;
                for (k, w) in self.wants.iter().enumerate() {
                    if w.done || w.party != c || !same_kind(&w.want, &other) {
                        continue;
                    }
                    match fits_other(&w.want, &other, v5) {
                        Ok(()) => {
                            hit = Some(k);
                            break;
                        }
                        Err(m) => misfit = misfit.or(Some((k, m))),
                    }
                }
                if let Some(k) = hit {
                    self.wants[k].done = true;
                    let want = self.wants[k].want.clone();
                    return self.react_other(c, &want, &other).await;
                }
                let desc = mqtt_client::describe::describe(&other);
                if let Some((k, m)) = misfit {
                    let want = self.wants[k].want.clone();
                    let rule = match want {
                        Want::ConnAck { .. } => Rule::Connack,
                        Want::SubAck { .. } => Rule::Suback,
                        Want::UnsubAck { .. } => Rule::Unsuback,
                        Want::PingResp => Rule::Pingresp,
                        _ => Rule::PublishAck,
                    };
                    let name = self.parties[c].name.clone();
                    let matcher = self.matcher(&want, None);
                    self.script.expect(&name, matcher, None);
                    return Err(self.diverged(c, rule, want.describe(), format!("{desc}: {m}")));
                }
                let rule = match other {
                    Packet::PingResp => Rule::Pingresp,
                    Packet::SubAck(_) => Rule::Suback,
                    Packet::UnsubAck(_) => Rule::Unsuback,
                    Packet::PubAck(_)
                    | Packet::PubRec(_)
                    | Packet::PubComp(_)
                    | Packet::PubRel(_) => Rule::PublishAck,
                    Packet::ConnAck(_) => Rule::Connack,
                    _ => Rule::Connection,
                };
                let name = self.parties[c].name.clone();
                let ty = other.packet_type().name().to_lowercase();
                self.script
                    .expect_nothing(&name, map(vec![("type", ty.into())]), 500);
                Err(self.diverged(c, rule, "nothing".into(), desc))
            }
        }
    }

    async fn react_other(&mut self, c: usize, want: &Want, got: &Packet) -> Step<()> {
        let name = self.parties[c].name.clone();
        let matcher = self.matcher(want, None);
        match want {
            Want::ConnAck { .. } => {
                if let Packet::ConnAck(a) = got {
                    self.parties[c].alias_max = a.properties.topic_alias_maximum.unwrap_or(0);
                }
                Ok(())
            }
            Want::SubAck { .. } => {
                self.script.expect(&name, matcher, None);
                if let (Packet::SubAck(a), Some((_, filters))) = (got, self.subscribing.clone()) {
                    for (f, code) in filters.iter().zip(&a.reason_codes) {
                        if code.0 <= 2 {
                            self.parties[c].grants.insert(f.clone(), code.0);
                        }
                    }
                }
                Ok(())
            }
            Want::PubRec(id) => {
                self.script.expect(&name, matcher, None);
                self.script.send(
                    &name,
                    map(vec![("type", "pubrel".into()), ("packet_id", (*id).into())]),
                );
                self.send_both(c, Packet::PubRel(PubResponse::new(*id)))
                    .await
            }
            Want::PubRel { model_id, live_id } => {
                let save = self.script.fresh_name();
                self.script.expect(&name, matcher, Some(save.clone()));
                self.script.send(
                    &name,
                    map(vec![
                        ("type", "pubcomp".into()),
                        ("packet_id", format!("${save}").into()),
                    ]),
                );
                self.parties[c].rel.remove(model_id);
                self.send_live(c, &Packet::PubComp(PubResponse::new(*live_id)))
                    .await?;
                self.send_model(c, Packet::PubComp(PubResponse::new(*model_id)))
            }
            _ => {
                self.script.expect(&name, matcher, None);
                Ok(())
            }
        }
    }

    async fn classify_publish(&mut self, c: usize, p: Publish) -> Step<()> {
        let v5 = self.v5;
        let topic = p.topic().to_owned();
        // The required copy of a want.
        let mut misfit: Option<(usize, String)> = None;
        let mut hit = None;
        for (k, w) in self.wants.iter().enumerate() {
            let Want::Deliver(d) = &w.want else { continue };
            if w.done || !d.candidates.contains(&c) || d.topic != topic || d.payload != p.payload()
            {
                continue;
            }
            match fits_required(d, &p, v5) {
                Ok(()) => {
                    hit = Some(k);
                    break;
                }
                Err(m) => misfit = misfit.or(Some((k, m))),
            }
        }
        if let Some(k) = hit {
            let Want::Deliver(d) = self.wants[k].want.clone() else {
                unreachable!("selected above");
            };
            if d.ordered && !d.dup {
                let earlier = self.wants[..k].iter().find(|w| match &w.want {
                    Want::Deliver(e) => {
                        !w.done
                            && e.ordered
                            && !e.dup
                            && e.candidates == d.candidates
                            && e.topic == d.topic
                            && e.publisher == d.publisher
                            && e.pub_qos == d.pub_qos
                            && e.qos_ok == d.qos_ok
                    }
                    _ => false,
                });
                if let Some(e) = earlier {
                    let expected = format!("{} before it", e.want.describe());
                    let name = self.parties[c].name.clone();
                    let (first, second) = (
                        self.matcher(&e.want, None),
                        self.matcher(&Want::Deliver(d.clone()), None),
                    );
                    self.script.expect_next(&name, first);
                    self.script.expect_next(&name, second);
                    return Err(self.diverged(
                        c,
                        Rule::Order,
                        expected,
                        format!(
                            "{} first",
                            mqtt_client::describe::describe(&Packet::Publish(p))
                        ),
                    ));
                }
            }
            self.wants[k].done = true;
            return self.accept_delivery(c, &d, &p, true).await;
        }
        // A further copy of a delivery already matched.
        let extra = self.parties[c]
            .extras
            .iter()
            .enumerate()
            .filter(|(_, (d, _))| d.topic == topic && d.payload == p.payload())
            .find_map(|(i, (d, used))| {
                let mut d2 = d.clone();
                d2.sources = d
                    .sources
                    .iter()
                    .zip(used)
                    .map(|(s, u)| {
                        if *u {
                            Source {
                                qos: 9,
                                ..s.clone()
                            }
                        } else {
                            s.clone()
                        }
                    })
                    .collect();
                fits_extra(&d2, &p, v5).map(|s| (i, s))
            });
        if let Some((i, s)) = extra {
            self.parties[c].extras[i].1[s] = true;
            let d = self.parties[c].extras[i].0.clone();
            return self.accept_delivery(c, &d, &p, false).await;
        }
        // A further copy arriving before the required one (one copy per
        // matching subscription, the lower QoS first).
        let early = self.wants.iter().find_map(|w| match &w.want {
            Want::Deliver(d)
                if !w.done
                    && d.candidates.contains(&c)
                    && d.topic == topic
                    && d.payload == p.payload() =>
            {
                fits_extra(d, &p, v5).map(|i| (d.clone(), i))
            }
            _ => None,
        });
        if let Some((d, i)) = early {
            let mut used = vec![false; d.sources.len()];
            used[i] = true;
            self.parties[c].extras.push((*d.clone(), used));
            return self.accept_delivery(c, &d, &p, false).await;
        }
        // A re-send of a QoS 1 message (DUP 1), or in 3.1.1 a retry of a
        // QoS 2 PUBLISH with its packet id.
        let q = p.qos.bits();
        let resend = p.dup
            && q > 0
            && self.parties[c].received.iter().any(|(t, pl, rq, id)| {
                *t == topic
                    && *pl == p.payload()
                    && *rq == q
                    && (q == 1 || (!v5 && *id == p.packet_id))
            });
        if resend && q == 2 {
            return self
                .send_live(c, &Packet::PubRec(PubResponse::new(p.packet_id)))
                .await;
        }
        if resend {
            let u = Unacked::live_only(c, p.packet_id, q);
            return self.ack(c, u).await;
        }
        if self.shared_retained(c, &topic, &p) {
            self.allowed(Allowance::SharedRetained);
            if q > 0 {
                let u = Unacked::live_only(c, p.packet_id, q);
                return self.ack(c, u).await;
            }
            return Ok(());
        }
        let desc = mqtt_client::describe::describe(&Packet::Publish(p.clone()));
        let name = self.parties[c].name.clone();
        if let Some((k, m)) = misfit {
            let want = self.wants[k].want.clone();
            let matcher = self.matcher(&want, None);
            self.script.expect(&name, matcher, None);
            let rule = if m.starts_with("QoS ") {
                Rule::DeliveryQos
            } else {
                Rule::DeliveryFields
            };
            return Err(self.diverged(c, rule, want.describe(), format!("{desc}: {m}")));
        }
        let matcher = map(vec![
            ("type", "publish".into()),
            ("topic", self.unbind(&topic).into()),
            (
                "payload",
                String::from_utf8_lossy(p.payload()).into_owned().into(),
            ),
        ]);
        self.script.expect_nothing(&name, matcher, 500);
        Err(self.diverged(c, Rule::UnexpectedDelivery, "no such PUBLISH".into(), desc))
    }

    /// True when `p` is a retained message a shared subscription of `c`
    /// may have caused ([`shared_retained_allowed`]); the allowance is used up.
    fn shared_retained(&mut self, c: usize, topic: &str, p: &Publish) -> bool {
        let list = &mut self.parties[c].shared_retained;
        let hit = list.iter().position(|(t, payload, q)| {
            p.retain && !p.dup && t == topic && *payload == p.payload() && p.qos.bits() <= *q
        });
        hit.map(|i| list.remove(i)).is_some()
    }

    /// Counts a use of a latitude the specifications give.
    fn allowed(&mut self, a: Allowance) {
        *self.allowances.entry(a.name()).or_insert(0) += 1;
    }

    async fn accept_delivery(
        &mut self,
        c: usize,
        d: &Deliver,
        p: &Publish,
        required: bool,
    ) -> Step<()> {
        let name = self.parties[c].name.clone();
        let q = p.qos.bits();
        let save_name = (q > 0).then(|| self.script.fresh_name());
        if required {
            let matcher = self.matcher(&Want::Deliver(Box::new(d.clone())), Some(p));
            self.script.expect(&name, matcher, save_name.clone());
            if d.sources.len() > 1 {
                let used = vec![false; d.sources.len()];
                self.parties[c].extras.push((d.clone(), used));
                // The required copy stands for one of the sources.
                if let Some(i) = source_of(d, p) {
                    if let Some(last) = self.parties[c].extras.last_mut() {
                        last.1[i] = true;
                    }
                }
            }
        }
        self.parties[c]
            .received
            .push((d.topic.clone(), p.payload_bytes(), q, p.packet_id));
        let (model_qos, model_id) = if required {
            (d.model_qos, d.model_id)
        } else {
            (0, 0)
        };
        if q == 0 && model_qos == 0 {
            return Ok(());
        }
        let save = self.saves.len() + 1;
        if let Some(n) = save_name {
            self.saves.insert(save, n);
        }
        let u = Unacked {
            live_id: p.packet_id,
            live_qos: q,
            model_party: d.model_party,
            model_id,
            model_qos,
            save,
        };
        if self.parties[c].manual && required {
            self.parties[c].unacked.push(u);
            if self.parties[c].unacked.len() >= 8 {
                self.ack_all(c).await?;
            }
            Ok(())
        } else {
            self.ack(c, u).await
        }
    }

    async fn finish(&mut self) -> Step<()> {
        tokio::time::sleep(self.s.quiet).await;
        self.drain_all().await?;
        if let Some(w) = self.wants.iter().find(|w| !w.done) {
            let (party, want) = (w.party, w.want.clone());
            return Err(self.missing(party, &want));
        }
        Ok(())
    }

    /// Ends every session that may outlive the case and clears the
    /// retained messages it left (live only), so that a long run does not
    /// fill the broker.
    async fn cleanup(&mut self) {
        for p in &mut self.parties {
            if let Some(mut c) = p.live.take() {
                c.drop_connection().await;
            }
        }
        let options = self.s.client.clone().version(self.case.version.protocol());
        let mut topics: BTreeSet<String> = self.templates.keys().map(|k| k.0.clone()).collect();
        topics.retain(|t| !t.is_empty());
        let retained = self.has(Capability::Retain)
            && self.case.ops.iter().any(|o| match o {
                Op::Publish { retain, .. } => *retain,
                Op::Connect { will, .. } => will.retain,
                _ => false,
            });
        if retained && !topics.is_empty() {
            if let Ok(mut c) = TestClient::open(self.endpoint, &options).await {
                let id = self.b.client_id("z");
                let connect = Connect::new(self.case.version.protocol(), mstr(&id));
                if c.handshake(connect, self.s.wait).await.is_ok() {
                    for t in &topics {
                        let mut p = Publish::new(mstr(t), Bytes::new());
                        p.retain = true;
                        let _ = c.send(&Packet::Publish(p)).await;
                    }
                    // Answered after the PUBLISHes before it were handled.
                    let _ = c.send(&Packet::PingReq).await;
                    let _ = c
                        .expect(
                            &Matcher::of_type(mqtt_codec::PacketType::PingResp),
                            self.s.wait,
                        )
                        .await;
                    let _ = c.disconnect(ReasonCode::SUCCESS).await;
                }
                c.drop_connection().await;
            }
        }
        for p in &self.parties {
            if !p.ever_persistent {
                continue;
            }
            let Ok(mut c) = TestClient::open(self.endpoint, &options).await else {
                continue;
            };
            let connect = Connect::new(self.case.version.protocol(), mstr(&p.id));
            if c.handshake(connect, self.s.wait).await.is_ok() {
                let _ = c.disconnect(ReasonCode::SUCCESS).await;
                let _ = c.expect_closed(Duration::from_millis(500)).await;
            }
            c.drop_connection().await;
        }
    }

    // ---- scenario matchers ----

    fn matcher(&self, want: &Want, got: Option<&Publish>) -> Value {
        let ack = |ty: &str, id: Value, codes: Vec<u8>| {
            let code = if self.v5 {
                one_of(codes.into_iter().map(Value::from).collect())
            } else {
                Value::Null
            };
            map(vec![
                ("type", ty.into()),
                ("packet_id", id),
                ("reason_code", code),
            ])
        };
        match want {
            Want::ConnAck { session_present } => map(vec![
                ("type", "connack".into()),
                ("session_present", (*session_present).into()),
                ("reason_code", 0.into()),
            ]),
            Want::SubAck { id, codes } => map(vec![
                ("type", "suback".into()),
                ("packet_id", (*id).into()),
                (
                    "reason_codes",
                    seq(codes
                        .iter()
                        .map(|&c| {
                            if c <= 2 {
                                one_of((0..=c).rev().map(Value::from).collect())
                            } else {
                                c.into()
                            }
                        })
                        .collect()),
                ),
            ]),
            Want::UnsubAck { id, codes } => {
                let codes = if self.v5 {
                    seq(codes
                        .iter()
                        .map(|&c| {
                            if c == 0x11 {
                                one_of(vec![0x11.into(), 0.into()])
                            } else {
                                c.into()
                            }
                        })
                        .collect())
                } else {
                    Value::Null
                };
                map(vec![
                    ("type", "unsuback".into()),
                    ("packet_id", (*id).into()),
                    ("reason_codes", codes),
                ])
            }
            Want::PubAck(id) => ack("puback", (*id).into(), vec![0, 0x10]),
            Want::PubRec(id) => ack("pubrec", (*id).into(), vec![0, 0x10]),
            Want::PubComp(id) => ack("pubcomp", (*id).into(), vec![0]),
            Want::PubRel { .. } => ack("pubrel", Value::Null, vec![0]),
            Want::PingResp => map(vec![("type", "pingresp".into())]),
            Want::Deliver(d) => {
                let q = got.map(|p| p.qos.bits());
                let qos = match q {
                    Some(q) => q.into(),
                    None => one_of(d.qos_ok.iter().map(|&x| Value::from(x)).collect()),
                };
                let retain = if d.retain_ok.len() == 1 {
                    d.retain_ok
                        .iter()
                        .next()
                        .copied()
                        .map_or(Value::Null, Value::from)
                } else {
                    Value::Null
                };
                let mut props: Vec<(&str, Value)> = Vec::new();
                if self.v5 {
                    props.push((
                        "user_properties",
                        seq(d
                            .user
                            .iter()
                            .map(|(k, v)| seq(vec![k.as_str().into(), v.as_str().into()]))
                            .collect()),
                    ));
                    if d.sources.len() <= 1 {
                        props.push((
                            "subscription_identifiers",
                            seq(d.ids.iter().map(|&i| Value::from(i)).collect()),
                        ));
                    }
                    props.push((
                        "message_expiry_interval",
                        match d.expiry {
                            Some((lo, hi)) => map(vec![("min", lo.into()), ("max", hi.into())]),
                            None => map(vec![("absent", true.into())]),
                        },
                    ));
                    if let Some(ct) = &d.content_type {
                        props.push(("content_type", ct.as_str().into()));
                    }
                }
                map(vec![
                    ("type", "publish".into()),
                    ("topic", self.unbind(&d.topic).into()),
                    (
                        "payload",
                        String::from_utf8_lossy(&d.payload).into_owned().into(),
                    ),
                    ("qos", qos),
                    ("retain", retain),
                    ("dup", (d.dup && q.unwrap_or(1) > 0).into()),
                    (
                        "properties",
                        if props.is_empty() {
                            Value::Null
                        } else {
                            map(props)
                        },
                    ),
                ])
            }
        }
    }
}
