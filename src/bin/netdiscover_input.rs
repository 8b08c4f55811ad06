//! `netdiscover_input`: the modular input executable splunkd runs (`--scheme`,
//! `--validate-arguments`, or run mode with the `<input>` XML on stdin).

fn main() {
    std::process::exit(netdiscover::cli::run_netdiscover_input())
}
