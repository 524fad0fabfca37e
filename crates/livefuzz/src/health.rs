//! Liveness and resources of the target: a fresh CONNECT must get its
//! CONNACK (a refused connection alone is not a crash: the probe retries
//! before it calls the target unresponsive), and, for a broker the harness
//! started, the process must live; its memory (RSS) and CPU time are read
//! from /proc.

use std::net::SocketAddr;
use std::time::Duration;

use mqtt_codec::{Connect, MqttString, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One attempt: CONNECT, CONNACK within `within`.
async fn probe_once(
    addr: SocketAddr,
    version: ProtocolVersion,
    within: Duration,
) -> Result<(), String> {
    let attempt = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let id = format!("fzprobe{}", std::process::id());
        let connect = Packet::Connect(Box::new(Connect::new(
            version,
            MqttString::new(id).map_err(|e| format!("{e:?}"))?,
        )));
        let bytes = connect.to_bytes(version).map_err(|e| e.to_string())?;
        s.write_all(&bytes)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf[..2])
            .await
            .map_err(|e| format!("read: {e}"))?;
        if buf[0] != 0x20 {
            return Err(format!("first byte {:#04x}, not CONNACK", buf[0]));
        }
        // A clean disconnect, so the probe leaves no session behind.
        let _ = s.write_all(&[0xE0, 0x00]).await;
        Ok(())
    };
    match tokio::time::timeout(within, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no CONNACK within {within:?}")),
    }
}

/// The target answers a CONNECT: tried `tries` times, a second apart.
pub async fn probe(
    addr: SocketAddr,
    version: ProtocolVersion,
    within: Duration,
    tries: u32,
) -> Result<(), String> {
    let mut last = String::new();
    for i in 0..tries.max(1) {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match probe_once(addr, version, within).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A sample of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcSample {
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// User and system CPU time, clock ticks.
    pub cpu_ticks: u64,
}

/// How a process stands: alive with a sample, or gone (with its state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcState {
    /// Running (or sleeping).
    Alive(ProcSample),
    /// Exited (a zombie awaiting its parent, or gone).
    Dead(String),
}

/// Reads /proc/`pid`.
pub fn sample(pid: u32) -> ProcState {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcState::Dead("the process is gone".into());
    };
    // The fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first().copied().unwrap_or("?");
    if state == "Z" || state == "X" {
        return ProcState::Dead(format!("the process exited (state {state})"));
    }
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of stat (11 and 12 here).
    let cpu_ticks = num(11) + num(12);
    let rss_kib = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    ProcState::Alive(ProcSample { rss_kib, cpu_ticks })
}

/// Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux).
pub const TICKS_PER_SEC: u64 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_alive_with_memory() {
        match sample(std::process::id()) {
            ProcState::Alive(s) => assert!(s.rss_kib > 0),
            ProcState::Dead(e) => panic!("{e}"),
        }
        assert!(matches!(sample(u32::MAX - 1), ProcState::Dead(_)));
    }

    #[tokio::test]
    async fn a_closed_port_fails_the_probe() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let r = probe(addr, ProtocolVersion::V311, Duration::from_secs(2), 1).await;
        assert!(r.is_err());
    }
}
