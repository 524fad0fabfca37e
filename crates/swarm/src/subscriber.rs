//! A subscriber task: connects at its ramp-up slot, subscribes, answers
//! QoS 1 and 2 deliveries (PUBACK; PUBREC, then PUBCOMP on PUBREL) and
//! reports every delivery with its arrival time. A QoS 2 PUBLISH whose
//! packet id still waits for its PUBREL is the same message again and is
//! not delivered twice (§4.3.3, method B of the receiver). With a persistent
//! session it may churn: reconnect on a period, resubscribing only when the
//! broker kept no session.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_codec::{
    MqttString, Packet, PubResponse, QoS, Subscribe, Subscription, SubscriptionOptions,
};
use tokio::sync::watch;

use crate::ctx::{Batch, Ctx};
use crate::event::Event;
use crate::fasthash::FastMap;
use crate::link::{Backoff, Link, Woke};
use crate::payload::Header;
use crate::plan::ClientPlan;

/// Counts subscribers down to "all subscribed".
#[derive(Debug)]
pub struct Countdown {
    left: AtomicUsize,
    done: watch::Sender<bool>,
}

impl Countdown {
    /// Waits for `n`; with 0 it is done at once.
    pub fn new(n: usize, done: watch::Sender<bool>) -> Countdown {
        if n == 0 {
            let _ = done.send(true);
        }
        Countdown {
            left: AtomicUsize::new(n),
            done,
        }
    }

    /// One more is ready (or gave up).
    pub fn tick(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.done.send(true);
        }
    }
}

enum End {
    Stop,
    Churn,
    Failed(String),
}

/// Runs one subscriber until the run says stop.
pub async fn run(ctx: Arc<Ctx>, me: ClientPlan, connect_at_ns: u64, ready: Arc<Countdown>) {
    let mut batch = Batch::new(ctx.events.clone());
    let group = &ctx.profile.groups[me.group];
    let clean = group.clean(&ctx.profile);
    let qos = match group.qos {
        crate::profile::QosMix::One(q) => q,
        crate::profile::QosMix::Mix(_) => 0,
    };
    let mut stop = ctx.stop.clone();
    let spec = ctx.connect_spec(&me, clean);
    let filter = match MqttString::new(me.topic.clone()) {
        Ok(f) => f,
        Err(e) => {
            batch.push(Event::Error {
                client: me.n,
                what: format!("filter `{}`: {e:?}", me.topic),
            });
            ready.tick();
            return;
        }
    };
    tokio::time::sleep_until(ctx.at(connect_at_ns).into()).await;
    let mut state = State {
        subscribed: false,
        counted: false,
        awaiting_rel: FastMap::default(),
    };
    let mut backoff = Backoff::new(crate::publisher::seed(ctx.profile.seed, me.n));
    let mut lost_at: Option<u64> = None;
    loop {
        if *stop.borrow_and_update() {
            break;
        }
        let t0 = ctx.clock.now_ns();
        let mut link = match Link::open(&spec).await {
            Ok(l) => l,
            Err(what) => {
                batch.push(Event::Error { client: me.n, what });
                batch.flush();
                if !state.counted && ctx.clock.now_ns() >= ctx.publish_end_ns {
                    state.counted = true;
                    ready.tick();
                }
                let wait = backoff.next_wait();
                let _ = tokio::time::timeout(wait, stop.changed()).await;
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
        if !clean && state.subscribed && !link.session_present {
            // The broker forgot the session, and the subscription with it:
            // what it queued meanwhile is gone (the accounting says so).
            batch.push(Event::SessionLost {
                client: me.n,
                at_ns: now,
            });
        }
        if clean || !link.session_present {
            state.awaiting_rel.clear();
        }
        let mut sub_sent = None;
        if !(state.subscribed && link.session_present) {
            let mut options =
                SubscriptionOptions::qos(QoS::from_bits(qos).unwrap_or(QoS::AtMostOnce));
            options.no_local = false;
            let sub = Subscribe {
                packet_id: 1,
                properties: Default::default(),
                filters: vec![Subscription {
                    filter: filter.clone(),
                    options,
                }],
            };
            if let Err(what) = link.queue(&Packet::Subscribe(sub)) {
                batch.push(Event::Error { client: me.n, what });
                ready.tick();
                return;
            }
            sub_sent = Some(ctx.clock.now_ns());
        }
        let churn_at = group.churn.map(|c| Instant::now() + c.get());
        let end = state
            .pump(
                &ctx, &me, &mut link, &mut stop, churn_at, sub_sent, &ready, &mut batch,
            )
            .await;
        let now = ctx.clock.now_ns();
        batch.push(Event::Disconnected {
            client: me.n,
            lost: matches!(end, End::Failed(_)),
            at_ns: now,
        });
        match end {
            End::Stop => {
                link.close().await;
                break;
            }
            End::Churn => link.close().await,
            End::Failed(what) => {
                batch.push(Event::Error { client: me.n, what });
                lost_at = Some(now);
                batch.flush();
                let wait = backoff.next_wait();
                let _ = tokio::time::timeout(wait, stop.changed()).await;
            }
        }
        batch.flush();
    }
    if !state.counted {
        ready.tick();
    }
}

struct State {
    subscribed: bool,
    counted: bool,
    /// QoS 2 packet ids whose PUBREL is awaited, with the message each
    /// carried (publisher and sequence number; `None` for a foreign one).
    awaiting_rel: FastMap<u16, Option<(u32, u64)>>,
}

impl State {
    #[allow(clippy::too_many_arguments)]
    async fn pump(
        &mut self,
        ctx: &Ctx,
        me: &ClientPlan,
        link: &mut Link,
        stop: &mut watch::Receiver<bool>,
        churn_at: Option<Instant>,
        mut sub_sent: Option<u64>,
        ready: &Countdown,
        batch: &mut Batch,
    ) -> End {
        loop {
            if *stop.borrow_and_update() {
                return End::Stop;
            }
            let far = Instant::now() + Duration::from_secs(3600);
            let mut wake = churn_at.unwrap_or(far);
            if let Some(k) = link.keep_alive_at() {
                wake = wake.min(k);
            }
            batch.flush();
            let woke = link
                .wait_or(wake, async {
                    let _ = stop.changed().await;
                })
                .await;
            match woke {
                Err(e) => return End::Failed(e),
                Ok(Woke::Other) => return End::Stop,
                Ok(Woke::Wrote) => {}
                Ok(Woke::Timer) => {
                    let now = Instant::now();
                    if churn_at.is_some_and(|c| now >= c) {
                        return End::Churn;
                    }
                    if let Err(e) = link.keep_alive(now) {
                        return End::Failed(e);
                    }
                }
                Ok(Woke::Read) => {
                    let now = ctx.clock.now_ns();
                    loop {
                        let p = match link.next_packet() {
                            Ok(Some(p)) => p,
                            Ok(None) => break,
                            Err(e) => return End::Failed(e),
                        };
                        let r = self.on_packet(me, link, p, now, &mut sub_sent, ready, batch);
                        if let Err(e) = r {
                            return End::Failed(e);
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_packet(
        &mut self,
        me: &ClientPlan,
        link: &mut Link,
        p: Packet,
        now: u64,
        sub_sent: &mut Option<u64>,
        ready: &Countdown,
        batch: &mut Batch,
    ) -> Result<(), String> {
        match p {
            Packet::Publish(p) => {
                let qos = p.qos.bits();
                let fresh = match p.qos {
                    QoS::AtMostOnce => true,
                    QoS::AtLeastOnce => {
                        link.queue(&Packet::PubAck(PubResponse::new(p.packet_id)))?;
                        true
                    }
                    QoS::ExactlyOnce => {
                        link.queue(&Packet::PubRec(PubResponse::new(p.packet_id)))?;
                        let carried = Header::parse(p.payload()).map(|h| (h.publisher, h.seq));
                        match self.awaiting_rel.insert(p.packet_id, carried) {
                            None => true,
                            // The same message again before its PUBREL: one
                            // delivery (MQTT-4.3.3-9 in 5.0, MQTT-4.3.3-2's
                            // method B in 3.1.1).
                            Some(before) if before == carried => false,
                            // Another message on a packet id whose QoS 2
                            // exchange is not over: the broker reused it
                            // (MQTT-2.3.1-4 in 3.1.1, MQTT-2.2.1-4 in 5.0) or
                            // forgot the exchange. Counted as delivered (it
                            // is what the broker sent) and told.
                            Some(before) => {
                                batch.push(Event::Error {
                                    client: me.n,
                                    what: format!(
                                        "QoS 2 PUBLISH of another message on packet id {} while the PUBREL of {} was awaited (3.1.1 MQTT-2.3.1-4, 5.0 MQTT-2.2.1-4)",
                                        p.packet_id,
                                        before.map_or("a foreign message".into(), |(n, s)| format!("publisher {n}'s seq {s}")),
                                    ),
                                });
                                true
                            }
                        }
                    }
                };
                if fresh {
                    match Header::parse(p.payload()) {
                        Some(header) => batch.push(Event::Delivered {
                            subscriber: me.n,
                            qos,
                            dup: p.dup,
                            header,
                            at_ns: now,
                        }),
                        None => batch.push(Event::Foreign { subscriber: me.n }),
                    }
                }
            }
            Packet::PubRel(rel) => {
                self.awaiting_rel.remove(&rel.packet_id);
                link.queue(&Packet::PubComp(PubResponse::new(rel.packet_id)))?;
            }
            Packet::SubAck(ack) => {
                let granted = ack
                    .reason_codes
                    .first()
                    .filter(|c| !c.is_error())
                    .map(|c| c.0);
                batch.push(Event::SubAcked {
                    client: me.n,
                    latency_ns: now.saturating_sub(sub_sent.take().unwrap_or(now)),
                    granted,
                    at_ns: now,
                });
                self.subscribed = true;
                if !self.counted {
                    self.counted = true;
                    ready.tick();
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
