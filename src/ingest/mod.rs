//! Readers that turn exported process telemetry (XmlWinEventLog XML, EVTX, publisher JSON,
//! CrowdStrike ProcessRollup2 NDJSON, CIM CSV) into CIM Endpoint.Processes rows.
//!
//! This module knows nothing of the protocol and nothing of the rules.
