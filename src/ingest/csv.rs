//! CSV whose header names CIM Endpoint.Processes fields (with or without the
//! `Processes.` prefix), as `| tstats ... by Processes.*` or `| outputcsv` write them.
//! Columns with other names are ignored; every row is a process event.

use super::row::{CimField, ProcessRow};

/// Whether a header column names a CIM process field.
pub(crate) fn is_process_column(name: &str) -> bool {
    matches!(
        CimField::from_name(name),
        Some(CimField::Process | CimField::ProcessName | CimField::ProcessPath)
    )
}

/// The header: which CIM field each column holds.
pub(crate) struct Header {
    columns: Vec<Option<CimField>>,
}

impl Header {
    /// Reads the header from its record; `None` when no column is a process column.
    pub(crate) fn parse(record: &[u8]) -> Result<Option<Header>, String> {
        let names = fields(record)?;
        if !names.iter().any(|n| is_process_column(n.trim())) {
            return Ok(None);
        }
        let columns = names
            .iter()
            .map(|n| CimField::from_name(n.trim()))
            .collect();
        Ok(Some(Header { columns }))
    }

    /// The row of one data record.
    pub(crate) fn row(&self, record: &[u8]) -> Result<ProcessRow, String> {
        let values = fields(record)?;
        if values.len() != self.columns.len() {
            return Err(format!(
                "{} fields where the header has {}",
                values.len(),
                self.columns.len()
            ));
        }
        let mut row = ProcessRow::default();
        for (column, value) in self.columns.iter().zip(values) {
            if let Some(field) = column {
                row.set(*field, value);
            }
        }
        if row.get(CimField::ProcessName).is_empty() && !row.get(CimField::ProcessPath).is_empty() {
            let name = super::cim::basename(row.get(CimField::ProcessPath)).to_string();
            row.set(CimField::ProcessName, name);
        }
        if !row.get(CimField::Time).is_empty() {
            let time = super::time::normalize(row.get(CimField::Time));
            row.set(CimField::Time, time);
        }
        Ok(row)
    }
}

/// The fields of one CSV record (RFC 4180 quoting).
fn fields(record: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(record);
    let mut out = ::csv::StringRecord::new();
    match reader.read_record(&mut out) {
        Ok(true) => Ok(out.iter().map(str::to_string).collect()),
        Ok(false) => Err("empty record".into()),
        Err(e) => Err(format!("bad CSV: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_columns_by_cim_name_and_fills_process_name() {
        let header = Header::parse(b"Processes.process_path,process,extra,_time\r\n")
            .unwrap()
            .unwrap();
        let row = header
            .row(b"C:\\Windows\\System32\\netsh.exe,\"netsh interface portproxy add v4tov4 a, b\",x,2024-01-02 03:04:05\n")
            .unwrap();
        assert_eq!(row.get(CimField::ProcessName), "netsh.exe");
        assert_eq!(
            row.get(CimField::Process),
            "netsh interface portproxy add v4tov4 a, b"
        );
        assert_eq!(row.get(CimField::Time), "2024-01-02T03:04:05.000000Z");
        assert!(header.row(b"only,two\n").is_err());
        assert!(Header::parse(b"a,b\n").unwrap().is_none());
    }
}
