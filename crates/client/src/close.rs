//! How a connection ended: who closed it, how, and whether the broker said
//! why with a DISCONNECT first.

use std::fmt;
use std::time::Duration;

use mqtt_codec::Disconnect;

use crate::describe;

/// How the byte stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseKind {
    /// The peer closed in order: TCP FIN, a TLS close, or a WebSocket Close
    /// frame (or the TCP stream under it ending).
    Eof,
    /// The peer reset the connection (ECONNRESET, ECONNABORTED, EPIPE).
    Reset,
    /// The transport failed some other way (a TLS alert, a WebSocket
    /// protocol error, a text frame where MQTT needs binary ones).
    Error(String),
    /// This client closed it with
    /// [`drop_connection`](crate::TestClient::drop_connection).
    Dropped,
}

impl fmt::Display for CloseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseKind::Eof => f.write_str("EOF"),
            CloseKind::Reset => f.write_str("reset"),
            CloseKind::Error(e) => write!(f, "transport error: {e}"),
            CloseKind::Dropped => f.write_str("dropped by this client"),
        }
    }
}

/// What [`expect_closed`](crate::TestClient::expect_closed) observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReport {
    /// When the stream ended, since the connection was opened.
    pub at: Duration,
    /// How it ended.
    pub kind: CloseKind,
    /// The DISCONNECT the broker sent before closing (MQTT 5.0 servers send
    /// one with a reason code before closing for a protocol error), if any:
    /// the last one received that no expect had consumed.
    pub disconnect: Option<Disconnect>,
}

impl CloseReport {
    /// True when the broker (not this client) ended the connection.
    pub fn by_server(&self) -> bool {
        self.kind != CloseKind::Dropped
    }
}

impl fmt::Display for CloseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = describe::duration(self.at);
        match &self.kind {
            CloseKind::Dropped => write!(f, "this client closed the connection after {at}"),
            kind => {
                write!(f, "the server closed the connection after {at} ({kind}")?;
                match &self.disconnect {
                    Some(d) => write!(f, " after DISCONNECT {})", d.reason_code),
                    None => f.write_str(", no DISCONNECT)"),
                }
            }
        }
    }
}
