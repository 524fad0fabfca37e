//! Interoperability: real third-party clients (Mosquitto's `mosquitto_pub`
//! and `mosquitto_sub` 2.0, Eclipse paho-mqtt 2.1 for Python) against the
//! reference server started in-process, over MQTT 3.1.1 and 5.0.
//!
//! Every test names what it checks and the specification statements it
//! rests on. Rules kept throughout:
//!
//! - Every wait is bounded ([`support::WAIT`], 10 s) and no test sleeps in
//!   the hope that something happened: a subscriber's SUBACK is awaited
//!   before anything is published, a publisher at QoS 1 or 2 has its
//!   PUBACK or PUBCOMP (so the server has routed the message) before the
//!   next step, and "nothing arrived" is proved by a later marker message
//!   that the server must route after the one that must not arrive.
//! - A marker never follows a delivery at QoS 2: clients hand a QoS 2
//!   message to the application on PUBREL, a round trip after the PUBLISH,
//!   so a later QoS 0/1 marker may overtake it. Such waits collect every
//!   expected payload in any order instead.
//! - A missing tool fails the test and says what to install.
//! - Each test has a server of its own, so tests run in parallel.

mod support;

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::{json, Value};
use support::{
    args, messages, mosquitto_pub, payloads, publish_q1, Broker, MosqSub, Paho, SubMsg, Version,
};

/// Runs an `async fn(Version)` as two tests, `v311` and `v5`.
macro_rules! both_versions {
    ($name:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v311() {
                super::$name(Version::V311).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn v5() {
                super::$name(Version::V5).await
            }
        }
    };
}

/// `(payload, retain, qos)` of mosquitto_sub messages, for assertions.
fn prq(msgs: &[SubMsg]) -> Vec<(&str, bool, u8)> {
    msgs.iter()
        .map(|m| (m.payload.as_str(), m.retain, m.qos))
        .collect()
}

// ---------------------------------------------------------------------------
// QoS 0, 1, 2
// ---------------------------------------------------------------------------

/// Publish and subscribe at every QoS: mosquitto_pub publishes one message
/// at QoS 0, 1 and 2 (exiting 0 only after the PUBACK / PUBCOMP flow
/// completed); three mosquitto_sub subscribers granted QoS 0, 1 and 2 each
/// receive the three messages (`-C 3`: no duplicate, none missing), at
/// min(published QoS, granted QoS), with RETAIN 0.
///
/// 3.1.1: MQTT-3.8.4-6 (delivery QoS), MQTT-4.3.2-2 (PUBACK), MQTT-4.3.3-2
/// (PUBREC / PUBCOMP), MQTT-3.3.1-9 (RETAIN 0 on an established
/// subscription).
/// 5.0: MQTT-3.8.4-8, MQTT-4.3.2-4 (PUBACK), MQTT-4.3.3-8 / -10 / -11
/// (PUBREC, no duplicate, PUBCOMP), MQTT-3.3.1-12 (Retain As Published 0).
async fn qos_levels(v: Version) {
    let b = Broker::start().await;
    let p = b.port();
    let mut subs = Vec::new();
    for granted in 0..=2u8 {
        let id = format!("qos-sub-{granted}-{}", v.tag());
        let s = MosqSub::subscribed(
            p,
            v,
            &id,
            &args(&["-t", "qos/t", "-q", &granted.to_string(), "-C", "3"]),
        )
        .await;
        subs.push((granted, s));
    }
    for q in 0..=2u8 {
        let payload = format!("published-at-qos-{q}");
        mosquitto_pub(
            p,
            v,
            &format!("qos-pub-{q}"),
            &args(&["-t", "qos/t", "-q", &q.to_string(), "-m", &payload]),
        )
        .await;
    }
    for (granted, s) in subs {
        let lines = s.proc.finish_ok().await.lines;
        let mut got: Vec<(String, bool, u8)> = lines
            .iter()
            .filter_map(|l| SubMsg::parse(l))
            .map(|m| (m.payload, m.retain, m.qos))
            .collect();
        got.sort();
        let want: Vec<(String, bool, u8)> = (0..=2u8)
            .map(|q| (format!("published-at-qos-{q}"), false, q.min(granted)))
            .collect();
        assert_eq!(
            got, want,
            "subscriber granted QoS {granted}: (payload, retain, qos) received"
        );
    }
    b.stop().await;
}
both_versions!(qos_levels);

// ---------------------------------------------------------------------------
// Retained messages
// ---------------------------------------------------------------------------

/// Retained messages are stored, replaced, kept by non-retained publishes,
/// and cleared by an empty retained payload; new subscribers receive the
/// current one with RETAIN 1, established subscribers receive every
/// publish (including the empty one) with RETAIN 0.
///
/// Each new subscriber's first messages are read up to a marker published
/// after its SUBACK, so "exactly this retained message" is exact.
///
/// 3.1.1: MQTT-3.3.1-5 (store), MQTT-3.3.1-6 (the last retained message is
/// sent to a new subscription), MQTT-3.3.1-8 (RETAIN 1 then), MQTT-3.3.1-9
/// (RETAIN 0 on established subscriptions), MQTT-3.3.1-10 / -11 (empty
/// payload forwarded, removes, not stored), MQTT-3.3.1-12 (RETAIN 0 neither
/// stores nor removes).
/// 5.0: MQTT-3.3.1-5 (replace and store), MQTT-3.3.1-6 / -7 (empty payload
/// removes, not stored), MQTT-3.3.1-8 (RETAIN 0 neither stores nor removes),
/// MQTT-3.3.1-9 (Retain Handling 0: sent on subscribe, with RETAIN 1 per
/// §3.3.1.3), MQTT-3.3.1-12 (Retain As Published 0: RETAIN 0 forwarded).
async fn retained_messages(v: Version) {
    let b = Broker::start().await;
    let p = b.port();
    let t = "retained/x";
    let sub = |id: &str| {
        let id = format!("{id}-{}", v.tag());
        async move { MosqSub::subscribed(p, v, &id, &args(&["-t", t, "-q", "1"])).await }
    };
    let pub_retained = |payload: &'static str| async move {
        mosquitto_pub(
            p,
            v,
            "rt-pub",
            &args(&["-t", t, "-q", "1", "-r", "-m", payload]),
        )
        .await;
    };
    let mut established = sub("rt-established").await;

    // Store.
    pub_retained("one").await;
    let mut s1 = sub("rt-s1").await;
    publish_q1(p, v, "rt-pub", t, "m1").await;
    assert_eq!(
        prq(&s1.messages_until("m1").await),
        [("one", true, 1), ("m1", false, 1)],
        "a new subscriber gets the stored retained message with RETAIN 1, then live messages with RETAIN 0"
    );

    // Replace: only the newest retained message is sent.
    pub_retained("two").await;
    let mut s2 = sub("rt-s2").await;
    pub_retained("three").await;
    assert_eq!(
        prq(&s2.messages_until("three").await),
        [("two", true, 1), ("three", false, 1)],
        "after a replacement only the newest retained message is sent; a retained publish to an \
         established subscription has RETAIN 0"
    );

    // A non-retained publish neither replaces nor removes it.
    publish_q1(p, v, "rt-pub", t, "m2").await;
    let mut s3 = sub("rt-s3").await;
    publish_q1(p, v, "rt-pub", t, "m3").await;
    assert_eq!(
        prq(&s3.messages_until("m3").await),
        [("three", true, 1), ("m3", false, 1)],
        "a publish with RETAIN 0 must not replace or remove the retained message"
    );

    // Clear with an empty retained payload.
    mosquitto_pub(p, v, "rt-pub", &args(&["-t", t, "-q", "1", "-r", "-n"])).await;
    let mut s4 = sub("rt-s4").await;
    publish_q1(p, v, "rt-pub", t, "m4").await;
    assert_eq!(
        prq(&s4.messages_until("m4").await),
        [("m4", false, 1)],
        "after an empty retained publish no retained message may be sent"
    );

    assert_eq!(
        prq(&established.messages_until("m4").await),
        [
            ("one", false, 1),
            ("m1", false, 1),
            ("two", false, 1),
            ("three", false, 1),
            ("m2", false, 1),
            ("m3", false, 1),
            ("", false, 1),
            ("m4", false, 1),
        ],
        "an established subscriber gets every publish, the empty retained one included, with RETAIN 0"
    );
    b.stop().await;
}
both_versions!(retained_messages);

// ---------------------------------------------------------------------------
// Wildcards
// ---------------------------------------------------------------------------

/// Topic wildcards: `+` matches exactly one level, `#` the parent and any
/// number of levels, and filters starting with a wildcard do not match
/// topics starting with `$` (while an explicit `$wc/#` does, proving the
/// `$` message was accepted and routed). Each subscriber also subscribes
/// to `marker`; the publishes are sequential QoS 1, so everything routed
/// to a subscriber before the marker is read before it.
///
/// 3.1.1 and 5.0: §4.7.1.2 (`#`, parent level included), §4.7.1.3 (`+`),
/// MQTT-4.7.2-1 (no wildcard-first match of `$` topics), MQTT-3.3.2-3
/// (topic name delivered unchanged), MQTT-3.3.5-1 / MQTT-3.3.4-2
/// (overlapping subscriptions: at least one copy).
async fn wildcards(v: Version) {
    let b = Broker::start().await;
    let p = b.port();
    let cases: [(&str, &[&str]); 5] = [
        ("wc/+/score", &["wc/tennis/score"]),
        (
            "wc/#",
            &[
                "wc/tennis/score",
                "wc/tennis/player1/score",
                "wc",
                "wc/tennis",
            ],
        ),
        (
            "#",
            &[
                "wc/tennis/score",
                "wc/tennis/player1/score",
                "wc",
                "wc/tennis",
            ],
        ),
        ("+/+/score", &["wc/tennis/score"]),
        ("$wc/#", &["$wc/tennis/score"]),
    ];
    let mut subs = Vec::new();
    for (i, (filter, _)) in cases.iter().enumerate() {
        let id = format!("wc-sub-{i}-{}", v.tag());
        subs.push(
            MosqSub::subscribed(p, v, &id, &args(&["-q", "1", "-t", filter, "-t", "marker"])).await,
        );
    }
    for topic in [
        "wc/tennis/score",
        "wc/tennis/player1/score",
        "wc",
        "wc/tennis",
        "$wc/tennis/score",
    ] {
        publish_q1(p, v, "wc-pub", topic, topic).await;
    }
    publish_q1(p, v, "wc-pub", "marker", "marker").await;
    for ((filter, want), s) in cases.iter().zip(subs.iter_mut()) {
        let got = s.messages_until("marker").await;
        for m in &got {
            if m.payload != "marker" {
                assert_eq!(
                    m.topic, m.payload,
                    "{filter}: the topic name is delivered unchanged"
                );
            }
        }
        let mut want: Vec<&str> = want.to_vec();
        want.push("marker");
        assert_eq!(
            payloads(&got),
            want,
            "messages delivered to the filter {filter:?}"
        );
    }
    b.stop().await;
}
both_versions!(wildcards);

// ---------------------------------------------------------------------------
// Wills
// ---------------------------------------------------------------------------

/// A client with a Will Message that dies (SIGKILL: the network connection
/// closes without DISCONNECT) has its will published to subscribers, with
/// the will's QoS and RETAIN 0.
///
/// 3.1.1: MQTT-3.1.2-8 (will published when the connection closes without
/// DISCONNECT), §3.1.2.6 (published at the Will QoS), MQTT-3.3.1-9.
/// 5.0: MQTT-3.1.2-8, §3.1.2.6, §3.1.3.2.2 (Will Delay Interval absent = 0:
/// published at once), MQTT-3.1.2-10 (removed once published).
async fn will_published_when_client_killed(v: Version) {
    let b = Broker::start().await;
    let p = b.port();
    let mut watcher = MosqSub::subscribed(
        p,
        v,
        &format!("will-watcher-{}", v.tag()),
        &args(&["-q", "1", "-t", "wills/#"]),
    )
    .await;
    let mut doomed = MosqSub::subscribed(
        p,
        v,
        &format!("will-doomed-{}", v.tag()),
        &args(&[
            "-t",
            "unrelated",
            "--will-topic",
            "wills/doomed",
            "--will-payload",
            "doomed is gone",
            "--will-qos",
            "1",
        ]),
    )
    .await;
    doomed.proc.kill9().await;
    let got = watcher.messages_until("doomed is gone").await;
    assert_eq!(
        got.iter()
            .map(|m| (m.topic.as_str(), m.payload.as_str(), m.retain, m.qos))
            .collect::<Vec<_>>(),
        [("wills/doomed", "doomed is gone", false, 1)],
        "the will of a killed client is published, at its QoS, with RETAIN 0"
    );
    b.stop().await;
}
both_versions!(will_published_when_client_killed);

/// A client with a Will Message that disconnects normally (DISCONNECT,
/// reason 0x00 in 5.0) has its will discarded: nothing is published.
///
/// How "nothing" is proved: after the client exited, a paho client
/// connects with the SAME client id and Clean Session / Clean Start 0 and
/// must see Session Present 0 - the departed client's session (clean,
/// expiry 0) is gone, so the server has processed its disconnection, and a
/// will, had it been published, was routed then. The paho client then
/// publishes a marker on the will topic; the watcher reads up to the
/// marker and must see only the marker.
///
/// 3.1.1: MQTT-3.1.2-8 / MQTT-3.1.2-10 and MQTT-3.14.4-3 (will discarded on
/// DISCONNECT), MQTT-3.1.2-6 (a Clean Session 1 session ends with the
/// connection), MQTT-3.2.2-3 (Session Present 0 without stored session).
/// 5.0: MQTT-3.1.2-10, MQTT-3.14.4-3 (reason 0x00), §3.1.2.11.2 (expiry 0:
/// the session ends with the connection), MQTT-3.2.2-3 (Session Present).
async fn no_will_after_normal_disconnect(v: Version) {
    let b = Broker::start().await;
    let p = b.port();
    let id = format!("will-polite-{}", v.tag());
    let mut watcher = MosqSub::subscribed(
        p,
        v,
        &format!("will-watcher-{}", v.tag()),
        &args(&["-q", "1", "-t", "wills/#"]),
    )
    .await;
    // Publishes, then sends DISCONNECT and exits.
    mosquitto_pub(
        p,
        v,
        &id,
        &args(&[
            "-t",
            "elsewhere",
            "-q",
            "1",
            "-m",
            "bye",
            "--will-topic",
            "wills/polite",
            "--will-payload",
            "polite will must not be published",
            "--will-qos",
            "1",
        ]),
    )
    .await;
    let events = Paho::new(p, v, &id)
        .persistent()
        .run(json!([{"op": "publish", "topic": "wills/polite", "payload": "marker", "qos": 1}]))
        .await;
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .expect("connected event");
    assert_eq!(
        connected["session_present"],
        json!(false),
        "reconnecting with the departed client's id: its clean session must be gone \
         (and its disconnection processed) - events: {events:?}"
    );
    assert_eq!(
        payloads(&watcher.messages_until("marker").await),
        ["marker"],
        "no will may be published after a normal DISCONNECT"
    );
    b.stop().await;
}
both_versions!(no_will_after_normal_disconnect);

/// 5.0: DISCONNECT with reason code 0x04 (Disconnect with Will Message)
/// ends the connection normally but has the will published (paho sends the
/// reason code).
///
/// 5.0: §3.14.2.1 (0x04), MQTT-3.1.2-8, MQTT-3.1.2-10 (only 0x00 deletes
/// the will), MQTT-3.14.4-3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_disconnect_with_will_message_publishes_will() {
    let v = Version::V5;
    let b = Broker::start().await;
    let p = b.port();
    let mut watcher =
        MosqSub::subscribed(p, v, "will-watcher", &args(&["-q", "1", "-t", "wills/#"])).await;
    Paho::new(p, v, "will-0x04")
        .will("wills/0x04", "sent on request", 1)
        .run(json!([{"op": "disconnect", "reason": 4}]))
        .await;
    let got = watcher.messages_until("sent on request").await;
    assert_eq!(
        got.iter()
            .map(|m| (m.topic.as_str(), m.payload.as_str(), m.qos))
            .collect::<Vec<_>>(),
        [("wills/0x04", "sent on request", 1)],
        "DISCONNECT 0x04 must have the will published"
    );
    b.stop().await;
}

// ---------------------------------------------------------------------------
// Persistent sessions
// ---------------------------------------------------------------------------

/// A persistent session keeps its subscriptions and queues QoS 1 messages
/// published while the client is offline; they are delivered when the
/// client comes back, with Session Present 1.
///
/// Round 1: mosquitto_sub `-c` (Clean Session 0 / Clean Start 0 with
/// Session Expiry 300 s) subscribes at QoS 1 and disconnects (`-E`);
/// mosquitto_pub publishes at QoS 1 while it is away; `mosquitto_sub -c`
/// with the same id receives it. Round 2: another message while away, and
/// paho resumes the session: Session Present 1 and the message.
///
/// 3.1.1: MQTT-3.1.2-4 (resume the session), MQTT-3.1.2-5 (store QoS 1/2
/// messages for the disconnected client), MQTT-3.2.2-2 (Session Present 1).
/// 5.0: MQTT-3.1.2-5 (resume), MQTT-3.1.2-23 (session kept after the
/// connection closes, expiry > 0), §4.1 (queued QoS 1/2 messages are
/// session state), MQTT-3.2.2-3 (Session Present 1).
async fn persistent_session_offline_messages(v: Version) {
    let b = Broker::start().await;
    let p = b.port();
    let id = format!("persistent-{}", v.tag());
    let mut session = args(&["-c", "-q", "1", "-t", "ps/t"]);
    if v == Version::V5 {
        session.extend(args(&["-x", "300"]));
    }
    let mut first = session.clone();
    first.push("-E".into());
    MosqSub::spawn(p, v, &id, &first).proc.finish_ok().await;

    publish_q1(p, v, "ps-pub", "ps/t", "offline-1").await;
    let mut again = session.clone();
    again.extend(args(&["-C", "1"]));
    let f = MosqSub::spawn(p, v, &id, &again).proc.finish_ok().await;
    let got: Vec<SubMsg> = f.lines.iter().filter_map(|l| SubMsg::parse(l)).collect();
    assert_eq!(
        prq(&got),
        [("offline-1", false, 1)],
        "the QoS 1 message published while the persistent client was offline is delivered on reconnect"
    );

    publish_q1(p, v, "ps-pub", "ps/t", "offline-2").await;
    let mut paho = Paho::new(p, v, &id).persistent();
    if v == Version::V5 {
        paho = paho.session_expiry(300);
    }
    let events = paho
        .run(json!([{"op": "wait_for", "payload": "offline-2"}]))
        .await;
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .expect("connected event");
    assert_eq!(
        connected["session_present"],
        json!(true),
        "Session Present on resuming: {events:?}"
    );
    // (offline-1 may legitimately come again, with DUP 1, should its
    // PUBACK not have reached the server; only offline-2 is asserted.)
    let got: Vec<_> = messages(&events)
        .into_iter()
        .filter(|m| m["payload"] == "offline-2")
        .map(|m| (m["topic"].clone(), m["qos"].clone()))
        .collect();
    assert_eq!(
        got,
        [(json!("ps/t"), json!(1))],
        "paho resuming the session receives the queued message once, at QoS 1: {events:?}"
    );
    b.stop().await;
}
both_versions!(persistent_session_offline_messages);

// ---------------------------------------------------------------------------
// MQTT 5.0 properties
// ---------------------------------------------------------------------------

/// 5.0: User Properties reach subscribers unaltered and in order, repeated
/// keys included. mosquitto_pub sends three (`a=1`, `b=2`, `a=3`); paho and
/// mosquitto_sub (a 5.0 subscriber each) report them.
///
/// 5.0: MQTT-3.3.2-17 (unaltered), MQTT-3.3.2-18 (order kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_user_properties_forwarded_in_order() {
    let v = Version::V5;
    let b = Broker::start().await;
    let p = b.port();
    let mut paho = Paho::new(p, v, "up-paho").spawn(json!([
        {"op": "subscribe", "filter": "up/t", "qos": 1},
        {"op": "wait_for", "payload": "with properties"}
    ]));
    paho.subscribed(1).await;
    let mut mosq = MosqSub::subscribed(p, v, "up-mosq", &args(&["-q", "1", "-t", "up/t"])).await;
    mosquitto_pub(
        p,
        v,
        "up-pub",
        &args(&[
            "-t",
            "up/t",
            "-q",
            "1",
            "-m",
            "with properties",
            "-D",
            "publish",
            "user-property",
            "a",
            "1",
            "-D",
            "publish",
            "user-property",
            "b",
            "2",
            "-D",
            "publish",
            "user-property",
            "a",
            "3",
        ]),
    )
    .await;
    let got = paho.messages_until("with properties").await;
    assert_eq!(
        got[0]["user_properties"],
        json!([["a", "1"], ["b", "2"], ["a", "3"]]),
        "paho: user properties as sent, in order: {got:?}"
    );
    let got = mosq.messages_until("with properties").await;
    assert_eq!(
        got[0].user_properties, "a:1 b:2 a:3",
        "mosquitto_sub: user properties in order"
    );
    paho.finish_ok().await;
    b.stop().await;
}

/// 5.0: the Message Expiry Interval is forwarded to an online subscriber
/// (less the time waited, here under a second), and a message without one
/// is forwarded without one.
///
/// 5.0: MQTT-3.3.2-6 (remaining interval forwarded), §3.3.2.3.3 (absent:
/// the message does not expire).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_message_expiry_forwarded_to_online_subscriber() {
    let v = Version::V5;
    let b = Broker::start().await;
    let p = b.port();
    let mut s = MosqSub::subscribed(p, v, "exp-online", &args(&["-q", "1", "-t", "exp/t"])).await;
    mosquitto_pub(
        p,
        v,
        "exp-pub",
        &args(&[
            "-t",
            "exp/t",
            "-q",
            "1",
            "-m",
            "expiring",
            "-D",
            "publish",
            "message-expiry-interval",
            "60",
        ]),
    )
    .await;
    publish_q1(p, v, "exp-pub", "exp/t", "forever").await;
    let got = s.messages_until("forever").await;
    assert_eq!(payloads(&got), ["expiring", "forever"]);
    let e = got[0]
        .expiry
        .expect("the Message Expiry Interval is forwarded");
    assert!(
        (59..=60).contains(&e),
        "remaining expiry interval {e}, expected 60 less under a second"
    );
    assert_eq!(
        got[1].expiry, None,
        "no expiry interval is invented for a message without one"
    );
    b.stop().await;
}

/// 5.0: a message whose expiry passes while it waits in an offline
/// client's session is not delivered; one still valid is delivered with the
/// remaining interval.
///
/// A persistent session (Clean Start 0, Session Expiry 300 s) subscribes at
/// QoS 1 and leaves; ONE paho connection publishes `short` (expiry 1 s),
/// `long` (expiry 100 s) and `end` (no expiry), all acknowledged. The test
/// then lets 2 s pass - the subject of the test, not a synchronisation -
/// and resumes the session. Messages of one publisher on one topic keep
/// their order, so `short`, had it survived, would arrive before `end`.
///
/// 5.0: MQTT-3.3.2-5 (expired: not delivered), MQTT-3.3.2-6 (remaining
/// interval), MQTT-4.6.0-6 / §4.6 (order), MQTT-3.1.2-5 / -23 (session).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_expired_offline_message_not_delivered() {
    let v = Version::V5;
    let b = Broker::start().await;
    let p = b.port();
    let session = args(&["-c", "-x", "300", "-q", "1", "-t", "exp/offline"]);
    let mut first = session.clone();
    first.push("-E".into());
    MosqSub::spawn(p, v, "exp-offline", &first)
        .proc
        .finish_ok()
        .await;

    let published = Instant::now();
    Paho::new(p, v, "exp-pub")
        .run(json!([
            {"op": "publish", "topic": "exp/offline", "payload": "short", "qos": 1, "expiry": 1},
            {"op": "publish", "topic": "exp/offline", "payload": "long", "qos": 1, "expiry": 100},
            {"op": "publish", "topic": "exp/offline", "payload": "end", "qos": 1}
        ]))
        .await;
    // The expiry of `short` (1 s) must pass while it is queued.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let mut s = MosqSub::subscribed(p, v, "exp-offline", &session).await;
    let got = s.messages_until("end").await;
    let waited = published.elapsed().as_secs();
    assert_eq!(
        payloads(&got),
        ["long", "end"],
        "the expired message must not be delivered"
    );
    let e = got[0]
        .expiry
        .expect("the remaining expiry interval is forwarded");
    assert!(
        e <= 98 && u64::from(e) + waited + 1 >= 100,
        "remaining expiry interval {e} after about {waited} s of a 100 s interval (at least 2 s passed)"
    );
    b.stop().await;
}

/// 5.0: a client publishing with a Topic Alias (paho: first with the topic
/// and `TopicAlias` 1, then with an empty topic and alias 1; then alias 1
/// remapped to another topic) has every message delivered under the real
/// topic name, to a 5.0 and to a 3.1.1 subscriber.
///
/// 5.0: §3.3.2.3.4 (alias mapping set, used, replaced), MQTT-3.3.2-12
/// (the server accepts aliases up to its Topic Alias Maximum), MQTT-3.3.2-3
/// (delivered topic name matches the filter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_topic_alias_resolved_for_subscribers() {
    let b = Broker::start().await;
    let p = b.port();
    let mut s5 = MosqSub::subscribed(
        p,
        Version::V5,
        "alias-sub5",
        &args(&["-q", "1", "-t", "alias/#"]),
    )
    .await;
    let mut s3 = MosqSub::subscribed(
        p,
        Version::V311,
        "alias-sub311",
        &args(&["-q", "1", "-t", "alias/#"]),
    )
    .await;
    Paho::new(p, Version::V5, "alias-pub")
        .run(json!([
            {"op": "publish", "topic": "alias/first", "payload": "sets alias 1", "qos": 1, "topic_alias": 1},
            {"op": "publish", "topic": "", "payload": "uses alias 1", "qos": 1, "topic_alias": 1},
            {"op": "publish", "topic": "alias/second", "payload": "remaps alias 1", "qos": 1, "topic_alias": 1},
            {"op": "publish", "topic": "", "payload": "uses remapped alias 1", "qos": 2, "topic_alias": 1},
            {"op": "publish", "topic": "alias/end", "payload": "end", "qos": 1}
        ]))
        .await;
    for (name, s) in [("5.0 subscriber", &mut s5), ("3.1.1 subscriber", &mut s3)] {
        let got = s.messages_until("end").await;
        assert_eq!(
            got.iter()
                .map(|m| (m.topic.as_str(), m.payload.as_str()))
                .collect::<Vec<_>>(),
            [
                ("alias/first", "sets alias 1"),
                ("alias/first", "uses alias 1"),
                ("alias/second", "remaps alias 1"),
                ("alias/second", "uses remapped alias 1"),
                ("alias/end", "end"),
            ],
            "{name}: messages published with a topic alias arrive under the real topic"
        );
    }
    b.stop().await;
}

/// 5.0: Subscription Identifiers come back with the messages they matched:
/// `sub/a` (7), `sub/b` (300000, a multi-byte Variable Byte Integer),
/// `sub/c` (none: no identifier sent), and two overlapping subscriptions
/// `sub/+/o` (11) and `sub/x/#` (12) for `sub/x/o`: either one copy with
/// both identifiers or one copy per subscription with its own.
///
/// 5.0: MQTT-3.3.4-3 (identifiers of the matching subscriptions sent),
/// MQTT-3.3.4-4 (one copy: all of them), MQTT-3.3.4-5 (several copies:
/// each its own), §3.8.2.1.2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_subscription_identifiers_delivered() {
    let v = Version::V5;
    let b = Broker::start().await;
    let p = b.port();
    let mut paho = Paho::new(p, v, "subid-sub").spawn(json!([
        {"op": "subscribe", "filter": "sub/a", "qos": 1, "sub_id": 7},
        {"op": "subscribe", "filter": "sub/b", "qos": 1, "sub_id": 300000},
        {"op": "subscribe", "filter": "sub/c", "qos": 1},
        {"op": "subscribe", "filter": "sub/+/o", "qos": 1, "sub_id": 11},
        {"op": "subscribe", "filter": "sub/x/#", "qos": 1, "sub_id": 12},
        {"op": "wait_for", "payload": "end"}
    ]));
    paho.subscribed(5).await;
    for topic in ["sub/a", "sub/b", "sub/c", "sub/x/o"] {
        publish_q1(p, v, "subid-pub", topic, topic).await;
    }
    publish_q1(p, v, "subid-pub", "sub/a", "end").await;
    let got = paho.messages_until("end").await;
    let ids_of = |payload: &str| -> Vec<Vec<u64>> {
        got.iter()
            .filter(|m| m["payload"] == payload)
            .map(|m| {
                m["sub_ids"]
                    .as_array()
                    .unwrap_or_else(|| panic!("sub_ids of {m}"))
                    .iter()
                    .map(|i| i.as_u64().expect("an integer id"))
                    .collect()
            })
            .collect()
    };
    assert_eq!(ids_of("sub/a"), [vec![7]], "sub/a: {got:?}");
    assert_eq!(ids_of("sub/b"), [vec![300_000]], "sub/b: {got:?}");
    assert_eq!(
        ids_of("sub/c"),
        [Vec::<u64>::new()],
        "sub/c has no identifier: {got:?}"
    );
    let overlapping = ids_of("sub/x/o");
    let mut one_copy: Vec<Vec<u64>> = overlapping.clone();
    for ids in &mut one_copy {
        ids.sort_unstable();
    }
    one_copy.sort();
    assert!(
        one_copy == [vec![11, 12]] || one_copy == [vec![11], vec![12]],
        "sub/x/o matches two subscriptions: one copy with ids 11 and 12, or a copy with each; got {overlapping:?}"
    );
    assert_eq!(ids_of("end"), [vec![7]]);
    paho.finish_ok().await;
    b.stop().await;
}

/// 5.0: a shared subscription `$share/g/sh/t` held by two paho clients:
/// each of 20 QoS 1 messages goes to exactly one of them, and all are
/// delivered. Both also subscribe to `sh/end` (non-shared); the publisher
/// (one paho connection) sends `end` there last, so once both have seen
/// it, everything routed to either has been read.
///
/// 5.0: §4.8.2 (each message of a shared subscription is sent to only one
/// of the sessions), MQTT-4.8.2-3 (granted QoS respected).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_shared_subscription_delivers_each_message_once() {
    let v = Version::V5;
    let b = Broker::start().await;
    let p = b.port();
    let plan = json!([
        {"op": "subscribe", "filter": "$share/g/sh/t", "qos": 1},
        {"op": "subscribe", "filter": "sh/end", "qos": 1},
        {"op": "wait_for", "payload": "end"}
    ]);
    let mut a = Paho::new(p, v, "share-a").spawn(plan.clone());
    let mut c = Paho::new(p, v, "share-b").spawn(plan);
    a.subscribed(2).await;
    c.subscribed(2).await;
    let n = 20;
    let mut steps: Vec<Value> = (0..n)
        .map(|i| json!({"op": "publish", "topic": "sh/t", "payload": format!("m{i}"), "qos": 1}))
        .collect();
    steps.push(json!({"op": "publish", "topic": "sh/end", "payload": "end", "qos": 1}));
    Paho::new(p, v, "share-pub").run(Value::Array(steps)).await;

    let mut seen = Vec::new();
    for s in [&mut a, &mut c] {
        let got = s.messages_until("end").await;
        let mine: Vec<String> = got
            .iter()
            .filter(|m| m["topic"] == "sh/t")
            .map(|m| {
                assert_eq!(m["qos"], json!(1), "granted QoS 1: {m}");
                m["payload"].as_str().expect("payload").to_owned()
            })
            .collect();
        seen.push(mine);
    }
    let all: Vec<&String> = seen.iter().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    let want: BTreeSet<String> = (0..n).map(|i| format!("m{i}")).collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "a message went to both members (or twice to one): A={:?} B={:?}",
        seen[0],
        seen[1]
    );
    assert_eq!(
        distinct.into_iter().cloned().collect::<BTreeSet<String>>(),
        want,
        "every message goes to one member: A={:?} B={:?}",
        seen[0],
        seen[1]
    );
    a.finish_ok().await;
    c.finish_ok().await;
    b.stop().await;
}

// ---------------------------------------------------------------------------
// Transports
// ---------------------------------------------------------------------------

/// MQTT over WebSocket: paho (`transport="websockets"`, subprotocol
/// `mqtt`) subscribes and publishes through the ws listener, interworking
/// with mosquitto clients on TCP: messages flow tcp -> ws, ws -> ws and
/// ws -> tcp, at QoS 1 and 2.
///
/// Both subscribers are granted QoS 2; paho and libmosquitto hand a QoS 2
/// message over on PUBREL, so the later QoS 1 `end` may be reported before
/// it: the test waits for all three payloads, in any order.
///
/// 3.1.1 §6 / 5.0 §6: MQTT-6.0.0-1 (binary frames), MQTT-6.0.0-2 (packets
/// not aligned on frames), MQTT-6.0.0-4 (subprotocol `mqtt` selected);
/// delivery QoS as in [`qos_levels`].
async fn websocket_transport(v: Version) {
    let b = Broker::start_with(true, false).await;
    let p = b.port();
    let mut ws_sub = Paho::new(b.ws_port(), v, &format!("ws-sub-{}", v.tag()))
        .websocket()
        .spawn(json!([
            {"op": "subscribe", "filter": "ws/t", "qos": 2},
            {"op": "wait_for", "payload": "end"},
            {"op": "wait_for", "payload": "from websocket"}
        ]));
    ws_sub.subscribed(1).await;
    let mut tcp_sub = MosqSub::subscribed(
        p,
        v,
        &format!("ws-tcp-sub-{}", v.tag()),
        &args(&["-q", "2", "-t", "ws/t"]),
    )
    .await;
    publish_q1(p, v, "ws-tcp-pub", "ws/t", "from tcp").await;
    Paho::new(b.ws_port(), v, &format!("ws-pub-{}", v.tag()))
        .websocket()
        .run(json!([
            {"op": "publish", "topic": "ws/t", "payload": "from websocket", "qos": 2},
            {"op": "publish", "topic": "ws/t", "payload": "end", "qos": 1}
        ]))
        .await;
    let wanted = ["from tcp", "from websocket", "end"];
    let mut got: Vec<(String, u64)> = ws_sub
        .messages_until_all(&wanted)
        .await
        .iter()
        .map(|m| {
            (
                m["payload"].as_str().unwrap_or_default().to_owned(),
                m["qos"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    got.sort();
    // Sorted by payload.
    let want = vec![
        ("end".to_owned(), 1),
        ("from tcp".to_owned(), 1),
        ("from websocket".to_owned(), 2),
    ];
    assert_eq!(got, want, "WebSocket subscriber: (payload, qos)");
    let mut got: Vec<(String, u64)> = tcp_sub
        .messages_until_all(&wanted)
        .await
        .iter()
        .map(|m| (m.payload.clone(), u64::from(m.qos)))
        .collect();
    got.sort();
    assert_eq!(got, want, "TCP subscriber: (payload, qos)");
    ws_sub.finish_ok().await;
    b.stop().await;
}
both_versions!(websocket_transport);

/// MQTT over TLS: a CA and a server certificate for 127.0.0.1 are
/// generated with rcgen; mosquitto_sub and mosquitto_pub (`--cafile`) and
/// paho (`tls_set(ca_certs=...)`) verify the server against the CA and
/// exchange messages through the tls listener, and with TCP clients.
///
/// 3.1.1 and 5.0 §4.2 (TLS among the network transports), chapter 5
/// (Security: TLS recommended).
async fn tls_transport(v: Version) {
    let b = Broker::start_with(false, true).await;
    let ca = b.pki.as_ref().expect("pki").ca.display().to_string();
    let tls = b.tls_port();
    let tls_args = |extra: &[&str]| {
        let mut a = args(&["--cafile", &ca]);
        a.extend(args(extra));
        a
    };
    let mut sub = MosqSub::subscribed(
        tls,
        v,
        &format!("tls-sub-{}", v.tag()),
        &tls_args(&["-q", "1", "-t", "tls/t"]),
    )
    .await;
    mosquitto_pub(
        tls,
        v,
        "tls-mosq-pub",
        &tls_args(&["-q", "2", "-t", "tls/t", "-m", "mosquitto over tls"]),
    )
    .await;
    Paho::new(tls, v, &format!("tls-paho-{}", v.tag()))
        .tls(&b.pki.as_ref().expect("pki").ca)
        .run(json!([{"op": "publish", "topic": "tls/t", "payload": "paho over tls", "qos": 1}]))
        .await;
    publish_q1(b.port(), v, "tls-tcp-pub", "tls/t", "end").await;
    let got = sub.messages_until("end").await;
    assert_eq!(
        got.iter()
            .map(|m| (m.payload.as_str(), m.qos))
            .collect::<Vec<_>>(),
        [("mosquitto over tls", 1), ("paho over tls", 1), ("end", 1)],
        "TLS subscriber"
    );
    b.stop().await;
}
both_versions!(tls_transport);
