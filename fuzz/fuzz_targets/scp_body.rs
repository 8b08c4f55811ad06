//! An execute body (the SDK's CSV dialect with `__mv_` columns) behind a valid getinfo, in
//! each mode of `| netdiscover`, so the fuzzer spends its time in CSV parsing, `__mv_`
//! decoding and rule evaluation rather than on chunk lengths. Also checks that the row gate
//! changes no reply, and the `__mv_` codec: what decodes re-encodes to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netdiscover::cli::command::Mode;
use netdiscover::protocol::mv;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let args: &[&str] = match selector % 4 {
        0 => &[],
        1 => &["mode=filter"],
        2 => &["mode=risk"],
        _ => &["mode=annotate", "type=Anomaly", "rule=*netsh*"],
    };
    let stream = netdiscover_fuzz::scp::getinfo_then_execute(args, body);
    netdiscover_fuzz::scp::session(&stream);
    let mode = [Mode::Annotate, Mode::Filter, Mode::Risk][usize::from(selector % 3)];
    netdiscover_fuzz::scp::gate_changes_nothing(mode, body);

    let values = mv::decode(body);
    if values.len() >= 2 {
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        let (_, encoded) = mv::encode(&refs);
        assert_eq!(mv::decode(&encoded), values, "__mv_ round trip");
    }
});
