//! What the model says a client must receive in one step ([`Want`]), and
//! the comparison of a received packet with it, allowing exactly the
//! latitude the specifications give. Each allowance names its statement:
//!
//! * **overlapping subscriptions** (3.1.1 MQTT-3.3.5-1, 5.0 MQTT-3.3.4-2..5):
//!   one copy at the highest QoS of the matching subscriptions is
//!   required; up to one further copy per additional matching
//!   subscription is allowed, each at its subscription's QoS and, in 5.0,
//!   with that subscription's identifier; a single copy must carry every
//!   identifier;
//! * **granted QoS** (3.1.1 MQTT-3.8.4-6, 5.0 MQTT-3.8.4-8): a broker may
//!   grant less than requested; deliveries are then due at the granted QoS;
//! * **QoS 1 and 2 re-sends**: a further copy with DUP 1 of a QoS 1
//!   message (at least once, §4.3.2), or in 3.1.1 of a QoS 2 message with
//!   the packet id of its first copy (a retry, 3.1.1 §4.4);
//! * **Retain As Published across overlaps** (MQTT-3.3.1-12/13): when the
//!   matching subscriptions disagree, either RETAIN value;
//! * **shared subscriptions** (5.0 §4.8.2): any one member of the group;
//! * **Message Expiry Interval** (MQTT-3.3.2-6): the interval received
//!   minus the time waited, rounded either way to the second;
//! * **acknowledgement codes**: PUBACK/PUBREC 0x10 No matching subscribers
//!   for 0x00 (5.0 §3.4.2.1), UNSUBACK 0x00 for 0x11 No subscription
//!   existed (5.0 §3.11.3);
//! * **ordering** only where 4.6 demands it (MQTT-4.6.0-5/6): per client,
//!   for messages of one topic, one publisher and one QoS;
//! * **retained messages on a new shared subscription** (5.0): §3.3.1.3
//!   sends retained messages to new non-shared subscriptions, MQTT-3.3.1-9
//!   to every subscription with Retain Handling 0; the model sends none,
//!   a copy with RETAIN 1 is allowed and counted ([`Allowance`]).

use std::collections::BTreeSet;

use bytes::Bytes;
use mqtt_codec::topic::matches;
use mqtt_codec::{Packet, Publish};
use mqtt_model::subscriptions::parse_filter;

/// A broken expectation and the rule it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// CONNACK (Session Present, reason code).
    Connack,
    /// SUBACK (packet id, reason codes).
    Suback,
    /// UNSUBACK (packet id, reason codes).
    Unsuback,
    /// The acknowledgement flow of a QoS 1 or 2 PUBLISH.
    PublishAck,
    /// PINGRESP.
    Pingresp,
    /// A message that should have arrived did not.
    MissingDelivery,
    /// A message that should not have arrived did.
    UnexpectedDelivery,
    /// A delivery's RETAIN, DUP or properties are wrong.
    DeliveryFields,
    /// A delivery's QoS is not the one due (granted and published QoS,
    /// overlapping subscriptions).
    DeliveryQos,
    /// Deliveries of one topic from one publisher at one QoS out of order.
    Order,
    /// The server closed the connection, or sent something malformed or
    /// unexpected.
    Connection,
    /// A CONNECT the server must refuse was not refused as required.
    Refusal,
    /// Malformed input did not close the connection.
    MalformedInput,
    /// A lapsed keep alive did not close the connection in time.
    KeepAlive,
}

impl Rule {
    /// The statements a counterexample of this rule cites, per version.
    pub fn statements(self, v5: bool) -> &'static [&'static str] {
        match (self, v5) {
            (Rule::Connack, false) => &["MQTT-3.2.2-1", "MQTT-3.2.2-2", "MQTT-3.2.2-3"],
            (Rule::Connack, true) => &["MQTT-3.2.2-2", "MQTT-3.2.2-3"],
            (Rule::Suback, false) => &["MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-3.8.4-5"],
            (Rule::Suback, true) => &["MQTT-3.8.4-1", "MQTT-3.8.4-2", "MQTT-3.8.4-7"],
            (Rule::Unsuback, false) => &["MQTT-3.10.4-4"],
            (Rule::Unsuback, true) => &["MQTT-3.10.4-4", "MQTT-3.10.4-5"],
            (Rule::PublishAck, false) => &["MQTT-4.3.2-2", "MQTT-4.3.3-2"],
            (Rule::PublishAck, true) => &["MQTT-4.3.2-4", "MQTT-4.3.3-11"],
            (Rule::Pingresp, _) => &["MQTT-3.12.4-1"],
            (Rule::MissingDelivery, false) => &["MQTT-3.3.5-1", "MQTT-4.5.0-1"],
            (Rule::MissingDelivery, true) => &["MQTT-3.3.4-2", "MQTT-4.5.0-1"],
            (Rule::UnexpectedDelivery, false) => &["MQTT-3.3.5-1", "MQTT-3.10.4-2"],
            (Rule::UnexpectedDelivery, true) => &["MQTT-3.3.4-2", "MQTT-3.10.4-2"],
            (Rule::DeliveryFields, false) => &["MQTT-3.3.1-9", "MQTT-3.3.5-1"],
            (Rule::DeliveryFields, true) => &["MQTT-3.3.1-12", "MQTT-3.3.4-2"],
            (Rule::DeliveryQos, false) => &["MQTT-3.8.4-6", "MQTT-3.3.5-1"],
            (Rule::DeliveryQos, true) => &["MQTT-3.8.4-8", "MQTT-3.3.4-2"],
            (Rule::Order, _) => &["MQTT-4.6.0-5", "MQTT-4.6.0-6"],
            (Rule::Connection, false) => &["MQTT-4.8.0-1"],
            (Rule::Connection, true) => &["MQTT-4.13.1-1"],
            (Rule::Refusal, false) => &[
                "MQTT-3.1.2-2",
                "MQTT-3.1.2-3",
                "MQTT-3.1.3-8",
                "MQTT-3.1.4-1",
            ],
            (Rule::Refusal, true) => &["MQTT-3.1.2-3", "MQTT-3.1.4-1"],
            (Rule::MalformedInput, false) => &["MQTT-4.8.0-1", "MQTT-3.3.1-4", "MQTT-3.8.1-1"],
            (Rule::MalformedInput, true) => &["MQTT-4.13.1-1", "MQTT-3.3.1-4", "MQTT-3.8.1-1"],
            (Rule::KeepAlive, false) => &["MQTT-3.1.2-24"],
            (Rule::KeepAlive, true) => &["MQTT-3.1.2-22"],
        }
    }

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Connack => "connack",
            Rule::Suback => "suback",
            Rule::Unsuback => "unsuback",
            Rule::PublishAck => "publish-ack",
            Rule::Pingresp => "pingresp",
            Rule::MissingDelivery => "missing-delivery",
            Rule::UnexpectedDelivery => "unexpected-delivery",
            Rule::DeliveryFields => "delivery-fields",
            Rule::DeliveryQos => "delivery-qos",
            Rule::Order => "order",
            Rule::Connection => "connection",
            Rule::Refusal => "refusal",
            Rule::MalformedInput => "malformed-input",
            Rule::KeepAlive => "keep-alive",
        }
    }
}

/// A latitude of the specifications a target used that the model does not
/// take: legal, counted so that a report can say how often (a warning at
/// most, never a divergence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Allowance {
    /// A retained message sent because of a new shared subscription (5.0
    /// §3.3.1.3 against MQTT-3.3.1-9).
    SharedRetained,
}

impl Allowance {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Allowance::SharedRetained => "retained-on-shared-subscribe",
        }
    }
}

/// One copy a subscription of the receiver may cause (5.0 multi-copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// min(published QoS, granted QoS).
    pub qos: u8,
    /// RETAIN of a copy for this subscription.
    pub retain: bool,
    /// Its Subscription Identifier.
    pub id: Option<u32>,
}

/// A message the model delivers to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deliver {
    /// Topic Name.
    pub topic: String,
    /// Payload.
    pub payload: Bytes,
    /// Who published it (client name), for ordering.
    pub publisher: String,
    /// The QoS it was published with.
    pub pub_qos: u8,
    /// QoS and packet id of the model's copy (to acknowledge the model).
    pub model_qos: u8,
    /// Packet id of the model's copy.
    pub model_id: u16,
    /// DUP of the model's copy (a re-send on session resume).
    pub dup: bool,
    /// QoS the required copy may have.
    pub qos_ok: BTreeSet<u8>,
    /// RETAIN values the copies may have.
    pub retain_ok: BTreeSet<bool>,
    /// 5.0: the identifiers a single copy must carry (sorted).
    pub ids: Vec<u32>,
    /// Further copies allowed (overlapping subscriptions).
    pub sources: Vec<Source>,
    /// 5.0: user properties, in order.
    pub user: Vec<(String, String)>,
    /// 5.0: Content Type.
    pub content_type: Option<String>,
    /// 5.0: Message Expiry Interval bounds (inclusive), when one is due.
    pub expiry: Option<(u32, u32)>,
    /// Clients that may receive it: one, or the members of a share group.
    pub candidates: Vec<usize>,
    /// Whether order among same-topic messages is checked.
    pub ordered: bool,
    /// The client the model sent its copy to (to acknowledge it there).
    pub model_party: usize,
}

/// A packet the model sends and the client must receive in this step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// CONNACK 0x00.
    ConnAck {
        /// Session Present.
        session_present: bool,
    },
    /// SUBACK.
    SubAck {
        /// Packet id.
        id: u16,
        /// The model's codes.
        codes: Vec<u8>,
    },
    /// UNSUBACK.
    UnsubAck {
        /// Packet id.
        id: u16,
        /// The model's codes (5.0).
        codes: Vec<u8>,
    },
    /// PUBACK.
    PubAck(u16),
    /// PUBREC.
    PubRec(u16),
    /// PUBCOMP.
    PubComp(u16),
    /// PUBREL for a delivery (the model's packet id, and the live one).
    PubRel {
        /// The model's id.
        model_id: u16,
        /// The id the live broker used for the same delivery.
        live_id: u16,
    },
    /// PINGRESP.
    PingResp,
    /// A delivery.
    Deliver(Box<Deliver>),
}

impl Want {
    /// The packet type's name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Want::ConnAck { .. } => "CONNACK",
            Want::SubAck { .. } => "SUBACK",
            Want::UnsubAck { .. } => "UNSUBACK",
            Want::PubAck(_) => "PUBACK",
            Want::PubRec(_) => "PUBREC",
            Want::PubComp(_) => "PUBCOMP",
            Want::PubRel { .. } => "PUBREL",
            Want::PingResp => "PINGRESP",
            Want::Deliver(_) => "PUBLISH",
        }
    }

    /// What was expected, for evidence.
    pub fn describe(&self) -> String {
        match self {
            Want::ConnAck { session_present } => {
                format!("CONNACK 0x00 session_present={session_present}")
            }
            Want::SubAck { id, codes } => format!("SUBACK id={id} codes={codes:?}"),
            Want::UnsubAck { id, codes } => format!("UNSUBACK id={id} codes={codes:?}"),
            Want::PubAck(id) => format!("PUBACK id={id}"),
            Want::PubRec(id) => format!("PUBREC id={id}"),
            Want::PubComp(id) => format!("PUBCOMP id={id}"),
            Want::PubRel { live_id, .. } => format!("PUBREL id={live_id}"),
            Want::PingResp => "PINGRESP".into(),
            Want::Deliver(d) => format!(
                "PUBLISH topic={} payload={:?} qos∈{:?} retain∈{:?} dup={}{}{}{}",
                d.topic,
                String::from_utf8_lossy(&d.payload),
                d.qos_ok,
                d.retain_ok,
                d.dup,
                if d.ids.is_empty() {
                    String::new()
                } else {
                    format!(" subscription_ids={:?}", d.ids)
                },
                if d.user.is_empty() {
                    String::new()
                } else {
                    format!(" user={:?}", d.user)
                },
                d.expiry
                    .map_or(String::new(), |(lo, hi)| format!(" expiry∈[{lo},{hi}]")),
            ),
        }
    }
}

/// Why a received packet is not what a want asks for.
pub type Misfit = String;

fn sorted_ids(p: &Publish) -> Vec<u32> {
    // A set: order is not significant (MQTT-3.3.4-4), and two matching
    // subscriptions may share one identifier.
    let mut v = p.properties.subscription_identifiers.clone();
    v.sort_unstable();
    v.dedup();
    v
}

/// Checks the fields every copy of `d` must have (topic and payload are
/// assumed equal): DUP aside, the forwarded properties.
fn common(d: &Deliver, p: &Publish, v5: bool) -> Result<(), Misfit> {
    if p.properties.topic_alias.is_some() {
        // MQTT-3.1.2-26: the client sent no Topic Alias Maximum.
        return Err("a Topic Alias the client did not allow (MQTT-3.1.2-26)".into());
    }
    if !v5 {
        return Ok(());
    }
    let user: Vec<(String, String)> = p
        .properties
        .user_properties
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if user != d.user {
        return Err(format!(
            "user properties {user:?}, expected {:?} in order (MQTT-3.3.2-17/18)",
            d.user
        ));
    }
    let ct = p.properties.content_type.as_deref().map(str::to_owned);
    if ct != d.content_type {
        return Err(format!(
            "content type {ct:?}, expected {:?} (MQTT-3.3.2-20)",
            d.content_type
        ));
    }
    match (d.expiry, p.properties.message_expiry_interval) {
        (None, None) => {}
        (Some((lo, hi)), Some(e)) if (lo..=hi).contains(&e) => {}
        (want, got) => {
            return Err(format!(
                "message expiry interval {got:?}, expected {want:?} (MQTT-3.3.2-6)"
            ))
        }
    }
    Ok(())
}

/// Does `p` fit the required copy of `d`?
pub fn fits_required(d: &Deliver, p: &Publish, v5: bool) -> Result<(), Misfit> {
    let q = p.qos.bits();
    if !d.qos_ok.contains(&q) {
        return Err(format!(
            "QoS {q}, expected {:?} (3.1.1 MQTT-3.8.4-6, 5.0 MQTT-3.8.4-8)",
            d.qos_ok
        ));
    }
    if !d.retain_ok.contains(&p.retain) {
        return Err(format!(
            "RETAIN {}, expected {:?} (3.1.1 MQTT-3.3.1-8/9, 5.0 MQTT-3.3.1-12/13)",
            p.retain, d.retain_ok
        ));
    }
    if p.dup != (d.dup && q > 0) {
        return Err(format!(
            "DUP {}, expected {} (MQTT-3.3.1-1/3)",
            p.dup,
            d.dup && q > 0
        ));
    }
    if v5 {
        let ids = sorted_ids(p);
        let single_ok = ids == d.ids;
        // Multi-copy mode: the copy of one subscription, with its id.
        let multi_ok = d.sources.len() > 1
            && d.sources
                .iter()
                .any(|s| s.qos == q && s.id.into_iter().collect::<Vec<_>>() == ids);
        if !single_ok && !multi_ok {
            return Err(format!(
                "subscription identifiers {ids:?}, expected {:?} (MQTT-3.3.4-3/4/5)",
                d.ids
            ));
        }
    }
    common(d, p, v5)
}

/// Does `p` fit one of the further copies `d` allows (overlapping
/// subscriptions)? Returns the index of the source it fits.
pub fn fits_extra(d: &Deliver, p: &Publish, v5: bool) -> Option<usize> {
    if d.sources.len() < 2 || p.dup != d.dup {
        return None;
    }
    common(d, p, v5).ok()?;
    let ids = sorted_ids(p);
    d.sources.iter().position(|s| {
        s.qos == p.qos.bits()
            && d.retain_ok.contains(&p.retain)
            && (!v5 || s.id.into_iter().collect::<Vec<_>>() == ids || ids == d.ids)
    })
}

/// The retained messages (`kept`: topic, payload, QoS) that the shared
/// filters among `filters` (one SUBSCRIBE) match: each may arrive once per
/// matching shared filter,
/// with RETAIN 1 and at no more than its QoS. The model sends none (5.0
/// §3.3.1.3 directs retained messages to new non-shared subscriptions),
/// but MQTT-3.3.1-9 requires them for Retain Handling 0 without exception:
/// either is allowed ([`Allowance::SharedRetained`]).
pub fn shared_retained_allowed(
    filters: &[String],
    kept: &[(String, Bytes, u8)],
) -> Vec<(String, Bytes, u8)> {
    let mut out = Vec::new();
    for f in filters {
        let (group, inner) = parse_filter(f, true);
        if group.is_none() {
            continue;
        }
        out.extend(kept.iter().filter(|(t, _, _)| matches(inner, t)).cloned());
    }
    out
}

/// The source (matching subscription) a copy of `d` stands for: the one
/// with its QoS and its subscription identifier, else the first with its
/// QoS (a single copy carrying every identifier).
pub fn source_of(d: &Deliver, p: &Publish) -> Option<usize> {
    let q = p.qos.bits();
    let ids = sorted_ids(p);
    d.sources
        .iter()
        .position(|s| s.qos == q && s.id.into_iter().collect::<Vec<_>>() == ids)
        .or_else(|| d.sources.iter().position(|s| s.qos == q))
}

/// Compares a non-PUBLISH packet with a want of the same type.
pub fn fits_other(want: &Want, p: &Packet, v5: bool) -> Result<(), Misfit> {
    match (want, p) {
        (Want::ConnAck { session_present }, Packet::ConnAck(a)) => {
            if a.reason_code.0 != 0 {
                return Err(format!("reason code {}", a.reason_code));
            }
            if a.session_present != *session_present {
                return Err(format!(
                    "session present {}, expected {session_present}",
                    a.session_present
                ));
            }
            Ok(())
        }
        (Want::SubAck { id, codes }, Packet::SubAck(a)) => {
            if a.packet_id != *id {
                return Err(format!("packet id {}, expected {id}", a.packet_id));
            }
            let got: Vec<u8> = a.reason_codes.iter().map(|c| c.0).collect();
            let ok = got.len() == codes.len()
                && got
                    .iter()
                    .zip(codes)
                    // A lower granted QoS is allowed (MQTT-3.8.4-6/8).
                    .all(|(g, w)| g == w || (*w <= 2 && *g < *w));
            if ok {
                Ok(())
            } else {
                Err(format!("reason codes {got:?}, expected {codes:?}"))
            }
        }
        (Want::UnsubAck { id, codes }, Packet::UnsubAck(a)) => {
            if a.packet_id != *id {
                return Err(format!("packet id {}, expected {id}", a.packet_id));
            }
            if !v5 {
                return Ok(());
            }
            let got: Vec<u8> = a.reason_codes.iter().map(|c| c.0).collect();
            let ok = got.len() == codes.len()
                && got
                    .iter()
                    .zip(codes)
                    .all(|(g, w)| g == w || (*w == 0x11 && *g == 0));
            if ok {
                Ok(())
            } else {
                Err(format!("reason codes {got:?}, expected {codes:?}"))
            }
        }
        (Want::PubAck(id), Packet::PubAck(a))
        | (Want::PubRec(id), Packet::PubRec(a))
        | (Want::PubComp(id), Packet::PubComp(a)) => {
            if a.packet_id != *id {
                return Err(format!("packet id {}, expected {id}", a.packet_id));
            }
            let code = a.reason_code.0;
            let extra_ok = matches!(want, Want::PubAck(_) | Want::PubRec(_)) && code == 0x10;
            if code == 0 || extra_ok {
                Ok(())
            } else {
                Err(format!("reason code {}", a.reason_code))
            }
        }
        (Want::PubRel { live_id, .. }, Packet::PubRel(a)) => {
            if a.packet_id != *live_id {
                return Err(format!("packet id {}, expected {live_id}", a.packet_id));
            }
            if a.reason_code.0 != 0 {
                return Err(format!("reason code {}", a.reason_code));
            }
            Ok(())
        }
        (Want::PingResp, Packet::PingResp) => Ok(()),
        _ => Err("another packet type".into()),
    }
}

/// True when `want` is for packets of `p`'s type (and, for
/// acknowledgements, the same packet id), so that a mismatch is reported
/// against it.
pub fn same_kind(want: &Want, p: &Packet) -> bool {
    match (want, p) {
        (Want::PubAck(id), Packet::PubAck(a))
        | (Want::PubRec(id), Packet::PubRec(a))
        | (Want::PubComp(id), Packet::PubComp(a)) => a.packet_id == *id,
        (Want::PubRel { live_id, .. }, Packet::PubRel(a)) => a.packet_id == *live_id,
        (Want::SubAck { .. }, Packet::SubAck(_))
        | (Want::UnsubAck { .. }, Packet::UnsubAck(_))
        | (Want::ConnAck { .. }, Packet::ConnAck(_))
        | (Want::PingResp, Packet::PingResp) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{MqttString, QoS};

    fn deliver(sources: Vec<Source>) -> Deliver {
        let qos_max = sources.iter().map(|s| s.qos).max().unwrap_or(0);
        let mut ids: Vec<u32> = sources.iter().filter_map(|s| s.id).collect();
        ids.sort_unstable();
        Deliver {
            topic: "t".into(),
            payload: Bytes::from_static(b"p"),
            publisher: "c0".into(),
            pub_qos: 2,
            model_qos: qos_max,
            model_id: 1,
            dup: false,
            qos_ok: [qos_max].into(),
            retain_ok: [false].into(),
            ids,
            sources,
            user: Vec::new(),
            content_type: None,
            expiry: None,
            candidates: vec![0],
            ordered: true,
            model_party: 0,
        }
    }

    fn publish(qos: u8, ids: &[u32]) -> Publish {
        let mut p = Publish::new(MqttString::from_static("t"), Bytes::from_static(b"p"));
        p.qos = QoS::from_bits(qos).unwrap();
        p.packet_id = u16::from(qos);
        p.properties.subscription_identifiers = ids.to_vec();
        p
    }

    #[test]
    fn overlap_allows_one_copy_with_every_id_or_one_per_subscription() {
        let d = deliver(vec![
            Source {
                qos: 1,
                retain: false,
                id: Some(1),
            },
            Source {
                qos: 0,
                retain: false,
                id: Some(2),
            },
        ]);
        assert!(fits_required(&d, &publish(1, &[2, 1]), true).is_ok());
        assert!(fits_required(&d, &publish(1, &[1]), true).is_ok());
        assert!(
            fits_required(&d, &publish(0, &[2]), true).is_err(),
            "max QoS is due"
        );
        assert_eq!(fits_extra(&d, &publish(0, &[2]), true), Some(1));
        assert!(
            fits_required(&d, &publish(1, &[]), true).is_err(),
            "ids dropped"
        );
        let single = deliver(vec![Source {
            qos: 1,
            retain: false,
            id: Some(3),
        }]);
        assert!(fits_extra(&single, &publish(1, &[3]), true).is_none());
        assert!(
            fits_required(&single, &publish(2, &[3]), true).is_err(),
            "raised QoS"
        );
    }

    #[test]
    fn a_copy_stands_for_the_subscription_whose_identifier_it_carries() {
        let d = deliver(vec![
            Source {
                qos: 0,
                retain: false,
                id: None,
            },
            Source {
                qos: 0,
                retain: false,
                id: Some(1),
            },
        ]);
        assert_eq!(source_of(&d, &publish(0, &[1])), Some(1));
        assert_eq!(source_of(&d, &publish(0, &[])), Some(0));
        assert_eq!(source_of(&d, &publish(1, &[1])), None);
        // The other copy still fits once the first is used.
        let mut rest = d.clone();
        rest.sources[1].qos = 9;
        assert_eq!(fits_extra(&rest, &publish(0, &[]), true), Some(0));
    }

    #[test]
    fn dup_and_user_property_order_are_checked() {
        let mut d = deliver(vec![Source {
            qos: 1,
            retain: false,
            id: None,
        }]);
        d.user = vec![("k".into(), "1".into()), ("k".into(), "2".into())];
        let mut p = publish(1, &[]);
        p.properties.user_properties = vec![
            (MqttString::from_static("k"), MqttString::from_static("1")),
            (MqttString::from_static("k"), MqttString::from_static("2")),
        ];
        assert!(fits_required(&d, &p, true).is_ok());
        p.properties.user_properties.reverse();
        assert!(fits_required(&d, &p, true).is_err());
        p.properties.user_properties.reverse();
        p.dup = true;
        assert!(fits_required(&d, &p, true).is_err());
    }

    #[test]
    fn retained_copies_are_allowed_only_for_shared_filters_that_match() {
        let kept = vec![
            ("r/t".to_owned(), Bytes::from_static(b"p"), 1),
            ("s/t".to_owned(), Bytes::from_static(b"q"), 0),
        ];
        let got = shared_retained_allowed(&["$share/g/r/+".to_owned()], &kept);
        assert_eq!(got, vec![kept[0].clone()]);
        assert!(
            shared_retained_allowed(&["r/+".to_owned(), "#".to_owned()], &kept).is_empty(),
            "the model predicts non-shared ones"
        );
        assert_eq!(
            shared_retained_allowed(&["$share/g/#".to_owned()], &kept),
            kept
        );
        let two = ["$share/g/#".to_owned(), "$share/g/r/t".to_owned()];
        assert_eq!(
            shared_retained_allowed(&two, &kept).len(),
            3,
            "one copy per matching shared filter"
        );
        assert!(shared_retained_allowed(&["$share/g/x".to_owned()], &kept).is_empty());
    }

    #[test]
    fn acknowledgement_codes_allow_what_the_specification_allows() {
        let mut ack = mqtt_codec::PubResponse::new(4);
        ack.reason_code = mqtt_codec::ReasonCode(0x10);
        assert!(fits_other(&Want::PubAck(4), &Packet::PubAck(ack.clone()), true).is_ok());
        assert!(fits_other(&Want::PubAck(5), &Packet::PubAck(ack), true).is_err());
        let sub = mqtt_codec::SubAck {
            packet_id: 3,
            properties: Default::default(),
            reason_codes: vec![mqtt_codec::ReasonCode(1)],
        };
        let want = |c| Want::SubAck {
            id: 3,
            codes: vec![c],
        };
        assert!(fits_other(&want(2), &Packet::SubAck(sub.clone()), true).is_ok());
        assert!(fits_other(&want(0), &Packet::SubAck(sub), true).is_err());
    }
}
