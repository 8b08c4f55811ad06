//! The `netdiscover_input` modular input: scheme, argument validation, checkpointed
//! streaming of process events into Splunk.
//!
//! splunkd runs the executable three ways (`../shared/docs/modinput-and-packaging.md` §1.1):
//! `--scheme` prints [`scheme_xml`]; `--validate-arguments` reads `<items>` and prints
//! `<error><message>…</message></error>` (exit 1) when a parameter is wrong; with no argument it
//! reads `<input>` and follows the stanza's files ([`Follower`]) until SIGTERM. The executable's
//! front end (arguments, stdin, exit codes) is `cli::input`; this room holds what it wires.

mod adopt;
mod annotate;
mod checkpoint;
mod cim;
mod config;
mod discovery;
mod event_writer;
mod fingerprint;
mod follow;
mod followed;
mod limits;
pub mod log;
mod params;
mod pipe;
mod saved;
mod scheme;
pub mod signals;
mod source;
mod xml_text;

pub use annotate::Detections;
pub use checkpoint::{
    stanza_key, CheckpointError, FileState, Snapshot, StanzaLock, State, Store, STATE_VERSION,
};
pub use cim::{is_process_field, PROCESS_FIELDS};
pub use config::{parse_input, parse_validation, ConfigError, InputDefinition, SessionKey, Stanza};
pub use fingerprint::{FileId, Fingerprint, Head};
pub use follow::{Annotator, FollowError, Follower, Outcome, Stats};
pub use params::{check_path, ParamError, Params, DEFAULT_SOURCETYPE};
pub use pipe::{Delivery, StdoutPipe, STOP_GRACE};
pub use scheme::{scheme_xml, Argument, DataType, ARGUMENTS};

/// The `<error>` document splunkd shows the user when validation fails.
pub fn error_document(message: &str) -> String {
    format!(
        "<error><message>{}</message></error>\n",
        xml_text::escaped(message)
    )
}
