//! Timestamps: every source's notation normalised to one ISO-8601 UTC form, so rows from
//! the EVTX and the XML rendering of the same log compare equal.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Normalises `2024-10-23 18:30:08.3690562`, `2021-10-22T13:39:50.927939Z` and similar to
/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, Splunk's `_time` precision). Windows
/// timestamps are UTC whether or not they say so. Text that is no timestamp is kept as is.
pub fn normalize(raw: &str) -> String {
    let trimmed = raw.trim();
    let without_zone = trimmed.strip_suffix('Z').unwrap_or(trimmed);
    let iso = without_zone.replacen(' ', "T", 1);
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&iso, pattern) {
            return format_utc(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(trimmed) {
        return format_utc(t.with_timezone(&Utc));
    }
    trimmed.to_string()
}

/// Milliseconds since the epoch (CrowdStrike `timestamp`) in the normalised form.
pub fn from_epoch_millis(raw: &str) -> Option<String> {
    let millis: i64 = raw.trim().parse().ok()?;
    DateTime::from_timestamp_millis(millis).map(format_utc)
}

/// Seconds since the epoch (with fraction) for a normalised timestamp.
pub fn epoch_seconds(normalized: &str) -> Option<f64> {
    let t = DateTime::parse_from_rfc3339(normalized).ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6)
}

fn format_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notations_normalise_to_one_form() {
        assert_eq!(
            normalize("2024-10-23 18:30:08.3690562"),
            "2024-10-23T18:30:08.369056Z"
        );
        assert_eq!(
            normalize("2021-10-22T13:39:50.927939Z"),
            "2021-10-22T13:39:50.927939Z"
        );
        assert_eq!(
            normalize("2020-10-08T11:03:46.617920300Z"),
            "2020-10-08T11:03:46.617920Z"
        );
        assert_eq!(
            normalize("2020-10-08T11:03:46Z"),
            "2020-10-08T11:03:46.000000Z"
        );
        assert_eq!(normalize("not a time"), "not a time");
        assert_eq!(
            from_epoch_millis("1713805173418").as_deref(),
            Some("2024-04-22T16:59:33.418000Z")
        );
        assert_eq!(
            epoch_seconds("2024-04-22T16:59:33.418000Z"),
            Some(1713805173.418)
        );
    }
}
