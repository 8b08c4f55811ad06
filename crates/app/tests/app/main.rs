//! The Splunk app's build tooling (`netdiscover_app`): the rendered confs against contentctl's
//! own output and the YAML, and the package (file list, modes, reproducibility, GLIBC check).
//! One module per concern.

#[path = "../../../../tests/support/shared.rs"]
mod support;

mod package;
mod render;
