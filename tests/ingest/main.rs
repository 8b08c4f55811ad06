//! The ingest layer (`netdiscover::ingest`): the readers over hand-made inputs and the real attack
//! logs, damaged files, and the 100 MB record that must not be held. One module per concern.

#[path = "../support/mod.rs"]
mod support;

mod datasets;
mod evtx_pieces;
mod evtx_skip;
mod fault;
mod fault_huge_line;
mod formats;
