//! Where matching rows go: a readable table, or CSV / JSON / NDJSON for machines. Rows are
//! written as they are found (streaming), so output starts before a long scan ends.

use std::fmt::Write as _;
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

/// One row to write (its position in the file is written by the [`Writer`]).
pub(super) struct Hit<'a> {
    pub file: &'a Path,
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
}

/// How rows are rendered: the format, and the table's column widths. Rows are rendered where
/// they are found, on any thread; the [`Writer`] writes them in order. (A rendered row is one
/// string, so handing it to the writer's thread costs one allocation crossing threads, not
/// the dozens of a row and its annotation: glibc's allocator serialises frees of another
/// thread's memory.)
#[derive(Debug, Clone)]
pub(super) struct Render {
    format: OutputFormat,
    /// Table only: width of the detection column (the longest rule name).
    detection_width: usize,
}

/// A rendered row without its position, which goes at byte `split` of `text`.
#[derive(Debug)]
pub(super) struct RenderedRow {
    text: String,
    split: usize,
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

impl Render {
    /// `rule_names` sizes the table's detection column.
    pub(super) fn new(format: OutputFormat, rule_names: &[String]) -> Render {
        let detection_width = rule_names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(9);
        Render {
            format,
            detection_width,
        }
    }

    pub(super) fn row(&self, hit: &Hit<'_>) -> RenderedRow {
        match self.format {
            OutputFormat::Table => self.table_row(hit),
            OutputFormat::Csv => csv_row(hit),
            OutputFormat::Json => json_object(hit),
            OutputFormat::Ndjson => {
                let mut row = json_object(hit);
                row.text.push('\n');
                row
            }
        }
    }

    fn table_row(&self, hit: &Hit<'_>) -> RenderedRow {
        let mut text = String::new();
        for (_, field, width) in TABLE {
            push_cell(&mut text, hit.row.get(field), width);
            text.push_str("  ");
        }
        // Several matched rules take one line each, aligned under the first.
        let names = hit.annotation("detection");
        let first = names.first().map_or("-", String::as_str);
        push_cell(&mut text, first, self.detection_width);
        text.push_str("  ");
        push_cell(&mut text, hit.row.get(CimField::Process), PROCESS_WIDTH);
        let _ = write!(text, "  {} @ ", hit.file.display());
        let split = text.len();
        text.push('\n');
        let indent: usize = TABLE.iter().map(|(_, _, w)| w + 2).sum();
        for name in names.iter().skip(1) {
            let _ = writeln!(text, "{:indent$}{name}", "");
        }
        RenderedRow { text, split }
    }
}

pub(super) struct Writer<W: Write> {
    out: W,
    render: Render,
    rows: u64,
}

impl<W: Write> Writer<W> {
    pub(super) fn new(out: W, render: Render) -> Self {
        Writer {
            out,
            render,
            rows: 0,
        }
    }

    /// Writes `row`, found at `position` of its file.
    pub(super) fn write(&mut self, row: &RenderedRow, position: Position) -> io::Result<()> {
        if self.rows == 0 {
            self.start()?;
        }
        self.rows += 1;
        let format = self.render.format;
        if format == OutputFormat::Json {
            let separator = if self.rows == 1 { "  " } else { ",\n  " };
            self.out.write_all(separator.as_bytes())?;
        }
        let (head, tail) = row.text.split_at(row.split);
        self.out.write_all(head.as_bytes())?;
        match (format, position) {
            (OutputFormat::Table, position) => write!(self.out, "{position}")?,
            (OutputFormat::Csv, Position::Offset(o)) => write!(self.out, "{o},")?,
            (OutputFormat::Csv, Position::Record(n)) => write!(self.out, ",{n}")?,
            (_, Position::Offset(o)) => write!(self.out, "\"offset\":{o}")?,
            (_, Position::Record(n)) => write!(self.out, "\"record\":{n}")?,
        }
        self.out.write_all(tail.as_bytes())
    }

    /// Closes the output (the JSON array's bracket) and flushes it.
    pub(super) fn finish(mut self) -> io::Result<()> {
        match self.render.format {
            OutputFormat::Json if self.rows == 0 => writeln!(self.out, "[]")?,
            OutputFormat::Json => writeln!(self.out, "\n]")?,
            OutputFormat::Csv if self.rows == 0 => self.start()?,
            _ => {}
        }
        self.out.flush()
    }

    fn start(&mut self) -> io::Result<()> {
        match self.render.format {
            OutputFormat::Table => {
                let mut line = String::new();
                for (title, _, width) in TABLE {
                    line.push_str(&format!("{title:<width$}  "));
                }
                let width = self.render.detection_width;
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
}

/// The CSV line; the position's two columns (offset, record) go at `split`.
fn csv_row(hit: &Hit<'_>) -> RenderedRow {
    let mut text = csv_line(std::iter::once(hit.file.display().to_string()));
    text.push(',');
    let split = text.len();
    let mut values = vec![hit.record_id.to_string()];
    values.extend(hit.row.fields().map(|(_, v)| v.to_string()));
    // Multivalue fields: values joined by newlines, as Splunk's outputcsv writes them.
    values.extend(
        ANNOTATION_FIELDS
            .iter()
            .map(|f| hit.annotation(f).join("\n")),
    );
    text.push(',');
    text.push_str(&csv_line(values.into_iter()));
    text.push('\n');
    RenderedRow { text, split }
}

/// The JSON object (one line); the position's member goes at `split`.
fn json_object(hit: &Hit<'_>) -> RenderedRow {
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut text = format!("{{\"source\":{},", quote(&hit.file.display().to_string()));
    let split = text.len();
    let mut parts = vec![format!("\"record_id\":{}", quote(hit.record_id))];
    for (field, value) in hit.row.fields() {
        parts.push(format!("{}:{}", quote(field.name()), quote(value)));
    }
    for name in ANNOTATION_FIELDS {
        let values: Vec<String> = hit.annotation(name).iter().map(|v| quote(v)).collect();
        parts.push(format!("{}:[{}]", quote(name), values.join(",")));
    }
    text.push(',');
    text.push_str(&parts.join(","));
    text.push('}');
    RenderedRow { text, split }
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

/// Appends `value` as a table cell of `width` characters: clipped with `…` when longer,
/// padded with spaces when shorter, control characters (which would break the table's lines)
/// as spaces.
fn push_cell(line: &mut String, value: &str, width: usize) {
    let clipped = value.chars().nth(width).is_some();
    let shown = if clipped {
        width.saturating_sub(1)
    } else {
        width
    };
    let mut count = 0;
    for c in value.chars().take(shown) {
        line.push(if c.is_control() { ' ' } else { c });
        count += 1;
    }
    if clipped {
        line.push('…');
        count += 1;
    }
    line.extend(std::iter::repeat_n(' ', width.saturating_sub(count)));
}
