//! Sigma's field names (the Sysmon taxonomy of `process_creation`) → the fields rows carry.
//!
//! Mapped fields read their CIM Endpoint.Processes name: pySigma-backend-splunk's
//! `splunk_cim` pipeline (`splunk_sysmon_process_creation_cim_mapping`: CommandLine, Computer,
//! CurrentDirectory, Image, IntegrityLevel, OriginalFileName, ParentCommandLine, ParentImage,
//! ParentProcessGuid, ParentProcessId, ProcessGuid, ProcessId, User) plus `Hashes` →
//! `process_hash` from ESCU's `sysmon_eventid_1.yml` field_mappings. Every other field is read
//! under its own (Sysmon / Splunk TA) name: ingest carries the Sysmon ones as extra fields of
//! the row, and in Splunk a raw-event search gives them as the TA extracts them.
//!
//! Which data source carries which field is listed here, so a rule that cannot match on a
//! source is reported (see [`super::reach`]) instead of silently never matching.

use super::document::SigmaRule;

/// A source of process rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataSource {
    /// Sysmon EventID 1: EVTX/XML/JSON files, and raw Sysmon events in Splunk (TA names).
    Sysmon,
    /// Windows Security 4688.
    Security4688,
    /// CrowdStrike ProcessRollup2.
    CrowdStrike,
    /// The CIM Endpoint.Processes data model (`| tstats ... from datamodel=Endpoint.Processes`).
    DataModel,
}

impl DataSource {
    pub const ALL: [DataSource; 4] = [
        DataSource::Sysmon,
        DataSource::Security4688,
        DataSource::CrowdStrike,
        DataSource::DataModel,
    ];

    /// The source of an ingested row, from its `vendor_product` (what ingest writes there);
    /// anything else (CIM CSV exports) carries data-model fields only.
    pub fn from_vendor_product(vendor_product: &str) -> DataSource {
        match vendor_product {
            "Microsoft Sysmon" => DataSource::Sysmon,
            "Microsoft Windows" => DataSource::Security4688,
            "CrowdStrike Falcon" => DataSource::CrowdStrike,
            _ => DataSource::DataModel,
        }
    }

    /// Whether the source has rows for a rule of `logsource.product` (any product when the
    /// rule names none): Security 4688 is Windows' own log, Sysmon runs on Windows and Linux,
    /// the CrowdStrike sensor and the data model cover every product.
    pub fn serves(self, product: Option<&str>) -> bool {
        let Some(product) = product.map(str::to_ascii_lowercase) else {
            return true;
        };
        match self {
            DataSource::Security4688 => product == "windows",
            DataSource::Sysmon => product == "windows" || product == "linux",
            DataSource::CrowdStrike | DataSource::DataModel => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DataSource::Sysmon => "Sysmon EventID 1",
            DataSource::Security4688 => "Security 4688",
            DataSource::CrowdStrike => "CrowdStrike ProcessRollup2",
            DataSource::DataModel => "Endpoint.Processes data model",
        }
    }
}

/// One Sigma field: the row field it is read from and the sources whose rows carry it.
#[derive(Debug, Clone, Copy)]
pub struct FieldMap {
    pub sigma: &'static str,
    pub slot: &'static str,
    pub sources: &'static [DataSource],
}

use DataSource::{CrowdStrike as CS, DataModel as DM, Security4688 as SEC, Sysmon as SYS};

const ALL: &[DataSource] = &[SYS, SEC, CS, DM];

/// The mapping. CrowdStrike has no parent path or command line (only `ParentBaseFileName`),
/// and its hash is a bare SHA-256, not Sysmon's `MD5=...,SHA256=...` list; 4688 has no
/// original file name, parent command line, GUIDs, hashes or current directory.
pub const FIELDS: &[FieldMap] = &[
    FieldMap {
        sigma: "CommandLine",
        slot: "process",
        sources: ALL,
    },
    FieldMap {
        sigma: "Image",
        slot: "process_path",
        sources: ALL,
    },
    FieldMap {
        sigma: "OriginalFileName",
        slot: "original_file_name",
        sources: &[SYS, DM],
    },
    FieldMap {
        sigma: "ParentImage",
        slot: "parent_process_path",
        sources: &[SYS, SEC, DM],
    },
    FieldMap {
        sigma: "ParentCommandLine",
        slot: "parent_process",
        sources: &[SYS, DM],
    },
    FieldMap {
        sigma: "User",
        slot: "user",
        sources: ALL,
    },
    FieldMap {
        sigma: "IntegrityLevel",
        slot: "process_integrity_level",
        sources: ALL,
    },
    FieldMap {
        sigma: "CurrentDirectory",
        slot: "process_current_directory",
        sources: &[SYS, DM],
    },
    FieldMap {
        sigma: "Hashes",
        slot: "process_hash",
        sources: &[SYS, DM],
    },
    FieldMap {
        sigma: "ProcessId",
        slot: "process_id",
        sources: ALL,
    },
    FieldMap {
        sigma: "ParentProcessId",
        slot: "parent_process_id",
        sources: ALL,
    },
    FieldMap {
        sigma: "ProcessGuid",
        slot: "process_guid",
        sources: &[SYS, CS, DM],
    },
    FieldMap {
        sigma: "ParentProcessGuid",
        slot: "parent_process_guid",
        sources: &[SYS, CS, DM],
    },
    FieldMap {
        sigma: "Computer",
        slot: "dest",
        sources: ALL,
    },
    // No CIM field: read under the Sysmon name (ingest extras; TA fields in Splunk).
    FieldMap {
        sigma: "Description",
        slot: "Description",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "Product",
        slot: "Product",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "Company",
        slot: "Company",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "FileVersion",
        slot: "FileVersion",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "ParentUser",
        slot: "ParentUser",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "LogonId",
        slot: "LogonId",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "LogonGuid",
        slot: "LogonGuid",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "TerminalSessionId",
        slot: "TerminalSessionId",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "RuleName",
        slot: "RuleName",
        sources: &[SYS],
    },
    FieldMap {
        sigma: "UtcTime",
        slot: "UtcTime",
        sources: &[SYS],
    },
    // The parent's file name, for `ParentImage|endswith: '\name.exe'` on rows that have the
    // name but not the path (CrowdStrike's `ParentBaseFileName`): ESCU's field_mappings map
    // `ParentImage|endswith` to `parent_process_name`. Not a field rules can name (`|`).
    FieldMap {
        sigma: PARENT_NAME,
        slot: "parent_process_name",
        sources: ALL,
    },
    // `System/Provider/@Name` ("Provider_Name", specification "Field Usage" 3.i).
    FieldMap {
        sigma: "Provider_Name",
        slot: "Provider_Name",
        sources: &[SYS, SEC],
    },
];

/// The pseudo field of the parent's file name (see [`FIELDS`]).
pub const PARENT_NAME: &str = "ParentImage|name";

/// Where keywords are searched when the row has no `_raw`: every field above.
pub const RAW: &str = "_raw";

/// The mapping of a Sigma field name, if it is one of the known fields.
pub fn lookup(sigma: &str) -> Option<&'static FieldMap> {
    FIELDS.iter().find(|f| f.sigma == sigma)
}

/// The row field a Sigma field is read from: its CIM name when mapped, else its own name.
pub fn slot_name(sigma: &str) -> &str {
    lookup(sigma).map_or(sigma, |f| f.slot)
}

/// The sources whose rows carry a Sigma field (none for a field no source is known to have).
pub fn sources_with(sigma: &str) -> &'static [DataSource] {
    lookup(sigma).map_or(&[], |f| f.sources)
}

/// Whether a rule applies to process rows at all: `category: process_creation`, whatever
/// the product (Sysmon for Linux and CrowdStrike on Linux/macOS give the same rows).
pub fn in_scope(rule: &SigmaRule) -> bool {
    rule.logsource.category.as_deref() == Some("process_creation")
}

/// A literal value as the row holds it. Ingest and the Splunk TA give
/// `process_integrity_level` as the lower-case CIM value (`high`), so the integrity SIDs
/// SigmaHQ rules list beside the names (`S-1-16-12288`) are compared as that name; the
/// mandatory-label RIDs are Windows' (`SECURITY_MANDATORY_*_RID`).
pub fn row_value<'a>(sigma: &str, literal: &'a str) -> std::borrow::Cow<'a, str> {
    if sigma != "IntegrityLevel" {
        return literal.into();
    }
    let rid = literal
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("S-1-16-"))
        .and_then(|_| literal[7..].parse::<u32>().ok());
    match rid {
        Some(0) => "untrusted".into(),
        Some(4096) => "low".into(),
        Some(8192 | 8448) => "medium".into(),
        Some(12288) => "high".into(),
        Some(16384) => "system".into(),
        Some(20480) => "protected".into(),
        _ => literal.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_and_own_names() {
        assert_eq!(slot_name("CommandLine"), "process");
        assert_eq!(slot_name("Image"), "process_path");
        assert_eq!(slot_name("Description"), "Description");
        assert_eq!(slot_name("GrandParentImage"), "GrandParentImage");
        assert!(sources_with("GrandParentImage").is_empty());
        assert_eq!(row_value("IntegrityLevel", "S-1-16-12288"), "high");
        assert_eq!(row_value("IntegrityLevel", "High"), "High");
        assert_eq!(row_value("User", "S-1-16-12288"), "S-1-16-12288");
        assert!(DataSource::Security4688.serves(Some("windows")));
        assert!(!DataSource::Security4688.serves(Some("linux")));
        assert!(!DataSource::Sysmon.serves(Some("macos")));
        assert!(DataSource::CrowdStrike.serves(Some("macos")) && DataSource::Sysmon.serves(None));
    }
}
