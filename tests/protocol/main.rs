//! The SCP v2 layer (`netdiscover::protocol`): framing, the session loop, the row gate, the
//! prefetching reader and spliced output, in memory and through the real binary driven like
//! splunkd, on recorded Splunk sessions and on hostile streams. One module per concern.

#[path = "../support/mod.rs"]
mod support;

mod edge;
mod fault;
mod fixtures;
mod gate;
mod parallel;
mod prefetch;
mod processor;
mod props;
mod splice;
