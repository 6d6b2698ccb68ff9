//! FINDFILES' structured filters (`wd_File_*_Filter`), which the real client's
//! template search sends beside or instead of `wd_FIND_QUERY`.
//!
//! The reference documents none of them, so the rules are the simulator's choice:
//! a value matches exactly, case-insensitively, with `*` standing for any run of
//! characters; the description filter reads `XN`, the file name filter `FN`, field
//! `n`'s filter the record's field `n` code, and the profile group filter is a list of
//! cabinet ids (`5` or `5;14`). The date filters (`wd_File_Updated_Filter`, …) are
//! accepted and recorded but not applied: their syntax is unknown. An empty value is
//! no filter.

use super::dispatch::Call;
use super::store::Record;
use crate::upstream::fields::param;

/// The filters of one FINDFILES call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filters {
    description: Option<String>,
    file_name: Option<String>,
    /// Field 1 to 7's patterns, field 1 first.
    fields: [Option<String>; 7],
    /// Only these cabinets.
    pub(crate) cabinets: Option<Vec<u32>>,
}

impl Filters {
    /// The filters `call` sends.
    pub(crate) fn of(call: &Call<'_>) -> Self {
        let value = |name: &str| {
            call.params
                .get(name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let cabinets = value(param::PROFILE_GROUP_FILTER).map(|ids| {
            ids.split([';', ','])
                .filter_map(|id| id.trim().parse().ok())
                .collect()
        });
        Self {
            description: value(param::XNAME_FILTER),
            file_name: value(param::FILENAME_FILTER),
            fields: param::FIELD_FILTERS.map(value),
            cabinets,
        }
    }

    /// Whether `record` passes every filter but the cabinets (the caller applies
    /// those with the cabinets the user sees).
    pub(crate) fn matches(&self, record: &Record) -> bool {
        let seed = record.seed;
        let passes = |pattern: &Option<String>, text: &str| {
            pattern.as_deref().is_none_or(|p| wildcard(p, text))
        };
        passes(&self.description, seed.description)
            && passes(&self.file_name, seed.file_name)
            && self.fields.iter().enumerate().all(|(i, pattern)| {
                let code = seed.codes.get(i).map_or("", |(code, _)| *code);
                passes(pattern, code)
            })
    }
}

/// Whether `text` matches `pattern`, case-insensitively, `*` being any run of
/// characters.
pub(crate) fn wildcard(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    // Greedy matching with backtracking to the last star: linear in practice.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    #[test]
    fn stars_match_any_run_and_case_is_ignored() {
        assert!(wildcard("excel test.", "Excel test."));
        assert!(wildcard("*excel*", "Sutter Excel Doc"));
        assert!(wildcard("00015655.*", "00015655.xlsx"));
        assert!(wildcard("*", ""));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("excel", "Excel test."));
        assert!(!wildcard("a*b*c", "aXXbYY"));
        assert!(!wildcard("00015655.*", "00015661.xlsx"));
    }
}
