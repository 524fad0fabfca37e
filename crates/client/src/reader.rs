//! The reader task: reads and decodes from the moment the connection opens,
//! traces and queues every packet with its arrival time, answers by itself
//! where auto-acknowledge or keep-alive says so, and records a malformed
//! packet and the close.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mqtt_codec::{Decoder, Packet};
use tokio::sync::mpsc;

use crate::ack::auto_ack;
use crate::shared::Shared;
use crate::trace::TraceEvent;
use crate::transport::{ReadHalf, Recv};
use crate::writer::Command;

/// The most undecodable bytes a trace entry keeps.
const MALFORMED_KEPT: usize = 1024;

/// Runs until the stream ends (or the task is aborted).
pub(crate) async fn run(
    mut r: ReadHalf,
    shared: Arc<Shared>,
    writer: mpsc::UnboundedSender<Command>,
) {
    let mut decoder = Decoder::new(shared.version());
    let mut buf = BytesMut::with_capacity(8192);
    let mut decoding = true;
    // The front of the buffer before each decode: the decoder may have
    // consumed the offending packet by the time it reports it.
    let mut front: Vec<u8> = Vec::with_capacity(MALFORMED_KEPT);
    loop {
        if let Recv::End(kind) = r.recv(&mut buf).await {
            let at = shared.recorder.record(TraceEvent::Closed(kind.clone()));
            shared.inbox.set_closed(at, kind);
            return;
        }
        if !decoding {
            // After a decode error the stream position is lost: read only
            // to see the connection end.
            buf.clear();
            continue;
        }
        loop {
            let version = shared.version();
            if decoder.version() != Some(version) {
                decoder.set_version(version);
            }
            front.clear();
            front.extend_from_slice(&buf[..buf.len().min(MALFORMED_KEPT)]);
            match decoder.decode(&mut buf) {
                Ok(Some(packet)) => handle(packet, &shared, &writer),
                Ok(None) => break,
                Err(violation) => {
                    let bytes = Bytes::copy_from_slice(&front);
                    buf.clear();
                    let at = shared.recorder.record(TraceEvent::Malformed {
                        violation: violation.clone(),
                        bytes,
                    });
                    shared.inbox.set_malformed(at, violation);
                    decoding = false;
                    break;
                }
            }
        }
    }
}

/// Traces a packet, answers it if the client does so by itself, and
/// queues it unless that answer completes it.
fn handle(packet: Packet, shared: &Shared, writer: &mpsc::UnboundedSender<Command>) {
    let ack = if shared.auto_ack.load(Ordering::Acquire) {
        auto_ack(&packet)
    } else {
        None
    };
    let keep_alive_pong = matches!(packet, Packet::PingResp) && shared.pong_received();
    let queue = ack.as_ref().is_none_or(|a| a.queue) && !keep_alive_pong;
    let at = shared.recorder.record(TraceEvent::Received {
        packet: packet.clone(),
        handled: !queue,
    });
    if let Some(ack) = ack {
        match ack.reply.to_bytes(shared.version()) {
            Ok(bytes) => {
                let _ = writer.send(Command::Send {
                    bytes,
                    event: Box::new(TraceEvent::Sent {
                        packet: ack.reply,
                        auto: true,
                    }),
                    done: None,
                });
            }
            Err(e) => tracing::warn!("auto-acknowledge not encodable: {e}"),
        }
    }
    if queue {
        shared.inbox.push(at, packet);
    }
}
