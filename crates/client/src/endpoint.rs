//! Where a broker listens: `tcp://host:port`, `ws://host:port/path`,
//! `mqtts://host:port` (and `wss://host:port/path`), parsed from a string.

use std::fmt;
use std::str::FromStr;

/// The transport an [`Endpoint`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// MQTT over TCP (`tcp://`, also spelled `mqtt://`); default port 1883.
    Tcp,
    /// MQTT over WebSocket (`ws://`), subprotocol `mqtt`; default port 80.
    Ws,
    /// MQTT over TLS (`mqtts://`, also spelled `tls://`); default port 8883.
    Tls,
    /// MQTT over WebSocket over TLS (`wss://`); default port 443.
    Wss,
}

impl Scheme {
    /// The canonical spelling, as written before `://`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp",
            Scheme::Ws => "ws",
            Scheme::Tls => "mqtts",
            Scheme::Wss => "wss",
        }
    }

    /// The port used when the address names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Tcp => 1883,
            Scheme::Ws => 80,
            Scheme::Tls => 8883,
            Scheme::Wss => 443,
        }
    }

    /// True for the schemes carried over TLS.
    pub const fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss)
    }

    /// True for the WebSocket schemes.
    pub const fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// A broker address: scheme, host, port and (WebSocket only) path.
///
/// ```
/// use mqtt_client::{Endpoint, Scheme};
///
/// let e: Endpoint = "ws://127.0.0.1:8080/mqtt".parse().unwrap();
/// assert_eq!((e.scheme, e.host.as_str(), e.port, e.path.as_str()), (Scheme::Ws, "127.0.0.1", 8080, "/mqtt"));
/// assert_eq!(e.to_string(), "ws://127.0.0.1:8080/mqtt");
/// assert!("localhost:1883".parse::<Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The transport.
    pub scheme: Scheme,
    /// Host name or IP address (an IPv6 address without its brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The HTTP path of a WebSocket endpoint (`/` when the address has
    /// none); empty for TCP and TLS.
    pub path: String,
}

/// Why a string is not an endpoint: the string and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad endpoint {input:?}: {problem}")]
pub struct EndpointError {
    /// The string as given.
    pub input: String,
    /// What is wrong, in words.
    pub problem: String,
}

impl Endpoint {
    /// Parses `scheme://host[:port][/path]`; see [`Scheme`] for the schemes
    /// and their default ports. A path is allowed only for WebSocket.
    pub fn parse(input: &str) -> Result<Endpoint, EndpointError> {
        let fail = |problem: String| EndpointError {
            input: input.to_owned(),
            problem,
        };
        let trimmed = input.trim();
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(fail(format!(
                "no scheme; write it as tcp://{trimmed}, ws://{trimmed}/path or mqtts://{trimmed}"
            )));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "tcp" | "mqtt" => Scheme::Tcp,
            "ws" => Scheme::Ws,
            "mqtts" | "tls" => Scheme::Tls,
            "wss" => Scheme::Wss,
            other => {
                return Err(fail(format!(
                    "unknown scheme {other:?}; expected tcp, mqtt, ws, wss, mqtts or tls"
                )))
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(fail(
                "credentials in the address are not supported; put them in CONNECT".into(),
            ));
        }
        let (host, port) = split_host_port(authority).map_err(fail)?;
        let port = match port {
            None => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => {
                    return Err(fail(format!("port {p:?} is not a number from 1 to 65535")))
                }
                Ok(p) => p,
            },
        };
        let path = if scheme.is_websocket() {
            if path.is_empty() {
                "/".to_owned()
            } else {
                path.to_owned()
            }
        } else if path.is_empty() || path == "/" {
            String::new()
        } else {
            return Err(fail(format!(
                "a path ({path:?}) is only meaningful for ws:// and wss://"
            )));
        };
        Ok(Endpoint {
            scheme,
            host: host.to_owned(),
            port,
            path,
        })
    }

    /// `host:port`, with brackets around an IPv6 address: what a socket
    /// connects to and what an HTTP `Host` header carries.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.is_empty() {
        return Err("no host".into());
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("unclosed '[' around an IPv6 address".into());
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {p:?} after the IPv6 address"))?,
            ),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err("an IPv6 address must be written in brackets, e.g. [::1]:1883".into())
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    if host.chars().any(|c| c.is_whitespace()) {
        return Err(format!("host {host:?} contains whitespace"));
    }
    Ok((host, port))
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Endpoint::parse(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schemes_and_their_defaults() {
        let cases = [
            ("tcp://h:1", Scheme::Tcp, "h", 1, ""),
            ("mqtt://h", Scheme::Tcp, "h", 1883, ""),
            ("mqtts://h", Scheme::Tls, "h", 8883, ""),
            ("tls://h:9/", Scheme::Tls, "h", 9, ""),
            ("ws://h:8080", Scheme::Ws, "h", 8080, "/"),
            ("ws://h/mqtt", Scheme::Ws, "h", 80, "/mqtt"),
            ("wss://h/x?y=1", Scheme::Wss, "h", 443, "/x?y=1"),
            ("tcp://[::1]:1884", Scheme::Tcp, "::1", 1884, ""),
            ("TCP://h:2", Scheme::Tcp, "h", 2, ""),
        ];
        for (s, scheme, host, port, path) in cases {
            let e = Endpoint::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(
                (e.scheme, e.host.as_str(), e.port, e.path.as_str()),
                (scheme, host, port, path),
                "{s}"
            );
        }
        assert_eq!(
            Endpoint::parse("tcp://[::1]:1884").unwrap().to_string(),
            "tcp://[::1]:1884"
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        let cases = [
            ("localhost:1883", "no scheme"),
            ("http://h:1", "unknown scheme \"http\""),
            ("tcp://", "no host"),
            ("tcp://:1883", "no host"),
            ("tcp://h:x", "port \"x\""),
            ("tcp://h:0", "port \"0\""),
            ("tcp://h:70000", "port \"70000\""),
            ("tcp://h:1/path", "only meaningful for ws"),
            ("tcp://::1", "brackets"),
            ("tcp://[::1", "unclosed"),
            ("tcp://u:p@h", "credentials"),
        ];
        for (s, want) in cases {
            let e = Endpoint::parse(s).expect_err(s);
            assert!(e.to_string().contains(want), "{s}: {e}");
            assert!(e.to_string().contains(s), "{s}: {e}");
        }
    }
}
