//! One network connection: decode what arrives and hand it to the broker,
//! encode and write what the broker sends, close when either side is done.

use std::time::Duration;

use bytes::BytesMut;
use mqtt_codec::Decoder;
use mqtt_model::ConnId;
use tokio::sync::mpsc;

use crate::broker_task::{Command, Outbound, OUTBOUND_CAPACITY};
use crate::transport::{ReadHalf, WriteHalf};

/// How long a write may take before the client is considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a new connection may take to send its first packet: "If the
/// Server does not receive a CONNECT packet within a reasonable amount of
/// time after the Network Connection is established, the Server SHOULD
/// close the Network Connection" (§3.1.4 in 5.0, §3.1 in 3.1.1).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one connection until it ends.
pub(crate) async fn serve<R: ReadHalf, W: WriteHalf>(
    conn: ConnId,
    mut reader: R,
    mut writer: W,
    broker: mpsc::Sender<Command>,
    max_packet_size: u32,
) {
    let (out_tx, mut out_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    if broker
        .send(Command::Opened { conn, out: out_tx })
        .await
        .is_err()
    {
        return;
    }
    let mut decoder = Decoder::server().with_max_packet_size(max_packet_size);
    let mut inbuf = BytesMut::with_capacity(8192);
    let mut outbuf = BytesMut::new();
    let mut reading = true;
    let connect_deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut got_first_packet = false;
    loop {
        tokio::select! {
            biased;
            msg = out_rx.recv() => {
                let Some(msg) = msg else { break };
                if !encode(conn, msg, &mut outbuf) {
                    let _ = broker.send(Command::Closed { conn }).await;
                    break;
                }
                // Batch what else is queued into one write.
                while outbuf.len() < 64 * 1024 {
                    let Ok(msg) = out_rx.try_recv() else { break };
                    if !encode(conn, msg, &mut outbuf) {
                        break;
                    }
                }
                let data = outbuf.split().freeze();
                match tokio::time::timeout(WRITE_TIMEOUT, writer.send(data)).await {
                    Ok(Ok(())) => {}
                    _ => {
                        let _ = broker.send(Command::Closed { conn }).await;
                        break;
                    }
                }
            }
            // After a decode error the broker closes the connection; should
            // it not, the connection does not linger.
            _ = tokio::time::sleep(WRITE_TIMEOUT), if !reading => break,
            _ = tokio::time::sleep_until(connect_deadline), if !got_first_packet => {
                tracing::debug!(%conn, "no packet within {CONNECT_TIMEOUT:?}; closing");
                let _ = broker.send(Command::Closed { conn }).await;
                break;
            }
            n = reader.recv(&mut inbuf), if reading => {
                match n {
                    Ok(0) | Err(_) => {
                        let _ = broker.send(Command::Closed { conn }).await;
                        break;
                    }
                    Ok(_) => {}
                }
                loop {
                    match decoder.decode(&mut inbuf) {
                        Ok(Some(packet)) => {
                            got_first_packet = true;
                            if broker.send(Command::Packet { conn, packet }).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(violation) => {
                            got_first_packet = true;
                            // Read no further; the broker answers (DISCONNECT
                            // in 5.0) and drops our sender, which ends the loop.
                            reading = false;
                            inbuf.clear();
                            let _ = broker.send(Command::DecodeError { conn, violation }).await;
                            break;
                        }
                    }
                }
            }
        }
    }
    writer.close().await;
}

/// Encodes an outbound message; false when the connection must end.
fn encode(conn: ConnId, msg: Outbound, out: &mut BytesMut) -> bool {
    match msg {
        Outbound::Packet(version, packet) => match packet.encode(version, out) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(%conn, "the model produced a packet the codec refuses: {e}");
                false
            }
        },
        Outbound::Closing(reason) => {
            tracing::debug!(%conn, ?reason, "closing");
            true
        }
    }
}
