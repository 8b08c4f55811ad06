//! A whole SCP v2 input stream (headers, lengths, metadata, bodies) into the `| netdiscover`
//! session loop: never a panic, a hang or an allocation the input only announced; the reply
//! is always whole chunks, ending with an error reply when the session failed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    netdiscover_fuzz::scp::session(data);
});
