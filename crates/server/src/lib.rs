//! # mqtt-server
//!
//! The reference MQTT broker of mqtt-harness: the deterministic
//! [`mqtt_model::Broker`] put on sockets. It listens on TCP, WebSocket
//! (subprotocol `mqtt`) and TLS (rustls), decodes with the strict
//! [`mqtt_codec`] decoder, and is the embedded default target of the
//! conformance runner, so everything works on a fresh machine.
//!
//! One task owns the model and feeds it decoded packets and the time;
//! one task per connection decodes, encodes and writes. A malformed or
//! abusive client gets the model's answer (DISCONNECT with a reason code in
//! 5.0, a closed connection in 3.1.1) and nobody else notices.

mod broker_task;
pub mod config;
mod connection;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod server;
pub mod store;
mod transport;

pub use config::{ConfigError, ListenerConfig, ListenerProtocol, ServerConfig};
pub use server::{RunningServer, ServerError};
pub use store::{DataConfig, FsyncPolicy, StoreError};
pub use transport::tls::TlsError;
