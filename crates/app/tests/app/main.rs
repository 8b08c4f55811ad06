//! The Splunk app's build tooling (`netdiscover_app`): the rendered confs against contentctl's
//! and contentctl-ng's own output and the YAML, and the package (file list, modes, reproducibility, GLIBC check).
//! One module per concern.

#[path = "../../../../tests/support/shared.rs"]
mod support;

mod escu6;
mod package;
mod render;
