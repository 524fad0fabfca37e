//! The `server_conn` target: the reference server's connection handler
//! (`mqtt_server::fuzzing::serve_streams`) fed byte streams on several
//! connections at once, through small in-memory pipes so that the handler
//! sees short reads, with virtual time so that keep-alive and connect
//! timeouts fire at once.
//!
//! Checked: no panic in the handler or the broker task; every connection
//! ends (a hang is a libFuzzer timeout); what the server writes decodes
//! with the strict client-side decoder in the version of the client's
//! CONNECT (3.1.1 when there was none: the CONNACK 0x01 of an unsupported
//! level) with nothing left over; CONNACK, if any, comes first.

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::BytesMut;
use mqtt_codec::{Decoder, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One piece of what a client writes.
#[derive(Debug, Arbitrary)]
pub enum Chunk {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A packet, encoded in the version of the connection's CONNECT (or its
    /// own, for a CONNECT).
    Packet(Packet),
    /// Virtual time passes (seconds).
    Pause(u8),
}

/// What one client does.
#[derive(Debug, Arbitrary)]
pub struct Script {
    /// What it writes, in order.
    pub chunks: Vec<Chunk>,
    /// Pipe capacity minus one: how many bytes one read can return at most.
    pub pipe: u8,
    /// Keep the connection open this many virtual seconds after writing
    /// (else close at once).
    pub linger: u8,
}

/// The bytes a script writes, with the pauses and the version it speaks.
fn render(script: &Script) -> (Vec<(Vec<u8>, u8)>, Option<ProtocolVersion>) {
    let mut version = None;
    let mut out = Vec::new();
    for chunk in script.chunks.iter().take(64) {
        match chunk {
            Chunk::Bytes(b) => out.push((b.clone(), 0)),
            Chunk::Pause(secs) => out.push((Vec::new(), *secs)),
            Chunk::Packet(p) => {
                let v = match p {
                    Packet::Connect(c) => c.protocol_version,
                    _ => version.unwrap_or(ProtocolVersion::V311),
                };
                if let Ok(bytes) = p.to_bytes(v) {
                    out.push((bytes.to_vec(), 0));
                }
            }
        }
    }
    // The version the server learns: the first packet's, if it is a CONNECT.
    let all: Vec<u8> = out.iter().flat_map(|(b, _)| b.iter().copied()).collect();
    let mut buf = BytesMut::from(&all[..]);
    if let Ok(Some(Packet::Connect(c))) = Decoder::server().decode(&mut buf) {
        version = Some(c.protocol_version);
    }
    (out, version)
}

/// Checks what the server wrote to a client.
fn check_output(output: &[u8], version: Option<ProtocolVersion>) {
    let mut decoder = Decoder::new(version.unwrap_or(ProtocolVersion::V311));
    let mut buf = BytesMut::from(output);
    let mut first = true;
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(packet)) => {
                if first {
                    assert!(
                        matches!(packet, Packet::ConnAck(_)),
                        "first packet from the server is {packet:?}"
                    );
                } else {
                    assert!(!matches!(packet, Packet::ConnAck(_)), "a second CONNACK");
                }
                if version.is_none() {
                    assert!(first, "{packet:?} after the CONNACK of a refused CONNECT");
                }
                first = false;
            }
            Ok(None) => {
                assert!(buf.is_empty(), "the server wrote a partial packet: {buf:?}");
                return;
            }
            Err(e) => panic!("the server wrote a malformed packet ({e}): {output:?}"),
        }
    }
}

/// Runs one input: up to four clients against one server.
pub fn check_server(scripts: Vec<Script>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        for s in &scripts {
            eprintln!("script: pipe {} linger {}", s.pipe, s.linger);
            let (chunks, version) = render(s);
            eprintln!("  version {version:?}");
            for (b, pause) in chunks {
                eprintln!("  pause {pause} bytes {b:02x?}");
            }
        }
    }
    runtime.block_on(async move {
        let mut servers = Vec::new();
        // The clients' own pauses, on top of the hour the server may take.
        let mut client_time = 0u64;
        let mut clients = Vec::new();
        for script in scripts.into_iter().take(4) {
            let (client, server) = tokio::io::duplex(1 + usize::from(script.pipe % 64));
            servers.push(server);
            let (chunks, version) = render(&script);
            let linger = script.linger;
            client_time += u64::from(linger) + chunks.iter().map(|c| u64::from(c.1)).sum::<u64>();
            clients.push(tokio::spawn(async move {
                let (mut r, mut w) = tokio::io::split(client);
                let reader = tokio::spawn(async move {
                    let mut out = Vec::new();
                    let _ = r.read_to_end(&mut out).await;
                    out
                });
                for (bytes, pause) in chunks {
                    if pause > 0 {
                        tokio::time::sleep(Duration::from_secs(u64::from(pause))).await;
                    }
                    // The server may have closed: stop writing.
                    if w.write_all(&bytes).await.is_err() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                tokio::time::sleep(Duration::from_secs(u64::from(linger))).await;
                let _ = w.shutdown().await;
                drop(w);
                let out = reader.await.expect("the reader does not panic");
                check_output(&out, version);
            }));
        }
        let server = mqtt_server::fuzzing::serve_streams(mqtt_model::Config::default(), servers);
        // Virtual time: an hour passes in no time when everything waits.
        tokio::time::timeout(Duration::from_secs(3600 + client_time), server)
            .await
            .expect("every connection ends within an hour of the clients' last action");
        for c in clients {
            if let Err(e) = c.await {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    });
}
