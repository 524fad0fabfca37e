//! Authorisation of deliveries (MQTT 3.1.1 §5.4.2, MQTT 5.0 §5.4.2): the
//! read access of the receiver is checked for the concrete topic of every
//! copy, whatever subscription it came through; Will Messages are
//! authorised like a PUBLISH by their owner; retained messages are stored
//! only from a publisher who may publish and sent only to a subscriber who
//! may read. The ACL is the one of issue 15: alice may use
//! `private/alice/#`, nobody else any of `private/#`, everything else is
//! open; users alice and bob, anonymous clients refused.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mqtt_codec::{Packet, ProtocolVersion, QoS, ReasonCode, Will};
use mqtt_model::policy::{Access, AclRule, AllowAll, Authorizer, PasswordTable, TopicAcl};
use mqtt_model::{Broker, Config, DropReason, TraceEvent};
use support::*;

const PASSWORD: &[u8] = b"pw";

fn issue_acl() -> TopicAcl {
    TopicAcl {
        rules: vec![
            AclRule {
                username: Some("alice".into()),
                filter: "private/alice/#".into(),
                access: Access::Both,
                allow: true,
            },
            AclRule {
                username: None,
                filter: "private/#".into(),
                access: Access::Both,
                allow: false,
            },
        ],
        default_allow: true,
    }
}

fn users() -> PasswordTable {
    PasswordTable::new()
        .with_user("alice", PASSWORD)
        .with_user("bob", PASSWORD)
}

/// A broker with the users and ACL of issue 15.
fn issue_broker() -> H {
    with_authorizer(Box::new(issue_acl()))
}

fn with_authorizer(authorizer: Box<dyn Authorizer>) -> H {
    let mut h = H::new();
    h.broker = Broker::with_policies(Config::default(), Box::new(users()), authorizer);
    h
}

/// Connects `client` as `user` (password correct), optionally with a Will;
/// returns the CONNACK's reason code.
fn login_with(
    h: &mut H,
    conn: u64,
    v: ProtocolVersion,
    client: &str,
    user: &str,
    will: Option<Will>,
) -> ReasonCode {
    h.connect_with(conn, v, client, |c| {
        c.username = Some(s(user));
        c.password = Some(PASSWORD.to_vec().into());
        c.will = will;
    })
    .reason_code
}

fn login(h: &mut H, conn: u64, v: ProtocolVersion, client: &str, user: &str) {
    assert_eq!(
        login_with(h, conn, v, client, user, None),
        ReasonCode::SUCCESS
    );
}

fn will(topic: &str, retain: bool) -> Will {
    Will {
        topic: s(topic),
        payload: "gone".into(),
        qos: QoS::AtLeastOnce,
        retain,
        properties: Default::default(),
    }
}

fn topics(h: &mut H, conn: u64) -> Vec<String> {
    h.publishes(conn)
        .iter()
        .map(|p| p.topic().to_string())
        .collect()
}

/// alice on 1, bob on 2 subscribed to `filter`; alice publishes one
/// private message and two public ones.
fn bob_subscribed_to(v: ProtocolVersion, filter: &str) -> H {
    let mut h = issue_broker();
    login(&mut h, 1, v, "alice-1", "alice");
    login(&mut h, 2, v, "bob-1", "bob");
    assert_eq!(
        h.subscribe(2, filter, QoS::AtLeastOnce),
        vec![ReasonCode(1)],
        "the filter itself is granted"
    );
    h.publish(
        1,
        "private/alice/diary",
        "secret",
        QoS::AtLeastOnce,
        false,
        1,
    );
    h.publish(1, "public/news", "hello", QoS::AtLeastOnce, false, 2);
    h.publish(1, "public/news/today", "hi", QoS::AtLeastOnce, false, 3);
    h
}

fn hash_subscriber_does_not_receive_a_denied_topic(v: ProtocolVersion) {
    let mut h = bob_subscribed_to(v, "#");
    assert_eq!(topics(&mut h, 2), ["public/news", "public/news/today"]);
    assert!(h.events().contains(&TraceEvent::Dropped {
        client_id: "bob-1".into(),
        topic: "private/alice/diary".into(),
        reason: DropReason::ReceiverNotAuthorized,
    }));
    // The publisher is not told: alice's PUBLISH was accepted.
    assert!(h.sent(1).iter().all(|p| match p {
        Packet::PubAck(a) => a.reason_code == ReasonCode::SUCCESS,
        _ => true,
    }));
}

#[test]
fn hash_subscriber_does_not_receive_a_denied_topic_v311() {
    hash_subscriber_does_not_receive_a_denied_topic(V311);
}

#[test]
fn hash_subscriber_does_not_receive_a_denied_topic_v5() {
    hash_subscriber_does_not_receive_a_denied_topic(V5);
}

fn plus_subscriber_does_not_receive_a_denied_topic(v: ProtocolVersion) {
    let mut h = bob_subscribed_to(v, "+/+/+");
    assert_eq!(topics(&mut h, 2), ["public/news/today"]);
    let mut h = bob_subscribed_to(v, "+/alice/+");
    assert!(topics(&mut h, 2).is_empty());
}

#[test]
fn plus_subscriber_does_not_receive_a_denied_topic_v311() {
    plus_subscriber_does_not_receive_a_denied_topic(V311);
}

#[test]
fn plus_subscriber_does_not_receive_a_denied_topic_v5() {
    plus_subscriber_does_not_receive_a_denied_topic(V5);
}

#[test]
fn shared_subscriber_does_not_receive_a_denied_topic_v5() {
    let mut h = bob_subscribed_to(V5, "$share/g/#");
    assert_eq!(topics(&mut h, 2), ["public/news", "public/news/today"]);
}

#[test]
fn shared_subscription_gives_a_denied_topic_only_to_members_who_may_read_v5() {
    let mut h = issue_broker();
    login(&mut h, 1, V5, "alice-pub", "alice");
    login(&mut h, 2, V5, "alice-sub", "alice");
    login(&mut h, 3, V5, "bob-sub", "bob");
    h.subscribe(2, "$share/g/#", QoS::AtMostOnce);
    h.subscribe(3, "$share/g/#", QoS::AtMostOnce);
    for i in 0..4 {
        h.publish(
            1,
            "private/alice/x",
            &i.to_string(),
            QoS::AtMostOnce,
            false,
            0,
        );
    }
    // Every one goes to alice's member: none is lost to bob's turn.
    assert_eq!(h.publishes(2).len(), 4);
    assert!(h.publishes(3).is_empty());
    // Public messages still alternate between both members.
    for i in 0..4 {
        h.publish(1, "public/x", &i.to_string(), QoS::AtMostOnce, false, 0);
    }
    assert_eq!((h.publishes(2).len(), h.publishes(3).len()), (2, 2));
}

fn retained_on_a_denied_topic_is_not_sent_to_a_new_hash_subscriber(v: ProtocolVersion) {
    let mut h = issue_broker();
    login(&mut h, 1, v, "alice-1", "alice");
    h.publish(1, "private/alice/state", "on", QoS::AtLeastOnce, true, 1);
    h.publish(1, "public/state", "up", QoS::AtLeastOnce, true, 2);
    assert!(h.broker.retained().get("private/alice/state").is_some());
    login(&mut h, 2, v, "bob-1", "bob");
    h.subscribe(2, "#", QoS::AtLeastOnce);
    assert_eq!(topics(&mut h, 2), ["public/state"]);
    assert!(h.events().contains(&TraceEvent::Dropped {
        client_id: "bob-1".into(),
        topic: "private/alice/state".into(),
        reason: DropReason::ReceiverNotAuthorized,
    }));
    // alice herself still gets it.
    login(&mut h, 3, v, "alice-2", "alice");
    h.subscribe(3, "#", QoS::AtLeastOnce);
    assert_eq!(topics(&mut h, 3), ["private/alice/state", "public/state"]);
}

#[test]
fn retained_on_a_denied_topic_is_not_sent_to_a_new_hash_subscriber_v311() {
    retained_on_a_denied_topic_is_not_sent_to_a_new_hash_subscriber(V311);
}

#[test]
fn retained_on_a_denied_topic_is_not_sent_to_a_new_hash_subscriber_v5() {
    retained_on_a_denied_topic_is_not_sent_to_a_new_hash_subscriber(V5);
}

fn retained_from_a_publisher_without_access_is_not_stored(v: ProtocolVersion) {
    let mut h = issue_broker();
    login(&mut h, 1, v, "bob-1", "bob");
    h.publish(
        1,
        "private/alice/state",
        "forged",
        QoS::AtLeastOnce,
        true,
        1,
    );
    assert!(h.broker.retained().is_empty());
    login(&mut h, 2, v, "alice-1", "alice");
    h.subscribe(2, "private/alice/#", QoS::AtLeastOnce);
    assert!(h.publishes(2).is_empty());
}

#[test]
fn retained_from_a_publisher_without_access_is_not_stored_v311() {
    retained_from_a_publisher_without_access_is_not_stored(V311);
}

#[test]
fn retained_from_a_publisher_without_access_is_not_stored_v5() {
    retained_from_a_publisher_without_access_is_not_stored(V5);
}

fn allowed_user_receives_all_her_messages_through_hash(v: ProtocolVersion) {
    let mut h = issue_broker();
    login(&mut h, 1, v, "alice-pub", "alice");
    login(&mut h, 2, v, "alice-sub", "alice");
    h.subscribe(2, "#", QoS::AtLeastOnce);
    h.subscribe(2, "+/+/+", QoS::AtLeastOnce);
    h.publish(1, "private/alice/a", "1", QoS::AtLeastOnce, false, 1);
    h.publish(1, "private/alice/b/c", "2", QoS::AtMostOnce, false, 0);
    h.publish(1, "public/x", "3", QoS::AtLeastOnce, false, 2);
    assert_eq!(
        topics(&mut h, 2),
        ["private/alice/a", "private/alice/b/c", "public/x"]
    );
}

#[test]
fn allowed_user_receives_all_her_messages_through_hash_v311() {
    allowed_user_receives_all_her_messages_through_hash(V311);
}

#[test]
fn allowed_user_receives_all_her_messages_through_hash_v5() {
    allowed_user_receives_all_her_messages_through_hash(V5);
}

fn offline_session_does_not_queue_a_denied_topic(v: ProtocolVersion) {
    let mut h = issue_broker();
    login(&mut h, 1, v, "alice-1", "alice");
    h.connect_with(2, v, "bob-1", |c| {
        c.username = Some(s("bob"));
        c.password = Some(PASSWORD.to_vec().into());
        c.clean_start = false;
        if v == V5 {
            c.properties.session_expiry_interval = Some(3600);
        }
    });
    h.subscribe(2, "#", QoS::AtLeastOnce);
    h.close(2);
    h.publish(1, "private/alice/x", "secret", QoS::AtLeastOnce, false, 1);
    h.publish(1, "public/x", "hello", QoS::AtLeastOnce, false, 2);
    let queued: Vec<String> = h
        .broker
        .session("bob-1")
        .unwrap()
        .queue
        .iter()
        .map(|q| q.message.topic().to_owned())
        .collect();
    assert_eq!(queued, ["public/x"]);
}

#[test]
fn offline_session_does_not_queue_a_denied_topic_v311() {
    offline_session_does_not_queue_a_denied_topic(V311);
}

#[test]
fn offline_session_does_not_queue_a_denied_topic_v5() {
    offline_session_does_not_queue_a_denied_topic(V5);
}

fn session_resumed_by_another_user_gets_nothing_it_may_not_read(v: ProtocolVersion) {
    let mut h = issue_broker();
    login(&mut h, 1, v, "alice-pub", "alice");
    let persistent = |user: &'static str| {
        move |c: &mut mqtt_codec::Connect| {
            c.username = Some(s(user));
            c.password = Some(PASSWORD.to_vec().into());
            c.clean_start = false;
            if c.protocol_version == V5 {
                c.properties.session_expiry_interval = Some(3600);
            }
        }
    };
    h.connect_with(2, v, "device", persistent("alice"));
    h.subscribe(2, "private/alice/#", QoS::AtLeastOnce);
    // One in flight (sent, not acknowledged), one queued while offline.
    h.publish(1, "private/alice/a", "1", QoS::AtLeastOnce, false, 1);
    assert_eq!(h.publishes(2).len(), 1);
    h.close(2);
    h.publish(1, "private/alice/b", "2", QoS::AtLeastOnce, false, 2);
    // bob takes the session over with the same client id.
    let ack = h.connect_with(3, v, "device", persistent("bob"));
    assert!(ack.session_present);
    h.publish(1, "private/alice/c", "3", QoS::AtLeastOnce, false, 3);
    assert!(h.publishes(3).is_empty());
    let s = h.broker.session("device").unwrap();
    assert!(s.queue.is_empty() && s.inflight.is_empty());
}

#[test]
fn session_resumed_by_another_user_gets_nothing_it_may_not_read_v311() {
    session_resumed_by_another_user_gets_nothing_it_may_not_read(V311);
}

#[test]
fn session_resumed_by_another_user_gets_nothing_it_may_not_read_v5() {
    session_resumed_by_another_user_gets_nothing_it_may_not_read(V5);
}

/// alice subscribed to her topics on 1; bob's client on 2 with a Will on
/// alice's topic.
#[test]
fn will_its_owner_may_not_publish_is_not_published_v311() {
    let mut h = issue_broker();
    login(&mut h, 1, V311, "alice-1", "alice");
    h.subscribe(1, "private/alice/#", QoS::AtLeastOnce);
    // 3.1.1 has no way to say why: the CONNECT is accepted ...
    let code = login_with(
        &mut h,
        2,
        V311,
        "bob-1",
        "bob",
        Some(will("private/alice/status", true)),
    );
    assert_eq!(code, ReasonCode::SUCCESS);
    h.close(2);
    // ... and the Will dropped when it would be published.
    assert!(h.publishes(1).is_empty());
    assert!(h.broker.retained().is_empty());
    let events = h.events();
    assert!(events.contains(&TraceEvent::Dropped {
        client_id: "bob-1".into(),
        topic: "private/alice/status".into(),
        reason: DropReason::NotAuthorized,
    }));
    assert!(!events
        .iter()
        .any(|e| matches!(e, TraceEvent::WillPublished { .. })));
}

#[test]
fn will_its_owner_may_not_publish_refuses_the_connect_with_0x87_v5() {
    let mut h = issue_broker();
    login(&mut h, 1, V5, "alice-1", "alice");
    h.subscribe(1, "private/alice/#", QoS::AtLeastOnce);
    let code = login_with(
        &mut h,
        2,
        V5,
        "bob-1",
        "bob",
        Some(will("private/alice/status", true)),
    );
    assert_eq!(code, ReasonCode::NOT_AUTHORIZED);
    assert!(h.closed(2).is_some());
    assert!(h.broker.session("bob-1").is_none());
    assert!(h.publishes(1).is_empty());
    assert!(h.broker.retained().is_empty());
}

/// An authorizer that stops allowing PUBLISH on `will/#` once revoked.
#[derive(Debug)]
struct Revocable(Arc<AtomicBool>);

impl Authorizer for Revocable {
    fn can_publish(&self, _: &str, _: Option<&str>, topic: &str) -> bool {
        !(self.0.load(Ordering::SeqCst) && topic.starts_with("will/"))
    }
    fn can_subscribe(&self, _: &str, _: Option<&str>, _: &str) -> bool {
        true
    }
}

fn will_is_authorised_when_published(v: ProtocolVersion) {
    let revoked = Arc::new(AtomicBool::new(false));
    let mut h = with_authorizer(Box::new(Revocable(revoked.clone())));
    login(&mut h, 1, v, "watcher", "alice");
    h.subscribe(1, "will/#", QoS::AtLeastOnce);
    assert_eq!(
        login_with(&mut h, 2, v, "dying", "bob", Some(will("will/x", false))),
        ReasonCode::SUCCESS
    );
    revoked.store(true, Ordering::SeqCst);
    h.close(2);
    assert!(h.publishes(1).is_empty());
}

#[test]
fn will_is_authorised_when_published_v311() {
    will_is_authorised_when_published(V311);
}

#[test]
fn will_is_authorised_when_published_v5() {
    will_is_authorised_when_published(V5);
}

fn will_of_an_allowed_owner_reaches_only_those_who_may_read(v: ProtocolVersion) {
    let mut h = issue_broker();
    login(&mut h, 1, v, "alice-watch", "alice");
    login(&mut h, 2, v, "bob-watch", "bob");
    h.subscribe(1, "#", QoS::AtLeastOnce);
    h.subscribe(2, "#", QoS::AtLeastOnce);
    let code = login_with(
        &mut h,
        3,
        v,
        "alice-dev",
        "alice",
        Some(will("private/alice/status", true)),
    );
    assert_eq!(code, ReasonCode::SUCCESS);
    h.close(3);
    assert_eq!(topics(&mut h, 1), ["private/alice/status"]);
    assert!(topics(&mut h, 2).is_empty());
    // Retained, and still only for readers.
    assert!(h.broker.retained().get("private/alice/status").is_some());
    login(&mut h, 4, v, "bob-late", "bob");
    h.subscribe(4, "#", QoS::AtLeastOnce);
    assert!(topics(&mut h, 4).is_empty());
}

#[test]
fn will_of_an_allowed_owner_reaches_only_those_who_may_read_v311() {
    will_of_an_allowed_owner_reaches_only_those_who_may_read(V311);
}

#[test]
fn will_of_an_allowed_owner_reaches_only_those_who_may_read_v5() {
    will_of_an_allowed_owner_reaches_only_those_who_may_read(V5);
}

#[test]
fn delayed_will_is_checked_with_its_owner_and_readers_v5() {
    let mut h = issue_broker();
    login(&mut h, 1, V5, "alice-watch", "alice");
    login(&mut h, 2, V5, "bob-watch", "bob");
    h.subscribe(1, "#", QoS::AtLeastOnce);
    h.subscribe(2, "#", QoS::AtLeastOnce);
    let mut w = will("private/alice/status", false);
    w.properties.will_delay_interval = Some(5);
    h.connect_with(3, V5, "alice-dev", |c| {
        c.username = Some(s("alice"));
        c.password = Some(PASSWORD.to_vec().into());
        c.properties.session_expiry_interval = Some(60);
        c.will = Some(w);
    });
    h.close(3);
    assert!(h.publishes(1).is_empty());
    h.advance(5_000);
    assert_eq!(topics(&mut h, 1), ["private/alice/status"]);
    assert!(topics(&mut h, 2).is_empty());
}

fn no_users_accept_any_credentials(v: ProtocolVersion) {
    let mut h = H::new();
    let mut open = PasswordTable::new();
    open.allow_anonymous = true;
    h.broker = Broker::with_policies(Config::default(), Box::new(open), Box::new(AllowAll));
    let ack = h.connect_with(1, v, "c", |c| {
        c.username = Some(s("anyone"));
        c.password = Some(b"anything".to_vec().into());
    });
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
    let ack = h.connect_with(2, v, "d", |_| {});
    assert_eq!(ack.reason_code, ReasonCode::SUCCESS);
}

#[test]
fn no_users_accept_any_credentials_v311() {
    no_users_accept_any_credentials(V311);
}

#[test]
fn no_users_accept_any_credentials_v5() {
    no_users_accept_any_credentials(V5);
}

#[test]
fn without_an_acl_nothing_is_filtered() {
    for v in [V311, V5] {
        let mut h = H::new();
        h.connect(1, v, "pub", true);
        h.connect(2, v, "sub", true);
        h.subscribe(2, "#", QoS::AtMostOnce);
        h.publish(1, "private/alice/x", "x", QoS::AtMostOnce, false, 0);
        assert_eq!(topics(&mut h, 2), ["private/alice/x"]);
        assert!(!h.events().iter().any(|e| matches!(
            e,
            TraceEvent::Dropped {
                reason: DropReason::ReceiverNotAuthorized,
                ..
            }
        )));
    }
}
