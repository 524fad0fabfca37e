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

/// Decides whether a client may publish to a topic or subscribe to a
/// filter (§5.4.2).
pub trait Authorizer: std::fmt::Debug + Send {
    /// May `client_id` (logged in as `username`) publish to `topic`?
    fn can_publish(&self, client_id: &str, username: Option<&str>, topic: &str) -> bool;
    /// May `client_id` (logged in as `username`) subscribe to `filter`?
    fn can_subscribe(&self, client_id: &str, username: Option<&str>, filter: &str) -> bool;
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
}

/// A user name / password table. Clients without a user name are accepted
/// only when `allow_anonymous` is set.
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
    /// PUBLISH only.
    Publish,
    /// SUBSCRIBE only.
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
/// subscription taken literally), or when both are equal.
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
}
