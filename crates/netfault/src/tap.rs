//! Taps: what sits on one relayed connection and decides, sans-IO, which
//! bytes reach the other side. The relay feeds a tap what each side sent
//! and the time, and forwards what it returns; link faults (delay, stall,
//! ...) apply afterwards, to whatever the tap let through.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc::UnboundedReceiver;

/// What a tap decided to send on, per direction, in order.
#[derive(Debug, Default)]
pub struct Out {
    /// Bytes for the server (upstream), in order.
    pub to_server: Vec<Bytes>,
    /// Bytes for the client, in order.
    pub to_client: Vec<Bytes>,
}

/// The interceptor of one relayed connection. Sans-IO: it never touches a
/// socket or a clock; the relay gives it bytes and the time.
pub trait Tap: Send + 'static {
    /// Messages other parts of the program hand this connection (a fault
    /// that leaks one connection's traffic to another, say).
    type Inject: Send + 'static;

    /// Bytes arrived from the client; take from `buf` what is complete and
    /// leave the rest for the next call.
    fn client_bytes(&mut self, buf: &mut BytesMut, now: Instant, out: &mut Out);

    /// Bytes arrived from the server, likewise.
    fn server_bytes(&mut self, buf: &mut BytesMut, now: Instant, out: &mut Out);

    /// Something arrived in the connection's inbox.
    fn injected(&mut self, item: Self::Inject, out: &mut Out) {
        let _ = (item, out);
    }

    /// When [`Tap::on_timer`] next has something to do.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Time has passed its [`Tap::deadline`].
    fn on_timer(&mut self, now: Instant, out: &mut Out) {
        let _ = (now, out);
    }

    /// The server ended the connection: last bytes for the client.
    fn finish(&mut self, out: &mut Out) {
        let _ = out;
    }
}

/// A tap for one connection, and the receiving end of its inbox if it
/// takes injections.
pub type TapParts<T> = (T, Option<UnboundedReceiver<<T as Tap>::Inject>>);

/// Forwards every byte as it arrives: the proxy then only applies link
/// faults. Works for any byte stream over TCP (MQTT, MQTT over WebSocket,
/// TLS).
#[derive(Debug, Default, Clone, Copy)]
pub struct Transparent;

impl Tap for Transparent {
    type Inject = std::convert::Infallible;

    fn client_bytes(&mut self, buf: &mut BytesMut, _: Instant, out: &mut Out) {
        out.to_server.push(buf.split().freeze());
    }

    fn server_bytes(&mut self, buf: &mut BytesMut, _: Instant, out: &mut Out) {
        out.to_client.push(buf.split().freeze());
    }
}
