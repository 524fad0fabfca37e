//! Pluggable authentication and authorisation (MQTT 3.1.1 §5.4.1-2,
//! MQTT 5.0 §5.4.1-2), with simple default implementations.

use std::collections::BTreeMap;

use mqtt_codec::topic::matches;

/// The outcome of authenticating a CONNECT (3.1.1 return codes 0x04/0x05,
/// 5.0 reason codes 0x86/0x87).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDecision {
    /// The client may connect.
    Accept,
    /// Wrong or missing user name or password: 3.1.1 0x04, 5.0 0x86.
    BadCredentials,
    /// The client is known but not allowed to connect: 3.1.1 0x05, 5.0 0x87.
    NotAuthorized,
}

/// Decides whether a CONNECT's credentials are accepted (MQTT-3.1.4-2 in
/// 5.0: "SHOULD perform authentication").
pub trait Authenticator: std::fmt::Debug + Send {
    /// Decides on a client's credentials.
    fn authenticate(
        &self,
        client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> AuthDecision;
}

/// Decides whether a client may publish to a topic, subscribe to a
/// filter, and receive a message published on a topic (§5.4.2).
///
/// The broker asks [`Authorizer::can_publish`] for every PUBLISH and for
/// every Will Message (by its owner, when it is published and, in 5.0, at
/// CONNECT), [`Authorizer::can_subscribe`] for every filter of a
/// SUBSCRIBE, and [`Authorizer::can_read`] for every copy of a message
/// about to be given to a session: through any subscription (wildcards and
/// shared subscriptions included), retained messages sent on SUBSCRIBE,
/// and Will Messages. A policy must answer the same for the same inputs:
/// the broker stays deterministic.
pub trait Authorizer: std::fmt::Debug + Send {
    /// May `client_id` (logged in as `username`) publish to `topic`?
    fn can_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool;
    /// May `client_id` (logged in as `username`) subscribe to `filter`
    /// (as subscribed, `$share/{group}/` prefix included)?
    fn can_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool;
    /// May `client_id` (logged in as `username`) receive a message
    /// published on the topic name `topic`? A subscription to `#` does not
    /// grant every topic: each delivery is checked with its concrete topic.
    /// The default applies the subscribe decision to the topic name (a
    /// topic name is a filter without wildcards).
    fn can_read(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool {
        self.can_subscribe(client_id, username, topic)
    }
    /// True when this policy allows every operation to every client: the
    /// broker then skips the per-delivery [`Authorizer::can_read`] check,
    /// so that a broker without an ACL pays nothing for it. The default,
    /// false, is always safe.
    fn is_open(&self) -> bool {
        false
    }
}

/// Accepts every client and allows everything: the default policy.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl Authenticator for AllowAll {
    fn authenticate(&self, _: &str, _: Option<&str>, _: Option<&[u8]>) -> AuthDecision {
        AuthDecision::Accept
    }
}

impl Authorizer for AllowAll {
    fn can_publish(&self, _: &str, _: Option<&str>, _: &str) -> bool {
        true
    }
    fn can_subscribe(&self, _: &str, _: Option<&str>, _: &str) -> bool {
        true
    }
    fn can_read(&self, _: &str, _: Option<&str>, _: &str) -> bool {
        true
    }
    fn is_open(&self) -> bool {
        true
    }
}

/// A user name / password table. Clients without a user name are accepted
/// only when `allow_anonymous` is set.
///
/// A table with no users and `allow_anonymous` set checks nothing: every
/// client is accepted, with or without a user name and password (as
/// mosquitto does with `allow_anonymous true` and no password file). With
/// users, a user name must be one of them with its password (else 3.1.1
/// 0x04, 5.0 0x86), and a client without one is refused (3.1.1 0x05, 5.0
/// 0x87) unless `allow_anonymous`.
#[derive(Debug, Clone, Default)]
pub struct PasswordTable {
    users: BTreeMap<String, Vec<u8>>,
    /// Accept clients that send no user name.
    pub allow_anonymous: bool,
}

impl PasswordTable {
    /// An empty table that refuses anonymous clients.
    pub fn new() -> Self {
        PasswordTable::default()
    }

    /// Adds (or replaces) a user.
    pub fn with_user(mut self, username: &str, password: &[u8]) -> Self {
        self.users.insert(username.to_owned(), password.to_vec());
        self
    }
}

impl Authenticator for PasswordTable {
    fn authenticate(
        &self,
        _client_id: &str,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> AuthDecision {
        if self.users.is_empty() && self.allow_anonymous {
            return AuthDecision::Accept;
        }
        match username {
            None if self.allow_anonymous => AuthDecision::Accept,
            None => AuthDecision::NotAuthorized,
            Some(u) => match self.users.get(u) {
                Some(p) if Some(p.as_slice()) == password => AuthDecision::Accept,
                _ => AuthDecision::BadCredentials,
            },
        }
    }
}

/// What an ACL rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// PUBLISH (and Will Messages) only.
    Publish,
    /// Reading only: SUBSCRIBE, and receiving messages published on the
    /// topics covered.
    Subscribe,
    /// Both.
    Both,
}

/// One rule of a [`TopicAcl`]: for a user (or everyone), a topic filter,
/// the access it concerns, and whether it allows or denies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    /// The user the rule is for; `None` for everyone.
    pub username: Option<String>,
    /// The topic filter the rule covers (wildcards allowed).
    pub filter: String,
    /// Which operations it concerns.
    pub access: Access,
    /// Allow (true) or deny (false).
    pub allow: bool,
}

/// A per-topic ACL: the first rule that applies decides; when none does,
/// `default_allow`. A subscription filter is covered by a rule when the
/// rule's filter matches it read as a topic name (wildcards in the
/// subscription taken literally), or when both are equal. Read access
/// ([`Authorizer::can_read`]) is decided by the rules for
/// [`Access::Subscribe`] and [`Access::Both`] on the concrete topic of each
/// message delivered: a subscription to `#` is granted, and receives only
/// what its user may read.
#[derive(Debug, Clone, Default)]
pub struct TopicAcl {
    /// Rules, first match wins.
    pub rules: Vec<AclRule>,
    /// The decision when no rule applies.
    pub default_allow: bool,
}

impl TopicAcl {
    fn decide(&self, username: Option<&str>, target: &str, publish: bool) -> bool {
        for r in &self.rules {
            let user_ok = r.username.is_none() || r.username.as_deref() == username;
            let access_ok = matches!(
                (r.access, publish),
                (Access::Both, _) | (Access::Publish, true) | (Access::Subscribe, false)
            );
            if user_ok && access_ok && (r.filter == target || matches(&r.filter, target)) {
                return r.allow;
            }
        }
        self.default_allow
    }
}

impl Authorizer for TopicAcl {
    fn can_publish(&self, _: &str, username: Option<&str>, topic: &str) -> bool {
        self.decide(username, topic, true)
    }
    fn can_subscribe(&self, _: &str, username: Option<&str>, filter: &str) -> bool {
        self.decide(username, filter, false)
    }
    fn can_read(&self, _: &str, username: Option<&str>, topic: &str) -> bool {
        self.decide(username, topic, false)
    }
    /// Open when nothing can be denied: no deny rule and allow by default.
    fn is_open(&self) -> bool {
        self.default_allow && self.rules.iter().all(|r| r.allow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_table_decides() {
        let t = PasswordTable::new().with_user("u", b"p");
        assert_eq!(
            t.authenticate("c", Some("u"), Some(b"p")),
            AuthDecision::Accept
        );
        assert_eq!(
            t.authenticate("c", Some("u"), Some(b"x")),
            AuthDecision::BadCredentials
        );
        assert_eq!(t.authenticate("c", None, None), AuthDecision::NotAuthorized);
    }

    #[test]
    fn acl_first_rule_wins() {
        let acl = TopicAcl {
            rules: vec![AclRule {
                username: None,
                filter: "secret/#".into(),
                access: Access::Both,
                allow: false,
            }],
            default_allow: true,
        };
        assert!(!acl.can_publish("c", None, "secret/x"));
        assert!(!acl.can_subscribe("c", None, "secret/+"));
        assert!(acl.can_publish("c", None, "public"));
    }

    #[test]
    fn password_table_without_users_accepts_any_credentials() {
        let open = PasswordTable {
            allow_anonymous: true,
            ..PasswordTable::new()
        };
        assert_eq!(
            open.authenticate("c", Some("who"), Some(b"ever")),
            AuthDecision::Accept
        );
        assert_eq!(open.authenticate("c", None, None), AuthDecision::Accept);
        // Closed explicitly: nobody can log in.
        let closed = PasswordTable::new();
        assert_eq!(
            closed.authenticate("c", Some("who"), Some(b"ever")),
            AuthDecision::BadCredentials
        );
        assert_eq!(
            closed.authenticate("c", None, None),
            AuthDecision::NotAuthorized
        );
        // With users, anonymous allowed: credentials are still checked.
        let mut t = PasswordTable::new().with_user("u", b"p");
        t.allow_anonymous = true;
        assert_eq!(
            t.authenticate("c", Some("u"), Some(b"x")),
            AuthDecision::BadCredentials
        );
        assert_eq!(t.authenticate("c", None, None), AuthDecision::Accept);
    }

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

    #[test]
    fn acl_read_is_decided_on_the_concrete_topic() {
        let acl = issue_acl();
        // Subscribing to `#` is granted (the filter is taken literally) ...
        assert!(acl.can_subscribe("b", Some("bob"), "#"));
        // ... but reading alice's topics is not.
        assert!(!acl.can_read("b", Some("bob"), "private/alice/x"));
        assert!(acl.can_read("b", Some("bob"), "public/x"));
        assert!(acl.can_read("a", Some("alice"), "private/alice/x"));
        assert!(!acl.can_read("a", Some("alice"), "private/bob/x"));
    }

    #[test]
    fn acl_is_open_only_when_nothing_can_be_denied() {
        assert!(AllowAll.is_open());
        assert!(TopicAcl {
            rules: Vec::new(),
            default_allow: true
        }
        .is_open());
        assert!(!TopicAcl::default().is_open());
        assert!(!issue_acl().is_open());
    }
}
