//! The CIM Endpoint.Processes row every reader produces.

use std::fmt;

/// One CIM Endpoint.Processes field. The names are the CIM names without the `Processes.`
/// prefix, exactly as Splunk's data model and the ESCU searches spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CimField {
    Process,
    ProcessName,
    ProcessPath,
    ProcessId,
    ParentProcess,
    ParentProcessName,
    ParentProcessPath,
    ParentProcessId,
    ParentProcessGuid,
    ProcessGuid,
    OriginalFileName,
    ProcessHash,
    ProcessIntegrityLevel,
    ProcessExec,
    ParentProcessExec,
    User,
    UserId,
    Dest,
    VendorProduct,
    Action,
    Time,
}

impl CimField {
    /// Every field, in the order rows are printed.
    pub const ALL: [CimField; 21] = [
        CimField::Time,
        CimField::Dest,
        CimField::User,
        CimField::UserId,
        CimField::ProcessName,
        CimField::Process,
        CimField::ProcessPath,
        CimField::ProcessId,
        CimField::ProcessGuid,
        CimField::ProcessExec,
        CimField::OriginalFileName,
        CimField::ProcessHash,
        CimField::ProcessIntegrityLevel,
        CimField::ParentProcessName,
        CimField::ParentProcess,
        CimField::ParentProcessPath,
        CimField::ParentProcessId,
        CimField::ParentProcessGuid,
        CimField::ParentProcessExec,
        CimField::VendorProduct,
        CimField::Action,
    ];

    /// The CIM name (`process_name`, `_time`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            CimField::Process => "process",
            CimField::ProcessName => "process_name",
            CimField::ProcessPath => "process_path",
            CimField::ProcessId => "process_id",
            CimField::ParentProcess => "parent_process",
            CimField::ParentProcessName => "parent_process_name",
            CimField::ParentProcessPath => "parent_process_path",
            CimField::ParentProcessId => "parent_process_id",
            CimField::ParentProcessGuid => "parent_process_guid",
            CimField::ProcessGuid => "process_guid",
            CimField::OriginalFileName => "original_file_name",
            CimField::ProcessHash => "process_hash",
            CimField::ProcessIntegrityLevel => "process_integrity_level",
            CimField::ProcessExec => "process_exec",
            CimField::ParentProcessExec => "parent_process_exec",
            CimField::User => "user",
            CimField::UserId => "user_id",
            CimField::Dest => "dest",
            CimField::VendorProduct => "vendor_product",
            CimField::Action => "action",
            CimField::Time => "_time",
        }
    }

    /// The field with this CIM name; a `Processes.` prefix is accepted, case matters as in
    /// Splunk field names.
    pub fn from_name(name: &str) -> Option<CimField> {
        let name = name.strip_prefix("Processes.").unwrap_or(name);
        CimField::ALL.into_iter().find(|f| f.name() == name)
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for CimField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A process-creation event normalised to CIM Endpoint.Processes. Absent fields are empty
/// strings, as `tstats ... by` would show them after `fillnull`.
///
/// Source fields that have no CIM field but that rules read (Sysmon's `Description`,
/// `Company`, `ParentUser`, `LogonId`, ...) ride along as *extra* fields under their source
/// names, so offline scans match them as a raw-event search in Splunk would; they are not
/// written out as CIM fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessRow {
    values: Box<[String; 21]>,
    extra: Vec<(&'static str, String)>,
}

impl ProcessRow {
    /// The value of `field` (empty when the source has none).
    pub fn get(&self, field: CimField) -> &str {
        &self.values[field.index()]
    }

    /// The value of the field named `name` (`None` for a name that is no CIM process field).
    pub fn get_by_name(&self, name: &str) -> Option<&str> {
        CimField::from_name(name).map(|f| self.get(f))
    }

    pub fn set(&mut self, field: CimField, value: impl Into<String>) {
        self.values[field.index()] = value.into();
    }

    /// An extra (non-CIM) field by its source name; empty when absent.
    pub fn extra(&self, name: &str) -> &str {
        self.extra
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Sets an extra field (replacing an earlier value of the same name).
    pub fn set_extra(&mut self, name: &'static str, value: impl Into<String>) {
        let value = value.into();
        match self.extra.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.extra.push((name, value)),
        }
    }

    /// The extra fields with their values, in the order they were set.
    pub fn extras(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.extra.iter().map(|(n, v)| (*n, v.as_str()))
    }

    /// Every field with its value, in [`CimField::ALL`] order.
    pub fn fields(&self) -> impl Iterator<Item = (CimField, &str)> + '_ {
        CimField::ALL.into_iter().map(move |f| (f, self.get(f)))
    }

    /// `_time` as seconds since the Unix epoch (what Splunk's `<time>` and `_time` hold).
    pub fn epoch_seconds(&self) -> Option<f64> {
        crate::ingest::time::epoch_seconds(self.get(CimField::Time))
    }
}
