//! Byte transports under MQTT: TCP, TLS (rustls with ring) and WebSocket
//! (subprotocol `mqtt`, binary frames), each split into a reading half
//! (owned by the reader task) and a writing half (owned by the writer
//! task).

pub(crate) mod recv;
pub(crate) mod tcp;
pub(crate) mod tls;
pub(crate) mod ws;

pub(crate) use recv::{classify, Recv};

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::close::CloseKind;
use crate::describe;
use crate::endpoint::{Endpoint, Scheme};
use crate::error::ClientError;
use crate::options::ConnectOptions;

/// The reading half of a connection.
pub(crate) enum ReadHalf {
    /// TCP or TLS.
    Stream(Box<dyn AsyncRead + Send + Unpin>),
    /// WebSocket, over TCP or TLS.
    Ws(ws::WsReader),
}

/// The writing half of a connection.
pub(crate) enum WriteHalf {
    /// TCP or TLS.
    Stream(Box<dyn AsyncWrite + Send + Unpin>),
    /// WebSocket, over TCP or TLS.
    Ws(ws::WsWriter),
}

impl ReadHalf {
    /// Appends what arrives to `buf`, or says how the stream ended.
    pub(crate) async fn recv(&mut self, buf: &mut BytesMut) -> Recv {
        match self {
            ReadHalf::Stream(r) => {
                if buf.capacity() - buf.len() < 4096 {
                    buf.reserve(8192);
                }
                match r.read_buf(buf).await {
                    Ok(0) => Recv::End(CloseKind::Eof),
                    Ok(_) => Recv::Data,
                    Err(e) => Recv::End(classify(&e)),
                }
            }
            ReadHalf::Ws(r) => r.recv(buf).await,
        }
    }
}

impl WriteHalf {
    /// Writes and flushes all of `data`.
    pub(crate) async fn send(&mut self, data: Bytes) -> io::Result<()> {
        match self {
            WriteHalf::Stream(w) => {
                w.write_all(&data).await?;
                w.flush().await
            }
            WriteHalf::Ws(w) => w.send(data).await,
        }
    }

    /// Closes the sending direction in order: TCP FIN, TLS close_notify,
    /// WebSocket Close frame.
    pub(crate) async fn close(&mut self) {
        match self {
            WriteHalf::Stream(w) => {
                let _ = w.shutdown().await;
            }
            WriteHalf::Ws(w) => w.close().await,
        }
    }
}

/// Opens a connection to `endpoint`: TCP, then TLS and/or the WebSocket
/// handshake, all within `options.connect_timeout`.
pub(crate) async fn open(
    endpoint: &Endpoint,
    options: &ConnectOptions,
) -> Result<(ReadHalf, WriteHalf), ClientError> {
    let addr = endpoint.to_string();
    let tls = if endpoint.scheme.is_tls() {
        Some(
            tls::connector(endpoint, &options.tls).map_err(|problem| ClientError::Tls {
                addr: addr.clone(),
                problem,
            })?,
        )
    } else {
        None
    };
    let connecting = async {
        let tcp = tcp::connect(endpoint).await?;
        match (endpoint.scheme, tls) {
            (Scheme::Tcp, _) => {
                let (r, w) = tcp.into_split();
                Ok((
                    ReadHalf::Stream(Box::new(r)),
                    WriteHalf::Stream(Box::new(w)),
                ))
            }
            (Scheme::Ws, _) => ws_halves(ws::handshake(tcp, endpoint).await?),
            (Scheme::Tls, Some((connector, name))) => {
                let stream = connector.connect(name, tcp).await?;
                let (r, w) = tokio::io::split(stream);
                Ok((
                    ReadHalf::Stream(Box::new(r)),
                    WriteHalf::Stream(Box::new(w)),
                ))
            }
            (Scheme::Wss, Some((connector, name))) => {
                let stream = connector.connect(name, tcp).await?;
                ws_halves(ws::handshake(stream, endpoint).await?)
            }
            (Scheme::Tls | Scheme::Wss, None) => unreachable!("TLS settings are built above"),
        }
    };
    match tokio::time::timeout(options.connect_timeout, connecting).await {
        Ok(Ok(halves)) => Ok(halves),
        Ok(Err(source)) => Err(ClientError::Connect { addr, source }),
        Err(_) => Err(ClientError::Connect {
            addr,
            source: io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "not connected within {}",
                    describe::duration(options.connect_timeout)
                ),
            ),
        }),
    }
}

/// The halves of a WebSocket connection as the reader and writer tasks
/// hold them.
fn ws_halves((r, w): (ws::WsReader, ws::WsWriter)) -> io::Result<(ReadHalf, WriteHalf)> {
    Ok((ReadHalf::Ws(r), WriteHalf::Ws(w)))
}
