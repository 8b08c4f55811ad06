//! The modular input (`netdiscover::modinput` and the `netdiscover_input` executable): scheme,
//! validation and run mode as splunkd drives them, the follow loop, the app's confs, the real
//! datasets, broken configuration, crash safety under SIGKILL/SIGTERM, the faults a file tailer
//! meets (counted: lost and repeated records), and checkpoints written by earlier versions. One
//! module per concern.

#[path = "../support/mod.rs"]
mod support;

mod app;
mod checkpoint_v1;
mod crash;
mod datasets;
mod drive;
mod fault;
mod faults;
mod protocol;
