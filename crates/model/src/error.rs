//! Errors the model returns to its caller. A peer's misbehaviour is never an
//! error here: it becomes outputs (a reason code, a close). These are the
//! caller's mistakes.

use crate::time::ConnId;

/// A mistake of the caller driving the model (the server or a test).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// An input names a connection the model does not know (never opened,
    /// or already closed).
    #[error("{0} is not open")]
    UnknownConnection(ConnId),
    /// `connection_opened` for an id that is already open.
    #[error("{0} is already open")]
    ConnectionExists(ConnId),
}
