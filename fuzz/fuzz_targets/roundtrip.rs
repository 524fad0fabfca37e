//! Structure-aware: an arbitrary packet that the strict encoder accepts
//! decodes back to itself, re-encodes to the same bytes, and is exactly
//! `encoded_len` bytes long.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec::{Packet, ProtocolVersion};

fuzz_target!(|input: (ProtocolVersion, Packet)| {
    mqtt_codec_fuzz::check_roundtrip(input.0, &input.1);
});
