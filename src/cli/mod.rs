//! Command-line front ends: `netdiscover` (SCP v2 when stdin is a pipe and no arguments are
//! given, `netdiscover scan` offline) and `netdiscover_input`.
