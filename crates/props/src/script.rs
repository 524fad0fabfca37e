//! The steps of an executed case, recorded as scenario steps (the format
//! of `scenarios/README.md`), so that a divergence can be written out as a
//! YAML scenario that `conform --scenario FILE` replays.

use serde_yaml::{Mapping, Value};

/// A YAML mapping from key/value pairs (pairs whose value is `Null` are
/// left out).
pub fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        if !v.is_null() {
            m.insert(Value::from(k), v);
        }
    }
    Value::Mapping(m)
}

/// A YAML sequence.
pub fn seq(items: Vec<Value>) -> Value {
    Value::Sequence(items)
}

/// `{ one_of: [...] }`, or the value itself when there is one.
pub fn one_of(values: Vec<Value>) -> Value {
    if values.len() == 1 {
        values.into_iter().next().unwrap_or(Value::Null)
    } else {
        map(vec![("one_of", seq(values))])
    }
}

/// The recorded steps of one case.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Client names, in order of first use.
    pub clients: Vec<String>,
    /// Steps, each a one-key mapping.
    pub steps: Vec<Value>,
    saved: usize,
}

impl Script {
    fn client(&mut self, name: &str) {
        if !self.clients.iter().any(|c| c == name) {
            self.clients.push(name.to_owned());
        }
    }

    fn push(&mut self, keyword: &str, body: Value) {
        self.steps.push(map(vec![(keyword, body)]));
    }

    /// A fresh name to save a packet id under.
    pub fn fresh_name(&mut self) -> String {
        self.saved += 1;
        format!("d{}", self.saved)
    }

    /// `connect`, with the CONNACK it must get.
    pub fn connect(
        &mut self,
        client: &str,
        clean: bool,
        session_expiry: Option<u32>,
        will: Option<(String, String, u8, bool)>,
        session_present: bool,
    ) {
        self.client(client);
        let will = will.map_or(Value::Null, |(topic, payload, qos, retain)| {
            map(vec![
                ("topic", topic.into()),
                ("payload", payload.into()),
                ("qos", qos.into()),
                ("retain", retain.into()),
            ])
        });
        let props = session_expiry.map_or(Value::Null, |e| {
            map(vec![("session_expiry_interval", e.into())])
        });
        let body = map(vec![
            ("client", client.into()),
            ("clean_start", clean.into()),
            ("properties", props),
            ("will", will),
            (
                "expect",
                map(vec![
                    ("type", "connack".into()),
                    ("session_present", session_present.into()),
                    ("reason_code", 0.into()),
                ]),
            ),
        ]);
        self.push("connect", body);
    }

    /// A step `keyword` with `body`, for `client`.
    pub fn step(&mut self, client: &str, keyword: &str, body: Value) {
        self.client(client);
        self.push(keyword, body);
    }

    /// `sleep` for `ms` milliseconds.
    pub fn sleep(&mut self, ms: u64) {
        self.push("sleep", format!("{ms}ms").into());
    }

    /// `send`.
    pub fn send(&mut self, client: &str, packet: Value) {
        self.client(client);
        self.push(
            "send",
            map(vec![("client", client.into()), ("packet", packet)]),
        );
    }

    /// `expect`, saving the packet id under `save`.
    pub fn expect(&mut self, client: &str, matcher: Value, save: Option<String>) {
        self.client(client);
        let save = save.map_or(Value::Null, |s| map(vec![("packet_id", s.into())]));
        self.push(
            "expect",
            map(vec![
                ("client", client.into()),
                ("packet", matcher),
                ("save", save),
            ]),
        );
    }

    /// `expect` of the very next packet (`next: true`).
    pub fn expect_next(&mut self, client: &str, matcher: Value) {
        self.client(client);
        self.push(
            "expect",
            map(vec![
                ("client", client.into()),
                ("packet", matcher),
                ("next", true.into()),
            ]),
        );
    }

    /// `expect_nothing` matching `matcher` within `ms`.
    pub fn expect_nothing(&mut self, client: &str, matcher: Value, ms: u64) {
        self.client(client);
        self.push(
            "expect_nothing",
            map(vec![
                ("client", client.into()),
                ("within", format!("{ms}ms").into()),
                ("packet", matcher),
            ]),
        );
    }

    /// `drop`.
    pub fn drop_connection(&mut self, client: &str) {
        self.client(client);
        self.push("drop", map(vec![("client", client.into())]));
    }

    /// `fault` of `kind` on `client`'s link.
    pub fn fault(&mut self, client: &str, kind: &str) {
        self.client(client);
        self.push(
            "fault",
            map(vec![
                ("clients", seq(vec![client.into()])),
                ("kind", kind.into()),
            ]),
        );
    }

    /// `heal` of `client`'s link.
    pub fn heal(&mut self, client: &str) {
        self.client(client);
        self.push("heal", map(vec![("clients", seq(vec![client.into()]))]));
    }

    /// `expect_close`: `client`'s connection ends.
    pub fn expect_close(&mut self, client: &str) {
        self.client(client);
        self.push("expect_close", map(vec![("client", client.into())]));
    }

    /// A lifecycle step on the broker (`kill_target`, `restart_target`...).
    pub fn target(&mut self, verb: mqtt_targets::Lifecycle) {
        self.push(&format!("{}_target", verb.name()), map(vec![]));
    }

    /// `disconnect` with a reason code.
    pub fn disconnect(&mut self, client: &str, reason: u8) {
        self.client(client);
        let code = if reason == 0 {
            Value::Null
        } else {
            reason.into()
        };
        self.push(
            "disconnect",
            map(vec![("client", client.into()), ("reason_code", code)]),
        );
    }

    /// The scenario file.
    pub fn to_yaml(
        &self,
        name: &str,
        description: &str,
        version: &str,
        statements: &[String],
    ) -> String {
        let doc = map(vec![
            ("name", name.into()),
            ("description", description.into()),
            ("versions", seq(vec![version.into()])),
            (
                "statements",
                seq(statements.iter().map(|s| Value::from(s.as_str())).collect()),
            ),
            (
                "clients",
                seq(self
                    .clients
                    .iter()
                    .map(|c| Value::from(c.as_str()))
                    .collect()),
            ),
            ("steps", seq(self.steps.clone())),
        ]);
        let body = serde_yaml::to_string(&doc).unwrap_or_default();
        format!("# yaml-language-server: $schema=../../../scenarios/scenario.schema.json\n{body}")
    }
}
