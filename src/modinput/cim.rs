//! The CIM Endpoint.Processes field names the input writes into each event's JSON (the
//! detection fields `annotate = true` adds are `rules::Annotation::FIELDS`).
//! default/eventtypes.conf and default/tags.conf put our sourcetype in the Processes dataset;
//! a test checks the two lists agree with what the input actually emits.

/// Endpoint.Processes fields (CIM 6.x) that the ingest readers fill, in the ingest contract's
/// order. `_time` is not among them: it travels in the event's `<time>` element.
pub const PROCESS_FIELDS: &[&str] = &[
    "process",
    "process_name",
    "process_path",
    "process_id",
    "parent_process",
    "parent_process_name",
    "parent_process_path",
    "parent_process_id",
    "parent_process_guid",
    "process_guid",
    "original_file_name",
    "process_hash",
    "process_integrity_level",
    "process_exec",
    "parent_process_exec",
    "user",
    "user_id",
    "dest",
    "vendor_product",
    "action",
];

/// True for a CIM process field name the input may emit.
pub fn is_process_field(name: &str) -> bool {
    PROCESS_FIELDS.contains(&name)
}
