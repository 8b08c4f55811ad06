//! Readers that turn exported process telemetry (XmlWinEventLog XML, EVTX, publisher JSON,
//! CrowdStrike ProcessRollup2 NDJSON, CIM CSV; any text format also gzip-compressed) into
//! CIM Endpoint.Processes rows.
//!
//! This module knows nothing of the protocol and nothing of the rules.
//!
//! ```no_run
//! use netdiscover::ingest::{FileReader, Item, OpenOptions};
//! let reader = FileReader::open("sysmon.xml".as_ref(), &OpenOptions::default())?;
//! for item in reader {
//!     if let Item::Process(event) = item {
//!         println!("{}", event.row.get(netdiscover::ingest::CimField::Process));
//!     }
//! }
//! # Ok::<(), netdiscover::ingest::IngestError>(())
//! ```

mod cim;
mod crowdstrike;
mod csv;
mod error;
mod evtx;
mod evtx_skip;
mod format;
mod framing;
mod json;
mod position;
mod reader;
mod row;
pub mod time;
mod windows;
mod xml;

pub use cim::fields_by_data_source;
pub use error::IngestError;
pub use evtx::{EvtxPiece, EvtxPieces, PieceItems};
#[doc(hidden)]
pub use evtx_skip::skip_audit;
pub use format::Format;
pub use position::Position;
pub use reader::{
    detect_format, FileReader, Item, MalformedRecord, OpenOptions, ProcessEvent, SkippedRecord,
};
pub use row::{CimField, ProcessRow};
