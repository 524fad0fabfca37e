//! Byte streams on up to four connections into the reference server's
//! connection handler, with short reads and virtual time: no panic, no
//! hang, and well-formed output (see `src/server.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec_fuzz::server::{check_server, Script};

fuzz_target!(|scripts: Vec<Script>| {
    check_server(scripts);
});
