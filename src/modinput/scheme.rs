//! The input's parameters and the `--scheme` document splunkd reads to learn them.
//!
//! One table ([`ARGUMENTS`]) drives the scheme, the spec file test and validation, so an
//! argument cannot be declared in one place and forgotten in another.

use super::xml_text::{escaped, escaped_attr};

/// The `data_type` splunkd knows for a modular input argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    String,
    Number,
    Boolean,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Number => "number",
            DataType::Boolean => "boolean",
        }
    }
}

/// One argument of the `[netdiscover_input://<name>]` stanza.
#[derive(Debug, Clone, Copy)]
pub struct Argument {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub data_type: DataType,
    pub required_on_create: bool,
    pub required_on_edit: bool,
}

pub const TITLE: &str = "netdiscover process telemetry";
pub const DESCRIPTION: &str = "Follows exported process-creation telemetry (Sysmon EID 1 and Security 4688 as \
XmlWinEventLog XML or EVTX, publisher JSON, CrowdStrike ProcessRollup2, CIM CSV; gzip too) and indexes one CIM \
Endpoint.Processes event per process launch, optionally annotated by the netdiscover detections.";

/// Every argument the input accepts besides splunkd's own (`index`, `host`, `sourcetype`, ...).
pub const ARGUMENTS: &[Argument] = &[
    Argument {
        name: "path",
        title: "Path",
        description: "A file, a directory, or a glob pattern (e.g. /exports/*.xml) naming the files to follow.",
        data_type: DataType::String,
        required_on_create: true,
        required_on_edit: false,
    },
    Argument {
        name: "format",
        title: "Format",
        description: "auto (detect from content) or one named format; see README/inputs.conf.spec.",
        data_type: DataType::String,
        required_on_create: false,
        required_on_edit: false,
    },
    Argument {
        name: "recursive",
        title: "Recursive",
        description: "When path is a directory, also follow files in its subdirectories (default true).",
        data_type: DataType::Boolean,
        required_on_create: false,
        required_on_edit: false,
    },
    Argument {
        name: "include",
        title: "Include pattern",
        description: "Regular expression over the full file path; only matching files are read.",
        data_type: DataType::String,
        required_on_create: false,
        required_on_edit: false,
    },
    Argument {
        name: "exclude",
        title: "Exclude pattern",
        description: "Regular expression over the full file path; matching files are never read.",
        data_type: DataType::String,
        required_on_create: false,
        required_on_edit: false,
    },
    Argument {
        name: "annotate",
        title: "Annotate with detections",
        description: "Run the netdiscover detections at ingest and add the detection and risk fields (default false).",
        data_type: DataType::Boolean,
        required_on_create: false,
        required_on_edit: false,
    },
    Argument {
        name: "batch_size",
        title: "Batch size",
        description: "Records read (over all files) between two checkpoints, 1 to 100000 (default 500).",
        data_type: DataType::Number,
        required_on_create: false,
        required_on_edit: false,
    },
    Argument {
        name: "poll_interval",
        title: "Poll interval",
        description: "Seconds between looks for new data and new files, 0.01 to 3600 (default 1).",
        data_type: DataType::Number,
        required_on_create: false,
        required_on_edit: false,
    },
];

/// The `--scheme` XML: external validation on, one process per stanza, XML streaming.
pub fn scheme_xml() -> String {
    let mut xml = String::from("<scheme>\n");
    xml.push_str(&format!("  <title>{}</title>\n", escaped(TITLE)));
    xml.push_str(&format!(
        "  <description>{}</description>\n",
        escaped(DESCRIPTION)
    ));
    xml.push_str("  <use_external_validation>true</use_external_validation>\n");
    xml.push_str("  <use_single_instance>false</use_single_instance>\n");
    xml.push_str("  <streaming_mode>xml</streaming_mode>\n");
    xml.push_str("  <endpoint>\n    <args>\n");
    for arg in ARGUMENTS {
        xml.push_str(&format!(
            "      <arg name=\"{}\">\n",
            escaped_attr(arg.name)
        ));
        xml.push_str(&format!("        <title>{}</title>\n", escaped(arg.title)));
        xml.push_str(&format!(
            "        <description>{}</description>\n",
            escaped(arg.description)
        ));
        xml.push_str(&format!(
            "        <data_type>{}</data_type>\n",
            arg.data_type.as_str()
        ));
        xml.push_str(&format!(
            "        <required_on_edit>{}</required_on_edit>\n",
            arg.required_on_edit
        ));
        xml.push_str(&format!(
            "        <required_on_create>{}</required_on_create>\n",
            arg.required_on_create
        ));
        xml.push_str("      </arg>\n");
    }
    xml.push_str("    </args>\n  </endpoint>\n</scheme>\n");
    xml
}
