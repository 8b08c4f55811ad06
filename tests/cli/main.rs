//! The front ends (`netdiscover::cli`): `| netdiscover` end to end and its row gate, and
//! `netdiscover scan` over the examples, bad input and the shared datasets. One module per
//! concern.

#[path = "../support/mod.rs"]
mod support;

mod command_gate;
mod command_identity;
mod command_load;
mod command_rules;
mod command_threads;
mod heap;
mod lint;
mod navigator;
mod scan;
mod scan_parallel;
mod sigma_command;
mod sigma_lint;
mod sigma_scan;
mod sigma_test_runner;
mod test_runner;
