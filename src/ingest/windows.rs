//! A Windows event reduced to what normalisation needs, whichever rendering it came from
//! (XmlWinEventLog XML, EVTX, publisher JSON), and the choice of which events are process
//! creations.

use super::cim::{self, Fields};
use super::row::ProcessRow;

/// The `System` values and the `EventData` name/value pairs of one Windows event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WinEvent {
    pub event_id: String,
    pub provider: String,
    pub channel: String,
    pub computer: String,
    pub system_time: String,
    pub record_id: String,
    /// `System/Security/@UserID`.
    pub security_user_id: String,
    pub data: Vec<(String, String)>,
}

/// Pseudo field names under which the `System` values are looked up by the mapping tables.
pub(crate) const SYSTEM_COMPUTER: &str = "System.Computer";
pub(crate) const SYSTEM_TIME: &str = "System.TimeCreated";
pub(crate) const SYSTEM_PROVIDER: &str = "System.Provider";

impl Fields for WinEvent {
    fn field(&self, name: &str) -> Option<&str> {
        match name {
            SYSTEM_COMPUTER => Some(&self.computer),
            SYSTEM_TIME => Some(&self.system_time),
            SYSTEM_PROVIDER => Some(&self.provider),
            _ => self
                .data
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str()),
        }
    }
}

/// Which process-creation source an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WinSource {
    SysmonProcessCreate,
    SecurityProcessCreate,
}

impl WinEvent {
    /// Sysmon event 1 or Security 4688; `None` for every other event. The provider or
    /// channel is checked as well, since event id 1 exists in many other logs.
    pub(crate) fn process_source(&self) -> Option<WinSource> {
        match self.event_id.trim() {
            "1" if self.provider.contains("Sysmon") || self.channel.contains("Sysmon") => {
                Some(WinSource::SysmonProcessCreate)
            }
            "4688"
                if self.provider == "Microsoft-Windows-Security-Auditing"
                    || self.channel == "Security" =>
            {
                Some(WinSource::SecurityProcessCreate)
            }
            _ => None,
        }
    }

    /// The label a skipped event is counted under: its event id, plus the provider when an
    /// id that is a process event elsewhere comes from another provider.
    pub(crate) fn skip_label(&self) -> String {
        match self.event_id.trim() {
            id @ ("1" | "4688") => format!("{id} ({})", self.provider),
            "" => "(no EventID)".to_string(),
            id => id.to_string(),
        }
    }

    /// The CIM row of a process-creation event.
    pub(crate) fn to_row(&self, source: WinSource) -> ProcessRow {
        let (table, extras) = match source {
            WinSource::SysmonProcessCreate => (cim::SYSMON_PROCESS_CREATE, cim::SYSMON_EXTRAS),
            WinSource::SecurityProcessCreate => (cim::SECURITY_4688, cim::SECURITY_4688_EXTRAS),
        };
        cim::map(table, extras, self)
    }
}
