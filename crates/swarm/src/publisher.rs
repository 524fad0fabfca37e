//! A publisher task: connects at its ramp-up slot, waits until every
//! subscriber is subscribed, then sends on its open-loop schedule with at
//! most `inflight` unacknowledged QoS 1/2 messages. A full window delays the
//! actual send, never the intended time: a stalled broker shows in the
//! corrected latency. Churn closes and reopens the connection on a period;
//! the schedule keeps running meanwhile. A lost connection (a fault of the
//! run, or a dead link found by the Keep Alive) is reopened with backoff;
//! with a persistent session that the broker still holds, what was in
//! flight is sent again (MQTT-4.4.0-1), and a session the broker forgot is
//! told as lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{MqttString, Packet, PubResponse, Publish, QoS};

use crate::ctx::{Batch, Ctx};
use crate::event::Event;
use crate::fasthash::FastMap;
use crate::link::{Backoff, Link, Woke};
use crate::payload::Header;
use crate::plan::ClientPlan;
use crate::schedule::Schedule;

/// Messages put in the write buffer per turn, so reads interleave.
const MAX_PER_TURN: usize = 256;
/// Write buffer bytes above which no more messages are queued this turn.
const MAX_PENDING: usize = 256 * 1024;
/// How long a churning publisher waits for its window to empty.
const CHURN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct Flight {
    seq: u64,
    qos: u8,
    intended_ns: u64,
    sent_ns: u64,
    /// Waiting for PUBCOMP (QoS 2 after PUBREC).
    released: bool,
    /// Payload bytes, to send the same message again.
    size: u32,
}

enum End {
    Done,
    Churn,
    Failed(String),
}

/// The seed of publisher `n`'s schedule.
pub fn seed(profile_seed: u64, n: u32) -> u64 {
    profile_seed
        ^ u64::from(n)
            .wrapping_add(1)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Runs one publisher to the end of its schedule and drain.
pub async fn run(ctx: Arc<Ctx>, me: ClientPlan, connect_at_ns: u64) {
    let mut batch = Batch::new(ctx.events.clone());
    let group = &ctx.profile.groups[me.group];
    let topic = match MqttString::new(me.topic.clone()) {
        Ok(t) => t,
        Err(e) => {
            batch.push(Event::Error {
                client: me.n,
                what: format!("topic `{}`: {e:?}", me.topic),
            });
            return;
        }
    };
    let clean = group.clean(&ctx.profile);
    let spec = ctx.connect_spec(&me, clean);
    tokio::time::sleep_until(ctx.at(connect_at_ns).into()).await;
    let mut schedule: Option<Schedule> = None;
    let mut state = State {
        inflight: FastMap::default(),
        next_id: 1,
        payloads: BytesMut::new(),
    };
    let mut backoff = Backoff::new(seed(ctx.profile.seed, me.n));
    // The broker confirmed a session of ours (a CONNACK to Clean Start 0).
    let mut had_session = false;
    // When the last connection was lost, for the reconnect time.
    let mut lost_at: Option<u64> = None;
    loop {
        let t0 = ctx.clock.now_ns();
        let mut link = match Link::open(&spec).await {
            Ok(l) => l,
            Err(what) => {
                batch.push(Event::Error { client: me.n, what });
                batch.flush();
                let now = ctx.clock.now_ns();
                let finished = schedule.as_ref().is_some_and(|s| s.peek_ns().is_none())
                    && state.inflight.is_empty();
                if now >= ctx.drain_end_ns
                    || (schedule.is_none() && now >= ctx.publish_end_ns)
                    || finished
                {
                    return;
                }
                tokio::time::sleep(backoff.next_wait()).await;
                continue;
            }
        };
        backoff.reset();
        let now = ctx.clock.now_ns();
        batch.push(Event::Connected {
            client: me.n,
            latency_ns: now.saturating_sub(t0),
            clean,
            session_present: link.session_present,
            down_ns: lost_at.take().map(|t| now.saturating_sub(t)),
            at_ns: now,
        });
        if clean {
            // A new session: what was in flight stays unconfirmed.
            state.inflight.clear();
        } else if link.session_present {
            // MQTT-4.4.0-1: unacknowledged PUBLISH and PUBREL again, with
            // their original packet ids; PUBLISH with DUP 1 (MQTT-3.3.1-1).
            if let Err(what) = state.resend(&ctx, &me, &topic, &mut link, &mut batch) {
                batch.push(Event::Error { client: me.n, what });
            }
        } else {
            if had_session {
                batch.push(Event::SessionLost {
                    client: me.n,
                    at_ns: now,
                });
            }
            // 5.0 MQTT-3.2.2-5: no session on the broker's side, so none
            // on ours: what was in flight is unconfirmed, or (PUBREC
            // already in) owned and up to the broker.
            state.inflight.clear();
        }
        had_session = !clean;
        batch.flush();
        if schedule.is_none() {
            let mut ready = ctx.subscribed.clone();
            let _ = ready.wait_for(|r| *r).await;
            let start = ctx.clock.now_ns().max(ctx.start_ns);
            schedule = Some(Schedule::new(
                group,
                seed(ctx.profile.seed, me.n),
                start,
                ctx.publish_end_ns,
            ));
        }
        let Some(sched) = schedule.as_mut() else {
            return;
        };
        let window = usize::from(group.inflight.min(link.receive_max));
        let churn_at = group.churn.map(|c| Instant::now() + c.get());
        let end = state
            .pump(
                &ctx, &me, &topic, &mut link, sched, window, churn_at, &mut batch,
            )
            .await;
        let now = ctx.clock.now_ns();
        batch.push(Event::Disconnected {
            client: me.n,
            lost: matches!(end, End::Failed(_)),
            at_ns: now,
        });
        match end {
            End::Done => {
                link.close().await;
                batch.flush();
                return;
            }
            End::Churn => link.close().await,
            End::Failed(what) => {
                batch.push(Event::Error { client: me.n, what });
                lost_at = Some(now);
                if now >= ctx.drain_end_ns {
                    batch.flush();
                    return;
                }
                batch.flush();
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
        batch.flush();
    }
}

struct State {
    inflight: FastMap<u16, Flight>,
    next_id: u16,
    payloads: BytesMut,
}

impl State {
    /// Sends again, in publish order, what the resumed session still holds
    /// in flight: PUBREL for a QoS 2 message whose PUBREC came, else the
    /// same PUBLISH (the same payload, packet id and QoS) with DUP 1.
    fn resend(
        &mut self,
        ctx: &Ctx,
        me: &ClientPlan,
        topic: &MqttString,
        link: &mut Link,
        batch: &mut Batch,
    ) -> Result<(), String> {
        let mut flights: Vec<(u16, Flight)> = self.inflight.iter().map(|(k, v)| (*k, *v)).collect();
        flights.sort_unstable_by_key(|(_, f)| f.seq);
        let now = ctx.clock.now_ns();
        for (id, f) in flights {
            if f.released {
                link.queue(&Packet::PubRel(PubResponse::new(id)))?;
                continue;
            }
            let header = Header {
                qos: f.qos,
                publisher: me.n,
                seq: f.seq,
                intended_ns: f.intended_ns,
                sent_ns: f.sent_ns,
            };
            let payload = header.payload(f.size as usize, &ctx.filler, &mut self.payloads);
            let mut p = Publish::new(topic.clone(), payload);
            p.qos = QoS::from_bits(f.qos).unwrap_or(QoS::AtLeastOnce);
            p.packet_id = id;
            p.dup = true;
            link.queue(&Packet::Publish(p))?;
            batch.push(Event::Sent {
                publisher: me.n,
                seq: f.seq,
                qos: f.qos,
                bytes: f.size,
                dup: true,
                at_ns: now,
            });
        }
        Ok(())
    }

    fn packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&id) {
                return id;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn pump(
        &mut self,
        ctx: &Ctx,
        me: &ClientPlan,
        topic: &MqttString,
        link: &mut Link,
        sched: &mut Schedule,
        window: usize,
        churn_at: Option<Instant>,
        batch: &mut Batch,
    ) -> End {
        let mut churning = false;
        let mut churn_deadline = None;
        // Messages go out on timer ticks (1 ms, tokio's resolution, or the
        // run's --tick): everything due by a tick in one write. A read or a finished write in between sends only when the
        // schedule is a tick or more behind (the window was full).
        let mut tick = true;
        loop {
            let now_ns = ctx.clock.now_ns();
            let send = tick
                || sched
                    .peek_ns()
                    .is_some_and(|t| t.saturating_add(ctx.tick_ns) <= now_ns);
            if !churning && send {
                let mut queued = 0;
                while self.inflight.len() < window
                    && queued < MAX_PER_TURN
                    && link.pending_write() < MAX_PENDING
                    && sched.peek_ns().is_some_and(|t| t <= now_ns)
                {
                    let Some(m) = sched.next() else { break };
                    // One clock read per turn: the turn takes microseconds.
                    let sent_ns = now_ns;
                    let header = Header {
                        qos: m.qos,
                        publisher: me.n,
                        seq: m.seq,
                        intended_ns: m.intended_ns,
                        sent_ns,
                    };
                    let payload = header.payload(m.size as usize, &ctx.filler, &mut self.payloads);
                    let mut p = Publish::new(topic.clone(), payload);
                    p.qos = QoS::from_bits(m.qos).unwrap_or(QoS::AtMostOnce);
                    if m.qos > 0 {
                        p.packet_id = self.packet_id();
                        self.inflight.insert(
                            p.packet_id,
                            Flight {
                                seq: m.seq,
                                qos: m.qos,
                                intended_ns: m.intended_ns,
                                sent_ns,
                                released: false,
                                size: m.size,
                            },
                        );
                    }
                    if let Err(e) = link.queue(&Packet::Publish(p)) {
                        return End::Failed(e);
                    }
                    batch.push(Event::Sent {
                        publisher: me.n,
                        seq: m.seq,
                        qos: m.qos,
                        bytes: m.size,
                        dup: false,
                        at_ns: sent_ns,
                    });
                    queued += 1;
                }
            }
            let idle = self.inflight.is_empty() && link.pending_write() == 0;
            if sched.peek_ns().is_none() && idle {
                return End::Done;
            }
            if churning && idle {
                return End::Churn;
            }
            if now_ns >= ctx.drain_end_ns {
                return End::Done;
            }
            let mut wake = ctx.at(ctx.drain_end_ns);
            if churning {
                if churn_deadline.is_some_and(|d| Instant::now() >= d) {
                    return End::Churn;
                }
                wake = wake.min(churn_deadline.unwrap_or(wake));
            } else {
                if self.inflight.len() < window {
                    if let Some(t) = sched.peek_ns() {
                        wake = wake.min(ctx.at(ctx.tick_after(t)));
                    }
                }
                if let Some(c) = churn_at {
                    wake = wake.min(c);
                }
            }
            if let Some(k) = link.keep_alive_at() {
                wake = wake.min(k);
            }
            batch.flush();
            let woke = link.wait(wake).await;
            tick = matches!(woke, Ok(Woke::Timer));
            match woke {
                Err(e) => return End::Failed(e),
                Ok(Woke::Read) => {
                    // One clock read per read: every acknowledgement that
                    // came in it is timed when it returned (decoding the
                    // rest takes microseconds).
                    let now = ctx.clock.now_ns();
                    loop {
                        match link.next_packet() {
                            Ok(Some(p)) => {
                                if let Err(e) = self.on_packet(me, link, p, now, batch) {
                                    return End::Failed(e);
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return End::Failed(e),
                        }
                    }
                }
                Ok(Woke::Timer) => {
                    let now = Instant::now();
                    if !churning && churn_at.is_some_and(|c| now >= c) {
                        churning = true;
                        churn_deadline = Some(now + CHURN_GRACE);
                    }
                    if let Err(e) = link.keep_alive(now) {
                        return End::Failed(e);
                    }
                }
                Ok(Woke::Wrote | Woke::Other) => {}
            }
        }
    }

    fn on_packet(
        &mut self,
        me: &ClientPlan,
        link: &mut Link,
        p: Packet,
        now: u64,
        batch: &mut Batch,
    ) -> Result<(), String> {
        match p {
            Packet::PubAck(ack) => {
                let Some(f) = self.inflight.remove(&ack.packet_id) else {
                    return Err(format!("PUBACK for unknown packet id {}", ack.packet_id));
                };
                if ack.reason_code.is_error() {
                    batch.push(Event::Error {
                        client: me.n,
                        what: format!("PUBACK {}", ack.reason_code),
                    });
                } else {
                    batch.push(Event::Owned {
                        publisher: me.n,
                        seq: f.seq,
                        qos: f.qos,
                        corrected_ns: now.saturating_sub(f.intended_ns),
                        raw_ns: now.saturating_sub(f.sent_ns),
                        at_ns: now,
                    });
                }
            }
            Packet::PubRec(rec) => {
                let Some(f) = self.inflight.get_mut(&rec.packet_id) else {
                    return Err(format!("PUBREC for unknown packet id {}", rec.packet_id));
                };
                if rec.reason_code.is_error() {
                    self.inflight.remove(&rec.packet_id);
                    batch.push(Event::Error {
                        client: me.n,
                        what: format!("PUBREC {}", rec.reason_code),
                    });
                    return Ok(());
                }
                if !f.released {
                    f.released = true;
                    batch.push(Event::Owned {
                        publisher: me.n,
                        seq: f.seq,
                        qos: 2,
                        corrected_ns: now.saturating_sub(f.intended_ns),
                        raw_ns: now.saturating_sub(f.sent_ns),
                        at_ns: now,
                    });
                }
                link.queue(&Packet::PubRel(PubResponse::new(rec.packet_id)))?;
            }
            Packet::PubComp(comp) => {
                if let Some(f) = self.inflight.remove(&comp.packet_id) {
                    batch.push(Event::Completed {
                        publisher: me.n,
                        seq: f.seq,
                        corrected_ns: now.saturating_sub(f.intended_ns),
                        raw_ns: now.saturating_sub(f.sent_ns),
                        at_ns: now,
                    });
                }
            }
            Packet::Disconnect(d) => {
                return Err(format!("DISCONNECT from the broker: {}", d.reason_code))
            }
            _ => {}
        }
        Ok(())
    }
}
