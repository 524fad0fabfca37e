//! The TCP connection every transport starts from.

use std::io;

use tokio::net::TcpStream;

use crate::endpoint::Endpoint;

/// Resolves the endpoint's host and connects to the first address that
/// answers, with Nagle's algorithm off (tests send small packets and wait
/// for the answer).
pub(crate) async fn connect(endpoint: &Endpoint) -> io::Result<TcpStream> {
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}
