//! A publisher task: connects at its ramp-up slot, waits until every
//! subscriber is subscribed, then sends on its open-loop schedule with at
//! most `inflight` unacknowledged QoS 1/2 messages. A full window delays the
//! actual send, never the intended time: a stalled broker shows in the
//! corrected latency. Churn closes and reopens the connection on a period;
//! the schedule keeps running meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_codec::{MqttString, Packet, PubResponse, Publish, QoS};

use crate::ctx::{Batch, Ctx};
use crate::event::Event;
use crate::fasthash::FastMap;
use crate::link::{Link, Woke};
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
    let spec = ctx.connect_spec(&me, group.clean(&ctx.profile));
    tokio::time::sleep_until(ctx.at(connect_at_ns).into()).await;
    let mut schedule: Option<Schedule> = None;
    let mut state = State {
        inflight: FastMap::default(),
        next_id: 1,
        payloads: BytesMut::new(),
    };
    loop {
        let t0 = ctx.clock.now_ns();
        let mut link = match Link::open(&spec).await {
            Ok(l) => l,
            Err(what) => {
                batch.push(Event::Error { client: me.n, what });
                batch.flush();
                if ctx.clock.now_ns() >= ctx.publish_end_ns {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        batch.push(Event::Connected {
            client: me.n,
            latency_ns: ctx.clock.now_ns().saturating_sub(t0),
        });
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
        // Anything left from an earlier connection stays unconfirmed.
        state.inflight.clear();
        let window = usize::from(group.inflight.min(link.receive_max));
        let churn_at = group.churn.map(|c| Instant::now() + c.get());
        let end = state
            .pump(
                &ctx, &me, &topic, &mut link, sched, window, churn_at, &mut batch,
            )
            .await;
        batch.push(Event::Disconnected { client: me.n });
        match end {
            End::Done => {
                link.close().await;
                return;
            }
            End::Churn => link.close().await,
            End::Failed(what) => {
                batch.push(Event::Error { client: me.n, what });
                if ctx.clock.now_ns() >= ctx.drain_end_ns {
                    return;
                }
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
        let ping_after = ctx.ping_after();
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
            if let Some(p) = ping_after {
                wake = wake.min(link.last_write() + p);
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
                    if ping_after.is_some_and(|p| now >= link.last_write() + p)
                        && link.pending_write() == 0
                    {
                        if let Err(e) = link.queue(&Packet::PingReq) {
                            return End::Failed(e);
                        }
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
