fn main() {
    std::process::exit(netdiscover::cli::run_netdiscover())
}
