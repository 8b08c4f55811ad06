//! The CIM Endpoint.Processes field list, shipped as data in the app
//! (`app/lookups/cim_endpoint_processes.csv`, usable in Splunk as
//! `| inputlookup cim_endpoint_processes.csv`) and compiled into the binary from that file.
//!
//! Source: Splunk_SA_CIM `default/data/models/Endpoint.json`, object `Processes` (read in the
//! aplura/splunk-sa-cim mirror at commit 254c447b): its `fields` (origin `declared`), the
//! output fields of its `calculations` (origin `calculated`; every one but `vendor_product`
//! is `if(isnull(x) OR x="","unknown",x)`, so the data model never leaves them empty), and
//! the fields every data-model dataset inherits from its root (`_time`, `host`, `source`,
//! `sourcetype`; origin `inherited`).

use std::sync::OnceLock;

const CSV: &str = include_str!("../../app/lookups/cim_endpoint_processes.csv");

/// One field of the data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimFieldSpec {
    pub name: String,
    /// `declared`, `calculated` or `inherited`.
    pub origin: String,
    /// What the data model puts in the field when the event leaves it empty (`unknown`,
    /// `sourcetype`); `None` when it stays empty.
    pub when_empty: Option<String>,
}

/// The Endpoint.Processes fields.
pub fn fields() -> &'static [CimFieldSpec] {
    static FIELDS: OnceLock<Vec<CimFieldSpec>> = OnceLock::new();
    FIELDS.get_or_init(|| parse(CSV))
}

fn parse(csv: &str) -> Vec<CimFieldSpec> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            let name = cols.first()?.trim();
            (!name.is_empty()).then(|| CimFieldSpec {
                name: name.to_string(),
                origin: cols.get(3).map_or("", |c| c.trim()).to_string(),
                when_empty: cols
                    .get(4)
                    .map(|c| c.trim())
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            })
        })
        .collect()
}

/// The field called `name` (exact: Splunk field names are case-sensitive).
pub fn field(name: &str) -> Option<&'static CimFieldSpec> {
    fields().iter().find(|f| f.name == name)
}

/// Whether the data model fills `name` when the event leaves it empty.
pub fn never_empty(name: &str) -> bool {
    field(name).is_some_and(|f| f.when_empty.is_some())
}

/// The candidate closest to `name`: within an edit distance of a third of its length
/// (at least 2), or one that `name` contains or is contained in (`process_original_file_name`
/// → `original_file_name`); ties go to the first candidate.
pub fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let limit = (lower.len() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let c = candidate.to_ascii_lowercase();
        if c == lower && candidate != name {
            return Some(candidate); // differs only in case
        }
        let distance = edit_distance(&lower, &c);
        let contained = c.len() >= 4 && (lower.contains(&c) || c.contains(&lower));
        let score = if distance <= limit {
            distance
        } else if contained {
            limit + 1 + distance
        } else {
            continue;
        };
        if best.is_none_or(|(s, _)| score < s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over bytes (field names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_has_the_processes_fields() {
        assert_eq!(fields().len(), 43);
        for name in [
            "_time",
            "process",
            "process_name",
            "original_file_name",
            "parent_process_path",
            "process_current_directory",
            "user_id",
        ] {
            assert!(field(name).is_some(), "{name}");
        }
        assert!(field("Process_name").is_none());
        assert!(never_empty("dest") && never_empty("vendor_product"));
        assert!(!never_empty("process_guid"));
    }

    #[test]
    fn suggestions() {
        let names = || fields().iter().map(|f| f.name.as_str());
        assert_eq!(did_you_mean("proces_name", names()), Some("process_name"));
        assert_eq!(
            did_you_mean("process_original_file_name", names()),
            Some("original_file_name")
        );
        assert_eq!(did_you_mean("Process_Name", names()), Some("process_name"));
        assert_eq!(did_you_mean("zzzzzzzz", names()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
