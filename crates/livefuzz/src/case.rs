//! A fuzz case: byte blobs written on several network connections in a
//! global order, with how each connection writes (whole, byte by byte, in
//! pieces, slowly) and when it syncs, half-closes or drops.

use mqtt_codec::{Decoder, Packet, ProtocolVersion};

/// The placeholder every seed uses for this case's unique part of client
/// ids and topics; [`Case::instantiate`] replaces it (same length, so
/// lengths in the bytes stay right).
pub const TOKEN: &[u8; 10] = b"fz00000000";

/// The token of case number `n`.
pub fn token(n: u64) -> [u8; 10] {
    let mut t = *TOKEN;
    let hex = format!("{:08x}", n & 0xFFFF_FFFF);
    t[2..].copy_from_slice(hex.as_bytes());
    t
}

/// How a connection writes each blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One write per blob.
    Whole,
    /// One write per byte (the first 64 bytes of a blob; the rest at once).
    Bytewise,
    /// Each blob in this many pieces.
    Split(u8),
    /// Pieces with a pause of a few milliseconds between them.
    Slow,
}

/// One thing a connection does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Writes bytes (usually one packet, valid or not).
    Send(Vec<u8>),
    /// Waits (bounded) until something new arrives, as a scenario's
    /// `expect` does, so that cross-client steps keep their order.
    Sync,
    /// Shuts down the sending direction and keeps reading.
    HalfClose,
    /// Closes the connection abruptly (no DISCONNECT): wills fire.
    Drop,
}

/// An action on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Connection index.
    pub conn: usize,
    /// What it does.
    pub action: Action,
}

/// A case: the connections' transports and the events in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The scenario it was derived from.
    pub origin: String,
    /// How each connection writes.
    pub transports: Vec<Transport>,
    /// What happens, in order.
    pub events: Vec<Event>,
    /// The mutations applied, for the report.
    pub mutations: Vec<&'static str>,
}

impl Case {
    /// The number of connections (the highest index used, plus one).
    pub fn conns(&self) -> usize {
        self.events
            .iter()
            .map(|e| e.conn + 1)
            .max()
            .unwrap_or(0)
            .max(self.transports.len())
    }

    /// The transport of `conn`.
    pub fn transport(&self, conn: usize) -> Transport {
        self.transports
            .get(conn)
            .copied()
            .unwrap_or(Transport::Whole)
    }

    /// The case with [`TOKEN`] replaced by case `n`'s token in every blob.
    pub fn instantiate(&self, n: u64) -> Case {
        let t = token(n);
        let mut out = self.clone();
        for e in &mut out.events {
            if let Action::Send(bytes) = &mut e.action {
                replace_all(bytes, TOKEN, &t);
            }
        }
        out
    }

    /// The blobs `conn` sends, in order.
    pub fn blobs(&self, conn: usize) -> Vec<&[u8]> {
        self.events
            .iter()
            .filter(|e| e.conn == conn)
            .filter_map(|e| match &e.action {
                Action::Send(b) => Some(b.as_slice()),
                _ => None,
            })
            .collect()
    }

    /// The version `conn` speaks: that of its first blob, if a CONNECT
    /// the strict decoder reads.
    pub fn version(&self, conn: usize) -> Option<ProtocolVersion> {
        let first = self.blobs(conn).into_iter().next()?;
        let mut buf = bytes::BytesMut::from(first);
        match Decoder::server().decode(&mut buf) {
            Ok(Some(Packet::Connect(c))) => Some(c.protocol_version),
            _ => None,
        }
    }
}

/// Replaces every occurrence of `from` in `bytes` by `to` (same length).
pub fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    debug_assert_eq!(from.len(), to.len());
    if bytes.len() < from.len() {
        return;
    }
    let Some(&first) = from.first() else {
        return;
    };
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        // Skip to the next candidate start without comparing slices.
        match bytes[i..=bytes.len() - from.len()]
            .iter()
            .position(|&b| b == first)
        {
            Some(k) => i += k,
            None => return,
        }
        if bytes[i..i + from.len()] == *from {
            bytes[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instantiate_replaces_the_token_everywhere_and_keeps_lengths() {
        let mut blob = b"\x00\x0afz00000000/x fz00000000a".to_vec();
        let case = Case {
            origin: "t".into(),
            transports: vec![],
            events: vec![Event {
                conn: 1,
                action: Action::Send(blob.clone()),
            }],
            mutations: vec![],
        };
        let got = case.instantiate(0xabc);
        replace_all(&mut blob, TOKEN, b"fz00000abc");
        assert_eq!(got.events[0].action, Action::Send(blob.clone()));
        assert_eq!(blob, b"\x00\x0afz00000abc/x fz00000abca".to_vec());
        assert_eq!(case.conns(), 2);
        assert_eq!(got.blobs(1).len(), 1);
        assert_eq!(got.blobs(0).len(), 0);
    }
}
