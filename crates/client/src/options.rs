//! How to open a connection: the time allowed, TLS trust, and the protocol
//! version received packets are decoded in until a CONNECT sets it.

use std::path::PathBuf;
use std::time::Duration;

use mqtt_codec::ProtocolVersion;

/// Options for [`TestClient::open`](crate::TestClient::open).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The bound on opening the connection: name resolution, TCP connect
    /// and the TLS and WebSocket handshakes together. Default 10 s.
    pub connect_timeout: Duration,
    /// The bound on one write (and on the closing handshake of
    /// [`disconnect`](crate::TestClient::disconnect)): a broker that stops
    /// reading makes sends fail with `TimedOut` instead of hanging.
    /// Default 30 s.
    pub write_timeout: Duration,
    /// Trust settings for `mqtts://` and `wss://`.
    pub tls: TlsOptions,
    /// The version packets are encoded and decoded in until the client
    /// sends a CONNECT (whose Protocol Level then decides) or
    /// [`TestClient::set_version`](crate::TestClient::set_version) is
    /// called. Default MQTT 5.0.
    pub version: ProtocolVersion,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            tls: TlsOptions::default(),
            version: ProtocolVersion::V5,
        }
    }
}

impl ConnectOptions {
    /// Sets [`ConnectOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`ConnectOptions::write_timeout`].
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`ConnectOptions::tls`].
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Sets [`ConnectOptions::version`].
    pub fn version(mut self, version: ProtocolVersion) -> Self {
        self.version = version;
        self
    }
}

/// How a TLS client decides to trust the broker. One of `ca_file` or
/// `insecure` is needed: there is no built-in root store, since test
/// brokers almost always use a private CA or a self-signed certificate.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// A PEM file of CA certificates to verify the broker's chain against.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (for self-signed test brokers). Handshake
    /// signatures are still checked; the chain and name are not.
    pub insecure: bool,
    /// The name sent as SNI and checked against the certificate; the
    /// endpoint's host when absent. An IP address is checked against the
    /// certificate's IP SANs and sends no SNI.
    pub server_name: Option<String>,
}

impl TlsOptions {
    /// Trust the CAs in a PEM file.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        TlsOptions {
            ca_file: Some(path.into()),
            ..TlsOptions::default()
        }
    }

    /// Trust any certificate.
    pub fn insecure() -> Self {
        TlsOptions {
            insecure: true,
            ..TlsOptions::default()
        }
    }

    /// Sets [`TlsOptions::server_name`].
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }
}
