//! The filters and paging of `GET /_emulator/audit` and its stream: parsed and checked here,
//! applied in SQL by `store::audit` for the list and by [`AuditFilter::matches`] for the stream.

use super::record::AuditRecord;
use crate::auth::table::{GRAPH_OPERATIONS, MANAGEMENT_TABLE, TABLE};

/// Records per page unless `maxResults` says otherwise, and the most it may say.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// What a caller asks for; every field narrows the result.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub vault: Option<String>,
    pub key: Option<String>,
    pub version: Option<String>,
    /// An object id, an app id, or an identity name.
    pub caller: Option<String>,
    pub operation: Option<String>,
    /// `Some(true)`: allowed only; `Some(false)`: denied only.
    pub allowed: Option<bool>,
    /// Inclusive bounds, Unix milliseconds on the emulator clock.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

/// Where a page starts and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub max_results: u32,
    /// Records with ids below this one (the `cursor` of the previous page's `nextLink`).
    pub before: Option<i64>,
}

/// The query parameters the list takes; the stream takes the filters only.
pub const FILTER_PARAMETERS: &[&str] = &["vault", "key", "version", "caller", "operation", "decision", "from", "to"];
pub const PAGE_PARAMETERS: &[&str] = &["maxResults", "cursor"];

impl AuditFilter {
    /// Parses query pairs; `paged` says whether paging parameters are allowed. Errors are
    /// messages for a 400.
    pub fn parse(pairs: &[(String, String)], paged: bool) -> Result<(Self, Page), String> {
        let mut filter = Self::default();
        let mut page = Page { max_results: DEFAULT_PAGE_SIZE, before: None };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            let known = FILTER_PARAMETERS
                .iter()
                .chain(if paged { PAGE_PARAMETERS } else { &[] })
                .find(|p| p.eq_ignore_ascii_case(name))
                .copied()
                .ok_or_else(|| {
                    let mut allowed = FILTER_PARAMETERS.to_vec();
                    if paged {
                        allowed.extend_from_slice(PAGE_PARAMETERS);
                    }
                    crate::messages::emulator::audit_parameter_unknown(name, &allowed.join(", "))
                })?;
            if seen.contains(&known) {
                return Err(crate::messages::emulator::audit_parameter_repeated(known));
            }
            seen.push(known);
            let value = value.trim();
            if value.is_empty() {
                return Err(crate::messages::emulator::audit_parameter_empty(known));
            }
            let text = Some(value.to_owned());
            match known {
                "vault" => filter.vault = text,
                "key" => filter.key = text,
                "version" => filter.version = text,
                "caller" => filter.caller = text,
                "operation" => filter.operation = Some(parse_operation(value)?),
                "decision" => {
                    filter.allowed = Some(match value.to_ascii_lowercase().as_str() {
                        "allowed" | "allow" => true,
                        "denied" | "deny" => false,
                        _ => return Err(crate::messages::emulator::audit_decision_invalid(value)),
                    });
                }
                "from" => filter.from_ms = Some(parse_time("from", value)?),
                "to" => filter.to_ms = Some(parse_time("to", value)?),
                "maxResults" => {
                    page.max_results =
                        value.parse().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
                            crate::messages::emulator::audit_max_results_invalid(value, MAX_PAGE_SIZE)
                        })?;
                }
                "cursor" => {
                    page.before = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|n: &i64| *n > 0)
                            .ok_or_else(|| crate::messages::emulator::audit_cursor_invalid(value))?,
                    );
                }
                _ => unreachable!("every known parameter is matched"),
            }
        }
        if let (Some(from), Some(to)) = (filter.from_ms, filter.to_ms)
            && from > to
        {
            return Err(crate::messages::emulator::AUDIT_TIME_RANGE_EMPTY.to_owned());
        }
        Ok((filter, page))
    }

    /// Whether `record` (made at `time_ms` on the emulator clock) passes the filter: the same
    /// test as the SQL in `store::audit`, for the live stream.
    #[must_use]
    pub fn matches(&self, record: &AuditRecord, time_ms: i64) -> bool {
        let same = |wanted: &Option<String>, actual: Option<&str>| {
            wanted.as_deref().is_none_or(|w| actual.is_some_and(|a| a.eq_ignore_ascii_case(w)))
        };
        let caller = self.caller.as_deref().is_none_or(|c| {
            c.eq_ignore_ascii_case(&record.caller.object_id.to_string())
                || c.eq_ignore_ascii_case(&record.caller.app_id.to_string())
                || record.caller.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(c))
        });
        same(&self.vault, record.vault.as_deref())
            && same(&self.key, record.key.as_deref())
            && self.version.as_deref().is_none_or(|v| record.version.as_deref() == Some(v))
            && caller
            && same(&self.operation, Some(&record.operation))
            && self.allowed.is_none_or(|allowed| allowed == (record.decision == "allowed"))
            && self.from_ms.is_none_or(|from| time_ms >= from)
            && self.to_ms.is_none_or(|to| time_ms <= to)
    }
}

/// An operation name of a vault, management or Graph operation, as the records spell it.
fn parse_operation(value: &str) -> Result<String, String> {
    let names = TABLE
        .iter()
        .map(|(op, ..)| format!("{op:?}"))
        .chain(MANAGEMENT_TABLE.iter().map(|(op, _)| format!("{op:?}")))
        .chain(GRAPH_OPERATIONS.iter().map(|op| format!("{op:?}")));
    let names: Vec<String> = names.collect();
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(value))
        .cloned()
        .ok_or_else(|| crate::messages::emulator::audit_operation_unknown(value, &names.join(", ")))
}

/// RFC 3339 (`2026-12-07T10:00:00Z`) or Unix seconds, to Unix milliseconds.
fn parse_time(name: &str, value: &str) -> Result<i64, String> {
    if let Ok(seconds) = value.parse::<i64>() {
        return seconds
            .checked_mul(1000)
            .ok_or_else(|| crate::messages::emulator::audit_time_out_of_range(name, value));
    }
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
        .ok_or_else(|| crate::messages::emulator::audit_time_invalid(name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap()
    }

    #[test]
    fn filters_parse_and_bad_input_is_refused() {
        let (filter, page) =
            AuditFilter::parse(&pairs("vault=cmk&decision=denied&operation=unwrapkey&from=10&maxResults=5"), true)
                .unwrap();
        assert_eq!(filter.vault.as_deref(), Some("cmk"));
        assert_eq!(filter.allowed, Some(false));
        assert_eq!(filter.operation.as_deref(), Some("UnwrapKey"));
        assert_eq!(filter.from_ms, Some(10_000));
        assert_eq!(page, Page { max_results: 5, before: None });
        let (filter, _) = AuditFilter::parse(&pairs("to=2026-12-07T10:00:00.5Z"), true).unwrap();
        assert_eq!(filter.to_ms, Some(1_796_637_600_500));
        let (filter, _) = AuditFilter::parse(&pairs("operation=listserviceprincipals"), true).unwrap();
        assert_eq!(filter.operation.as_deref(), Some("ListServicePrincipals"), "Graph operations too");
        for bad in [
            "vault=",
            "decision=maybe",
            "operation=Frobnicate",
            "from=yesterday",
            "from=20&to=10",
            "maxResults=0",
            "maxResults=1001",
            "cursor=-1",
            "colour=red",
            "vault=a&vault=b",
        ] {
            assert!(AuditFilter::parse(&pairs(bad), true).is_err(), "{bad}");
        }
        assert!(AuditFilter::parse(&pairs("cursor=5"), false).is_err(), "the stream does not page");
    }
}
