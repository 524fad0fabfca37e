//! MQTT over WebSocket (MQTT 3.1.1 §6, MQTT 5.0 §6): binary frames only
//! (MQTT-6.0.0-1), packets may span frames (MQTT-6.0.0-2), subprotocol
//! `mqtt` (MQTT-6.0.0-3/4).

use std::io;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{ReadHalf, WriteHalf};

type Ws = WebSocketStream<TcpStream>;

/// Reading half of a WebSocket connection.
pub(crate) struct WsReader(SplitStream<Ws>);

/// Writing half of a WebSocket connection.
pub(crate) struct WsWriter(SplitSink<Ws, Message>);

/// Completes the WebSocket handshake, selecting the `mqtt` subprotocol
/// (MQTT-6.0.0-4); a client that does not offer it is refused.
pub(crate) async fn accept(tcp: TcpStream) -> io::Result<(WsReader, WsWriter)> {
    #[allow(clippy::result_large_err)]
    fn select_mqtt(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
        let offered = req
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == "mqtt");
        if !offered {
            let mut err = ErrorResponse::new(Some(
                "MQTT over WebSocket needs the `mqtt` subprotocol (MQTT-6.0.0-3)".into(),
            ));
            *err.status_mut() = StatusCode::BAD_REQUEST;
            return Err(err);
        }
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        Ok(resp)
    }
    let ws = tokio_tungstenite::accept_hdr_async(tcp, select_mqtt)
        .await
        .map_err(io::Error::other)?;
    let (sink, stream) = ws.split();
    Ok((WsReader(stream), WsWriter(sink)))
}

impl ReadHalf for WsReader {
    async fn recv<'a>(&'a mut self, buf: &'a mut BytesMut) -> io::Result<usize> {
        loop {
            match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => return Ok(0),
                Some(Ok(Message::Binary(b))) => {
                    buf.extend_from_slice(&b);
                    if !b.is_empty() {
                        return Ok(b.len());
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "text frame: MQTT must use binary frames (MQTT-6.0.0-1)",
                    ))
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(io::Error::other(e)),
            }
        }
    }
}

impl WriteHalf for WsWriter {
    async fn send(&mut self, data: Bytes) -> io::Result<()> {
        self.0
            .send(Message::Binary(data))
            .await
            .map_err(io::Error::other)
    }

    async fn close(&mut self) {
        let _ = self.0.close().await;
    }
}
