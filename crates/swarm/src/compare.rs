//! Side-by-side generator efficiency: a third-party load tool (mqttwrk
//! 0.2.0, `cargo install mqttwrk --version 0.2.0`) against the swarm on the
//! same broker and the same fan-in shape (P publishers, one subscriber of
//! all of them, QoS q, m-byte payloads). Each tool's CPU time is read from
//! /proc: the peer's from its zombie's `stat` just before it is reaped (the
//! final figure), the broker's before and after. Messages count once when
//! sent and once when delivered, for both tools alike.
//!
//! mqttwrk waits forever when the broker drops one message, so it runs
//! under a timeout; a run that times out is reported as such, with no
//! figure.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::SwarmError;

/// The shape both tools run.
#[derive(Debug, Clone, Serialize)]
pub struct Shape {
    /// Publishers.
    pub publishers: u32,
    /// Messages per publisher.
    pub count: u64,
    /// QoS of publications and of the subscription.
    pub qos: u8,
    /// Payload bytes.
    pub payload: u32,
    /// Unacknowledged messages per publisher.
    pub inflight: u16,
}

/// One tool's run.
#[derive(Debug, Clone, Serialize)]
pub struct PeerRun {
    /// The tool.
    pub tool: String,
    /// The command line.
    pub command: String,
    /// Finished in time with exit status 0.
    pub completed: bool,
    /// Wall seconds.
    pub wall_s: f64,
    /// The tool's CPU seconds (user + system).
    pub cpu_s: Option<f64>,
    /// The broker's CPU seconds during the run.
    pub broker_cpu_s: Option<f64>,
    /// Messages sent plus delivered (when completed: all of them).
    pub messages: u64,
    /// Messages per tool CPU-second.
    pub per_cpu_s: Option<f64>,
    /// Sent messages per wall second.
    pub rate: f64,
}

/// Runs `mqttwrk bench` with `shape` against `addr` (unthrottled), at most
/// `timeout`.
pub fn mqttwrk(
    addr: SocketAddr,
    shape: &Shape,
    broker_pid: Option<u32>,
    timeout: Duration,
) -> Result<PeerRun, SwarmError> {
    let args: Vec<String> = vec![
        "bench".into(),
        "-S".into(),
        addr.ip().to_string(),
        "-P".into(),
        addr.port().to_string(),
        "-p".into(),
        shape.publishers.to_string(),
        "-s".into(),
        "1".into(),
        "-n".into(),
        shape.count.to_string(),
        "--publish-qos".into(),
        shape.qos.to_string(),
        "--subscribe-qos".into(),
        shape.qos.to_string(),
        "-m".into(),
        shape.payload.to_string(),
        "-i".into(),
        shape.inflight.to_string(),
        "-k".into(),
        "60".into(),
    ];
    let command = format!("mqttwrk {}", args.join(" "));
    let broker_before = broker_pid.and_then(crate::cpu::process);
    let started = Instant::now();
    let mut child = Command::new("mqttwrk")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            SwarmError::Options(format!(
                "cannot run mqttwrk ({e}): install it with `cargo install mqttwrk --version 0.2.0`"
            ))
        })?;
    let pid = child.id();
    let deadline = started + timeout;
    let mut timed_out = false;
    let cpu = loop {
        // A zombie's stat still holds its final CPU times.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rfind(')').and_then(|i| stat.get(i + 2..i + 3));
        if state == Some("Z") || stat.is_empty() {
            break crate::cpu::process(pid);
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let cpu = crate::cpu::process(pid);
            let _ = child.kill();
            break cpu;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let status = child.wait().ok();
    let wall_s = started.elapsed().as_secs_f64();
    let broker_after = broker_pid.and_then(crate::cpu::process);
    let completed = !timed_out && status.is_some_and(|s| s.success());
    let sent = u64::from(shape.publishers) * shape.count;
    let messages = if completed { 2 * sent } else { 0 };
    let cpu_s = cpu.map(|d| d.as_secs_f64());
    Ok(PeerRun {
        tool: "mqttwrk 0.2.0".into(),
        command,
        completed,
        wall_s,
        cpu_s,
        broker_cpu_s: match (broker_before, broker_after) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64()),
            _ => None,
        },
        messages,
        per_cpu_s: cpu_s
            .filter(|c| *c > 0.0 && completed)
            .map(|c| messages as f64 / c),
        rate: if completed { sent as f64 / wall_s } else { 0.0 },
    })
}

/// The swarm profile of the same shape at `rate` messages/s in all.
pub fn profile(shape: &Shape, rate: f64) -> crate::Profile {
    let per = rate / f64::from(shape.publishers);
    let secs = shape.count as f64 / per;
    let yaml = format!(
        "
name: compare-fan-in-qos{q}
description: the shape of the mqttwrk comparison
version: '3.1.1'
duration: {ms}ms
drain: 10s
groups:
  - {{name: pubs, role: publisher, count: {p}, topic: 'hello/{{id}}/world', qos: {q}, rate: {per}, payload: {m}, inflight: {i}}}
  - {{name: sub, role: subscriber, count: 1, topic: 'hello/+/world', qos: {q}}}
",
        q = shape.qos,
        ms = (secs * 1000.0).ceil() as u64,
        p = shape.publishers,
        m = shape.payload.max(crate::profile::MIN_PAYLOAD),
        i = shape.inflight,
    );
    crate::Profile::from_yaml(&yaml, "compare").expect("the comparison profile is well formed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swarm_profile_has_the_same_shape() {
        let shape = Shape {
            publishers: 10,
            count: 1000,
            qos: 1,
            payload: 100,
            inflight: 100,
        };
        let p = profile(&shape, 5000.0);
        assert_eq!(p.clients(), 11);
        assert!((p.total_rate() - 5000.0).abs() < 1e-6);
        // 1000 messages at 500/s each: 2 s.
        assert_eq!(p.duration.get(), Duration::from_secs(2));
    }
}
