//! Arbitrary operation sequences from several connections into the broker
//! model, through the strict codec: no panic, and the model's invariants
//! hold after every input (see `src/model.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec_fuzz::model::{check_model, Op};

fuzz_target!(|input: (u8, Vec<Op>)| {
    check_model(input.0, input.1);
});
