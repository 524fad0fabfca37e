//! The load run's trace is what the model's checker reads: events of the
//! swarm, in the order the collector gets them (batches of several tasks,
//! a little out of time order), become a `mqtt-harness-trace/1` file in
//! time order that checks clean, and a message acknowledged but never
//! delivered is found as `acked-then-lost`.

use mqtt_model::checker::{check_str, CheckOptions};
use mqtt_swarm::event::Event;
use mqtt_swarm::payload::Header;
use mqtt_swarm::plan::{Plan, Shard};
use mqtt_swarm::trace::{Trace, TraceMeta};
use mqtt_swarm::Profile;

const PROFILE: &str = "
name: t
duration: 1s
clean_session: false
session_expiry: 60
groups:
  - {name: p, role: publisher, count: 1, topic: 'a/{id}', rate: 1, qos: 1}
  - {name: s, role: subscriber, count: 1, topic: 'a/+', qos: 1}
";

fn header(seq: u64) -> Header {
    Header {
        qos: 1,
        publisher: 0,
        seq,
        intended_ns: 0,
        sent_ns: 0,
    }
}

fn events(deliver_second: bool) -> Vec<Event> {
    let ms = 1_000_000;
    let connected = |client, at_ns| Event::Connected {
        client,
        latency_ns: ms,
        clean: false,
        session_present: false,
        down_ns: None,
        at_ns,
    };
    let sent = |seq, at_ns| Event::Sent {
        publisher: 0,
        seq,
        qos: 1,
        bytes: 64,
        dup: false,
        at_ns,
    };
    let owned = |seq, at_ns| Event::Owned {
        publisher: 0,
        seq,
        qos: 1,
        corrected_ns: ms,
        raw_ns: ms,
        at_ns,
    };
    let delivered = |seq, at_ns| Event::Delivered {
        subscriber: 1,
        qos: 1,
        dup: false,
        header: header(seq),
        at_ns,
    };
    // The subscriber's batch reaches the collector before the publisher's.
    let mut v = vec![
        connected(1, ms),
        Event::SubAcked {
            client: 1,
            latency_ns: ms,
            granted: Some(1),
            at_ns: 2 * ms,
        },
        delivered(0, 12 * ms),
    ];
    if deliver_second {
        v.push(delivered(1, 22 * ms));
    }
    v.extend([
        connected(0, 5 * ms),
        sent(0, 10 * ms),
        owned(0, 13 * ms),
        sent(1, 20 * ms),
        owned(1, 23 * ms),
    ]);
    v
}

fn trace_of(events: &[Event]) -> String {
    let p = Profile::from_yaml(PROFILE, "t.yaml").unwrap();
    let plan = Plan::new(&p, Shard::default(), "x").unwrap();
    let mut t = Trace::new(
        TraceMeta {
            version: "5.0",
            target: "ref".into(),
            durable: true,
            session_expiry: Some(60),
        },
        0,
    );
    for e in events {
        t.event(&plan, e);
    }
    let mut out = Vec::new();
    t.write(30_000_000, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_run_where_everything_arrived_checks_clean() {
    let text = trace_of(&events(true));
    // Time order restored: the first publish comes before its delivery.
    let publish = text.find("\"publish\"").unwrap();
    let received = text.find("\"received\"").unwrap();
    assert!(publish < received, "{text}");
    let r = check_str(&text, CheckOptions::default()).unwrap();
    assert!(!r.has_failures(), "{}", r.to_text(10));
}

#[test]
fn an_acknowledged_message_never_delivered_is_found() {
    let text = trace_of(&events(false));
    let r = check_str(&text, CheckOptions::default()).unwrap();
    assert!(r.has_failures(), "{text}");
    assert!(
        r.to_text(10).contains("acked-then-lost"),
        "{}",
        r.to_text(10)
    );
}
