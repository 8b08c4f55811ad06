//! Where matching rows go: a readable table, or CSV / JSON / NDJSON for machines. Rows are
//! written as they are found (streaming), so output starts before a long scan ends.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::Range;

use super::detector::{Detection, ANNOTATION_FIELDS, IDENTITY_FIELDS};
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
    /// The file, as `Path::display` shows it.
    pub file: &'a str,
    pub record_id: &'a str,
    pub row: &'a ProcessRow,
    pub detection: Option<&'a Detection<'a>>,
}

/// How rows are rendered: the format, and the table's column widths. Rows are rendered where
/// they are found, on any thread; the [`Writer`] writes them in order. (A rendered row is one
/// buffer, so handing it to the writer's thread costs one allocation crossing threads, not
/// the dozens of a row and its annotation: a free of another thread's memory costs more than
/// a free of one's own, under mimalloc ([`crate::heap`]) as under glibc.)
#[derive(Debug, Clone)]
pub(super) struct Render {
    format: OutputFormat,
    /// Table only: width of the detection column (the longest rule name).
    detection_width: usize,
}

/// A rendered row without its position, which goes at byte `split` of `text`.
#[derive(Debug)]
pub(super) struct RenderedRow {
    text: Vec<u8>,
    split: usize,
}

/// What one thread reuses from row to row to render matched rows' annotations as CSV or
/// JSON: each field's values as the format writes them, and the identity fields (which
/// depend only on the matched rules) rendered once per set of matched rules.
pub(super) struct RowScratch {
    columns: Columns,
    /// Reused by the rules for values they render from the row.
    values: Vec<u8>,
    identity: BTreeMap<Vec<usize>, Vec<u8>>,
    /// How many sets of matched rules `identity` may hold.
    max_identity_sets: usize,
    /// The length of the row rendered last, to size the next one's buffer.
    last_row: usize,
}

impl Default for RowScratch {
    fn default() -> Self {
        RowScratch::holding(MAX_IDENTITY_SETS)
    }
}

/// Sets of matched rules whose identity fields are kept rendered at most: past that, rows
/// are rendered value by value (a bound on memory for rule sets whose matches keep
/// combining differently).
const MAX_IDENTITY_SETS: usize = 512;

/// The annotation fields of one row, each field's values written as `format` joins them:
/// CSV joins a multivalue field's values with newlines (as Splunk's outputcsv writes them)
/// into one cell, escaped when the cell is written; JSON writes an array of strings.
#[derive(Default)]
struct Columns {
    values: [Vec<u8>; ANNOTATION_FIELDS.len()],
    counts: [usize; ANNOTATION_FIELDS.len()],
}

impl Columns {
    fn clear(&mut self, fields: Range<usize>) {
        for column in fields {
            self.values[column].clear();
            self.counts[column] = 0;
        }
    }

    /// Adds `value` (UTF-8 text from the rules) to field `column`.
    fn push(&mut self, format: OutputFormat, column: usize, value: &[u8]) {
        let (Some(values), Some(count)) =
            (self.values.get_mut(column), self.counts.get_mut(column))
        else {
            return;
        };
        let value = String::from_utf8_lossy(value);
        if format == OutputFormat::Csv {
            if *count > 0 {
                values.push(b'\n');
            }
            values.extend_from_slice(value.as_bytes());
        } else {
            if *count > 0 {
                values.push(b',');
            }
            push_json_str(values, &value);
        }
        *count += 1;
    }

    /// Appends the `fields`, each after a comma: a CSV cell, or a JSON member.
    fn write(&self, format: OutputFormat, fields: Range<usize>, out: &mut Vec<u8>) {
        for column in fields {
            out.push(b',');
            if format == OutputFormat::Csv {
                push_csv(out, &self.values[column]);
            } else {
                push_json_str(out, ANNOTATION_FIELDS[column]);
                out.extend_from_slice(b":[");
                out.extend_from_slice(&self.values[column]);
                out.push(b']');
            }
        }
    }
}

impl RowScratch {
    /// Scratch that keeps the identity fields of at most `max_identity_sets` sets rendered.
    fn holding(max_identity_sets: usize) -> RowScratch {
        RowScratch {
            columns: Columns::default(),
            values: Vec::new(),
            identity: BTreeMap::new(),
            max_identity_sets,
            last_row: 0,
        }
    }

    /// A buffer size that holds most rows like the last one without growing.
    fn row_capacity(&self) -> usize {
        self.last_row + self.last_row / 4 + 64
    }

    /// Appends the annotation's fields of `detection` (every one empty for none), each after
    /// a comma.
    fn write_annotation(
        &mut self,
        format: OutputFormat,
        detection: Option<&Detection<'_>>,
        out: &mut Vec<u8>,
    ) {
        let Some(detection) = detection else {
            let all = 0..ANNOTATION_FIELDS.len();
            self.columns.clear(all.clone());
            return self.columns.write(format, all, out);
        };
        self.write_identity(format, detection, out);
        let findings = IDENTITY_FIELDS..ANNOTATION_FIELDS.len();
        let columns = &mut self.columns;
        columns.clear(findings.clone());
        detection.findings_into(&mut self.values, &mut |column, value| {
            columns.push(format, column, value);
        });
        columns.write(format, findings, out);
    }

    /// Appends the identity fields of `detection`, rendered once per set of matched rules.
    fn write_identity(
        &mut self,
        format: OutputFormat,
        detection: &Detection<'_>,
        out: &mut Vec<u8>,
    ) {
        if let Some(rendered) = self.identity.get(detection.rules()) {
            return out.extend_from_slice(rendered);
        }
        let identity = 0..IDENTITY_FIELDS;
        let columns = &mut self.columns;
        columns.clear(identity.clone());
        detection.identity_into(&mut |column, value| columns.push(format, column, value));
        if self.identity.len() >= self.max_identity_sets {
            return columns.write(format, identity, out);
        }
        let mut rendered = Vec::new();
        columns.write(format, identity, &mut rendered);
        out.extend_from_slice(&rendered);
        self.identity.insert(detection.rules().to_vec(), rendered);
    }
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

    /// Renders `hit`; `scratch` is the calling thread's own.
    pub(super) fn row(&self, hit: &Hit<'_>, scratch: &mut RowScratch) -> RenderedRow {
        match self.format {
            OutputFormat::Table => self.table_row(hit),
            OutputFormat::Csv => csv_row(hit, scratch),
            OutputFormat::Json => json_object(hit, scratch),
            OutputFormat::Ndjson => {
                let mut row = json_object(hit, scratch);
                row.text.push(b'\n');
                row
            }
        }
    }

    fn table_row(&self, hit: &Hit<'_>) -> RenderedRow {
        // The line's length when every character shown is ASCII.
        let columns: usize = TABLE.iter().map(|(_, _, w)| w + 2).sum();
        let line = columns + self.detection_width + PROCESS_WIDTH + hit.file.len() + 8;
        let mut text = String::with_capacity(line);
        for (_, field, width) in TABLE {
            push_cell(&mut text, hit.row.get(field), width);
            text.push_str("  ");
        }
        // Several matched rules take one line each, aligned under the first.
        let mut names = hit.detection.into_iter().flat_map(Detection::names);
        let first = names.next().unwrap_or("-");
        push_cell(&mut text, first, self.detection_width);
        text.push_str("  ");
        push_cell(&mut text, hit.row.get(CimField::Process), PROCESS_WIDTH);
        text.push_str("  ");
        text.push_str(hit.file);
        text.push_str(" @ ");
        let split = text.len();
        text.push('\n');
        let indent: usize = TABLE.iter().map(|(_, _, w)| w + 2).sum();
        for name in names {
            push_spaces(&mut text, indent);
            text.push_str(name);
            text.push('\n');
        }
        RenderedRow {
            text: text.into_bytes(),
            split,
        }
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
        self.out.write_all(head)?;
        match (format, position) {
            (OutputFormat::Table, position) => write!(self.out, "{position}")?,
            (OutputFormat::Csv, Position::Offset(o)) => write!(self.out, "{o},")?,
            (OutputFormat::Csv, Position::Record(n)) => write!(self.out, ",{n}")?,
            (_, Position::Offset(o)) => write!(self.out, "\"offset\":{o}")?,
            (_, Position::Record(n)) => write!(self.out, "\"record\":{n}")?,
        }
        self.out.write_all(tail)
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
                writeln!(self.out, "{}", csv_line(header.into_iter()))
            }
            OutputFormat::Json => writeln!(self.out, "["),
            OutputFormat::Ndjson => Ok(()),
        }
    }
}

/// The CSV line; the position's two columns (offset, record) go at `split`.
fn csv_row(hit: &Hit<'_>, scratch: &mut RowScratch) -> RenderedRow {
    let mut text = Vec::with_capacity(scratch.row_capacity());
    push_csv(&mut text, hit.file.as_bytes());
    text.push(b',');
    let split = text.len();
    text.push(b',');
    push_csv(&mut text, hit.record_id.as_bytes());
    for (_, value) in hit.row.fields() {
        text.push(b',');
        push_csv(&mut text, value.as_bytes());
    }
    scratch.write_annotation(OutputFormat::Csv, hit.detection, &mut text);
    text.push(b'\n');
    scratch.last_row = text.len();
    RenderedRow { text, split }
}

/// The JSON object (one line); the position's member goes at `split`.
fn json_object(hit: &Hit<'_>, scratch: &mut RowScratch) -> RenderedRow {
    let mut text = Vec::with_capacity(scratch.row_capacity());
    text.extend_from_slice(b"{\"source\":");
    push_json_str(&mut text, hit.file);
    text.push(b',');
    let split = text.len();
    text.extend_from_slice(b",\"record_id\":");
    push_json_str(&mut text, hit.record_id);
    for (field, value) in hit.row.fields() {
        text.push(b',');
        push_json_str(&mut text, field.name());
        text.push(b':');
        push_json_str(&mut text, value);
    }
    scratch.write_annotation(OutputFormat::Json, hit.detection, &mut text);
    text.push(b'}');
    scratch.last_row = text.len();
    RenderedRow { text, split }
}

/// The header line's cells, CSV-escaped and joined.
fn csv_line<'v>(values: impl Iterator<Item = &'v str>) -> String {
    let mut line = Vec::new();
    for (n, value) in values.enumerate() {
        if n > 0 {
            line.push(b',');
        }
        push_csv(&mut line, value.as_bytes());
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Whether any byte of `value` is one `special` says yes to. Tests whole blocks, without
/// stopping early, which the compiler turns into vector instructions.
fn any_byte(value: &[u8], special: impl Fn(u8) -> bool) -> bool {
    value
        .chunks(16)
        .any(|block| block.iter().fold(false, |seen, &b| seen | special(b)))
}

/// Appends `value` as a CSV cell: quoted, with its quotes doubled, when it holds a comma,
/// quote, newline or carriage return.
fn push_csv(out: &mut Vec<u8>, value: &[u8]) {
    if !any_byte(value, |b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        return out.extend_from_slice(value);
    }
    out.push(b'"');
    for part in value.split(|&b| b == b'"').enumerate() {
        if part.0 > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part.1);
    }
    out.push(b'"');
}

/// Appends `value` as a JSON string, escaped as `serde_json` escapes it: `"`, `\` and the
/// control characters below U+0020 (`\b \t \n \f \r` by name, the rest as `\u00xx`).
fn push_json_str(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    out.push(b'"');
    if !any_byte(bytes, |b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends `value` as a table cell of `width` characters: clipped with `…` when longer,
/// padded with spaces when shorter, control characters (which would break the table's lines)
/// as spaces.
fn push_cell(line: &mut String, value: &str, width: usize) {
    // Printable ASCII (most values): a character is a byte, none is a control character.
    // Only the first `width` bytes are shown, or tell that the value is clipped.
    let head = &value.as_bytes()[..value.len().min(width)];
    if any_byte(head, |b| !(b' '..=b'~').contains(&b)) {
        return push_cell_by_char(line, value, width);
    }
    let count = if value.len() > width {
        let shown = width.saturating_sub(1);
        line.push_str(&value[..shown]);
        line.push('…');
        shown + 1
    } else {
        line.push_str(value);
        value.len()
    };
    push_spaces(line, width.saturating_sub(count));
}

fn push_spaces(line: &mut String, mut n: usize) {
    const SPACES: &str = "                                ";
    while n > 0 {
        let run = n.min(SPACES.len());
        line.push_str(&SPACES[..run]);
        n -= run;
    }
}

/// [`push_cell`] character by character, for any text.
fn push_cell_by_char(line: &mut String, value: &str, width: usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string of up to 4 characters over an alphabet of printable ASCII, DEL, tab,
    /// U+0001, a C1 control, and characters of 2, 3 and 4 bytes.
    fn awkward_strings() -> Vec<String> {
        let alphabet = [
            "a", " ", "~", "\u{7f}", "\t", "\u{1}", "\u{85}", "é", "€", "😀",
        ];
        crate::test_strings::joined(&alphabet, 4)
    }

    fn cell(value: &str, width: usize) -> String {
        let mut line = String::from(">");
        push_cell(&mut line, value, width);
        line
    }

    #[test]
    fn table_cells_are_the_character_by_character_ones() {
        let long = "x".repeat(70);
        let mut values = awkward_strings();
        values.extend([long.clone(), format!("{long}é"), format!("é{long}")]);
        for value in &values {
            for width in (0..6).chain([63, 64, 65, 70, 71]) {
                let mut by_char = String::from(">");
                push_cell_by_char(&mut by_char, value, width);
                assert_eq!(cell(value, width), by_char, "{value:?} in {width}");
            }
        }
    }

    #[test]
    fn table_cells_clip_pad_and_blank_control_characters() {
        assert_eq!(cell("abcdefgh", 5), ">abcd…");
        assert_eq!(cell("abcde", 5), ">abcde");
        assert_eq!(cell("abc", 5), ">abc  ");
        assert_eq!(cell("abc", 0), ">…");
        assert_eq!(cell("", 0), ">");
        assert_eq!(cell("a\tb\u{7f}", 5), ">a b  ");
        assert_eq!(cell("héllo wörld", 6), ">héllo…");
        assert_eq!(cell("ß\u{85}€", 4), ">ß € ");
    }

    #[test]
    fn json_strings_are_escaped_as_serde_json_escapes_them() {
        let mut values: Vec<String> = (0..=0x2ff_u32)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        values.extend(awkward_strings());
        values.push("say \"hi\" \\ back\\slash\r\n\u{8}\u{c}😀".to_string());
        for value in &values {
            let mut ours = Vec::new();
            push_json_str(&mut ours, value);
            let serde = serde_json::Value::String(value.clone()).to_string();
            assert_eq!(String::from_utf8(ours).unwrap(), serde, "{value:?}");
        }
    }

    #[test]
    fn csv_cells_are_quoted_only_when_they_need_it() {
        let quoted = |value: &str| {
            let mut out = Vec::new();
            push_csv(&mut out, value.as_bytes());
            String::from_utf8(out).unwrap()
        };
        assert_eq!(quoted("plain value"), "plain value");
        assert_eq!(quoted(""), "");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("\"\""), "\"\"\"\"\"\"");
        assert_eq!(quoted("one\ntwo"), "\"one\ntwo\"");
        assert_eq!(quoted("cr\r"), "\"cr\r\"");
        assert_eq!(quoted("tab\tand é"), "tab\tand é");
        assert_eq!(csv_line(["a", "b,c", ""].into_iter()), "a,\"b,c\",");
    }

    /// The annotation of `row` by `detector` as the owned `Annotation` gives it, in the
    /// format's text: CSV cells with multivalues joined by newlines, or JSON arrays.
    fn owned_annotation(
        format: OutputFormat,
        detector: &mut crate::detect::ProcessDetector,
        row: &ProcessRow,
    ) -> String {
        let annotation = detector.detect(row).map(|found| found.annotation);
        let annotation = annotation.unwrap_or_default();
        let mut text = String::new();
        for (name, values) in annotation.fields() {
            text.push(',');
            if format == OutputFormat::Csv {
                text.push_str(&csv_line([values.join("\n")].iter().map(String::as_str)));
            } else {
                let quote = |v: &String| serde_json::Value::String(v.clone()).to_string();
                let values: Vec<String> = values.iter().map(quote).collect();
                text.push_str(&format!("\"{name}\":[{}]", values.join(",")));
            }
        }
        text
    }

    #[test]
    fn streamed_annotations_are_the_owned_ones_with_and_without_the_identity_cache() {
        let app = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/app"));
        let (rules, _) = crate::rules::RuleSet::load(&[app]);
        let mut detector = crate::detect::ProcessDetector::new(rules);
        let process = |name: &str, line: &str| {
            let mut row = ProcessRow::default();
            row.set(CimField::ProcessName, name);
            row.set(CimField::Process, line);
            row.set(CimField::Dest, "host,\"one\"");
            row.set(CimField::User, "CORP\\ann\u{1}");
            row
        };
        let rows = [
            process(
                "netsh.exe",
                "netsh interface portproxy add v4tov4 a=\"b,c\"\nd",
            ),
            process("netstat.exe", "netstat -ano"),
            process("cmd.exe", "cmd /c dir"),
            process("netsh.exe", "netsh interface portproxy add v4tov4 x"),
            process("netstat.exe", "netstat -an"),
        ];
        for format in [OutputFormat::Csv, OutputFormat::Json] {
            // Every set cached, one (the second set renders without the cache), none.
            for max_sets in [MAX_IDENTITY_SETS, 1, 0] {
                let mut scratch = RowScratch::holding(max_sets);
                let mut matched = 0;
                for row in &rows {
                    let expected = owned_annotation(format, &mut detector, row);
                    let mut streamed = Vec::new();
                    let found = detector.matches(row);
                    matched += usize::from(found.is_some());
                    scratch.write_annotation(format, found.as_ref(), &mut streamed);
                    let streamed = String::from_utf8(streamed).unwrap();
                    assert_eq!(streamed, expected, "{format:?}, {max_sets} sets");
                }
                assert_eq!(matched, 4, "every row but `cmd.exe` matches a seed rule");
                assert_eq!(scratch.identity.len(), max_sets.min(2));
            }
        }
    }

    #[test]
    fn annotation_columns_join_multivalues_per_format() {
        let mut columns = Columns::default();
        for format in [OutputFormat::Csv, OutputFormat::Json] {
            columns.clear(0..ANNOTATION_FIELDS.len());
            columns.push(format, 5, b"20");
            columns.push(format, 5, b"");
            columns.push(format, 8, b"a,\"b\"\n\x01");
            columns.push(format, 99, b"ignored");
            let mut out = Vec::new();
            columns.write(format, 5..9, &mut out);
            let text = String::from_utf8(out).unwrap();
            let expected = match format {
                OutputFormat::Csv => ",\"20\n\",,,\"a,\"\"b\"\"\n\u{1}\"",
                _ => {
                    ",\"risk_score\":[\"20\",\"\"],\"risk_object\":[],\
                      \"risk_object_type\":[],\"risk_message\":[\"a,\\\"b\\\"\\n\\u0001\"]"
                }
            };
            assert_eq!(text, expected, "{format:?}");
        }
    }
}
