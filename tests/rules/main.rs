//! The rules layer (`netdiscover::rules`): operator semantics, the shipped seed rules and the ESCU
//! corpus over real logs, compiler coverage, hostile macros and SPL, and the allocation-free miss
//! path; conformance with Splunk's documentation page by page, a differential test against a
//! simple interpreter, and every corpus rule's verdicts on the shared datasets. One module per
//! concern.

#[path = "../support/mod.rs"]
mod support;

mod alloc;
mod case_fold;
mod computed_numbers;
mod conformance;
mod corpus_sample;
mod corpus_verdicts;
mod coverage;
mod differential;
mod escu6;
mod fault;
mod fuzz;
mod glob_lists;
mod index;
mod load_threads;
mod regex_prefilter;
mod seed;
mod semantics;
mod sigma_coverage;
mod sigma_props;
mod sigma_regression;
mod sigma_semantics;
mod two_doors;
mod yaml;
