//! Byte transports under MQTT: TCP (§4.2), TLS (§5.5) and WebSocket (§6).
//! Each is split into a reading and a writing half so that a connection
//! can wait for both at once.

pub(crate) mod stream;
pub(crate) mod tls;
pub(crate) mod ws;

use std::future::Future;
use std::io;

use bytes::{Bytes, BytesMut};

/// The reading half: appends received bytes to `buf`.
pub(crate) trait ReadHalf: Send {
    /// Appends what arrives to `buf`; `Ok(0)` at end of stream. Must be
    /// cancel-safe: nothing read is lost when the future is dropped.
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;
}

/// The writing half.
pub(crate) trait WriteHalf: Send {
    /// Writes all of `data`.
    fn send(&mut self, data: Bytes) -> impl Future<Output = io::Result<()>> + Send;
    /// Closes the sending direction, flushing first.
    fn close(&mut self) -> impl Future<Output = ()> + Send;
}
