//! The server's YAML configuration: listeners, capabilities, users and ACL.
//!
//! ```yaml
//! listeners:
//!   - { protocol: tcp, bind: "127.0.0.1:1883" }
//!   - { protocol: ws,  bind: "127.0.0.1:8080" }
//!   - { protocol: tls, bind: "127.0.0.1:8883", cert: cert.pem, key: key.pem }
//! capabilities: { maximum_qos: 2, retain_available: true, topic_alias_maximum: 10 }
//! users: [ { username: alice, password: secret } ]
//! allow_anonymous: false
//! acl:
//!   - { username: alice, filter: "private/#", access: both, allow: true }
//!   - { filter: "private/#", access: both, allow: false }
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mqtt_codec::QoS;
use serde::Deserialize;

/// Why a configuration could not be loaded: the file, and where in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The YAML is malformed or does not fit the schema.
    #[error("{origin}:{line}:{column}: {message}")]
    Yaml {
        /// The file (or `<string>`).
        origin: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is out of its range.
    #[error("{origin}: {message}")]
    Invalid {
        /// The file (or `<string>`).
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// The whole server configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where to listen; one TCP listener on 127.0.0.1:1883 by default.
    #[serde(default = "default_listeners")]
    pub listeners: Vec<ListenerConfig>,
    /// Capabilities and limits, announced in CONNACK (5.0).
    #[serde(default)]
    pub capabilities: Capabilities,
    /// Users and passwords; empty means no authentication: every client is
    /// accepted, with or without a user name and password, unless
    /// `allow_anonymous` is false.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Accept clients without a user name. Default: true when `users` is
    /// empty, false otherwise. With users, a client that sends a user name
    /// must match one (else CONNACK 0x86, 3.1.1 return code 4); one
    /// without is refused with 0x87 (3.1.1: 5) unless this is true.
    #[serde(default)]
    pub allow_anonymous: Option<bool>,
    /// Per-topic rules, first match wins. `publish` covers PUBLISH and
    /// Will Messages (a 5.0 CONNECT whose Will its user may not publish is
    /// refused with 0x87; a 3.1.1 Will is dropped when it would be
    /// published). `subscribe` covers reading: the filter of SUBSCRIBE, and
    /// the topic of every message delivered, whatever subscription it
    /// matched (`#`, `+`, shared) and retained messages included.
    #[serde(default)]
    pub acl: Vec<AclRuleConfig>,
    /// The decision when no ACL rule applies (default: allow).
    #[serde(default = "yes")]
    pub acl_default_allow: bool,
    /// Durable state (`data: { dir: DIR, fsync: always }`): sessions,
    /// queued and in-flight messages and retained messages kept in
    /// `DIR/state.redb` across restarts. Absent: everything in memory.
    #[serde(default)]
    pub data: Option<crate::store::DataConfig>,
}

fn yes() -> bool {
    true
}

fn default_listeners() -> Vec<ListenerConfig> {
    vec![ListenerConfig {
        protocol: ListenerProtocol::Tcp,
        bind: SocketAddr::from(([127, 0, 0, 1], 1883)),
        cert: None,
        key: None,
    }]
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listeners: default_listeners(),
            capabilities: Capabilities::default(),
            users: Vec::new(),
            allow_anonymous: None,
            acl: Vec::new(),
            acl_default_allow: true,
            data: None,
        }
    }
}

/// The transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerProtocol {
    /// MQTT over TCP (§4.2).
    Tcp,
    /// MQTT over WebSocket, subprotocol `mqtt` (§6).
    Ws,
    /// MQTT over TLS (§5.5).
    Tls,
}

/// One listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// Transport.
    pub protocol: ListenerProtocol,
    /// Address and port; port 0 picks a free one.
    pub bind: SocketAddr,
    /// PEM certificate chain (TLS only).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// PEM private key (TLS only).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

/// Capabilities and limits (MQTT 5.0 §3.2.2.3); absent ones keep the
/// defaults of [`mqtt_model::Config`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Maximum QoS: 0, 1 or 2.
    pub maximum_qos: Option<u8>,
    /// Retain Available.
    pub retain_available: Option<bool>,
    /// Wildcard Subscription Available.
    pub wildcard_subscription_available: Option<bool>,
    /// Subscription Identifier Available.
    pub subscription_identifier_available: Option<bool>,
    /// Shared Subscription Available.
    pub shared_subscription_available: Option<bool>,
    /// Topic Alias Maximum accepted from clients.
    pub topic_alias_maximum: Option<u16>,
    /// Receive Maximum (inbound QoS 2 awaiting PUBREL).
    pub receive_maximum: Option<u16>,
    /// Maximum Packet Size accepted, bytes.
    pub maximum_packet_size: Option<u32>,
    /// Server Keep Alive, seconds.
    pub server_keep_alive: Option<u16>,
    /// QoS 1/2 messages queued per session.
    pub max_queued_messages: Option<usize>,
    /// Maximum Session Expiry Interval, seconds.
    pub maximum_session_expiry: Option<u32>,
    /// Accept zero-length client identifiers and assign one.
    pub allow_empty_client_id: Option<bool>,
}

/// A user and password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User Name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// An ACL rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AclRuleConfig {
    /// The user it applies to; absent for everyone.
    #[serde(default)]
    pub username: Option<String>,
    /// Topic filter covered.
    pub filter: String,
    /// `publish`, `subscribe` or `both`.
    pub access: AccessConfig,
    /// Allow or deny.
    pub allow: bool,
}

/// Which operations an ACL rule covers.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessConfig {
    /// PUBLISH.
    Publish,
    /// SUBSCRIBE.
    Subscribe,
    /// Both.
    Both,
}

impl ServerConfig {
    /// Loads a YAML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// Parses YAML; `origin` names the source in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: ServerConfig = serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml {
            origin: origin.to_owned(),
            line: e.location().map_or(0, |l| l.line()),
            column: e.location().map_or(0, |l| l.column()),
            message: e.to_string(),
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        if let Some(q) = self.capabilities.maximum_qos {
            if q > 2 {
                return Err(invalid(format!(
                    "capabilities.maximum_qos is {q}; it must be 0, 1 or 2"
                )));
            }
        }
        if self.capabilities.receive_maximum == Some(0) {
            return Err(invalid(
                "capabilities.receive_maximum must not be 0 (MQTT 5.0 §3.2.2.3.3)".into(),
            ));
        }
        if self.capabilities.maximum_packet_size == Some(0) {
            return Err(invalid(
                "capabilities.maximum_packet_size must not be 0 (MQTT 5.0 §3.2.2.3.6)".into(),
            ));
        }
        for (i, l) in self.listeners.iter().enumerate() {
            if l.protocol == ListenerProtocol::Tls && (l.cert.is_none() || l.key.is_none()) {
                return Err(invalid(format!(
                    "listeners[{i}]: a tls listener needs `cert` and `key`"
                )));
            }
        }
        for (i, r) in self.acl.iter().enumerate() {
            if let Err(v) =
                mqtt_codec::topic::validate_topic_filter(&r.filter, mqtt_codec::ProtocolVersion::V5)
            {
                return Err(invalid(format!("acl[{i}].filter: {v}")));
            }
        }
        Ok(())
    }

    /// The model's configuration for these capabilities.
    pub fn model_config(&self) -> mqtt_model::Config {
        let c = &self.capabilities;
        let mut m = mqtt_model::Config::default();
        if let Some(q) = c.maximum_qos.and_then(QoS::from_bits) {
            m.maximum_qos = q;
        }
        macro_rules! copy {
            ($($field:ident),*) => { $( if let Some(v) = c.$field.clone() { m.$field = v; } )* };
        }
        copy!(
            retain_available,
            wildcard_subscription_available,
            subscription_identifier_available,
            shared_subscription_available,
            topic_alias_maximum,
            receive_maximum,
            max_queued_messages,
            allow_empty_client_id
        );
        m.maximum_packet_size = c.maximum_packet_size.or(m.maximum_packet_size);
        m.server_keep_alive = c.server_keep_alive.or(m.server_keep_alive);
        m.maximum_session_expiry = c.maximum_session_expiry.or(m.maximum_session_expiry);
        m
    }

    /// The authentication policy: with no users and anonymous clients
    /// allowed (the default), it checks nothing.
    pub fn authenticator(&self) -> mqtt_model::policy::PasswordTable {
        let mut table = mqtt_model::policy::PasswordTable::new();
        for u in &self.users {
            table = table.with_user(&u.username, u.password.as_bytes());
        }
        table.allow_anonymous = self.allow_anonymous.unwrap_or(self.users.is_empty());
        table
    }

    /// The authorisation policy. Without rules (and allowed by default) it
    /// is open, and the broker checks nothing per delivery.
    pub fn authorizer(&self) -> mqtt_model::policy::TopicAcl {
        use mqtt_model::policy::{Access, AclRule, TopicAcl};
        TopicAcl {
            rules: self
                .acl
                .iter()
                .map(|r| AclRule {
                    username: r.username.clone(),
                    filter: r.filter.clone(),
                    access: match r.access {
                        AccessConfig::Publish => Access::Publish,
                        AccessConfig::Subscribe => Access::Subscribe,
                        AccessConfig::Both => Access::Both,
                    },
                    allow: r.allow,
                })
                .collect(),
            default_allow: self.acl_default_allow,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses() {
        let c = ServerConfig::from_yaml(
            "listeners:\n  - { protocol: tcp, bind: \"127.0.0.1:0\" }\n\
             capabilities: { maximum_qos: 1, topic_alias_maximum: 5 }\n\
             users: [ { username: a, password: b } ]\n\
             acl: [ { filter: \"x/#\", access: publish, allow: false } ]\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(c.model_config().maximum_qos, QoS::AtLeastOnce);
        assert_eq!(c.model_config().topic_alias_maximum, 5);
        assert!(!c.authenticator().allow_anonymous);
    }

    #[test]
    fn no_users_accept_everyone_unless_anonymous_is_off() {
        use mqtt_model::policy::{Authenticator, Authorizer};
        use mqtt_model::AuthDecision;
        let open = ServerConfig::default();
        let decide = |c: &ServerConfig| c.authenticator().authenticate("c", Some("u"), Some(b"p"));
        assert_eq!(decide(&open), AuthDecision::Accept);
        assert!(open.authorizer().is_open());
        let closed = ServerConfig::from_yaml("allow_anonymous: false\n", "t.yaml").unwrap();
        assert_eq!(decide(&closed), AuthDecision::BadCredentials);
        assert_eq!(
            closed.authenticator().authenticate("c", None, None),
            AuthDecision::NotAuthorized
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = ServerConfig::from_yaml("listeners:\n  - { protocol: udp, bind: x }\n", "s.yaml")
            .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("s.yaml:2:"), "{text}");
        let e = ServerConfig::from_yaml("bogus: 1\n", "s.yaml").unwrap_err();
        assert!(e.to_string().contains("unknown field `bogus`"), "{e}");
        let e =
            ServerConfig::from_yaml("capabilities: { maximum_qos: 3 }\n", "s.yaml").unwrap_err();
        assert!(e.to_string().contains("maximum_qos is 3"), "{e}");
    }
}
