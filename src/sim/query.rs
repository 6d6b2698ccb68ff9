//! FINDFILES' query language (`wd_FIND_QUERY`), as far as the reference's echoes and
//! the real web client show it: a plain phrase is a quick find on the name or the
//! description; `?D`, `?E` and `?t` are operators on one term; `?G 14;5` names the
//! cabinets; `OR` and `AND` combine terms (AND binds tighter); `|` separates clauses,
//! as in the `wd_Raw_Loc` echo `?E Excel | ?G 14;5;3;18;6 ?R D ?@Quick Access`;
//! `Project: <path>` lists a temporary project. `?R` and `?@` (a search template) are
//! accepted and ignored.
//!
//! The simulator's choices where the reference is silent: `?D` matches the DOCID (the
//! file name's number, leading zeros ignored) or the description, since the real client
//! sends its quick search as `?D <text>`; `?t` matches the description and name, as
//! there is no text index; terms match without case.

use super::documents::Document;

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Query {
    /// Groups of terms: a document matches when every term of some group does. No
    /// group: every document matches.
    any_of: Vec<Vec<Term>>,
    /// `?G`: only these cabinets.
    pub(crate) cabinets: Option<Vec<u32>>,
    /// `Project: <path>`.
    pub(crate) project: Option<String>,
}

/// One term of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    /// `?D`: the DOCID number, or the description.
    DocId(String),
    /// `?E` or a plain phrase: the name or the description.
    Name(String),
    /// `?t`: the text (the description and name here).
    Text(String),
}

impl Term {
    fn text(&self) -> &str {
        match self {
            Self::DocId(t) | Self::Name(t) | Self::Text(t) => t,
        }
    }

    fn matches(&self, doc: &Document) -> bool {
        let needle = self.text().to_lowercase();
        let described = doc.description.to_lowercase().contains(&needle);
        match self {
            Self::DocId(_) => described || same_number(doc.file_name, &needle),
            Self::Name(_) | Self::Text(_) => {
                described || doc.file_name.to_lowercase().contains(&needle)
            }
        }
    }
}

impl Query {
    /// Parses `wd_FIND_QUERY`.
    pub(crate) fn parse(text: &str) -> Self {
        let text = text.trim();
        if let Some(path) = strip_prefix_ignore_case(text, "Project:") {
            return Self {
                project: Some(path.trim().to_owned()),
                ..Self::default()
            };
        }
        let mut query = Self::default();
        let operators = text.contains('|')
            || text
                .split_whitespace()
                .any(|w| matches!(w, "OR" | "AND") || is_operator(w));
        if !operators {
            // A phrase is matched (and echoed) as typed, blanks and line breaks kept.
            if !text.is_empty() {
                query.any_of.push(vec![Term::Name(text.to_owned())]);
            }
            return query;
        }
        let mut group: Vec<Term> = Vec::new();
        // The operator being read and its words so far.
        let mut current: Option<(char, Vec<&str>)> = None;
        let words = text
            .split('|')
            .flat_map(|clause| clause.split_whitespace().chain(std::iter::once("|")));
        for word in words {
            let boundary = matches!(word, "OR" | "AND" | "|") || is_operator(word);
            if boundary {
                if let Some((op, args)) = current.take() {
                    query.finish(op, &args, &mut group);
                }
            }
            match word {
                "OR" => query.any_of.extend(take_group(&mut group)),
                "AND" | "|" => {}
                _ if is_operator(word) => {
                    let mut chars = word.chars().skip(1);
                    let op = chars.next().unwrap_or('E');
                    let rest = &word[1 + op.len_utf8()..];
                    let args = if rest.is_empty() { vec![] } else { vec![rest] };
                    current = Some((op, args));
                }
                _ => match &mut current {
                    Some((_, args)) => args.push(word),
                    None => current = Some(('E', vec![word])),
                },
            }
        }
        if let Some((op, args)) = current.take() {
            query.finish(op, &args, &mut group);
        }
        query.any_of.extend(take_group(&mut group));
        query
    }

    /// Adds the operator `op` with its words to the group being read.
    fn finish(&mut self, op: char, args: &[&str], group: &mut Vec<Term>) {
        let text = args.join(" ");
        match op {
            'G' | 'g' => {
                let ids: Vec<u32> = text
                    .split([';', ','])
                    .filter_map(|id| id.trim().parse().ok())
                    .collect();
                self.cabinets = Some(ids);
            }
            _ if text.is_empty() => {}
            'D' | 'd' => group.push(Term::DocId(text)),
            't' | 'T' => group.push(Term::Text(text)),
            'E' | 'e' => group.push(Term::Name(text)),
            // `?R`, `?@ template` and operators no source explains change nothing.
            _ => {}
        }
    }

    /// Whether `doc` matches (cabinets aside: the caller applies those).
    pub(crate) fn matches(&self, doc: &Document) -> bool {
        self.any_of.is_empty()
            || self
                .any_of
                .iter()
                .any(|group| group.iter().all(|term| term.matches(doc)))
    }

    /// The texts to highlight in descriptions.
    pub(crate) fn highlights(&self) -> Vec<&str> {
        self.any_of
            .iter()
            .flatten()
            .map(Term::text)
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// The terms as the server echoes them in `wd_Title` (`Name=Excel`).
    pub(crate) fn title(&self) -> String {
        self.highlights().join(" ")
    }
}

/// `?X…`: a question mark and an operator letter (or `@`).
fn is_operator(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next() == Some('?')
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '@')
}

fn take_group(group: &mut Vec<Term>) -> Option<Vec<Term>> {
    (!group.is_empty()).then(|| std::mem::take(group))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Whether the DOCID number of `file_name` (`00015655.xlsx`) is `needle`'s number.
fn same_number(file_name: &str, needle: &str) -> bool {
    let stem = file_name.split('.').next().unwrap_or_default();
    let digits = needle.trim();
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && stem.trim_start_matches('0') == digits.trim_start_matches('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_phrase_is_a_quick_find() {
        let q = Query::parse("Excel test");
        assert_eq!(q.any_of, vec![vec![Term::Name("Excel test".to_owned())]]);
        assert_eq!(q.cabinets, None);
        assert_eq!(Query::parse("  "), Query::default());
    }

    #[test]
    fn operators_combine_with_or_and_and() {
        let q = Query::parse("?D 15655 OR ?E Excel AND ?t budget");
        assert_eq!(
            q.any_of,
            vec![
                vec![Term::DocId("15655".to_owned())],
                vec![
                    Term::Name("Excel".to_owned()),
                    Term::Text("budget".to_owned())
                ],
            ]
        );
    }

    #[test]
    fn the_raw_location_echo_parses_with_its_cabinets() {
        let q = Query::parse("?E Excel | ?G 14;5;3;18;6 ?R D ?@Quick Access");
        assert_eq!(q.any_of, vec![vec![Term::Name("Excel".to_owned())]]);
        assert_eq!(q.cabinets, Some(vec![14, 5, 3, 18, 6]));
    }

    #[test]
    fn a_project_is_its_path() {
        let q = Query::parse("Project: %WDTEMPPATH%\\$WD1234.WDL");
        assert_eq!(q.project.as_deref(), Some("%WDTEMPPATH%\\$WD1234.WDL"));
    }

    #[test]
    fn docid_numbers_ignore_leading_zeros() {
        assert!(same_number("00015655.xlsx", "15655"));
        assert!(same_number("00015655.xlsx", "00015655"));
        assert!(!same_number("00015655.xlsx", "1565"));
        assert!(!same_number("00015655.xlsx", "excel"));
    }
}
