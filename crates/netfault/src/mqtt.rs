//! The MQTT layer of the proxy: a [`Tap`] that splits both directions of a
//! plain MQTT-over-TCP connection into packets with the strict codec and
//! hands each to a [`PacketTap`], which decides what passes.
//!
//! Client to server is decoded as a server does ([`Decoder::server`],
//! learning the version from CONNECT); server to client with a decoder set
//! to that version. A packet the packet tap leaves alone is forwarded as
//! the bytes that arrived. Bytes the strict decoder refuses are forwarded
//! as they are and the direction turns into a plain byte pipe, so that the
//! broker judges them, unless the packet tap swallows them.

use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use mqtt_codec::{Decoder, Packet, ProtocolVersion};

use crate::tap::{Out, Tap};

/// A frame still incomplete beyond this size turns its direction into a
/// byte pipe, so that the broker sees (and may refuse) an oversized header
/// at once, as it would without the proxy.
const CUT_THROUGH: usize = 1 << 20;

/// What sits on one connection at the packet level. Sans-IO, like
/// [`Tap`]; by default every packet passes as it arrived.
pub trait PacketTap: Send + 'static {
    /// What other parts of the program hand this connection.
    type Inject: Send + 'static;

    /// A packet from the client, with its bytes.
    fn client_packet(&mut self, p: Packet, raw: Bytes, now: Instant, out: &mut Out) {
        let _ = (p, now);
        out.to_server.push(raw);
    }

    /// A packet from the server, with its bytes.
    fn server_packet(&mut self, p: Packet, raw: Bytes, now: Instant, out: &mut Out) {
        let _ = (p, now);
        out.to_client.push(raw);
    }

    /// The client sent bytes the strict decoder refuses: `true` drops them
    /// (and the rest of that packet) and keeps the connection as it is,
    /// `false` passes them on for the server to judge.
    fn swallow_malformed(&mut self) -> bool {
        false
    }

    /// Something arrived in the connection's inbox.
    fn injected(&mut self, item: Self::Inject, out: &mut Out) {
        let _ = (item, out);
    }

    /// When [`PacketTap::on_timer`] next has something to do.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Time has passed its deadline.
    fn on_timer(&mut self, now: Instant, out: &mut Out) {
        let _ = (now, out);
    }

    /// The server closed: last packets for the client.
    fn finish(&mut self, out: &mut Out) {
        let _ = out;
    }
}

/// The [`Tap`] that frames both directions for a [`PacketTap`].
#[derive(Debug)]
pub struct MqttTap<P> {
    inner: P,
    up: Framer,
    down: Framer,
    down_ready: bool,
    version: Option<ProtocolVersion>,
}

impl<P: PacketTap> MqttTap<P> {
    /// Frames a connection for `inner`.
    pub fn new(inner: P) -> MqttTap<P> {
        MqttTap {
            inner,
            up: Framer::new(Some(Decoder::server())),
            down: Framer::new(None),
            down_ready: false,
            version: None,
        }
    }

    /// The packet tap.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The version the client's CONNECT named, once seen.
    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }
}

impl<P: PacketTap> Tap for MqttTap<P> {
    type Inject = P::Inject;

    fn client_bytes(&mut self, buf: &mut BytesMut, now: Instant, out: &mut Out) {
        while let Some(item) = self.up.next(buf) {
            match item {
                Item::Packet(p, raw) => {
                    if let Packet::Connect(c) = &*p {
                        self.version = Some(c.protocol_version);
                    }
                    self.inner.client_packet(*p, raw, now, out);
                }
                Item::Raw(b) => out.to_server.push(b),
                Item::Malformed { bytes, rest } => {
                    if self.inner.swallow_malformed() {
                        self.up.skip(rest);
                    } else {
                        out.to_server.push(bytes);
                        self.up.pipe();
                    }
                }
            }
        }
    }

    fn server_bytes(&mut self, buf: &mut BytesMut, now: Instant, out: &mut Out) {
        if !self.down_ready {
            // The server answers only once it has the CONNECT, which has set
            // the version (or the pipe, if the CONNECT could not be decoded).
            if let (Some(v), true) = (self.version, self.up.decoder.is_some()) {
                self.down = Framer::new(Some(Decoder::new(v)));
            }
            self.down_ready = true;
        }
        while let Some(item) = self.down.next(buf) {
            match item {
                Item::Packet(p, raw) => self.inner.server_packet(*p, raw, now, out),
                Item::Raw(b) => out.to_client.push(b),
                Item::Malformed { bytes, .. } => {
                    out.to_client.push(bytes);
                    self.down.pipe();
                }
            }
        }
    }

    fn injected(&mut self, item: P::Inject, out: &mut Out) {
        self.inner.injected(item, out);
    }

    fn deadline(&self) -> Option<Instant> {
        self.inner.deadline()
    }

    fn on_timer(&mut self, now: Instant, out: &mut Out) {
        self.inner.on_timer(now, out);
    }

    fn finish(&mut self, out: &mut Out) {
        self.inner.finish(out);
    }
}

/// What the framer found at the front of a buffer.
enum Item {
    /// A packet the strict decoder accepted, with its bytes.
    Packet(Box<Packet>, Bytes),
    /// Bytes to pass on as they are (after an error, or before the version
    /// is known).
    Raw(Bytes),
    /// Bytes the strict decoder refused; `rest` more bytes of the same
    /// packet are still to come (0 when unknown).
    Malformed { bytes: Bytes, rest: usize },
}

/// Splits one direction of a connection into packets.
#[derive(Debug)]
struct Framer {
    /// `None`: a byte pipe.
    decoder: Option<Decoder>,
    /// Bytes still to drop (of a swallowed malformed packet).
    discard: usize,
}

/// The size of the frame at the front of `buf`, by its fixed header.
enum Frame {
    /// The whole frame is there, this long.
    Complete(usize),
    /// It will be this long, and is not all there yet.
    Incomplete(usize),
    /// The Remaining Length is not all there yet.
    Header,
    /// The Remaining Length runs past four bytes.
    BadLength,
}

fn frame(buf: &[u8]) -> Frame {
    let mut len = 0usize;
    for i in 0..4 {
        let Some(&b) = buf.get(1 + i) else {
            return Frame::Header;
        };
        len += usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            let total = 2 + i + len;
            return if buf.len() >= total {
                Frame::Complete(total)
            } else {
                Frame::Incomplete(total)
            };
        }
    }
    Frame::BadLength
}

impl Framer {
    fn new(decoder: Option<Decoder>) -> Self {
        Framer {
            decoder,
            discard: 0,
        }
    }

    /// Turns the direction into a byte pipe.
    fn pipe(&mut self) {
        self.decoder = None;
    }

    /// Drops the next `n` bytes.
    fn skip(&mut self, n: usize) {
        self.discard += n;
    }

    /// The next item at the front of `buf`, if any is complete.
    fn next(&mut self, buf: &mut BytesMut) -> Option<Item> {
        if self.discard > 0 {
            let n = self.discard.min(buf.len());
            buf.advance(n);
            self.discard -= n;
        }
        if buf.is_empty() {
            return None;
        }
        let Some(decoder) = &mut self.decoder else {
            return Some(Item::Raw(buf.split().freeze()));
        };
        match frame(buf) {
            Frame::Complete(total) => {
                let bytes = buf.split_to(total).freeze();
                let mut copy = BytesMut::from(&bytes[..]);
                match decoder.decode(&mut copy) {
                    Ok(Some(p)) if copy.is_empty() => Some(Item::Packet(Box::new(p), bytes)),
                    _ => Some(Item::Malformed { bytes, rest: 0 }),
                }
            }
            Frame::Incomplete(total) => match decoder.decode(buf) {
                // The header alone can be refused (type, flags, size).
                Err(_) => {
                    let bytes = buf.split().freeze();
                    Some(Item::Malformed {
                        rest: total - bytes.len(),
                        bytes,
                    })
                }
                _ if total > CUT_THROUGH => {
                    self.pipe();
                    Some(Item::Raw(buf.split().freeze()))
                }
                _ => None,
            },
            Frame::Header => match decoder.decode(buf) {
                Err(_) => Some(Item::Malformed {
                    bytes: buf.split().freeze(),
                    rest: 0,
                }),
                _ => None,
            },
            Frame::BadLength => Some(Item::Malformed {
                bytes: buf.split().freeze(),
                rest: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_sized_by_their_fixed_header() {
        assert!(matches!(frame(&[0xC0]), Frame::Header));
        assert!(matches!(frame(&[0xC0, 0x00]), Frame::Complete(2)));
        assert!(matches!(frame(&[0x30, 0x02, 0x00]), Frame::Incomplete(4)));
        assert!(matches!(frame(&[0x30, 0x80, 0x01]), Frame::Incomplete(131)));
        assert!(matches!(
            frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Frame::BadLength
        ));
    }

    #[test]
    fn a_malformed_packet_is_passed_on_and_the_rest_piped() {
        let mut f = Framer::new(Some(Decoder::new(mqtt_codec::ProtocolVersion::V311)));
        // PUBLISH with QoS 3, then a PINGREQ.
        let mut buf = BytesMut::from(&[0x36, 0x02, 0x00, 0x00, 0xC0, 0x00][..]);
        assert!(matches!(
            f.next(&mut buf),
            Some(Item::Malformed { rest: 0, .. })
        ));
        f.pipe();
        assert!(matches!(f.next(&mut buf), Some(Item::Raw(b)) if b[..] == [0xC0, 0x00]));
        assert!(f.next(&mut buf).is_none());
    }

    /// Drops every PUBACK the server sends.
    struct NoPuback;

    impl PacketTap for NoPuback {
        type Inject = ();

        fn server_packet(&mut self, p: Packet, raw: Bytes, _: Instant, out: &mut Out) {
            if !matches!(p, Packet::PubAck(_)) {
                out.to_client.push(raw);
            }
        }
    }

    #[test]
    fn a_packet_tap_sees_whole_packets_split_anyhow() {
        let mut t = MqttTap::new(NoPuback);
        let connect = mqtt_codec::Connect::new(
            ProtocolVersion::V311,
            mqtt_codec::MqttString::from_static("c"),
        );
        let bytes = Packet::Connect(Box::new(connect))
            .to_bytes(ProtocolVersion::V311)
            .unwrap();
        let mut out = Out::default();
        // The CONNECT in two reads.
        let mut buf = BytesMut::from(&bytes[..3]);
        t.client_bytes(&mut buf, Instant::now(), &mut out);
        assert!(out.to_server.is_empty());
        buf.extend_from_slice(&bytes[3..]);
        t.client_bytes(&mut buf, Instant::now(), &mut out);
        assert_eq!(out.to_server.concat(), bytes.to_vec());
        assert_eq!(t.version(), Some(ProtocolVersion::V311));
        // CONNACK passes, PUBACK does not, PINGRESP does.
        let mut down =
            BytesMut::from(&[0x20, 0x02, 0x00, 0x00, 0x40, 0x02, 0x00, 0x01, 0xD0, 0x00][..]);
        t.server_bytes(&mut down, Instant::now(), &mut out);
        assert_eq!(
            out.to_client.concat(),
            vec![0x20, 0x02, 0x00, 0x00, 0xD0, 0x00]
        );
    }
}
