//! How one read of a transport ends: bytes, or the stream's end and why.

use std::io;

use crate::close::CloseKind;

/// What one read gave.
#[derive(Debug)]
pub(crate) enum Recv {
    /// Bytes were appended to the buffer.
    Data,
    /// The stream ended.
    End(CloseKind),
}

/// How an IO error ends a stream.
pub(crate) fn classify(e: &io::Error) -> CloseKind {
    match e.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => CloseKind::Reset,
        // A TLS peer that closes TCP without close_notify.
        io::ErrorKind::UnexpectedEof => CloseKind::Eof,
        _ => CloseKind::Error(e.to_string()),
    }
}
