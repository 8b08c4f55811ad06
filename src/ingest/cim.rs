//! The mapping tables: how each source's fields become CIM Endpoint.Processes fields.
//! This file is the one place to read or change them. Sources: the ESCU data-source YAML
//! (`field_mappings`) for Sysmon EventID 1, Windows Security 4688 and CrowdStrike
//! ProcessRollup2, plus the choices documented on each entry.

use super::row::{CimField as C, ProcessRow};
use super::time;
use super::windows::{SYSTEM_COMPUTER, SYSTEM_PROVIDER, SYSTEM_TIME};

/// A record's fields by source name.
pub(crate) trait Fields {
    fn field(&self, name: &str) -> Option<&str>;
}

/// How one CIM field is computed from a record.
pub(crate) enum Source {
    /// The value of the first of these fields that is present and not empty.
    Field(&'static [&'static str]),
    /// The last path component (`\` or `/` separated) of a field: `process_name` from `Image`.
    Basename(&'static str),
    /// A process id, decimal or `0x` hexadecimal (4688), as decimal.
    ProcessId(&'static str),
    /// A timestamp (ISO-8601 or `YYYY-MM-DD hh:mm:ss.fffffff`), normalised.
    Timestamp(&'static str),
    /// Milliseconds since the epoch, normalised (CrowdStrike `timestamp`).
    EpochMillis(&'static str),
    /// An integrity level (`High`, `S-1-16-12288`, `12288`, `Mandatory Label\High Mandatory
    /// Level`) as the lower-case CIM value: untrusted, low, medium, high, system, protected.
    Integrity(&'static str),
    /// `DOMAIN\name` from two fields (4688 `SubjectDomainName`, `SubjectUserName`); when the
    /// name is absent or `-`, the value of the third field (the SID).
    DomainUser(&'static str, &'static str, &'static str),
    /// A GUID in the form Windows' own rendering (and so Splunk's raw Sysmon events) uses:
    /// `{96128EA2-F212-5F7E-E400-000000007F01}`, whatever case and braces the source had.
    Guid(&'static str),
    /// A constant.
    Const(&'static str),
    /// The value already computed for another CIM field (listed earlier in the table).
    SameAs(C),
}

use Source::*;

/// Sysmon EventID 1 (ProcessCreate). ESCU `sysmon_eventid_1.yml` field_mappings;
/// `process_exec` = `process_name` as the Sysmon TA does; `user_id` is left empty because
/// Sysmon's `System/Security/@UserID` is the account of the Sysmon service, not the user.
pub(crate) const SYSMON_PROCESS_CREATE: &[(C, Source)] = &[
    (C::Process, Field(&["CommandLine"])),
    (C::ProcessPath, Field(&["Image"])),
    (C::ProcessName, Basename("Image")),
    (C::ProcessExec, SameAs(C::ProcessName)),
    (C::ProcessId, ProcessId("ProcessId")),
    (C::ProcessGuid, Guid("ProcessGuid")),
    (C::OriginalFileName, Field(&["OriginalFileName"])),
    (C::ProcessHash, Field(&["Hashes"])),
    (C::ProcessIntegrityLevel, Integrity("IntegrityLevel")),
    (C::ParentProcess, Field(&["ParentCommandLine"])),
    (C::ParentProcessPath, Field(&["ParentImage"])),
    (C::ParentProcessName, Basename("ParentImage")),
    (C::ParentProcessExec, SameAs(C::ParentProcessName)),
    (C::ParentProcessId, ProcessId("ParentProcessId")),
    (C::ParentProcessGuid, Guid("ParentProcessGuid")),
    (C::User, Field(&["User"])),
    (C::Dest, Field(&[SYSTEM_COMPUTER])),
    (C::VendorProduct, Const("Microsoft Sysmon")),
    (C::Action, Const("allowed")),
    (C::Time, Timestamp(SYSTEM_TIME)),
];

/// Sysmon EventID 1 fields that Sigma rules read beyond the ones above, kept as extra fields
/// of the row: `process_current_directory` (a CIM Endpoint.Processes field ESCU's Sysmon
/// field_mappings give, though not among its output fields, so the modular input does not
/// write it), and the fields with no CIM name under their Sysmon names (the names the Splunk
/// Sysmon TA extracts), plus the provider name as Sigma spells `System/Provider/@Name`
/// (`Provider_Name`). `LogonGuid` takes the same GUID form as the process GUIDs.
pub(crate) const SYSMON_EXTRAS: &[(&str, Source)] = &[
    ("process_current_directory", Field(&["CurrentDirectory"])),
    ("Description", Field(&["Description"])),
    ("Product", Field(&["Product"])),
    ("Company", Field(&["Company"])),
    ("FileVersion", Field(&["FileVersion"])),
    ("ParentUser", Field(&["ParentUser"])),
    ("LogonId", Field(&["LogonId"])),
    ("LogonGuid", Guid("LogonGuid")),
    ("TerminalSessionId", Field(&["TerminalSessionId"])),
    ("RuleName", Field(&["RuleName"])),
    ("UtcTime", Field(&["UtcTime"])),
    ("Provider_Name", Field(&[SYSTEM_PROVIDER])),
];

/// Security 4688's extra fields: the provider name only.
pub(crate) const SECURITY_4688_EXTRAS: &[(&str, Source)] =
    &[("Provider_Name", Field(&[SYSTEM_PROVIDER]))];

/// Windows Security 4688 (a new process has been created). ESCU
/// `windows_event_log_security_4688.yml` field_mappings, with pids converted from hex
/// (`0x1328` → `4904`) as the Windows TA does. `user` is `DOMAIN\name` of the subject
/// (what the TA shows) and `user_id` its SID (ESCU maps the SID to `user`; we keep both).
/// 4688 has no parent command line, GUIDs, hashes or original file name.
pub(crate) const SECURITY_4688: &[(C, Source)] = &[
    (C::Process, Field(&["CommandLine"])),
    (C::ProcessPath, Field(&["NewProcessName"])),
    (C::ProcessName, Basename("NewProcessName")),
    (C::ProcessExec, SameAs(C::ProcessName)),
    (C::ProcessId, ProcessId("NewProcessId")),
    (C::ProcessIntegrityLevel, Integrity("MandatoryLabel")),
    (C::ParentProcessPath, Field(&["ParentProcessName"])),
    (C::ParentProcessName, Basename("ParentProcessName")),
    (C::ParentProcessExec, SameAs(C::ParentProcessName)),
    (C::ParentProcessId, ProcessId("ProcessId")),
    (
        C::User,
        DomainUser("SubjectDomainName", "SubjectUserName", "SubjectUserSid"),
    ),
    (C::UserId, Field(&["SubjectUserSid"])),
    (C::Dest, Field(&[SYSTEM_COMPUTER])),
    (C::VendorProduct, Const("Microsoft Windows")),
    (C::Action, Const("allowed")),
    (C::Time, Timestamp(SYSTEM_TIME)),
];

/// CrowdStrike ProcessRollup2. ESCU `crowdstrike_processrollup2.yml` field_mappings;
/// `process_guid` = `TargetProcessId` (Falcon's unique process id; `ParentProcessId` is
/// the parent's, so it is both `parent_process_id` as ESCU maps it and the parent GUID);
/// `dest` = `ComputerName`/`aid_computer_name` (FDR enrichment), else the agent id `aid`.
pub(crate) const CROWDSTRIKE_PROCESS_ROLLUP2: &[(C, Source)] = &[
    (C::Process, Field(&["CommandLine"])),
    (C::ProcessPath, Field(&["ImageFileName"])),
    (C::ProcessName, Basename("ImageFileName")),
    (C::ProcessExec, SameAs(C::ProcessName)),
    (C::ProcessId, ProcessId("RawProcessId")),
    (C::ProcessGuid, Field(&["TargetProcessId"])),
    (C::ProcessHash, Field(&["SHA256HashData"])),
    (C::ProcessIntegrityLevel, Integrity("IntegrityLevel")),
    (C::ParentProcessName, Field(&["ParentBaseFileName"])),
    (C::ParentProcessExec, SameAs(C::ParentProcessName)),
    (C::ParentProcessId, Field(&["ParentProcessId"])),
    (C::ParentProcessGuid, Field(&["ParentProcessId"])),
    (C::User, Field(&["UserName", "UserSid"])),
    (C::UserId, Field(&["UserSid"])),
    (
        C::Dest,
        Field(&["ComputerName", "aid_computer_name", "aid"]),
    ),
    (C::VendorProduct, Const("CrowdStrike Falcon")),
    (C::Action, Const("allowed")),
    (C::Time, EpochMillis("timestamp")),
];

/// The CIM fields each mapping table can fill, by the name ESCU gives its data source
/// (`data_source:` in detections): a field missing from a source's list is empty in every
/// row of that source. `netdiscover lint` reads this to tell which risk-message tokens and
/// risk objects a rule's data sources can leave empty.
pub fn fields_by_data_source() -> Vec<(&'static str, Vec<C>)> {
    let fields = |table: &[(C, Source)]| table.iter().map(|(f, _)| *f).collect();
    vec![
        ("Sysmon EventID 1", fields(SYSMON_PROCESS_CREATE)),
        ("Windows Event Log Security 4688", fields(SECURITY_4688)),
        (
            "CrowdStrike ProcessRollup2",
            fields(CROWDSTRIKE_PROCESS_ROLLUP2),
        ),
    ]
}

/// Applies a mapping table and an extras table (row name, source field) to a record.
pub(crate) fn map(
    table: &[(C, Source)],
    extras: &[(&'static str, Source)],
    record: &impl Fields,
) -> ProcessRow {
    let mut row = ProcessRow::default();
    for (target, source) in table {
        let value = compute(source, record, &row);
        if !value.is_empty() {
            row.set(*target, value);
        }
    }
    for (name, source) in extras {
        let value = compute(source, record, &row);
        if !value.is_empty() {
            row.set_extra(name, value);
        }
    }
    row
}

fn compute(source: &Source, record: &impl Fields, row: &ProcessRow) -> String {
    let get = |name: &str| record.field(name).unwrap_or("");
    match source {
        Field(names) => names
            .iter()
            .map(|n| get(n))
            .find(|v| !v.is_empty())
            .unwrap_or("")
            .to_string(),
        Basename(name) => basename(get(name)).to_string(),
        ProcessId(name) => decimal_pid(get(name)),
        Timestamp(name) => {
            let raw = get(name);
            if raw.is_empty() {
                String::new()
            } else {
                time::normalize(raw)
            }
        }
        EpochMillis(name) => {
            let raw = get(name);
            time::from_epoch_millis(raw).unwrap_or_else(|| raw.to_string())
        }
        Integrity(name) => integrity_level(get(name)),
        DomainUser(domain, name, fallback) => {
            let (d, n) = (get(domain), get(name));
            match (d, n) {
                (_, "" | "-") => get(fallback).to_string(),
                ("" | "-", n) => n.to_string(),
                (d, n) => format!("{d}\\{n}"),
            }
        }
        Guid(name) => canonical_guid(get(name)),
        Const(value) => (*value).to_string(),
        SameAs(field) => row.get(*field).to_string(),
    }
}

/// The file name part of a Windows or POSIX path (`C:\Windows\System32\netsh.exe` →
/// `netsh.exe`; CrowdStrike's `\Device\HarddiskVolume1\...` alike).
pub(crate) fn basename(path: &str) -> &str {
    let path = path.trim_end();
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// `0x1328` → `4904`; decimal stays as it is; anything else is kept verbatim rather than
/// lost.
pub(crate) fn decimal_pid(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(hex) = raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X")) {
        if let Ok(v) = u64::from_str_radix(hex, 16) {
            return v.to_string();
        }
    }
    raw.to_string()
}

/// `747f3d96-6607-5d3f-0000-0010b3818500` → `{747F3D96-6607-5D3F-0000-0010B3818500}`;
/// anything that is not a GUID is kept as it is. Built in one allocation: every process
/// event has several GUIDs, and `format!` of an uppercased copy was most of their mapping.
pub(crate) fn canonical_guid(raw: &str) -> String {
    let bare = raw.trim().trim_start_matches('{').trim_end_matches('}');
    let is_guid = bare.len() == 36
        && bare.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if !is_guid {
        return raw.to_string();
    }
    let mut guid = String::with_capacity(38);
    guid.push('{');
    guid.push_str(bare);
    guid.push('}');
    guid.make_ascii_uppercase();
    guid
}

fn integrity_level(raw: &str) -> String {
    let raw = raw.trim();
    let rid = raw
        .strip_prefix("S-1-16-")
        .or(Some(raw))
        .and_then(|n| n.parse::<u32>().ok())
        .or_else(|| {
            raw.strip_prefix("0x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
        });
    if let Some(rid) = rid {
        let level = match rid {
            0..=4095 => "untrusted",
            4096..=8191 => "low",
            8192..=12287 => "medium",
            12288..=16383 => "high",
            16384..=20479 => "system",
            _ => "protected",
        };
        return level.to_string();
    }
    let lower = raw.to_ascii_lowercase();
    named_integrity_level(&lower).map_or(lower, str::to_string)
}

/// The level a lowercased notation names: `high`, `mandatory label\high mandatory level`.
fn named_integrity_level(lower: &str) -> Option<&'static str> {
    INTEGRITY_LEVELS
        .into_iter()
        .find(|level| lower.starts_with(level) || follows_a_backslash(lower, level))
}

/// The integrity levels, lowest first.
const INTEGRITY_LEVELS: [&str; 6] = ["untrusted", "low", "medium", "high", "system", "protected"];

/// Whether `text` holds `\` + `level` + ` ` (`mandatory label\high mandatory level`), without
/// building that needle for every level of every event.
fn follows_a_backslash(text: &str, level: &str) -> bool {
    text.split('\\').skip(1).any(|after| {
        after
            .strip_prefix(level)
            .is_some_and(|rest| rest.starts_with(' '))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_become_decimal() {
        assert_eq!(decimal_pid("0x1328"), "4904");
        assert_eq!(decimal_pid("0xb5c"), "2908");
        assert_eq!(decimal_pid("6424"), "6424");
        assert_eq!(decimal_pid("0xZZ"), "0xZZ");
    }

    #[test]
    fn guids_take_one_form() {
        let canonical = "{747F3D96-6607-5D3F-0000-0010B3818500}";
        assert_eq!(
            canonical_guid("747f3d96-6607-5d3f-0000-0010b3818500"),
            canonical
        );
        assert_eq!(
            canonical_guid("{747f3d96-6607-5d3f-0000-0010b3818500}"),
            canonical
        );
        assert_eq!(canonical_guid(canonical), canonical);
        assert_eq!(canonical_guid("5642133882"), "5642133882");
    }

    #[test]
    fn basenames_of_windows_and_device_paths() {
        assert_eq!(basename(r"C:\Windows\System32\NETSTAT.EXE"), "NETSTAT.EXE");
        assert_eq!(
            basename(r"\Device\HarddiskVolume1\Windows\System32\netsh.exe"),
            "netsh.exe"
        );
        assert_eq!(basename("netsh.exe"), "netsh.exe");
        assert_eq!(basename("-"), "-");
    }

    #[test]
    fn integrity_levels_in_every_notation() {
        assert_eq!(integrity_level("High"), "high");
        assert_eq!(integrity_level("S-1-16-12288"), "high");
        assert_eq!(integrity_level("8192"), "medium");
        assert_eq!(
            integrity_level("Mandatory Label\\System Mandatory Level"),
            "system"
        );
        assert_eq!(integrity_level(""), "");
    }

    /// How this module found the level a notation names before it stopped building a
    /// needle per level.
    fn named_integrity_level_before(lower: &str) -> Option<&'static str> {
        ["untrusted", "low", "medium", "high", "system", "protected"]
            .into_iter()
            .find(|level| lower.starts_with(level) || lower.contains(&format!("\\{level} ")))
    }

    /// The format!-based canonical form this module had before.
    fn canonical_guid_before(raw: &str) -> String {
        let bare = raw.trim().trim_start_matches('{').trim_end_matches('}');
        let is_guid = bare.len() == 36
            && bare.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if is_guid {
            format!("{{{}}}", bare.to_ascii_uppercase())
        } else {
            raw.to_string()
        }
    }

    #[test]
    fn integrity_levels_read_as_before() {
        let pieces = [
            "High",
            "medium",
            "LOW",
            "system",
            "Protected",
            "untrusted",
            "\\",
            " ",
            "S-1-16-",
            "0x",
            "12288",
            "2000",
            "Mandatory Label",
            "Level",
            "é",
        ];
        for text in crate::test_strings::joined(&pieces, 3) {
            let lower = text.trim().to_ascii_lowercase();
            assert_eq!(
                named_integrity_level(&lower),
                named_integrity_level_before(&lower),
                "{text:?}"
            );
        }
    }

    #[test]
    fn guids_take_the_form_they_took_before() {
        let guid = "747f3d96-6607-5d3f-0000-0010b3818500";
        let pieces = [
            guid,
            "{",
            "}",
            " ",
            "x",
            "-",
            "é",
            "747F3D96-6607-5D3F-0000-0010B38185ZZ",
        ];
        for text in crate::test_strings::joined(&pieces, 3) {
            assert_eq!(
                canonical_guid(&text),
                canonical_guid_before(&text),
                "{text:?}"
            );
        }
    }
}
