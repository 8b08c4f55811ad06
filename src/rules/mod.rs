//! Detection rules: ESCU YAML (current `rba:` and legacy v4 schemas) and macros are parsed,
//! the row-level part of each detection's SPL is compiled to native matchers, every rule is
//! evaluated in one pass per row, and matching rows are annotated with ES risk fields.
//!
//! This module knows neither the protocol nor the ingest formats: rows are read through the
//! `Row` abstraction defined here.
