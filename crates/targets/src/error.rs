//! Why a target could not be used: a name not known, a `targets.yaml` that
//! does not parse, a broker not installed or not ready in time.

/// Why a target could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Not `ref`, an address, or a name in targets.yaml.
    #[error("unknown target `{0}`: use `ref`, an address like tcp://127.0.0.1:1883, or a name from targets.yaml ({1})")]
    Unknown(String, String),
    /// targets.yaml is unreadable or malformed.
    #[error("{path}:{line}:{column}: {message}")]
    File {
        /// The file.
        path: String,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The broker's program is not installed.
    #[error("target `{name}`: `{command}` is not installed ({hint})")]
    NotInstalled {
        /// Target.
        name: String,
        /// Program.
        command: String,
        /// How to install it.
        hint: String,
    },
    /// The broker did not start or did not accept connections in time.
    #[error("target `{name}`: {message}")]
    Start {
        /// Target.
        name: String,
        /// What happened.
        message: String,
    },
    /// A lifecycle verb could not be applied (or the target has none).
    #[error("target `{name}`: cannot {verb}: {message}")]
    Lifecycle {
        /// Target.
        name: String,
        /// The verb.
        verb: &'static str,
        /// Why.
        message: String,
    },
    /// The address is not an MQTT endpoint.
    #[error(transparent)]
    Endpoint(#[from] mqtt_client::EndpointError),
}
