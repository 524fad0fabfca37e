//! # mqtt-client
//!
//! The async test client of mqtt-harness, driven by the conformance
//! runner, the property tests and the fuzzer. It is not a client library
//! for applications: it sends whatever the test says, valid or not, and
//! reports exactly what the broker did, with timestamps.
//!
//! * [`Endpoint`]: `tcp://host:port`, `ws://host:port/path` (subprotocol
//!   `mqtt`, binary frames), `mqtts://host:port` (TLS with a CA file or
//!   `insecure`, and an SNI name), `wss://host:port/path`.
//! * [`TestClient`]: [`open`](TestClient::open) (network only, bounded
//!   by a timeout), [`send`](TestClient::send) any [`Packet`](mqtt_codec::Packet) or
//!   [`send_raw`](TestClient::send_raw) any bytes, then
//!   [`expect`](TestClient::expect), [`expect_next`](TestClient::expect_next),
//!   [`expect_nothing`](TestClient::expect_nothing) and
//!   [`expect_closed`](TestClient::expect_closed) with timeouts. A reader
//!   task queues every packet from the moment the connection opens, so
//!   expects are race-free by construction.
//! * [`Trace`]: everything sent and received, decode errors and the
//!   close, each timestamped since the connection opened.
//! * [`ClientError`]: typed errors whose messages read like
//!   "expected SUBACK for packet id 3 within 5s; got nothing; connection
//!   still open". A malformed packet from the broker is its own kind,
//!   carrying the codec's [`Violation`](mqtt_codec::Violation), which
//!   names the statement broken.
//!
//! ```no_run
//! use std::time::Duration;
//! use mqtt_client::{ConnectOptions, Matcher, TestClient};
//! use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion, QoS, Subscribe, Subscription, SubscriptionOptions};
//!
//! # async fn run() -> Result<(), mqtt_client::ClientError> {
//! let wait = Duration::from_secs(5);
//! let mut c = TestClient::open_str("tcp://127.0.0.1:1883", &ConnectOptions::default()).await?;
//! c.handshake(Connect::new(ProtocolVersion::V5, MqttString::from_static("t1")), wait).await?;
//! let id = c.next_packet_id();
//! c.send(&Packet::Subscribe(Subscribe {
//!     packet_id: id,
//!     properties: Default::default(),
//!     filters: vec![Subscription {
//!         filter: MqttString::from_static("a/#"),
//!         options: SubscriptionOptions::qos(QoS::AtLeastOnce),
//!     }],
//! })).await?;
//! c.expect(&Matcher::suback(id), wait).await?;
//! print!("{}", c.trace());
//! # Ok(()) }
//! ```

mod ack;
mod client;
mod close;
pub mod describe;
mod endpoint;
mod error;
mod ids;
mod inbox;
mod matcher;
mod options;
mod reader;
mod shared;
mod trace;
mod transport;
mod writer;

pub use client::TestClient;
pub use close::{CloseKind, CloseReport};
pub use endpoint::{Endpoint, EndpointError, Scheme};
pub use error::ClientError;
pub use ids::PacketIds;
pub use matcher::Matcher;
pub use options::{ConnectOptions, TlsOptions};
pub use trace::{Direction, Trace, TraceEntry, TraceEvent};
