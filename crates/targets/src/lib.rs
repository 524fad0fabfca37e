//! # mqtt-targets
//!
//! The brokers a run is pointed at, and their lifecycle: `ref` (the
//! reference server, in-process: the embedded default), an address
//! (`tcp://`, `ws://`, `mqtts://`), a name from `targets.yaml` (a local
//! program the harness configures, starts, waits for and stops), or
//! `docker:NAME` (NAME's image, through testcontainers). Each target
//! carries its capability profile: the versions it speaks and the optional
//! features it has.
//!
//! The harness can also break the broker: kill, stop, restart, pause and
//! resume it ([`Lifecycle`]), for the fault scenarios and load runs.
//!
//! Everything that runs traffic (scenarios, property tests, fuzzing, load)
//! opens its broker here; nothing here knows what the traffic is.

pub mod capability;
mod data;
pub mod docker;
pub mod error;
pub mod file;
pub mod lifecycle;
mod process;
pub mod target;
mod verb;

pub use capability::{Capability, VersionTag, ALL_CAPABILITIES};
pub use error::TargetError;
pub use file::{DataDef, StartDef, TargetDef, TargetsFile};
pub use lifecycle::{Lifecycle, STOP_WAIT};
pub use target::{sanitize, Target};
