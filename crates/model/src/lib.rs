//! # mqtt-model
//!
//! The MQTT 3.1.1 and 5.0 broker as a deterministic, sans-IO state
//! machine: the oracle every verdict of mqtt-harness is measured against.
//! No sockets, no clocks, no async, no randomness; time is an input.
//!
//! Inputs ([`Broker`]): [`Broker::connection_opened`], [`Broker::packet`],
//! [`Broker::decode_error`], [`Broker::connection_closed`],
//! [`Broker::tick`]. Outputs: [`Broker::poll_output`] gives
//! [`Output::Send`], [`Output::Close`] (with a [`CloseReason`] citing the
//! statements) and [`Output::Event`] ([`TraceEvent`], for traces);
//! [`Broker::next_timeout`] says when to tick. Each connection speaks the
//! version of its CONNECT; 3.1.1 and 5.0 clients share one broker.
//!
//! Where the specification allows several behaviours the model picks one
//! and lists the others in [`alternatives::ALTERNATIVES`].
//!
//! ```
//! use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion};
//! use mqtt_model::{Broker, Config, ConnId, Output, Time};
//!
//! let mut broker = Broker::new(Config::default());
//! let conn = ConnId(1);
//! broker.connection_opened(conn, Time(0)).unwrap();
//! let connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("c1"));
//! broker.packet(conn, Packet::Connect(Box::new(connect)), Time(0)).unwrap();
//! match broker.poll_output() {
//!     Some(Output::Send { packet: Packet::ConnAck(ack), .. }) => assert_eq!(ack.reason_code.0, 0),
//!     other => panic!("{other:?}"),
//! }
//! ```

pub mod alternatives;
pub mod broker;
pub mod checker;
pub mod config;
pub mod connection;
pub mod durable;
pub mod error;
pub mod inflight;
pub mod message;
pub mod output;
pub mod policy;
pub mod retained;
pub mod session;
pub mod subscriptions;
pub mod time;
pub mod will;

pub use broker::{Broker, WillAction};
pub use config::Config;
pub use durable::{Changes, DurableSession, DurableState, RestoreError};
pub use error::ModelError;
pub use message::Message;
pub use output::{CloseKind, CloseReason, DropReason, Output, TraceEvent};
pub use policy::{AuthDecision, Authenticator, Authorizer};
pub use time::{ConnId, Time};
