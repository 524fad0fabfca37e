//! The fault-run checker (`mqtt_model::checker`): one hand-written trace
//! per rule (each test fails without its rule), the cases that must NOT be
//! violations (memory brokers losing sessions at a kill, QoS 0, QoS 1
//! duplicates, ended sessions), malformed input, and a property: traces of
//! a correct simulated broker have no violation, and one mutation gives
//! exactly the violation it should, with an excerpt around the mutation.

/// In a module named `checker` so that `cargo test -p mqtt-model checker`
/// selects these tests too.
mod checker {

    use mqtt_model::checker::{check_str, CheckOptions, Class, Report, Rule, Severity, Violation};
    use proptest::prelude::*;

    /// A trace under construction: one JSON object a line.
    struct T {
        lines: Vec<String>,
        t: u64,
    }

    impl T {
        fn new(version: &str, durable: bool) -> T {
            T {
                lines: vec![format!(
                    r#"{{"ev":"meta","format":"mqtt-harness-trace/1","version":"{version}","target":"sim","durable":{durable}}}"#
                )],
                t: 0,
            }
        }
        fn v5() -> T {
            T::new("5.0", false)
        }
        /// Appends a line; returns its 1-based number.
        fn push(&mut self, body: String) -> usize {
            self.t += 10;
            self.lines.push(format!(r#"{{"t_ms":{},{body}}}"#, self.t));
            self.lines.len()
        }
        fn wait(&mut self, ms: u64) {
            self.t += ms;
        }
        fn connack(&mut self, c: &str, clean: bool, expiry: u32, present: bool) -> usize {
            self.push(format!(
            r#""ev":"connack","client":"{c}","clean_start":{clean},"session_expiry":{expiry},"session_present":{present}"#
        ))
        }
        fn lost(&mut self, c: &str) -> usize {
            self.push(format!(r#""ev":"connection-lost","client":"{c}""#))
        }
        fn disconnect(&mut self, c: &str) -> usize {
            self.push(format!(r#""ev":"disconnect","client":"{c}""#))
        }
        fn sub(&mut self, c: &str, filter: &str, qos: u8) -> usize {
            self.push(format!(
                r#""ev":"subscribed","client":"{c}","filter":"{filter}","qos":{qos}"#
            ))
        }
        fn publish(&mut self, c: &str, seq: u64, topic: &str, qos: u8) -> usize {
            self.push(format!(
            r#""ev":"publish","client":"{c}","msg":"{c}/{seq}","topic":"{topic}","qos":{qos},"dup":false"#
        ))
        }
        fn acked(&mut self, c: &str, seq: u64, qos: u8) -> usize {
            self.push(format!(
                r#""ev":"acked","client":"{c}","msg":"{c}/{seq}","qos":{qos}"#
            ))
        }
        fn completed(&mut self, c: &str, seq: u64) -> usize {
            self.push(format!(
                r#""ev":"completed","client":"{c}","msg":"{c}/{seq}""#
            ))
        }
        fn recv(&mut self, c: &str, msg: &str, topic: &str, qos: u8, dup: bool) -> usize {
            self.push(format!(
            r#""ev":"received","client":"{c}","msg":"{msg}","topic":"{topic}","qos":{qos},"dup":{dup}"#
        ))
        }
        fn fault(&mut self, kind: &str) -> usize {
            self.push(format!(r#""ev":"fault","kind":"{kind}","detail":"test""#))
        }
        fn end(&mut self) -> usize {
            self.push(r#""ev":"end""#.to_owned())
        }
        /// A full QoS 1/2 publish: publish, acked (and completed for QoS 2).
        fn send(&mut self, c: &str, seq: u64, topic: &str, qos: u8) -> (usize, usize) {
            let p = self.publish(c, seq, topic, qos);
            let a = if qos > 0 { self.acked(c, seq, qos) } else { p };
            if qos == 2 {
                self.completed(c, seq);
            }
            (p, a)
        }
        fn text(&self) -> String {
            self.lines.join("\n")
        }
        fn check(&self) -> Report {
            check_str(&self.text(), CheckOptions::default()).expect("a well-formed trace")
        }
        fn check_durable(&self) -> Report {
            check_str(
                &self.text(),
                CheckOptions {
                    durable: Some(true),
                    ..CheckOptions::default()
                },
            )
            .expect("a well-formed trace")
        }
    }

    fn only(r: &Report, rule: Rule) -> &Violation {
        assert_eq!(
            r.violations.len(),
            1,
            "expected exactly one {rule:?}, got {:#?}",
            r.violations
        );
        assert_eq!(r.violations[0].rule, rule, "{:#?}", r.violations);
        &r.violations[0]
    }

    fn lines(v: &Violation) -> Vec<usize> {
        v.excerpt.iter().map(|l| l.line).collect()
    }

    /// subscriber `s` (persistent) on `t/#` at `qos`, publisher `p` connected.
    fn setup(t: &mut T, qos: u8) -> (usize, usize) {
        let c = t.connack("s", false, 3600, false);
        let s = t.sub("s", "t/#", qos);
        t.connack("p", true, 0, false);
        (c, s)
    }

    #[test]
    fn a_correct_run_has_no_violation() {
        let mut t = T::v5();
        setup(&mut t, 2);
        for (seq, q) in [(0, 0), (1, 1), (2, 2)] {
            t.send("p", seq, "t/a", q);
            t.recv("s", &format!("p/{seq}"), "t/a", q, false);
        }
        t.end();
        let r = t.check();
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert!(!r.has_failures());
        assert_eq!(r.counts.published, [1, 1, 1]);
        assert_eq!(r.counts.acked, [0, 1, 1]);
        assert_eq!(r.counts.owed, [0, 1, 1]);
        assert_eq!(r.counts.received, [1, 1, 1]);
        assert_eq!(r.counts.lost, [0, 0, 0]);
        assert_eq!(r.schema, "check/1");
    }

    #[test]
    fn acked_then_lost_with_the_shortest_excerpt() {
        let mut t = T::v5();
        let (c, s) = setup(&mut t, 1);
        let (p, a) = t.send("p", 0, "t/a", 1);
        let e = t.end();
        let r = t.check();
        let v = only(&r, Rule::AckedThenLost);
        assert_eq!((v.class, v.severity), (Class::Spec, Severity::Fail));
        assert_eq!(lines(v), vec![c, s, p, a, e]);
        assert!(v.excerpt.iter().all(|l| !l.text.is_empty()));
        assert_eq!(v.statements, vec!["MQTT-4.3.2-4", "MQTT-4.1.0-1"]);
        assert_eq!(v.msg.as_deref(), Some("p/0"));
        assert!(v.message.starts_with("expected p/0"), "{}", v.message);
        assert_eq!(r.counts.lost, [0, 1, 0]);
        assert!(r.has_failures());
    }

    #[test]
    fn acked_then_lost_across_reconnects_cites_the_resumed_session() {
        let mut t = T::new("3.1.1", false);
        let (c, s) = setup(&mut t, 2);
        t.lost("s");
        let (p, a) = t.send("p", 0, "t/a", 2);
        let c2 = t.connack("s", false, 0, true);
        let e = t.end();
        let r = t.check();
        let v = only(&r, Rule::AckedThenLost);
        // The completed line belongs to the proof of a QoS 2 message owed.
        assert_eq!(lines(v), vec![c, s, p, a, a + 1, c2, e]);
        assert_eq!(
            v.statements,
            vec![
                "MQTT-4.3.3-2",
                "MQTT-4.1.0-1",
                "MQTT-3.1.2-5",
                "MQTT-4.4.0-1"
            ]
        );
    }

    #[test]
    fn nothing_is_owed_at_qos_0_or_to_an_ended_session() {
        // QoS 0 (published at 0, or downgraded by the grant).
        let mut t = T::v5();
        setup(&mut t, 0);
        t.send("p", 0, "t/a", 1);
        t.send("p", 1, "t/a", 0);
        t.end();
        let r = t.check();
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert_eq!(r.counts.owed, [0, 0, 0]);

        // A clean start after the publish ends the session.
        let mut t = T::v5();
        setup(&mut t, 1);
        t.send("p", 0, "t/a", 1);
        t.connack("s", true, 3600, false);
        t.end();
        assert!(t.check().violations.is_empty());

        // Expiry 0: the session ends with its connection.
        let mut t = T::v5();
        t.connack("s", true, 0, false);
        t.sub("s", "t/#", 1);
        t.connack("p", true, 0, false);
        t.disconnect("s");
        t.send("p", 0, "t/a", 1);
        t.connack("s", false, 0, false);
        t.end();
        let r = t.check();
        assert!(r.violations.is_empty(), "{:#?}", r.violations);

        // Offline at the end: queued, not yet owed.
        let mut t = T::v5();
        setup(&mut t, 1);
        t.lost("s");
        t.send("p", 0, "t/a", 1);
        t.end();
        assert!(t.check().violations.is_empty());

        // Subscribed after the first publish.
        let mut t = T::v5();
        t.connack("s", false, 3600, false);
        t.connack("p", true, 0, false);
        t.send("p", 0, "t/a", 1);
        t.sub("s", "t/#", 1);
        t.end();
        assert!(t.check().violations.is_empty());

        // QoS 2 acked (PUBREC) but never completed, publisher's session gone.
        let mut t = T::v5();
        setup(&mut t, 2);
        t.publish("p", 0, "t/a", 2);
        t.acked("p", 0, 2);
        t.lost("p");
        t.end();
        assert!(t.check().violations.is_empty());
    }

    #[test]
    fn qos2_duplicate_on_one_connection_fails() {
        let mut t = T::v5();
        let (c, _) = setup(&mut t, 2);
        t.send("p", 0, "t/a", 2);
        let r1 = t.recv("s", "p/0", "t/a", 2, false);
        let r2 = t.recv("s", "p/0", "t/a", 2, true);
        t.end();
        let r = t.check();
        let v = only(&r, Rule::Qos2Duplicate);
        assert_eq!(v.severity, Severity::Fail);
        assert_eq!(lines(v), vec![c, r1, r2]);
        assert_eq!(v.statements, vec!["MQTT-4.3.3-10", "MQTT-4.3.3-6"]);
        assert_eq!(r.counts.duplicates, [0, 0, 1]);
    }

    #[test]
    fn qos2_redelivery_after_a_reconnect_is_a_warning_with_dup_and_a_failure_without() {
        for (dup, severity) in [(true, Severity::Warn), (false, Severity::Fail)] {
            let mut t = T::v5();
            let (c, _) = setup(&mut t, 2);
            t.send("p", 0, "t/a", 2);
            let r1 = t.recv("s", "p/0", "t/a", 2, false);
            t.lost("s");
            let c2 = t.connack("s", false, 3600, true);
            let r2 = t.recv("s", "p/0", "t/a", 2, dup);
            t.end();
            let r = t.check();
            let v = only(&r, Rule::Qos2Duplicate);
            assert_eq!(v.severity, severity);
            assert_eq!(lines(v), vec![c, r1, c2, r2]);
            assert_eq!(r.has_failures(), severity == Severity::Fail);
        }
    }

    #[test]
    fn qos1_duplicates_and_overlapping_copies_are_legal() {
        let mut t = T::v5();
        setup(&mut t, 1);
        t.send("p", 0, "t/a", 1);
        t.recv("s", "p/0", "t/a", 1, false);
        t.recv("s", "p/0", "t/a", 1, true);
        t.end();
        let r = t.check();
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert_eq!(r.counts.duplicates, [0, 1, 0]);

        // Two matching subscriptions: one copy each is allowed.
        let mut t = T::v5();
        setup(&mut t, 2);
        t.sub("s", "t/a", 2);
        t.send("p", 0, "t/a", 2);
        t.recv("s", "p/0", "t/a", 2, false);
        t.recv("s", "p/0", "t/a", 2, false);
        t.end();
        let r = t.check();
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
    }

    #[test]
    fn unknown_messages_fail() {
        let mut t = T::v5();
        setup(&mut t, 0);
        let r1 = t.recv("s", "ghost/4", "t/a", 0, false);
        let r2 = t.recv("s", "p/7", "t/a", 0, false);
        let r3 = t.recv("s", "garbage", "t/a", 0, false);
        let p = t.publish("p", 7, "t/a", 0);
        t.end();
        let r = t.check();
        assert_eq!(r.violations.len(), 3, "{:#?}", r.violations);
        assert!(r.violations.iter().all(|v| v.rule == Rule::UnknownMessage));
        assert_eq!(lines(&r.violations[0]), vec![r1]);
        assert_eq!(lines(&r.violations[1]), vec![r2, p]);
        assert!(r.violations[1].message.contains("first published at line"));
        assert_eq!(lines(&r.violations[2]), vec![r3]);
        assert_eq!(r.counts.unknown, 3);
    }

    #[test]
    fn reordering_within_one_connection_each_side_fails() {
        let mut t = T::v5();
        setup(&mut t, 1);
        let (p0, _) = t.send("p", 0, "t/a", 1);
        let (p1, _) = t.send("p", 1, "t/a", 1);
        let r1 = t.recv("s", "p/1", "t/a", 1, false);
        let r0 = t.recv("s", "p/0", "t/a", 1, false);
        t.end();
        let r = t.check();
        let v = only(&r, Rule::Reordered);
        assert_eq!(v.severity, Severity::Fail);
        assert_eq!(lines(v), vec![p0, p1, r1, r0]);
        assert_eq!(v.statements, vec!["MQTT-4.6.0-5", "MQTT-4.6.0-6"]);
        assert_eq!(r.counts.reordered, 1);
    }

    #[test]
    fn reordering_is_not_bound_across_connections_or_topics() {
        // Published on two publisher connections.
        let mut t = T::v5();
        setup(&mut t, 1);
        t.send("p", 0, "t/a", 1);
        t.lost("p");
        t.connack("p", true, 0, false);
        t.send("p", 1, "t/a", 1);
        t.recv("s", "p/1", "t/a", 1, false);
        t.recv("s", "p/0", "t/a", 1, false);
        t.end();
        assert!(t.check().violations.is_empty());
        // First received on two subscriber connections.
        let mut t = T::v5();
        setup(&mut t, 1);
        t.send("p", 0, "t/a", 1);
        t.send("p", 1, "t/a", 1);
        t.recv("s", "p/1", "t/a", 1, false);
        t.lost("s");
        t.connack("s", false, 3600, true);
        t.recv("s", "p/0", "t/a", 1, true);
        t.end();
        assert!(t.check().violations.is_empty());
        // Two topics.
        let mut t = T::v5();
        setup(&mut t, 1);
        t.send("p", 0, "t/a", 1);
        t.send("p", 1, "t/b", 1);
        t.recv("s", "p/1", "t/b", 1, false);
        t.recv("s", "p/0", "t/a", 1, false);
        t.end();
        assert!(t.check().violations.is_empty());
        // A re-delivery (DUP 1) among them: a warning.
        let mut t = T::v5();
        setup(&mut t, 1);
        t.send("p", 0, "t/a", 1);
        t.send("p", 1, "t/a", 1);
        t.recv("s", "p/1", "t/a", 1, false);
        t.recv("s", "p/0", "t/a", 1, true);
        t.end();
        let r = t.check();
        assert_eq!(only(&r, Rule::Reordered).severity, Severity::Warn);
        assert!(!r.has_failures());
    }

    /// A persistent subscriber, a QoS 1 message acked, a kill, and the broker
    /// answering Session Present 0 after the restart.
    fn killed_session() -> (T, [usize; 5]) {
        let mut t = T::v5();
        let (c, s) = setup(&mut t, 1);
        let (p, a) = t.send("p", 0, "t/a", 1);
        let f = t.fault("kill");
        t.lost("s");
        t.lost("p");
        t.fault("restart");
        let c2 = t.connack("s", false, 3600, false);
        t.sub("s", "t/#", 1);
        t.end();
        let _ = (c, s, p, a);
        (t, [c, s, a, f, c2])
    }

    #[test]
    fn a_memory_broker_losing_sessions_at_a_kill_is_no_violation() {
        let (t, _) = killed_session();
        let r = t.check();
        assert!(r.violations.is_empty(), "{:#?}", r.violations);
        assert_eq!(r.counts.sessions_lost_restart, 1);
        assert_eq!(r.counts.lost, [0, 0, 0]);
    }

    #[test]
    fn a_durable_broker_losing_sessions_at_a_kill_fails_in_the_durability_class() {
        let (t, [c, s, a, f, c2]) = killed_session();
        let r = t.check_durable();
        assert!(r.durable);
        assert_eq!(r.violations.len(), 2, "{:#?}", r.violations);
        let lost = r
            .violations
            .iter()
            .find(|v| v.rule == Rule::SessionLost)
            .expect("session-lost");
        assert_eq!(
            (lost.class, lost.severity),
            (Class::Durability, Severity::Fail)
        );
        // The previous connection, the broker's last word to it, the kill, the CONNACK.
        assert_eq!(lines(lost), vec![c, s, f, c2]);
        let gone = r
            .violations
            .iter()
            .find(|v| v.rule == Rule::AckedThenLost)
            .expect("acked-then-lost");
        assert_eq!(gone.class, Class::Durability);
        assert!(lines(gone).contains(&c2) && lines(gone).contains(&f) && lines(gone).contains(&a));
        // The header's flag does the same as --durable.
        let text = t
            .text()
            .replacen("\"durable\":false", "\"durable\":true", 1);
        let r2 = check_str(&text, CheckOptions::default()).unwrap();
        assert_eq!(r2.violations.len(), 2);
    }

    #[test]
    fn a_session_lost_while_the_broker_ran_fails_in_the_spec_class() {
        let mut t = T::v5();
        let (c, s) = setup(&mut t, 1);
        t.lost("s");
        t.wait(2000);
        let c2 = t.connack("s", false, 3600, false);
        t.end();
        let r = t.check();
        let v = only(&r, Rule::SessionLost);
        assert_eq!((v.class, v.severity), (Class::Spec, Severity::Fail));
        assert_eq!(lines(v), vec![c, s, c2]);
        assert_eq!(
            v.statements,
            vec!["MQTT-3.1.2-5", "MQTT-3.2.2-3", "MQTT-4.1.0-2"]
        );

        // Expired: no violation.
        let mut t = T::v5();
        t.connack("s", false, 1, false);
        t.sub("s", "t/#", 1);
        t.lost("s");
        t.wait(1500);
        t.connack("s", false, 1, false);
        t.end();
        assert!(t.check().violations.is_empty());
    }

    #[test]
    fn session_present_after_clean_start_fails() {
        let mut t = T::new("3.1.1", false);
        let c = t.connack("s", true, 0, true);
        t.end();
        let r = t.check();
        let v = only(&r, Rule::SessionPresentUnexpected);
        assert_eq!(v.severity, Severity::Fail);
        assert_eq!(lines(v), vec![c]);
        assert_eq!(v.statements, vec!["MQTT-3.2.2-1", "MQTT-3.1.2-6"]);
    }

    #[test]
    fn malformed_traces_are_errors_with_the_line() {
        let cases: [(&str, usize, &str); 6] = [
        ("", 0, "no header"),
        (
            r#"{"ev":"connack","t_ms":0}"#,
            1,
            "header",
        ),
        (
            "{\"ev\":\"meta\",\"format\":\"mqtt-harness-trace/1\",\"version\":\"5.0\"}\n{\"t_ms\":1,\"ev\":\"hello\",\"client\":\"c\"}",
            2,
            "unknown ev",
        ),
        (
            "{\"ev\":\"meta\",\"format\":\"mqtt-harness-trace/1\",\"version\":\"5.0\"}\n{\"t_ms\":5,\"ev\":\"fault\",\"kind\":\"kill\"}\n{\"t_ms\":4,\"ev\":\"end\"}",
            3,
            "back in time",
        ),
        (
            "{\"ev\":\"meta\",\"format\":\"mqtt-harness-trace/1\",\"version\":\"5.0\"}\n{\"t_ms\":5,\"ev\":\"fault\",\"kind\":\"kill\"}",
            2,
            "no `end`",
        ),
        (
            "{\"ev\":\"meta\",\"format\":\"mqtt-harness-trace/1\",\"version\":\"5.0\"}\n{\"t_ms\":5,\"ev\":\"connack\",\"client\":\"p\",\"clean_start\":true,\"session_present\":false}\n{\"t_ms\":6,\"ev\":\"acked\",\"client\":\"p\",\"msg\":\"p/3\",\"qos\":1}",
            3,
            "no earlier `publish`",
        ),
    ];
        for (text, line, what) in cases {
            let e = check_str(text, CheckOptions::default()).expect_err(text);
            assert_eq!(e.line, line, "{e}");
            assert!(e.to_string().contains(what), "{e} should say {what}");
        }
    }

    #[test]
    fn violations_beyond_the_limit_are_counted_not_listed() {
        let mut t = T::v5();
        setup(&mut t, 1);
        for seq in 0..5 {
            t.send("p", seq, "t/a", 1);
        }
        t.end();
        let r = check_str(
            &t.text(),
            CheckOptions {
                max_per_rule: 2,
                ..CheckOptions::default()
            },
        )
        .unwrap();
        assert_eq!(r.violations.len(), 2);
        assert_eq!(r.violation_counts["acked-then-lost"].fail, 5);
        assert!(r.truncated);
        let json = r.to_json();
        assert!(json.contains("\"schema\": \"check/1\""), "{json}");
        assert!(r.to_text(10).contains("acked-then-lost: 5 fail"));
    }

    #[test]
    fn a_large_trace_is_checked_in_linear_time() {
        // 20k messages to 5 subscribers: quadratic work would not finish in
        // the test's time; no timing is asserted, only the counts.
        let mut t = T::v5();
        for s in 0..5 {
            t.connack(&format!("s{s}"), false, 3600, false);
            t.sub(&format!("s{s}"), "t/#", 1);
        }
        t.connack("p", true, 0, false);
        for seq in 0..20_000u64 {
            t.send("p", seq, "t/a", 1);
            for s in 0..5 {
                t.recv(&format!("s{s}"), &format!("p/{seq}"), "t/a", 1, false);
            }
        }
        t.end();
        let r = t.check();
        assert!(r.violations.is_empty());
        assert_eq!(r.counts.owed[1], 100_000);
    }

    // ---- property: a correct simulated broker, and single mutations ----

    #[derive(Debug, Clone)]
    enum Op {
        Publish { p: usize, topic: usize, qos: u8 },
        DropSub(usize),
        ReconnectSub(usize),
        Kill,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..2usize, 0..2usize, 0..3u8).prop_map(|(p, topic, qos)| Op::Publish { p, topic, qos }),
            1 => (0..3usize).prop_map(Op::DropSub),
            1 => (0..3usize).prop_map(Op::ReconnectSub),
            1 => Just(Op::Kill),
        ]
    }

    #[derive(Debug, Clone)]
    struct SubSpec {
        persistent: bool,
        /// `None`: `t/#`; `Some(k)`: `t/k`.
        topic: Option<usize>,
        qos: u8,
    }

    fn sub_spec() -> impl Strategy<Value = SubSpec> {
        (any::<bool>(), proptest::option::of(0..2usize), 0..3u8).prop_map(
            |(persistent, topic, qos)| SubSpec {
                persistent,
                topic,
                qos,
            },
        )
    }

    /// What the simulation knows about one `received` line.
    #[derive(Debug, Clone)]
    struct Receipt {
        line: usize,
        qos: u8,
        /// Owed (effective QoS >= 1, session continuous to the end) and the
        /// only receipt of that message in that session.
        sole_owed: bool,
        msg: String,
        publish_line: usize,
    }

    /// A message queued for an offline subscriber: (msg, topic, QoS, publish
    /// line, session).
    type Queued = (String, String, u8, usize, u32);

    struct Sim {
        t: T,
        subs: Vec<SubSpec>,
        connected: Vec<bool>,
        session: Vec<u32>,
        /// Per subscriber: queued (msg, topic, qos, publish line) while offline.
        queue: Vec<Vec<Queued>>,
        /// (subscriber, session, msg, delivered qos, line, publish line)
        receipts: Vec<(usize, u32, String, u8, usize, usize)>,
        seq: [u64; 2],
        last_qos1: Vec<Option<(String, String)>>,
    }

    impl Sim {
        fn name(s: usize) -> String {
            format!("s{s}")
        }

        fn connect_sub(&mut self, s: usize, first: bool) {
            let spec = self.subs[s].clone();
            let name = Sim::name(s);
            if spec.persistent {
                self.t.connack(&name, false, 3600, !first);
                if first {
                    self.subscribe(s);
                }
                // Re-send one QoS 1 message already delivered (legal duplicate),
                // then the queue in order.
                if let Some((msg, topic)) = self.last_qos1[s].take() {
                    let line = self.t.recv(&name, &msg, &topic, 1, true);
                    let pl = self.receipts.iter().find(|r| r.2 == msg).map_or(0, |r| r.5);
                    self.receipts.push((s, self.session[s], msg, 1, line, pl));
                }
                let queue = std::mem::take(&mut self.queue[s]);
                for (msg, topic, q, pl, sess) in queue {
                    if sess == self.session[s] {
                        let line = self.t.recv(&name, &msg, &topic, q, false);
                        self.receipts.push((s, sess, msg, q, line, pl));
                    }
                }
            } else {
                self.session[s] += 1;
                self.t.connack(&name, true, 0, false);
                self.subscribe(s);
            }
            self.connected[s] = true;
        }

        fn subscribe(&mut self, s: usize) {
            let spec = &self.subs[s];
            let filter = match spec.topic {
                None => "t/#".to_owned(),
                Some(k) => format!("t/{k}"),
            };
            self.t.sub(&Sim::name(s), &filter, spec.qos);
        }

        fn drop_sub(&mut self, s: usize) {
            if self.connected[s] {
                self.t.lost(&Sim::name(s));
                self.connected[s] = false;
                if !self.subs[s].persistent {
                    self.queue[s].clear();
                }
            }
        }

        fn publish(&mut self, p: usize, topic: usize, qos: u8) {
            let pname = format!("p{p}");
            let seq = self.seq[p];
            self.seq[p] += 1;
            let topic_name = format!("t/{topic}");
            let msg = format!("{pname}/{seq}");
            let (pl, _) = self.t.send(&pname, seq, &topic_name, qos);
            for s in 0..self.subs.len() {
                let spec = &self.subs[s];
                if spec.topic.is_some_and(|k| k != topic) {
                    continue;
                }
                let eff = spec.qos.min(qos);
                if self.connected[s] {
                    let line = self.t.recv(&Sim::name(s), &msg, &topic_name, eff, false);
                    self.receipts
                        .push((s, self.session[s], msg.clone(), eff, line, pl));
                    if eff == 1 {
                        self.last_qos1[s] = Some((msg.clone(), topic_name.clone()));
                    }
                } else if spec.persistent && eff > 0 {
                    self.queue[s].push((msg.clone(), topic_name.clone(), eff, pl, self.session[s]));
                }
            }
        }

        fn kill(&mut self) {
            self.t.fault("kill");
            for s in 0..self.subs.len() {
                self.drop_sub(s);
            }
            self.t.lost("p0");
            self.t.lost("p1");
            self.t.fault("restart");
            self.t.connack("p0", true, 0, false);
            self.t.connack("p1", true, 0, false);
        }

        fn run(subs: Vec<SubSpec>, ops: &[Op]) -> (T, Vec<Receipt>) {
            let n = subs.len();
            let mut sim = Sim {
                t: T::new("5.0", true),
                subs,
                connected: vec![false; n],
                session: vec![0; n],
                queue: vec![Vec::new(); n],
                receipts: Vec::new(),
                seq: [0; 2],
                last_qos1: vec![None; n],
            };
            for s in 0..n {
                sim.connect_sub(s, true);
            }
            sim.t.connack("p0", true, 0, false);
            sim.t.connack("p1", true, 0, false);
            for op in ops {
                match *op {
                    Op::Publish { p, topic, qos } => sim.publish(p, topic, qos),
                    Op::DropSub(s) if s < n => sim.drop_sub(s),
                    Op::ReconnectSub(s) if s < n && !sim.connected[s] => sim.connect_sub(s, false),
                    Op::Kill => sim.kill(),
                    _ => {}
                }
            }
            for s in 0..n {
                if !sim.connected[s] {
                    sim.connect_sub(s, false);
                }
            }
            sim.t.end();
            let receipts = sim
                .receipts
                .iter()
                .map(|(s, sess, msg, q, line, pl)| {
                    let copies = sim
                        .receipts
                        .iter()
                        .filter(|r| r.0 == *s && r.1 == *sess && r.2 == *msg)
                        .count();
                    Receipt {
                        line: *line,
                        qos: *q,
                        sole_owed: *q >= 1 && *sess == sim.session[*s] && copies == 1,
                        msg: msg.clone(),
                        publish_line: *pl,
                    }
                })
                .collect();
            (sim.t, receipts)
        }
    }

    fn without(t: &T, line: usize) -> String {
        t.lines
            .iter()
            .enumerate()
            .filter(|(i, _)| i + 1 != line)
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn a_correct_broker_passes_and_one_mutation_gives_exactly_its_violation(
            subs in proptest::collection::vec(sub_spec(), 1..4),
            ops in proptest::collection::vec(op(), 1..40),
            pick in any::<prop::sample::Index>(),
        ) {
            let (t, receipts) = Sim::run(subs, &ops);
            let r = check_str(&t.text(), CheckOptions::default()).unwrap();
            prop_assert!(r.violations.is_empty(), "{:#?}\n{}", r.violations, t.text());

            // 1. Remove the only receipt of an owed message.
            let owed: Vec<&Receipt> = receipts.iter().filter(|x| x.sole_owed).collect();
            if !owed.is_empty() {
                let x = owed[pick.index(owed.len())];
                let text = without(&t, x.line);
                let r = check_str(&text, CheckOptions::default()).unwrap();
                let v = only(&r, Rule::AckedThenLost);
                prop_assert_eq!(v.msg.as_deref(), Some(x.msg.as_str()));
                // The lines around the removed one: the publish and acked of its message.
                prop_assert!(lines(v).contains(&x.publish_line), "{:?} {}", lines(v), x.publish_line);
                let quoted = format!("\"{}\"", x.msg);
                let has_acked = v.excerpt.iter().any(|l| l.text.contains("\"acked\"") && l.text.contains(&quoted));
                prop_assert!(has_acked, "{:?}", v.excerpt);
            }

            // 2. Duplicate a QoS 2 receipt right after itself.
            let q2: Vec<&Receipt> = receipts.iter().filter(|x| x.qos == 2).collect();
            if !q2.is_empty() {
                let x = q2[pick.index(q2.len())];
                let mut lines_ = t.lines.clone();
                lines_.insert(x.line, lines_[x.line - 1].clone());
                let r = check_str(&lines_.join("\n"), CheckOptions::default()).unwrap();
                let v = only(&r, Rule::Qos2Duplicate);
                prop_assert_eq!(v.severity, Severity::Fail);
                prop_assert!(lines(v).contains(&x.line) && lines(v).contains(&(x.line + 1)), "{:?}", lines(v));
            }

            // 3. Rename the message of a QoS 0 receipt (not owed).
            let q0: Vec<&Receipt> = receipts.iter().filter(|x| x.qos == 0).collect();
            if !q0.is_empty() {
                let x = q0[pick.index(q0.len())];
                let mut lines_ = t.lines.clone();
                lines_[x.line - 1] = lines_[x.line - 1].replace(&format!("\"msg\":\"{}\"", x.msg), "\"msg\":\"ghost/1\"");
                let r = check_str(&lines_.join("\n"), CheckOptions::default()).unwrap();
                let v = only(&r, Rule::UnknownMessage);
                prop_assert_eq!(lines(v), vec![x.line]);
            }
        }
    }
}
