//! The rules layer (`netdiscover::rules`): operator semantics, the shipped seed rules and the ESCU
//! corpus over real logs, compiler coverage, hostile macros and SPL, and the allocation-free miss
//! path. One module per concern.

#[path = "../support/mod.rs"]
mod support;

mod alloc;
mod corpus_sample;
mod coverage;
mod escu6;
mod fault;
mod fuzz;
mod seed;
mod semantics;
