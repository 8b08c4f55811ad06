//! Faults a file tailer meets, each tried on the real `netdiscover_input` over real files and
//! counted: records lost and records delivered twice (issue 20's table and the cases beyond
//! it). Every wait is bounded; each test prints its tally.

mod harness;

mod disk_full;
mod emfile;
mod evtx_copy;
mod output_closed;
mod rotation;
mod tailer;
