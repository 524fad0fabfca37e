//! Arbitrary bytes into an MQTT 3.1.1 decoder: never a panic or a hang, the
//! same packets whether the bytes arrive at once or in pieces, and a small
//! Maximum Packet Size stops exactly the packets that exceed it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec::{Decoder, ProtocolVersion};

fuzz_target!(|data: &[u8]| {
    mqtt_codec_fuzz::check_stream(|| Decoder::new(ProtocolVersion::V311), data);
});
