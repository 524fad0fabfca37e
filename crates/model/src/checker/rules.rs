//! The checker: one pass over the trace keeps, per client, its
//! connections and sessions, per session its subscriptions (in the model's
//! [`TopicTrie`]), per message its first publish, acknowledgements and one
//! delivery record per session that held a matching subscription; the
//! rules that need the whole run (loss, unknown names) are decided at
//! `end`. Time and memory are linear in lines and deliveries.

use std::collections::HashMap;

use crate::subscriptions::{parse_filter, TopicTrie};

use super::excerpt::Excerpt;
use super::report::{Class, Counts, Report, Rule, RuleCount, Severity, Violation, REPORT_SCHEMA};
use super::statements as ids;
use super::trace::{
    parse_header, parse_line, Event, FaultKind, Header, Line, MsgName, TraceError, TraceVersion,
};

/// How to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// `Some(true)` checks durability whatever the header says
    /// (`--durable`); `None` takes the header's `durable`.
    pub durable: Option<bool>,
    /// Violations listed per rule (all are counted).
    pub max_per_rule: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            durable: None,
            max_per_rule: 1000,
        }
    }
}

type ClientIdx = u32;
type SessIdx = u32;
type ConnIdx = u32;
type MsgIdx = u32;
type TopicIdx = u32;

const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Client {
    name: String,
    /// The connection open now, if any.
    open: Option<ConnIdx>,
    /// The latest connection.
    last_conn: Option<ConnIdx>,
    /// The session the broker should hold now (it may be offline).
    session: Option<SessIdx>,
    /// A session of this client ended (so Session Present 1 is suspect).
    ended_session: Option<EndedSession>,
}

#[derive(Debug, Clone, Copy)]
struct EndedSession {
    /// The line that ended it (a close with expiry 0).
    line: usize,
}

#[derive(Debug)]
struct Conn {
    session: SessIdx,
    connack_line: usize,
    /// Session expiry in ms; `None`: never expires.
    expiry_ms: Option<u64>,
    /// Line and time the connection ended (disconnect, lost, or taken over).
    ended: Option<(usize, u64)>,
    /// The last line showing the broker talking to this connection.
    last_contact: (usize, u64),
}

#[derive(Debug)]
struct Loss {
    /// The CONNACK with Session Present 0.
    line: usize,
}

#[derive(Debug)]
struct Session {
    client: ClientIdx,
    /// Every CONNACK of the session: (line, connection).
    connacks: Vec<(usize, ConnIdx)>,
    ended: bool,
    /// Trie entries to remove when the session ends.
    subs: Vec<(Box<str>, SubKey)>,
    /// Losses the checker bridged (the session counts as continuous).
    losses: Vec<Loss>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SubKey {
    session: SessIdx,
    group: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy)]
struct SubRec {
    qos: u8,
    line: usize,
}

#[derive(Debug)]
struct Delivery {
    session: SessIdx,
    /// min(publish QoS, highest granted); `None`: no matching subscription
    /// when the message was first published.
    eff_qos: Option<u8>,
    /// Copies allowed (one per matching subscription, §3.3.5 / §3.3.4).
    copies: u32,
    /// Matched through shared subscriptions only.
    shared_only: bool,
    /// The `subscribed` line of the subscription that sets the QoS.
    sub_line: usize,
    receipts: u32,
    /// Latest receipt: (line, connection).
    last: Option<(usize, ConnIdx)>,
}

#[derive(Debug)]
struct Msg {
    publisher: ClientIdx,
    seq: u64,
    topic: TopicIdx,
    qos: u8,
    first_publish: usize,
    /// The publisher's connection of the first publish.
    pub_conn: ConnIdx,
    /// The `acked` line and the publisher's session then.
    acked: Option<(usize, SessIdx)>,
    completed: Option<usize>,
    /// Sorted by session.
    deliveries: Vec<Delivery>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct OrderKey {
    sub_conn: ConnIdx,
    pub_conn: ConnIdx,
    topic: TopicIdx,
    pub_qos: u8,
    qos: u8,
}

#[derive(Debug, Clone, Copy)]
struct OrderMark {
    seq: u64,
    line: usize,
    msg: MsgIdx,
    dup: bool,
}

#[derive(Debug)]
struct Unknown {
    line: usize,
    client: String,
    msg: String,
}

/// The streaming checker: feed it every line ([`Checker::push_line`]),
/// then [`Checker::finish`]. Sans-IO.
#[derive(Debug)]
pub struct Checker {
    opts: CheckOptions,
    line_no: usize,
    header: Option<Header>,
    durable: bool,
    last_t: u64,
    end: Option<(usize, u64)>,
    clients: Vec<Client>,
    client_ids: HashMap<String, ClientIdx>,
    conns: Vec<Conn>,
    sessions: Vec<Session>,
    trie: TopicTrie<SubKey, SubRec>,
    topics: HashMap<Box<str>, TopicIdx>,
    msgs: Vec<Msg>,
    msg_ids: HashMap<(ClientIdx, u64), MsgIdx>,
    order: HashMap<OrderKey, OrderMark>,
    /// Fault lines that lose a broker's memory: (line, kind).
    restarts: Vec<(usize, FaultKind)>,
    unknown: Vec<Unknown>,
    counts: Counts,
    violation_counts: std::collections::BTreeMap<&'static str, RuleCount>,
    violations: Vec<Violation>,
    listed: HashMap<Rule, usize>,
    truncated: bool,
}

impl Checker {
    /// A checker with `opts`.
    pub fn new(opts: CheckOptions) -> Self {
        Checker {
            opts,
            line_no: 0,
            header: None,
            durable: false,
            last_t: 0,
            end: None,
            clients: Vec::new(),
            client_ids: HashMap::new(),
            conns: Vec::new(),
            sessions: Vec::new(),
            trie: TopicTrie::new(),
            topics: HashMap::new(),
            msgs: Vec::new(),
            msg_ids: HashMap::new(),
            order: HashMap::new(),
            restarts: Vec::new(),
            unknown: Vec::new(),
            counts: Counts::default(),
            violation_counts: std::collections::BTreeMap::new(),
            violations: Vec::new(),
            listed: HashMap::new(),
            truncated: false,
        }
    }

    fn version(&self) -> TraceVersion {
        self.header.as_ref().map_or(TraceVersion::V5, |h| h.version)
    }

    /// Reads the next line of the trace (without its newline; blank lines
    /// are skipped, lines after `end` ignored).
    pub fn push_line(&mut self, text: &str) -> Result<(), TraceError> {
        self.line_no += 1;
        let n = self.line_no;
        if self.end.is_some() || text.trim().is_empty() {
            return Ok(());
        }
        if self.header.is_none() {
            let h = parse_header(n, text)?;
            self.durable = self.opts.durable.unwrap_or(h.durable);
            self.header = Some(h);
            return Ok(());
        }
        let line = parse_line(n, text)?;
        if line.t_ms < self.last_t {
            return Err(TraceError::new(
                n,
                format!(
                    "t_ms {} goes back in time (an earlier line had {})",
                    line.t_ms, self.last_t
                ),
            ));
        }
        self.last_t = line.t_ms;
        self.counts.lines = n as u64;
        self.apply(line)
    }

    fn client(&mut self, name: &str) -> ClientIdx {
        if let Some(&c) = self.client_ids.get(name) {
            return c;
        }
        let c = self.clients.len() as ClientIdx;
        self.clients.push(Client {
            name: name.to_owned(),
            open: None,
            last_conn: None,
            session: None,
            ended_session: None,
        });
        self.client_ids.insert(name.to_owned(), c);
        c
    }

    fn contact(&mut self, c: ClientIdx, line: usize, t: u64) {
        if let Some(conn) = self.clients[c as usize].open {
            self.conns[conn as usize].last_contact = (line, t);
        }
    }

    fn apply(&mut self, l: Line) -> Result<(), TraceError> {
        let n = l.line;
        let t = l.t_ms;
        let c = l.client.as_deref().map(|name| self.client(name));
        match l.event {
            Event::End => {
                self.end = Some((n, t));
            }
            Event::Fault { kind, .. } => {
                self.counts.faults += 1;
                if kind.loses_memory() {
                    self.restarts.push((n, kind));
                }
            }
            Event::Connack {
                clean_start,
                session_expiry,
                session_present,
            } => {
                let c = c.unwrap_or(0);
                self.connack(c, n, t, clean_start, session_expiry, session_present);
            }
            Event::Disconnect | Event::ConnectionLost => {
                let c = c.unwrap_or(0);
                self.close(c, n, t);
            }
            Event::Subscribed { filter, qos } => {
                let c = c.unwrap_or(0);
                let Some(s) = self.clients[c as usize]
                    .session
                    .filter(|_| self.clients[c as usize].open.is_some())
                else {
                    return Err(TraceError::new(
                        n,
                        format!(
                            "`subscribed` while {} has no connection (no connack)",
                            self.clients[c as usize].name
                        ),
                    ));
                };
                self.contact(c, n, t);
                let v5 = self.version() == TraceVersion::V5;
                let (group, inner) = parse_filter(&filter, v5);
                let key = SubKey {
                    session: s,
                    group: group.map(Box::from),
                };
                if self
                    .trie
                    .insert(inner, key.clone(), SubRec { qos, line: n })
                    .is_none()
                {
                    self.sessions[s as usize].subs.push((Box::from(inner), key));
                }
            }
            Event::Publish {
                msg, topic, qos, ..
            } => {
                let c = c.unwrap_or(0);
                self.publish(c, n, msg, &topic, qos)?;
            }
            Event::Acked { msg, .. } => {
                let c = c.unwrap_or(0);
                let m = self.own_msg(c, n, &msg, "acked")?;
                self.contact(c, n, t);
                if self.msgs[m as usize].acked.is_none() {
                    let s = self.clients[c as usize].session.unwrap_or(NONE);
                    let q = self.msgs[m as usize].qos as usize;
                    self.counts.acked[q] += 1;
                    self.msgs[m as usize].acked = Some((n, s));
                }
            }
            Event::Completed { msg } => {
                let c = c.unwrap_or(0);
                let m = self.own_msg(c, n, &msg, "completed")?;
                self.contact(c, n, t);
                if self.msgs[m as usize].completed.is_none() {
                    self.counts.completed += 1;
                    self.msgs[m as usize].completed = Some(n);
                }
            }
            Event::Received { msg, qos, dup, .. } => {
                let c = c.unwrap_or(0);
                self.contact(c, n, t);
                self.received(c, n, &msg, qos, dup);
            }
        }
        Ok(())
    }

    /// The message `name` of a publisher's own `acked`/`completed` line.
    fn own_msg(
        &self,
        c: ClientIdx,
        n: usize,
        name: &MsgName,
        ev: &str,
    ) -> Result<MsgIdx, TraceError> {
        let me = &self.clients[c as usize].name;
        if &name.publisher != me {
            return Err(TraceError::new(
                n,
                format!(
                    "`{ev}` of {me} names msg {}/{}, another client's",
                    name.publisher, name.seq
                ),
            ));
        }
        self.msg_ids.get(&(c, name.seq)).copied().ok_or_else(|| {
            TraceError::new(
                n,
                format!(
                    "`{ev}` names msg {}/{} that no earlier `publish` line named",
                    name.publisher, name.seq
                ),
            )
        })
    }

    fn end_session(&mut self, s: SessIdx) {
        let sess = &mut self.sessions[s as usize];
        if sess.ended {
            return;
        }
        sess.ended = true;
        let subs = std::mem::take(&mut sess.subs);
        for (inner, key) in subs {
            self.trie.remove(&inner, &key);
        }
    }

    fn new_session(&mut self, c: ClientIdx) -> SessIdx {
        if let Some(old) = self.clients[c as usize].session {
            self.end_session(old);
        }
        let s = self.sessions.len() as SessIdx;
        self.sessions.push(Session {
            client: c,
            connacks: Vec::new(),
            ended: false,
            subs: Vec::new(),
            losses: Vec::new(),
        });
        self.counts.sessions += 1;
        self.clients[c as usize].session = Some(s);
        s
    }

    fn close(&mut self, c: ClientIdx, n: usize, t: u64) {
        let Some(conn) = self.clients[c as usize].open.take() else {
            // A connection that never got its CONNACK (the broker was down).
            return;
        };
        let k = &mut self.conns[conn as usize];
        k.ended = Some((n, t));
        if k.expiry_ms == Some(0) {
            let s = k.session;
            self.end_session(s);
            let cl = &mut self.clients[c as usize];
            cl.session = None;
            cl.ended_session = Some(EndedSession { line: n });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn connack(
        &mut self,
        c: ClientIdx,
        n: usize,
        t: u64,
        clean_start: bool,
        session_expiry: u32,
        session_present: bool,
    ) {
        let v = self.version();
        // A connection still open is taken over (or its end went unwritten).
        if self.clients[c as usize].open.is_some() {
            self.close(c, n, t);
        }
        let expiry_ms = match v {
            TraceVersion::V311 => (clean_start).then_some(0),
            TraceVersion::V5 => {
                (session_expiry != u32::MAX).then_some(u64::from(session_expiry) * 1000)
            }
        };
        let name = self.clients[c as usize].name.clone();
        let prev = self.clients[c as usize].session;
        let prev_conn = self.clients[c as usize].last_conn;
        let session = if clean_start {
            if session_present {
                let ex = Excerpt::of([n]);
                self.violation(
                    Rule::SessionPresentUnexpected,
                    Class::Spec,
                    Severity::Fail,
                    ids::present_after_clean_start(v),
                    || {
                        "expected Session Present 0 answering Clean Start 1, saw Session Present 1"
                            .into()
                    },
                    Some(name.clone()),
                    None,
                    ex,
                );
            }
            self.new_session(c)
        } else if session_present {
            match prev {
                Some(s) => {
                    if let Some(pc) = prev_conn {
                        let k = &self.conns[pc as usize];
                        let ended_t = k.ended.map_or(t, |e| e.1);
                        if let (Some(exp), Some((end_line, _))) = (k.expiry_ms, k.ended) {
                            // Generous to the broker: from the end of the
                            // connection as the client saw it, plus 1 s.
                            if t.saturating_sub(ended_t) > exp + 1000 {
                                let ex = Excerpt::of([k.connack_line, end_line, n]);
                                let gap = t - ended_t;
                                self.violation(
                                    Rule::SessionPresentUnexpected,
                                    Class::Spec,
                                    Severity::Warn,
                                    ids::present_after_end(v),
                                    || format!("expected Session Present 0: the session expiry ({exp} ms) had passed {gap} ms after the connection ended, saw Session Present 1 (legal only if the broker's clock lagged)"),
                                    Some(name.clone()),
                                    None,
                                    ex,
                                );
                            }
                        }
                    }
                    s
                }
                None => {
                    if let Some(e) = self.clients[c as usize].ended_session {
                        let ex = Excerpt::of([e.line, n]);
                        self.violation(
                            Rule::SessionPresentUnexpected,
                            Class::Spec,
                            Severity::Warn,
                            ids::present_after_end(v),
                            || "expected Session Present 0: the session ended when its connection with expiry 0 closed, saw Session Present 1 (legal only if the broker had not yet seen that connection close)".into(),
                            Some(name.clone()),
                            None,
                            ex,
                        );
                    }
                    // Otherwise state from before the trace: a session we
                    // did not see begin.
                    self.new_session(c)
                }
            }
        } else {
            match (prev, prev_conn) {
                (Some(s), Some(pc)) => {
                    let k = &self.conns[pc as usize];
                    let (contact_line, contact_t) = k.last_contact;
                    let gap = t.saturating_sub(contact_t);
                    // Conservative for the broker: its connection ended no
                    // earlier than the last thing it sent on it.
                    let held = k.expiry_ms.is_none_or(|e| gap < e);
                    if held {
                        let lo = self.restarts.partition_point(|r| r.0 <= contact_line);
                        let restart = self.restarts.get(lo).map(|r| r.0).filter(|&l| l < n);
                        let prev_connack = k.connack_line;
                        let exp = k.expiry_ms;
                        let exp_text =
                            exp.map_or("never expires".to_owned(), |e| format!("expiry {e} ms"));
                        match restart {
                            Some(fault_line) => {
                                self.counts.sessions_lost_restart += 1;
                                if self.durable {
                                    let ex =
                                        Excerpt::of([prev_connack, contact_line, fault_line, n]);
                                    self.violation(
                                        Rule::SessionLost,
                                        Class::Durability,
                                        Severity::Fail,
                                        ids::session_lost(v),
                                        || format!("expected Session Present 1 (durable target; session {exp_text}, {gap} ms since the broker last spoke to the client, a restart between), saw Session Present 0"),
                                        Some(name.clone()),
                                        None,
                                        ex,
                                    );
                                    self.sessions[s as usize].losses.push(Loss { line: n });
                                    s
                                } else {
                                    self.new_session(c)
                                }
                            }
                            None => {
                                self.counts.sessions_lost_spec += 1;
                                let ex = Excerpt::of([prev_connack, contact_line, n]);
                                self.violation(
                                    Rule::SessionLost,
                                    Class::Spec,
                                    Severity::Fail,
                                    ids::session_lost(v),
                                    || format!("expected Session Present 1 (session {exp_text}, {gap} ms since the broker last spoke to the client, no broker restart between), saw Session Present 0"),
                                    Some(name.clone()),
                                    None,
                                    ex,
                                );
                                self.sessions[s as usize].losses.push(Loss { line: n });
                                s
                            }
                        }
                    } else {
                        self.new_session(c)
                    }
                }
                _ => self.new_session(c),
            }
        };
        let conn = self.conns.len() as ConnIdx;
        self.conns.push(Conn {
            session,
            connack_line: n,
            expiry_ms,
            ended: None,
            last_contact: (n, t),
        });
        self.sessions[session as usize].connacks.push((n, conn));
        let cl = &mut self.clients[c as usize];
        cl.open = Some(conn);
        cl.last_conn = Some(conn);
        cl.session = Some(session);
    }

    fn publish(
        &mut self,
        c: ClientIdx,
        n: usize,
        msg: MsgName,
        topic: &str,
        qos: u8,
    ) -> Result<(), TraceError> {
        let me = &self.clients[c as usize].name;
        if &msg.publisher != me {
            return Err(TraceError::new(
                n,
                format!(
                    "`publish` of {me} names msg {}/{}, another client's",
                    msg.publisher, msg.seq
                ),
            ));
        }
        if self.msg_ids.contains_key(&(c, msg.seq)) {
            return Ok(()); // a retransmission
        }
        let Some(pub_conn) = self.clients[c as usize].open else {
            return Err(TraceError::new(
                n,
                format!("`publish` while {me} has no connection (no connack)"),
            ));
        };
        let next_topic = self.topics.len() as TopicIdx;
        let topic_idx = *self.topics.entry(Box::from(topic)).or_insert(next_topic);
        // Every session holding a matching subscription now.
        let mut found: Vec<(SessIdx, u8, bool, usize)> = Vec::new();
        self.trie.for_each_match(topic, |_, key, rec| {
            found.push((key.session, rec.qos, key.group.is_some(), rec.line));
        });
        found.sort_unstable_by_key(|f| f.0);
        let mut deliveries: Vec<Delivery> = Vec::new();
        for (s, granted, shared, line) in found {
            match deliveries.last_mut() {
                Some(d) if d.session == s => {
                    d.copies += 1;
                    d.shared_only &= shared;
                    let eff = granted.min(qos);
                    if eff > d.eff_qos.unwrap_or(0)
                        || (eff == d.eff_qos.unwrap_or(0) && line > d.sub_line)
                    {
                        d.eff_qos = Some(eff);
                        d.sub_line = line;
                    }
                }
                _ => deliveries.push(Delivery {
                    session: s,
                    eff_qos: Some(granted.min(qos)),
                    copies: 1,
                    shared_only: shared,
                    sub_line: line,
                    receipts: 0,
                    last: None,
                }),
            }
        }
        let m = self.msgs.len() as MsgIdx;
        self.msgs.push(Msg {
            publisher: c,
            seq: msg.seq,
            topic: topic_idx,
            qos,
            first_publish: n,
            pub_conn,
            acked: None,
            completed: None,
            deliveries,
        });
        self.msg_ids.insert((c, msg.seq), m);
        self.counts.published[qos as usize] += 1;
        Ok(())
    }

    fn received(&mut self, c: ClientIdx, n: usize, raw: &str, qos: u8, dup: bool) {
        self.counts.received[qos as usize] += 1;
        let found = MsgName::parse(raw).and_then(|name| {
            let p = *self.client_ids.get(&name.publisher)?;
            self.msg_ids.get(&(p, name.seq)).copied()
        });
        let cl = &self.clients[c as usize];
        let (Some(m), Some(s), Some(conn)) = (found, cl.session, cl.open.or(cl.last_conn)) else {
            self.counts.unknown += 1;
            self.unknown.push(Unknown {
                line: n,
                client: self.clients[c as usize].name.clone(),
                msg: raw.to_owned(),
            });
            return;
        };
        let msg = &mut self.msgs[m as usize];
        let i = match msg.deliveries.binary_search_by_key(&s, |d| d.session) {
            Ok(i) => i,
            Err(i) => {
                self.counts.received_unmatched += 1;
                msg.deliveries.insert(
                    i,
                    Delivery {
                        session: s,
                        eff_qos: None,
                        copies: 1,
                        shared_only: false,
                        sub_line: 0,
                        receipts: 0,
                        last: None,
                    },
                );
                i
            }
        };
        let d = &mut msg.deliveries[i];
        d.receipts += 1;
        let prev = d.last.replace((n, conn));
        let receipts = d.receipts;
        let copies = d.copies;
        let ordered = d.eff_qos.is_some() && !d.shared_only;
        let class_qos = d.eff_qos.unwrap_or(qos);
        let (seq, topic, pub_qos, pub_conn, first_publish) =
            (msg.seq, msg.topic, msg.qos, msg.pub_conn, msg.first_publish);
        if receipts == 1 {
            if ordered {
                self.first_arrival(
                    c,
                    n,
                    m,
                    raw,
                    dup,
                    OrderKey {
                        sub_conn: conn,
                        pub_conn,
                        topic,
                        pub_qos,
                        qos,
                    },
                    seq,
                    first_publish,
                );
            }
            return;
        }
        if receipts <= copies {
            return;
        }
        self.counts.duplicates[class_qos as usize] += 1;
        if class_qos < 2 {
            return;
        }
        let Some((prev_line, prev_conn)) = prev else {
            return;
        };
        // The two copies and every CONNACK from the first copy's
        // connection to the second's: one continuous session.
        let lines = self.sessions[s as usize]
            .connacks
            .iter()
            .filter(|(_, k)| (prev_conn..=conn).contains(k))
            .map(|(l, _)| *l)
            .chain([prev_line, n]);
        let ex = Excerpt::of(lines);
        let (severity, why) = if prev_conn == conn {
            (Severity::Fail, "on the same connection")
        } else if dup {
            (
                Severity::Warn,
                "after a reconnect, with DUP 1: legal only if the subscriber's PUBREC was lost with the connection (the trace does not show PUBREC)",
            )
        } else {
            (
                Severity::Fail,
                "after a reconnect, with DUP 0 (a new delivery, not a re-delivery)",
            )
        };
        let v = self.version();
        let name = self.clients[c as usize].name.clone();
        self.violation(
            Rule::Qos2Duplicate,
            Class::Spec,
            severity,
            ids::qos2_duplicate(v, !dup),
            || format!("expected at most {copies} QoS 2 delivery of {raw} in one session, saw another (line {n}, the previous at line {prev_line}) {why}"),
            Some(name),
            Some(raw.to_owned()),
            ex,
        );
    }

    /// The ordering rule (§4.6) at a first arrival: within one subscriber
    /// connection, for messages first published on one publisher
    /// connection (one topic, one publish QoS, one delivered QoS), first
    /// arrivals follow publish order. A message arriving behind one
    /// published after it is reordered.
    #[allow(clippy::too_many_arguments)]
    fn first_arrival(
        &mut self,
        c: ClientIdx,
        n: usize,
        m: MsgIdx,
        raw: &str,
        dup: bool,
        key: OrderKey,
        seq: u64,
        first_publish: usize,
    ) {
        let qos = key.qos;
        let mark = OrderMark {
            seq,
            line: n,
            msg: m,
            dup,
        };
        let top = match self.order.get_mut(&key) {
            Some(top) if top.seq > seq => *top,
            Some(top) => {
                *top = mark;
                return;
            }
            None => {
                self.order.insert(key, mark);
                return;
            }
        };
        self.counts.reordered += 1;
        self.counts.reordered_bound += 1;
        let later = &self.msgs[top.msg as usize];
        let later_publish = later.first_publish;
        let later_name = format!(
            "{}/{}",
            self.clients[later.publisher as usize].name, later.seq
        );
        let ex = Excerpt::of([first_publish, later_publish, top.line, n]);
        let (severity, why) = if dup || top.dup {
            (
                Severity::Warn,
                "; one of them came as a re-delivery (DUP 1), which may interleave after a reconnect",
            )
        } else {
            (Severity::Fail, "")
        };
        let v = self.version();
        let name = self.clients[c as usize].name.clone();
        self.violation(
            Rule::Reordered,
            Class::Spec,
            severity,
            ids::reordered(v),
            || format!("expected {raw} (first published at line {first_publish}) to arrive before {later_name} (first published at line {later_publish}, received at line {}): both published on one connection, first received on one connection at QoS {qos}; saw it arrive after{why}", top.line),
            Some(name),
            Some(raw.to_owned()),
            ex,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn violation(
        &mut self,
        rule: Rule,
        class: Class,
        severity: Severity,
        statements: Vec<&'static str>,
        message: impl FnOnce() -> String,
        client: Option<String>,
        msg: Option<String>,
        excerpt: Excerpt,
    ) {
        let count = self.violation_counts.entry(rule.name()).or_default();
        match severity {
            Severity::Fail => count.fail += 1,
            Severity::Warn => count.warn += 1,
        }
        let listed = self.listed.entry(rule).or_insert(0);
        if *listed >= self.opts.max_per_rule {
            self.truncated = true;
            return;
        }
        *listed += 1;
        self.violations.push(Violation {
            rule,
            class,
            severity,
            statements,
            message: message(),
            client,
            msg,
            excerpt: excerpt.lines(),
        });
    }

    /// Decides the rules that need the whole run and gives the report
    /// (excerpts hold line numbers; [`Report::fill_text`] adds the text).
    pub fn finish(mut self) -> Result<Report, TraceError> {
        let Some(header) = self.header.clone() else {
            return Err(TraceError::new(0, "empty trace: no header line"));
        };
        let Some((end_line, _)) = self.end else {
            return Err(TraceError::new(
                self.line_no,
                "no `end` line: the run did not finish draining, so losses cannot be told",
            ));
        };
        let v = header.version;
        // Sessions continuous until `end`, with their client connected.
        let live: Vec<bool> = self
            .sessions
            .iter()
            .enumerate()
            .map(|(i, s)| {
                !s.ended
                    && self.clients[s.client as usize]
                        .open
                        .is_some_and(|k| self.conns[k as usize].session == i as SessIdx)
            })
            .collect();
        // Unknown names, told apart: never published, or published later.
        let unknown = std::mem::take(&mut self.unknown);
        for u in unknown {
            let later = MsgName::parse(&u.msg).and_then(|name| {
                let p = *self.client_ids.get(&name.publisher)?;
                self.msg_ids.get(&(p, name.seq)).copied()
            });
            let (ex, text) = match later {
                Some(m) => {
                    let p = self.msgs[m as usize].first_publish;
                    (
                        Excerpt::of([u.line, p]),
                        format!("expected a `publish` of {} before its receipt, saw it received at line {} and first published at line {p}", u.msg, u.line),
                    )
                }
                None => (
                    Excerpt::of([u.line]),
                    format!(
                        "expected a message some `publish` line named, saw {:?}, which none names",
                        u.msg
                    ),
                ),
            };
            self.violation(
                Rule::UnknownMessage,
                Class::Spec,
                Severity::Fail,
                ids::unknown_message(v),
                || text,
                Some(u.client),
                Some(u.msg),
                ex,
            );
        }
        // Losses.
        let msgs = std::mem::take(&mut self.msgs);
        for m in &msgs {
            let Some((acked_line, acked_session)) = m.acked else {
                continue;
            };
            let owed = match m.qos {
                0 => false,
                1 => true,
                // A broker delivering at PUBREL (the spec's method A) may
                // drop a message whose publisher never completed and whose
                // session ended.
                _ => {
                    m.completed.is_some()
                        || live.get(acked_session as usize).copied().unwrap_or(false)
                }
            };
            if !owed {
                continue;
            }
            for d in &m.deliveries {
                let Some(eff) = d.eff_qos.filter(|&q| q >= 1) else {
                    continue;
                };
                if !live[d.session as usize] {
                    continue;
                }
                if d.shared_only {
                    self.counts.shared_not_checked += 1;
                    continue;
                }
                self.counts.owed[eff as usize] += 1;
                if d.receipts > 0 {
                    continue;
                }
                self.counts.lost[eff as usize] += 1;
                let session = &self.sessions[d.session as usize];
                // A broker restart after the first publish makes it a
                // durability verdict.
                let lo = self.restarts.partition_point(|r| r.0 <= m.first_publish);
                let restart = self.restarts.get(lo).map(|r| r.0);
                let (class, severity) = match restart {
                    Some(_) => (
                        Class::Durability,
                        if self.durable {
                            Severity::Fail
                        } else {
                            Severity::Warn
                        },
                    ),
                    None => (Class::Spec, Severity::Fail),
                };
                let mut lines = Vec::new();
                // The CONNACK of the connection that subscribed, and every
                // later one of the session: its continuity until `end`.
                let first = session.connacks.partition_point(|(l, _)| *l < d.sub_line);
                let from = first.saturating_sub(1);
                lines.extend(session.connacks[from..].iter().map(|(l, _)| *l));
                lines.extend([d.sub_line, m.first_publish, acked_line, end_line]);
                if let Some(l) = m.completed {
                    lines.push(l);
                }
                if let Some(r) = restart {
                    lines.push(r);
                }
                let resumed = session.connacks.iter().any(|(l, _)| *l > m.first_publish);
                let lost_sessions: Vec<usize> = session
                    .losses
                    .iter()
                    .map(|l| l.line)
                    .filter(|&l| l > d.sub_line)
                    .collect();
                let sub_name = self.clients[session.client as usize].name.clone();
                let pub_name = self.clients[m.publisher as usize].name.clone();
                let name = format!("{pub_name}/{}", m.seq);
                let durable = self.durable;
                self.violation(
                    Rule::AckedThenLost,
                    class,
                    severity,
                    ids::acked_then_lost(v, m.qos, resumed),
                    || {
                        let mut s = format!(
                            "expected {name} (acked at QoS {}, line {acked_line}) to reach {sub_name}'s session (effective QoS {eff}, continuous from its subscription to `end`), saw no `received`",
                            m.qos
                        );
                        if !lost_sessions.is_empty() {
                            s.push_str(&format!("; the broker answered Session Present 0 at line(s) {lost_sessions:?} (session-lost)"));
                        }
                        if let Some(r) = restart {
                            s.push_str(&format!(
                                "; a broker restart (line {r}) came after the publish{}",
                                if durable { "" } else { " and the target claims no durability" }
                            ));
                        }
                        s
                    },
                    Some(sub_name.clone()),
                    Some(name.clone()),
                    Excerpt::of(lines),
                );
            }
        }
        let mut violations = self.violations;
        violations.sort_by_key(|v| v.excerpt.first().map_or(0, |l| l.line));
        Ok(Report {
            schema: REPORT_SCHEMA,
            version: v,
            target: header.target,
            durable: self.durable,
            counts: self.counts,
            violation_counts: self.violation_counts,
            violations,
            truncated: self.truncated,
        })
    }
}
