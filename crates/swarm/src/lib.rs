//! # mqtt-swarm
//!
//! The open-loop MQTT load generator of mqtt-harness.
//!
//! A load [`profile`] (YAML) describes groups of publishers and subscribers.
//! The [`plan`] expands it into clients and subscription streams; each
//! publisher follows a [`schedule`] of intended send times fixed in advance,
//! and each message carries its publisher, sequence number and intended
//! and actual send times in a [`payload`] header. End-to-end latency is
//! measured from the intended time (corrected for coordinated omission) and
//! from the actual send (raw), both kept in HdrHistograms ([`metrics`]) that
//! are logged every second in the standard HdrHistogram interval log format
//! ([`hdrlog`]), which shards merge exactly. Subscribers account for every
//! message they are owed ([`accounting`]): a run fails when QoS 1 lost
//! anything or QoS 2 lost or duplicated anything, naming the publisher and
//! the sequence numbers.
//!
//! A profile's `faults:` schedule is carried out by the [`nemesis`] while
//! the clients run (broker faults through the target's lifecycle, link
//! faults through a fault proxy); the clients reconnect and resume their
//! sessions, and the run's [`trace`] is what the model's checker reads.
//!
//! The protocol-free parts (schedule, payload, plan, accounting, metrics,
//! [`collector`], [`trace`]) are sans-IO and tested with generated inputs;
//! the IO lives in [`link`], [`publisher`], [`subscriber`], [`nemesis`] and
//! [`engine`].

pub mod accounting;
pub mod barrier;
pub mod capacity;
pub mod clock;
pub mod collector;
pub mod compare;
pub mod cpu;
pub mod crossshard;
pub mod ctx;
pub mod engine;
pub mod error;
pub mod event;
pub mod fasthash;
pub mod hdrlog;
pub mod link;
pub mod metrics;
pub mod nemesis;
pub mod payload;
pub mod plan;
pub mod profile;
pub mod publisher;
pub mod report;
pub mod schedule;
pub mod subscriber;
pub mod target;
pub mod template;
pub mod trace;

pub use error::{ProfileError, SwarmError};
pub use plan::Shard;
pub use profile::Profile;
