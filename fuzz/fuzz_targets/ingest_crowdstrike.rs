//! The CrowdStrike reader over arbitrary bytes: no panic, no hang, positions inside the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netdiscover::ingest::Format;

fuzz_target!(|data: &[u8]| {
    netdiscover_fuzz::read_as(data, Format::CrowdStrike);
});
