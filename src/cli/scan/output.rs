//! Where matching rows go: a readable table, or CSV / JSON / NDJSON for machines. Rows are
//! written as they are found (streaming), so output starts before a long scan ends.

use std::io::{self, Write};
use std::path::Path;

use super::detector::{Detection, ANNOTATION_FIELDS};
use crate::ingest::{CimField, Position, ProcessRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum OutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

/// One row to write.
pub(super) struct Hit<'a> {
    pub file: &'a Path,
    pub position: Position,
    pub record_id: &'a str,
    pub row: &'a ProcessRow,
    pub detection: Option<&'a Detection>,
}

impl Hit<'_> {
    fn annotation(&self, name: &str) -> &[String] {
        self.detection
            .and_then(|d| d.fields.iter().find(|(n, _)| *n == name))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    fn offset_and_record(&self) -> (String, String) {
        match self.position {
            Position::Offset(o) => (o.to_string(), String::new()),
            Position::Record(n) => (String::new(), n.to_string()),
        }
    }
}

pub(super) struct Writer<W: Write> {
    out: W,
    format: OutputFormat,
    rows: u64,
    /// Table only: width of the detection column (the longest rule name).
    detection_width: usize,
}

/// Table columns before the detection column: (title, field, width).
const TABLE: [(&str, CimField, usize); 4] = [
    ("_time", CimField::Time, 27),
    ("dest", CimField::Dest, 22),
    ("user", CimField::User, 18),
    ("process_name", CimField::ProcessName, 14),
];

/// Width of the command-line column, after the detection column.
const PROCESS_WIDTH: usize = 64;

impl<W: Write> Writer<W> {
    /// `rule_names` sizes the table's detection column.
    pub(super) fn new(out: W, format: OutputFormat, rule_names: &[String]) -> Self {
        let detection_width = rule_names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(9);
        Writer {
            out,
            format,
            rows: 0,
            detection_width,
        }
    }

    pub(super) fn write(&mut self, hit: &Hit<'_>) -> io::Result<()> {
        if self.rows == 0 {
            self.start()?;
        }
        self.rows += 1;
        match self.format {
            OutputFormat::Table => self.table_row(hit),
            OutputFormat::Csv => self.csv_row(hit),
            OutputFormat::Json => {
                let separator = if self.rows == 1 { "  " } else { ",\n  " };
                write!(self.out, "{separator}{}", json_object(hit))
            }
            OutputFormat::Ndjson => writeln!(self.out, "{}", json_object(hit)),
        }
    }

    /// Closes the output (the JSON array's bracket) and flushes it.
    pub(super) fn finish(mut self) -> io::Result<()> {
        match self.format {
            OutputFormat::Json if self.rows == 0 => writeln!(self.out, "[]")?,
            OutputFormat::Json => writeln!(self.out, "\n]")?,
            OutputFormat::Csv if self.rows == 0 => self.start()?,
            _ => {}
        }
        self.out.flush()
    }

    fn start(&mut self) -> io::Result<()> {
        match self.format {
            OutputFormat::Table => {
                let mut line = String::new();
                for (title, _, width) in TABLE {
                    line.push_str(&format!("{title:<width$}  "));
                }
                let width = self.detection_width;
                line.push_str(&format!(
                    "{:<width$}  {:<PROCESS_WIDTH$}  source",
                    "detection", "process"
                ));
                writeln!(self.out, "{}", line.trim_end())
            }
            OutputFormat::Csv => {
                let mut header: Vec<&str> = vec!["source", "offset", "record", "record_id"];
                header.extend(CimField::ALL.iter().map(|f| f.name()));
                header.extend(ANNOTATION_FIELDS);
                writeln!(
                    self.out,
                    "{}",
                    csv_line(header.iter().map(|s| s.to_string()))
                )
            }
            OutputFormat::Json => writeln!(self.out, "["),
            OutputFormat::Ndjson => Ok(()),
        }
    }

    fn table_row(&mut self, hit: &Hit<'_>) -> io::Result<()> {
        let mut line = String::new();
        for (_, field, width) in TABLE {
            let value = printable(hit.row.get(field));
            line.push_str(&format!("{:<width$}  ", clip(&value, width)));
        }
        // Several matched rules take one line each, aligned under the first.
        let names = hit.annotation("detection");
        let first = names.first().map_or("-", String::as_str);
        let width = self.detection_width;
        let process = clip(&printable(hit.row.get(CimField::Process)), PROCESS_WIDTH);
        line.push_str(&format!(
            "{first:<width$}  {process:<PROCESS_WIDTH$}  {} @ {}",
            hit.file.display(),
            hit.position
        ));
        writeln!(self.out, "{line}")?;
        let indent: usize = TABLE.iter().map(|(_, _, w)| w + 2).sum();
        for name in names.iter().skip(1) {
            writeln!(self.out, "{:indent$}{name}", "")?;
        }
        Ok(())
    }

    fn csv_row(&mut self, hit: &Hit<'_>) -> io::Result<()> {
        let (offset, record) = hit.offset_and_record();
        let mut values = vec![
            hit.file.display().to_string(),
            offset,
            record,
            hit.record_id.to_string(),
        ];
        values.extend(hit.row.fields().map(|(_, v)| v.to_string()));
        // Multivalue fields: values joined by newlines, as Splunk's outputcsv writes them.
        values.extend(
            ANNOTATION_FIELDS
                .iter()
                .map(|f| hit.annotation(f).join("\n")),
        );
        writeln!(self.out, "{}", csv_line(values.into_iter()))
    }
}

fn json_object(hit: &Hit<'_>) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut parts = vec![format!(
        "\"source\":{}",
        quote(&hit.file.display().to_string())
    )];
    match hit.position {
        Position::Offset(o) => parts.push(format!("\"offset\":{o}")),
        Position::Record(n) => parts.push(format!("\"record\":{n}")),
    }
    parts.push(format!("\"record_id\":{}", quote(hit.record_id)));
    for (field, value) in hit.row.fields() {
        parts.push(format!("{}:{}", quote(field.name()), quote(value)));
    }
    for name in ANNOTATION_FIELDS {
        let values: Vec<String> = hit.annotation(name).iter().map(|v| quote(v)).collect();
        parts.push(format!("{}:[{}]", quote(name), values.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}

fn csv_line(values: impl Iterator<Item = String>) -> String {
    values
        .map(|v| {
            if v.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Control characters would break the table's lines.
fn printable(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn clip(value: &str, width: usize) -> String {
    if value.chars().count() <= width {
        value.to_string()
    } else {
        let mut clipped: String = value.chars().take(width.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}
