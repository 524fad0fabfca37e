//! Auto-acknowledge (off by default: scenarios usually acknowledge by
//! hand): the answer the client gives by itself to a QoS 1 or 2 PUBLISH
//! and to a PUBREL.

use mqtt_codec::{Packet, PubResponse, QoS};

/// What auto-acknowledge does with a received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AutoAck {
    /// The packet to send back.
    pub(crate) reply: Packet,
    /// Whether the received packet is still queued for expects. A PUBLISH
    /// is (the test wants to see it); a PUBREL is not (it is bookkeeping of
    /// a flow the client completes by itself).
    pub(crate) queue: bool,
}

/// The automatic answer to `packet`: PUBACK to a QoS 1 PUBLISH, PUBREC to
/// a QoS 2 PUBLISH (MQTT-4.3.2-2, MQTT-4.3.3-9), PUBCOMP to a PUBREL
/// (MQTT-4.3.3-11); `None` for everything else.
pub(crate) fn auto_ack(packet: &Packet) -> Option<AutoAck> {
    match packet {
        Packet::Publish(p) if p.qos == QoS::AtLeastOnce => Some(AutoAck {
            reply: Packet::PubAck(PubResponse::new(p.packet_id)),
            queue: true,
        }),
        Packet::Publish(p) if p.qos == QoS::ExactlyOnce => Some(AutoAck {
            reply: Packet::PubRec(PubResponse::new(p.packet_id)),
            queue: true,
        }),
        Packet::PubRel(r) => Some(AutoAck {
            reply: Packet::PubComp(PubResponse::new(r.packet_id)),
            queue: false,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_codec::{MqttString, Publish};

    #[test]
    fn each_qos_gets_its_answer() {
        let mut p = Publish::new(MqttString::from_static("t"), "x");
        assert_eq!(auto_ack(&Packet::Publish(p.clone())), None);
        p.qos = QoS::AtLeastOnce;
        p.packet_id = 4;
        assert_eq!(
            auto_ack(&Packet::Publish(p.clone())).unwrap().reply,
            Packet::PubAck(PubResponse::new(4))
        );
        p.qos = QoS::ExactlyOnce;
        assert_eq!(
            auto_ack(&Packet::Publish(p)).unwrap().reply,
            Packet::PubRec(PubResponse::new(4))
        );
        let rel = auto_ack(&Packet::PubRel(PubResponse::new(4))).unwrap();
        assert_eq!(rel.reply, Packet::PubComp(PubResponse::new(4)));
        assert!(!rel.queue);
        assert_eq!(auto_ack(&Packet::PingResp), None);
    }
}
