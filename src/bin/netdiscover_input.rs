//! `netdiscover_input`: the modular input executable splunkd runs (`--scheme`,
//! `--validate-arguments`, or run mode with the `<input>` XML on stdin).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(netdiscover::modinput::main_with_args(&args))
}
