//! Splunk's chunked external command protocol ("SCP v2"): framing, the CSV body dialect,
//! the `__mv_` multivalue codec and the request/reply loop.
//!
//! This module knows nothing of detection rules or file ingest. The loop hands every execute
//! chunk to a processor supplied by the caller (the seam the rules engine plugs into); the
//! default processor passes every row through unchanged.
