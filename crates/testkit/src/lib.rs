//! Test support shared by the integration tests of `mqtt-client` and
//! `mqtt-server` (a dev-dependency only, never part of a shipped crate):
//! a temporary folder removed on drop, and a test PKI (a CA and a server
//! certificate for `127.0.0.1` and `localhost`) generated with rcgen for the
//! TLS listeners (MQTT over TLS, MQTT 3.1.1 §4.8 / MQTT 5.0 §5.4.9 leave
//! the certificates to the deployment).
//!
//! Failures here are failures of the test's own setup, so they panic with
//! what went wrong, as test code may.

mod pki;
mod temp_dir;

pub use pki::TestPki;
pub use temp_dir::TempDir;
