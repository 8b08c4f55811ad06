//! The Splunk app's build tooling (`netdiscover_app`): the rendered confs against contentctl's
//! and contentctl-ng's own output and the YAML, the package (file list, modes, reproducibility, CPU
//! and static-linking checks) and its launcher.
//! One module per concern.

#[path = "../../../../tests/support/shared.rs"]
mod support;

mod escu6;
mod launcher;
mod package;
mod render;
