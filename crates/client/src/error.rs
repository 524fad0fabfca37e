//! What can go wrong, as types, with messages a person understands:
//! "expected SUBACK for packet id 3 within 5s; got nothing; connection
//! still open".
//!
//! The broker's misbehaviour (a malformed packet, a packet that does not
//! match, a close) is kept apart from the caller's mistakes (a bad
//! endpoint, a packet the codec refuses to encode) and from the network
//! failing (connect, IO, TLS).

use std::io;
use std::time::Duration;

use mqtt_codec::{EncodeError, Packet, Violation};

use crate::close::CloseReport;
use crate::describe;
use crate::endpoint::EndpointError;

/// An error of the test client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The endpoint string does not parse.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),

    /// The connection could not be opened: unreachable, refused, timed out,
    /// or a failed TLS or WebSocket handshake.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The endpoint, as written.
        addr: String,
        /// The cause (`TimedOut` when the bound ran out).
        #[source]
        source: io::Error,
    },

    /// The TLS settings are unusable (no trust anchor, an unreadable CA
    /// file, a bad server name).
    #[error("TLS settings for {addr}: {problem}")]
    Tls {
        /// The endpoint, as written.
        addr: String,
        /// What is wrong.
        problem: String,
    },

    /// Nothing matching arrived in time; the connection is still open.
    #[error(
        "expected {what} within {}; got {}; connection still open",
        describe::duration(*.waited),
        describe::others(.unmatched)
    )]
    Timeout {
        /// What was expected (the matcher's description).
        what: String,
        /// How long the expect waited.
        waited: Duration,
        /// Packets received and not consumed, none of which matched.
        unmatched: Vec<Packet>,
    },

    /// The connection ended before anything matching arrived.
    #[error("expected {what}; got {}; {close}", describe::others(.unmatched))]
    Closed {
        /// What was expected.
        what: String,
        /// How the connection ended.
        close: Box<CloseReport>,
        /// Packets received and not consumed, none of which matched.
        unmatched: Vec<Packet>,
    },

    /// The broker sent bytes the strict decoder rejects: itself a finding.
    /// The [`Violation`] names the statement broken (e.g. `MQTT-3.3.1-4`).
    #[error(
        "expected {what}; the broker sent a malformed packet after {}: {violation}",
        describe::duration(*.at)
    )]
    MalformedFromBroker {
        /// What was expected when the malformed packet was found.
        what: String,
        /// The rule the broker's packet breaks.
        violation: Box<Violation>,
        /// When it arrived, since the connection was opened.
        at: Duration,
    },

    /// A packet arrived that the expectation rules out: the next packet for
    /// [`expect_next`](crate::TestClient::expect_next), any matching one for
    /// [`expect_nothing`](crate::TestClient::expect_nothing).
    #[error("expected {what}; got {} after {}", describe::describe(.got), describe::duration(*.at))]
    Unexpected {
        /// What was expected.
        what: String,
        /// The packet that arrived (left in the inbox).
        got: Box<Packet>,
        /// When it arrived, since the connection was opened.
        at: Duration,
    },

    /// Sending is impossible: the connection is already closed.
    #[error("cannot send {what}: {close}")]
    NotOpen {
        /// What was to be sent.
        what: String,
        /// How the connection ended.
        close: Box<CloseReport>,
    },

    /// Reading or writing failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },

    /// The codec refuses to encode the packet (it breaks a rule, or does
    /// not exist in the version); send such bytes with
    /// [`send_raw`](crate::TestClient::send_raw).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl ClientError {
    /// The broker's violation, when this error is a malformed packet from it.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            ClientError::MalformedFromBroker { violation, .. } => Some(&**violation),
            _ => None,
        }
    }

    /// True for a timeout (nothing matching, connection still open).
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Timeout { .. })
    }
}
