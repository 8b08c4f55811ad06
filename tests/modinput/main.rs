//! The modular input (`netdiscover::modinput` and the `netdiscover_input` executable): scheme,
//! validation and run mode as splunkd drives them, the follow loop, the app's confs, the real
//! datasets, broken configuration, and crash safety under SIGKILL/SIGTERM. One module per concern.

#[path = "../support/mod.rs"]
mod support;

mod app;
mod crash;
mod datasets;
mod fault;
mod protocol;
