//! Any byte stream (TCP, TLS) as a transport.

use std::future::Future;
use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{ReadHalf, WriteHalf};

/// The reading half of a byte stream.
pub(crate) struct StreamReader<R>(pub(crate) R);

/// The writing half of a byte stream.
pub(crate) struct StreamWriter<W>(pub(crate) W);

impl<R: AsyncRead + Unpin + Send> ReadHalf for StreamReader<R> {
    fn recv<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(8192);
        }
        // `read_buf` is cancel-safe.
        self.0.read_buf(buf)
    }
}

impl<W: AsyncWrite + Unpin + Send> WriteHalf for StreamWriter<W> {
    async fn send(&mut self, data: Bytes) -> io::Result<()> {
        self.0.write_all(&data).await?;
        self.0.flush().await
    }

    async fn close(&mut self) {
        let _ = self.0.shutdown().await;
    }
}
