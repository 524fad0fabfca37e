//! Decode and encode throughput of `mqtt-codec` against `mqttbytes` 0.6 (the
//! most used standalone Rust MQTT codec), side by side in the same run and
//! on identical bytes.
//!
//! Every byte stream is built once, with our encoder. At setup the bench
//! checks that `mqttbytes` encodes the equivalent packets to the very same
//! bytes, and that both decoders decode every packet of every stream into
//! the packets it was built from, so both sides do the same work.
//!
//! Groups, for MQTT 3.1.1 and 5.0 each:
//! * `decode_mixed_*`: one stream of PUBLISH QoS 0/1/2 with 16 B, 256 B and
//!   4 KiB payloads, PUBACK and SUBSCRIBE (and in 5.0 also PUBLISH,
//!   PUBACK and SUBSCRIBE with properties), the sequence repeated 10 times.
//!   The buffer is cloned per iteration outside the timing (`iter_batched`)
//!   and handed back afterwards, so that both decoders start from the same
//!   state and neither pays for freeing it.
//! * `decode_kind_*`: each of those packets alone, 100 times in a buffer.
//! * `encode_mixed_*`: the packets of the mixed stream, encoded into a
//!   reused buffer.
//!
//! No packet kind had to be left out: `mqttbytes` decodes all of them.
//! `mqttbytes` checks much less than we do: it copies strings into `String`
//! (so UTF-8 is checked) but checks no U+0000, no wildcard rule, no reason
//! code table (beyond its enum), no property-per-packet rule, no duplicate
//! property, no trailing bytes, no minimal Variable Byte Integer.
//!
//! On Linux the time measured is the bench thread's CPU time, not wall time
//! (see [`ThreadCpuTime`]): the figures stay comparable on a machine that is
//! busy with other work.
//!
//! Run: `cargo bench -p mqtt-codec --bench codec -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use mqtt_codec::{
    Decoder, MqttString, Packet, Properties, PropertyValues, ProtocolVersion, PubResponse, Publish,
    QoS, ReasonCode, RetainHandling, Subscribe, Subscription, SubscriptionOptions,
};
use mqttbytes::{v4, v5};

/// `max_size` passed to `mqttbytes::v*::read`: the largest Remaining Length.
const MQTTBYTES_MAX: usize = 268_435_455;
/// How often the mixed sequence is repeated in the mixed stream.
const MIXED_REPEAT: usize = 10;
/// How often one packet is repeated in a single-kind stream.
const KIND_REPEAT: usize = 100;

fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v)
}

fn payload(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn publish(qos: QoS, len: usize, packet_id: u16) -> Publish {
    Publish::new(s("harness/bench/device-0042/telemetry"), payload(len))
        .with_qos(qos, if qos == QoS::AtMostOnce { 0 } else { packet_id })
}

fn filters(v5_options: bool) -> Vec<Subscription> {
    let opts = |qos| {
        if v5_options {
            SubscriptionOptions {
                qos,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendIfNew,
            }
        } else {
            SubscriptionOptions::qos(qos)
        }
    };
    vec![
        Subscription {
            filter: s("harness/bench/+/telemetry"),
            options: opts(QoS::AtLeastOnce),
        },
        Subscription {
            filter: s("harness/bench/device-0042/#"),
            options: opts(QoS::ExactlyOnce),
        },
        Subscription {
            filter: s("harness/status"),
            options: opts(QoS::AtMostOnce),
        },
    ]
}

/// The packet kinds of a version, named. The mixed stream is all of them in
/// this order.
fn kinds(v: ProtocolVersion) -> Vec<(String, Packet)> {
    let mut out = Vec::new();
    let mut id = 1;
    for (len, size) in [(16, "16B"), (256, "256B"), (4096, "4KiB")] {
        for (qos, q) in [
            (QoS::AtMostOnce, 0),
            (QoS::AtLeastOnce, 1),
            (QoS::ExactlyOnce, 2),
        ] {
            out.push((
                format!("publish_qos{q}_{size}"),
                Packet::Publish(publish(qos, len, id)),
            ));
            id += 1;
        }
    }
    out.push(("puback".into(), Packet::PubAck(PubResponse::new(42))));
    out.push((
        "subscribe".into(),
        Packet::Subscribe(Subscribe {
            packet_id: 43,
            properties: Properties::default(),
            filters: filters(false),
        }),
    ));
    if v.is_v5() {
        // Property sets chosen so that our canonical order (ascending
        // identifier) is also the order mqttbytes writes: equal bytes.
        let mut p = publish(QoS::AtLeastOnce, 256, 44);
        p.properties = Properties::from(PropertyValues {
            message_expiry_interval: Some(3600),
            topic_alias: Some(5),
            user_properties: vec![
                (s("trace-id"), s("4bf92f3577b34da6a3ce929d0e0e4736")),
                (s("unit"), s("celsius")),
            ],
            ..PropertyValues::default()
        });
        out.push(("publish_props_256B".into(), Packet::Publish(p)));
        let mut p = publish(QoS::AtLeastOnce, 256, 45);
        p.properties = Properties::from(PropertyValues {
            response_topic: Some(s("harness/bench/device-0042/reply")),
            correlation_data: Some(Bytes::from_static(b"0123456789abcdef")),
            user_properties: vec![(s("trace-id"), s("4bf92f3577b34da6a3ce929d0e0e4736"))],
            ..PropertyValues::default()
        });
        out.push(("publish_request_256B".into(), Packet::Publish(p)));
        out.push((
            "puback_reason_props".into(),
            Packet::PubAck(PubResponse {
                packet_id: 46,
                reason_code: ReasonCode::NO_MATCHING_SUBSCRIBERS,
                properties: Properties::from(PropertyValues {
                    reason_string: Some(s("no subscriber for this topic")),
                    user_properties: vec![(s("node"), s("broker-3"))],
                    ..PropertyValues::default()
                }),
            }),
        ));
        out.push((
            "subscribe_props".into(),
            Packet::Subscribe(Subscribe {
                packet_id: 47,
                properties: Properties::from(PropertyValues {
                    subscription_identifiers: vec![7],
                    user_properties: vec![(s("client"), s("bench"))],
                    ..PropertyValues::default()
                }),
                filters: filters(true),
            }),
        ));
    }
    out
}

fn qos_of(q: QoS) -> mqttbytes::QoS {
    match q {
        QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
    }
}

fn strings(v: &[(MqttString, MqttString)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The mqttbytes 3.1.1 packet equivalent to ours.
fn to_v4(p: &Packet) -> v4::Packet {
    match p {
        Packet::Publish(p) => v4::Packet::Publish(v4::Publish {
            dup: p.dup,
            qos: qos_of(p.qos),
            retain: p.retain,
            topic: p.topic().to_string(),
            pkid: p.packet_id,
            payload: p.payload_bytes(),
        }),
        Packet::PubAck(a) => v4::Packet::PubAck(v4::PubAck::new(a.packet_id)),
        Packet::Subscribe(s) => v4::Packet::Subscribe(v4::Subscribe {
            pkid: s.packet_id,
            filters: s
                .filters
                .iter()
                .map(|f| v4::SubscribeFilter::new(f.filter.to_string(), qos_of(f.options.qos)))
                .collect(),
        }),
        other => unreachable!("not in the bench: {other:?}"),
    }
}

/// The mqttbytes 5.0 packet equivalent to ours.
fn to_v5(p: &Packet) -> v5::Packet {
    match p {
        Packet::Publish(p) => {
            let pr = &p.properties;
            let properties = (!pr.is_empty()).then(|| v5::PublishProperties {
                payload_format_indicator: pr.payload_format_indicator,
                message_expiry_interval: pr.message_expiry_interval,
                topic_alias: pr.topic_alias,
                response_topic: pr.response_topic.as_ref().map(|t| t.to_string()),
                correlation_data: pr.correlation_data.clone(),
                user_properties: strings(&pr.user_properties),
                subscription_identifiers: pr
                    .subscription_identifiers
                    .iter()
                    .map(|&i| i as usize)
                    .collect(),
                content_type: pr.content_type.as_ref().map(|t| t.to_string()),
            });
            v5::Packet::Publish(v5::Publish {
                dup: p.dup,
                qos: qos_of(p.qos),
                retain: p.retain,
                topic: p.topic().to_string(),
                pkid: p.packet_id,
                properties,
                payload: p.payload_bytes(),
            })
        }
        Packet::PubAck(a) => {
            let reason = match a.reason_code {
                ReasonCode::SUCCESS => v5::PubAckReason::Success,
                ReasonCode::NO_MATCHING_SUBSCRIBERS => v5::PubAckReason::NoMatchingSubscribers,
                other => unreachable!("not in the bench: {other:?}"),
            };
            let pr = &a.properties;
            let properties = (!pr.is_empty()).then(|| v5::PubAckProperties {
                reason_string: pr.reason_string.as_ref().map(|t| t.to_string()),
                user_properties: strings(&pr.user_properties),
            });
            v5::Packet::PubAck(v5::PubAck {
                pkid: a.packet_id,
                reason,
                properties,
            })
        }
        Packet::Subscribe(s) => {
            let pr = &s.properties;
            let properties = (!pr.is_empty()).then(|| v5::SubscribeProperties {
                id: pr.subscription_identifiers.first().map(|&i| i as usize),
                user_properties: strings(&pr.user_properties),
            });
            let filters = s
                .filters
                .iter()
                .map(|f| {
                    let mut m =
                        v5::SubscribeFilter::new(f.filter.to_string(), qos_of(f.options.qos));
                    m.set_nolocal(f.options.no_local)
                        .set_preserve_retain(f.options.retain_as_published)
                        .set_retain_forward_rule(match f.options.retain_handling {
                            RetainHandling::SendAtSubscribe => {
                                v5::RetainForwardRule::OnEverySubscribe
                            }
                            RetainHandling::SendIfNew => v5::RetainForwardRule::OnNewSubscribe,
                            RetainHandling::DoNotSend => v5::RetainForwardRule::Never,
                        });
                    m
                })
                .collect();
            v5::Packet::Subscribe(v5::Subscribe {
                pkid: s.packet_id,
                filters,
                properties,
            })
        }
        other => unreachable!("not in the bench: {other:?}"),
    }
}

/// The other codec's packets for one version, with its encoder and decoder.
enum Theirs {
    V4(Vec<v4::Packet>),
    V5(Vec<v5::Packet>),
}

impl Theirs {
    fn new(v: ProtocolVersion, ours: &[Packet]) -> Self {
        match v {
            ProtocolVersion::V311 => Theirs::V4(ours.iter().map(to_v4).collect()),
            ProtocolVersion::V5 => Theirs::V5(ours.iter().map(to_v5).collect()),
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            Theirs::V4(ps) => {
                for p in ps {
                    let r = match p {
                        v4::Packet::Publish(p) => p.write(out),
                        v4::Packet::PubAck(p) => p.write(out),
                        v4::Packet::Subscribe(p) => p.write(out),
                        other => unreachable!("not in the bench: {other:?}"),
                    };
                    r.expect("mqttbytes encodes");
                }
            }
            Theirs::V5(ps) => {
                for p in ps {
                    let r = match p {
                        v5::Packet::Publish(p) => p.write(out),
                        v5::Packet::PubAck(p) => p.write(out),
                        v5::Packet::Subscribe(p) => p.write(out),
                        other => unreachable!("not in the bench: {other:?}"),
                    };
                    r.expect("mqttbytes encodes");
                }
            }
        }
    }
}

fn encode_ours(v: ProtocolVersion, packets: &[Packet], out: &mut BytesMut) {
    for p in packets {
        p.encode(v, out).expect("our codec encodes");
    }
}

/// Decodes the whole stream with our codec; returns the packet count and
/// the emptied buffer, so that the stream's memory is freed outside the
/// timing (criterion drops what the routine returns after measuring).
fn decode_ours(v: ProtocolVersion, mut buf: BytesMut) -> (usize, BytesMut) {
    let mut decoder = Decoder::new(v);
    let mut n = 0;
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                black_box(&p);
                n += 1;
            }
            Ok(None) => break,
            Err(e) => panic!("our codec decodes: {e}"),
        }
    }
    assert!(buf.is_empty());
    (n, buf)
}

/// Decodes the whole stream with mqttbytes, like [`decode_ours`].
fn decode_theirs(v: ProtocolVersion, mut buf: BytesMut) -> (usize, BytesMut) {
    let mut n = 0;
    match v {
        ProtocolVersion::V311 => loop {
            match v4::read(&mut buf, MQTTBYTES_MAX) {
                Ok(p) => {
                    black_box(&p);
                    n += 1;
                }
                Err(mqttbytes::Error::InsufficientBytes(_)) => break,
                Err(e) => panic!("mqttbytes decodes: {e:?}"),
            }
        },
        ProtocolVersion::V5 => loop {
            match v5::read(&mut buf, MQTTBYTES_MAX) {
                Ok(p) => {
                    black_box(&p);
                    n += 1;
                }
                Err(mqttbytes::Error::InsufficientBytes(_)) => break,
                Err(e) => panic!("mqttbytes decodes: {e:?}"),
            }
        },
    }
    assert!(buf.is_empty());
    (n, buf)
}

/// Setup check: both codecs decode `stream` into exactly `packets`, and
/// mqttbytes encodes its equivalent packets to the same bytes.
fn verify(v: ProtocolVersion, packets: &[Packet], stream: &BytesMut) {
    let theirs = Theirs::new(v, packets);
    let mut their_bytes = BytesMut::new();
    theirs.encode(&mut their_bytes);
    assert_eq!(&their_bytes[..], &stream[..], "{v}: encoders disagree");

    let mut buf = stream.clone();
    let mut decoder = Decoder::new(v);
    for want in packets {
        let got = decoder.decode(&mut buf).expect("our codec decodes");
        assert_eq!(got.as_ref(), Some(want), "{v}: our decoder");
    }
    assert!(buf.is_empty());

    let mut buf = stream.clone();
    match &theirs {
        Theirs::V4(want) => {
            for w in want {
                assert_eq!(&v4::read(&mut buf, MQTTBYTES_MAX).unwrap(), w, "{v}");
            }
        }
        Theirs::V5(want) => {
            for w in want {
                assert_eq!(&v5::read(&mut buf, MQTTBYTES_MAX).unwrap(), w, "{v}");
            }
        }
    }
    assert!(buf.is_empty());
    assert_eq!(decode_ours(v, stream.clone()).0, packets.len());
    assert_eq!(decode_theirs(v, stream.clone()).0, packets.len());
}

fn tag(v: ProtocolVersion) -> &'static str {
    v.pick("v311", "v5")
}

fn mixed(v: ProtocolVersion) -> (Vec<Packet>, BytesMut) {
    let packets: Vec<Packet> = kinds(v)
        .into_iter()
        .map(|(_, p)| p)
        .cycle()
        .take(MIXED_REPEAT * kinds(v).len())
        .collect();
    let mut stream = BytesMut::new();
    encode_ours(v, &packets, &mut stream);
    verify(v, &packets, &stream);
    (packets, stream)
}

fn decode_mixed(c: &mut Criterion<Clock>) {
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let (_, stream) = mixed(v);
        let mut g = c.benchmark_group(format!("decode_mixed_{}", tag(v)));
        g.throughput(Throughput::Bytes(stream.len() as u64));
        g.bench_function("mqtt-codec", |b| {
            b.iter_batched(
                || stream.clone(),
                |buf| decode_ours(v, buf),
                BatchSize::SmallInput,
            )
        });
        g.bench_function("mqttbytes", |b| {
            b.iter_batched(
                || stream.clone(),
                |buf| decode_theirs(v, buf),
                BatchSize::SmallInput,
            )
        });
        g.finish();
    }
}

fn decode_kind(c: &mut Criterion<Clock>) {
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut g = c.benchmark_group(format!("decode_kind_{}", tag(v)));
        for (name, packet) in kinds(v) {
            let packets = vec![packet; KIND_REPEAT];
            let mut stream = BytesMut::new();
            encode_ours(v, &packets, &mut stream);
            verify(v, &packets, &stream);
            g.throughput(Throughput::Bytes(stream.len() as u64));
            g.bench_with_input(BenchmarkId::new("mqtt-codec", &name), &stream, |b, s| {
                b.iter_batched(
                    || s.clone(),
                    |buf| decode_ours(v, buf),
                    BatchSize::SmallInput,
                )
            });
            g.bench_with_input(BenchmarkId::new("mqttbytes", &name), &stream, |b, s| {
                b.iter_batched(
                    || s.clone(),
                    |buf| decode_theirs(v, buf),
                    BatchSize::SmallInput,
                )
            });
        }
        g.finish();
    }
}

fn encode_mixed(c: &mut Criterion<Clock>) {
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let (packets, stream) = mixed(v);
        let theirs = Theirs::new(v, &packets);
        let mut g = c.benchmark_group(format!("encode_mixed_{}", tag(v)));
        g.throughput(Throughput::Bytes(stream.len() as u64));
        let mut out = BytesMut::with_capacity(stream.len());
        g.bench_function("mqtt-codec", |b| {
            b.iter(|| {
                out.clear();
                encode_ours(v, black_box(&packets), &mut out);
                black_box(out.len())
            })
        });
        g.bench_function("mqttbytes", |b| {
            b.iter(|| {
                out.clear();
                black_box(&theirs).encode(&mut out);
                black_box(out.len())
            })
        });
        g.finish();
    }
}

/// What the bench measures: on Linux the bench thread's CPU time, elsewhere
/// wall time.
#[cfg(target_os = "linux")]
type Clock = ThreadCpuTime;
#[cfg(not(target_os = "linux"))]
type Clock = criterion::measurement::WallTime;

/// The bench thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), reported like
/// wall time. On a machine shared with other work, wall time also counts
/// the time the thread waits for a core, which makes whichever codec runs
/// during a burst of other work look slow; CPU time does not.
#[cfg(target_os = "linux")]
struct ThreadCpuTime(criterion::measurement::WallTime);

#[cfg(target_os = "linux")]
fn thread_cpu_now() -> std::time::Duration {
    use rustix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::ThreadCPUTime);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(t.tv_nsec).unwrap_or(0);
    std::time::Duration::new(secs, nanos)
}

#[cfg(target_os = "linux")]
impl criterion::measurement::Measurement for ThreadCpuTime {
    type Intermediate = std::time::Duration;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        thread_cpu_now()
    }
    fn end(&self, start: Self::Intermediate) -> Self::Value {
        thread_cpu_now().saturating_sub(start)
    }
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        self.0.formatter()
    }
}

fn config() -> Criterion<Clock> {
    #[cfg(target_os = "linux")]
    let clock = ThreadCpuTime(criterion::measurement::WallTime);
    #[cfg(not(target_os = "linux"))]
    let clock = criterion::measurement::WallTime;
    Criterion::default().with_measurement(clock)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode_mixed, decode_kind, encode_mixed
}
criterion_main!(benches);
