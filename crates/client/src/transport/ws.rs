//! MQTT over WebSocket (MQTT 3.1.1 §6, MQTT 5.0 §6): the client offers the
//! `mqtt` subprotocol (MQTT-6.0.0-3; tungstenite refuses a handshake whose
//! answer selects none or another) and sends binary frames only
//! (MQTT-6.0.0-1), one per write.

use std::io;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::recv::{classify, Recv};
use crate::close::CloseKind;
use crate::endpoint::Endpoint;

type BoxedStream = Box<dyn Stream<Item = Result<Message, WsError>> + Send + Unpin>;
type BoxedSink = Box<dyn futures_util::Sink<Message, Error = WsError> + Send + Unpin>;

/// The reading half of a WebSocket connection.
pub(crate) struct WsReader(BoxedStream);

/// The writing half of a WebSocket connection.
pub(crate) struct WsWriter(BoxedSink);

/// Performs the WebSocket handshake on `stream` (TCP or TLS).
pub(crate) async fn handshake<S>(stream: S, endpoint: &Endpoint) -> io::Result<(WsReader, WsWriter)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let scheme = if endpoint.scheme.is_tls() {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://{}{}", endpoint.authority(), endpoint.path);
    let mut request = url.into_client_request().map_err(io::Error::other)?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
    // The broker may send packets as large as MQTT allows.
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (ws, _response): (WebSocketStream<S>, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| match e {
                WsError::Io(e) => e,
                e => io::Error::other(format!("WebSocket handshake: {e}")),
            })?;
    let (sink, stream): (SplitSink<_, Message>, SplitStream<_>) = ws.split();
    Ok((WsReader(Box::new(stream)), WsWriter(Box::new(sink))))
}

impl WsReader {
    /// Appends the payload of the next binary frame to `buf`.
    pub(crate) async fn recv(&mut self, buf: &mut BytesMut) -> Recv {
        loop {
            match self.0.next().await {
                None | Some(Ok(Message::Close(_))) => return Recv::End(CloseKind::Eof),
                Some(Ok(Message::Binary(b))) => {
                    if !b.is_empty() {
                        buf.extend_from_slice(&b);
                        return Recv::Data;
                    }
                }
                Some(Ok(Message::Text(_))) => {
                    return Recv::End(CloseKind::Error(
                        "the broker sent a text frame; MQTT must use binary frames (MQTT-6.0.0-1)"
                            .into(),
                    ))
                }
                // Ping (answered by tungstenite), Pong, raw frames.
                Some(Ok(_)) => {}
                Some(Err(e)) => return Recv::End(ws_close_kind(e)),
            }
        }
    }
}

/// How a WebSocket error ends the stream.
fn ws_close_kind(e: WsError) -> CloseKind {
    match e {
        WsError::ConnectionClosed
        | WsError::AlreadyClosed
        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => CloseKind::Eof,
        WsError::Io(e) => classify(&e),
        e => CloseKind::Error(e.to_string()),
    }
}

impl WsWriter {
    /// Sends `data` as one binary frame.
    pub(crate) async fn send(&mut self, data: Bytes) -> io::Result<()> {
        self.0
            .send(Message::Binary(data))
            .await
            .map_err(|e| match e {
                WsError::Io(e) => e,
                e => io::Error::other(e),
            })
    }

    /// Sends a Close frame.
    pub(crate) async fn close(&mut self) {
        let _ = self.0.close().await;
    }
}
