//! Worldox CGI syntax: `?COMMAND+name=value+…` query strings and form bodies.
//!
//! Values are percent-encoded with everything but RFC 3986's unreserved characters
//! escaped, so no value can end a parameter (`+`, `&`), start one (`=`), or smuggle an
//! escape (`%`) or a line break. The decoding side is what the simulator (and a real
//! Worldox server) does with what we send: one level of percent-decoding.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but `A-Z a-z 0-9 - . _ ~` is escaped.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one parameter value (or name).
pub fn encode(value: &str) -> Cow<'_, str> {
    utf8_percent_encode(value, VALUE).into()
}

/// An ordered list of CGI parameters for one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `name=value`.
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.0.push((name.to_owned(), value.into()));
        self
    }

    /// Appends `name=value`, builder style.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }

    /// The first value of `name`, matched case-insensitively as the server does.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present (case-insensitively).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// All pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Appends every pair of `other`.
    pub fn extend(&mut self, other: Params) {
        self.0.extend(other.0);
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The query string for `command`: `COMMAND+name=value+…`.
    pub fn to_query(&self, command: &str) -> String {
        let mut out = String::with_capacity(command.len() + 64);
        self.push_query(&mut out, command);
        out
    }

    /// About as long as [`Self::to_query`]'s text or longer (escapes lengthen it), to
    /// size a buffer for it once.
    pub fn query_len_hint(&self, command: &str) -> usize {
        let plain = command.len()
            + self
                .0
                .iter()
                .map(|(name, value)| name.len() + value.len() + 2)
                .sum::<usize>();
        plain + plain / 2
    }

    /// Appends [`Self::to_query`]'s text to `out` (after the URL it belongs to).
    pub fn push_query(&self, out: &mut String, command: &str) {
        push_encoded(out, command);
        self.push_following(out);
    }

    /// Appends `+name=value` for each parameter: the text that follows a command.
    fn push_following(&self, out: &mut String) {
        for (name, value) in &self.0 {
            out.push('+');
            push_pair(out, name, value);
        }
    }

    /// A form body: `name=value&…`.
    pub fn to_form(&self) -> String {
        let mut out = String::with_capacity(64);
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            push_pair(&mut out, name, value);
        }
        out
    }
}

fn push_pair(out: &mut String, name: &str, value: &str) {
    push_encoded(out, name);
    out.push('=');
    push_encoded(out, value);
}

/// Appends [`encode`]'s text without making it a string of its own first.
fn push_encoded(out: &mut String, value: &str) {
    out.extend(utf8_percent_encode(value, VALUE));
}

/// Parameters that are the same on every call of a command (templates, filters),
/// percent-encoded once, by the code [`Params::to_query`] runs, and appended after a
/// call's own parameters: encoding them again on every call cost more than the rest of
/// the query.
#[derive(Debug)]
pub struct FixedParams {
    params: Params,
    /// `+name=value…`, encoded.
    text: String,
}

impl FixedParams {
    /// `params`, encoded now.
    pub fn new(params: Params) -> Self {
        let mut text = String::new();
        params.push_following(&mut text);
        Self { params, text }
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Their encoded text, as it follows a command and its other parameters.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A decoded query string: the command and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// The command, as sent (compare case-insensitively).
    pub command: String,
    /// The parameters in order.
    pub params: Params,
}

/// Decodes a query string as the server does: split on `+` and `&`, the first token
/// without `=` is the command, each value percent-decoded once.
pub fn parse_query(query: &str) -> Query {
    let mut command = String::new();
    let mut params = Params::new();
    for (i, token) in query.split(['+', '&']).enumerate() {
        match token.split_once('=') {
            Some((name, value)) => {
                params.push(&decode(name), decode(value));
            }
            None if i == 0 => command = decode(token),
            None if token.is_empty() => {}
            None => {
                params.push(&decode(token), String::new());
            }
        }
    }
    Query { command, params }
}

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space there).
pub fn parse_form(body: &str) -> Params {
    let mut params = Params::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.push(&decode_form(name), decode_form(value));
    }
    params
}

/// One level of percent-decoding; invalid UTF-8 is replaced, not rejected.
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn decode_form(s: &str) -> String {
    if s.contains('+') {
        decode(&s.replace('+', " "))
    } else {
        decode(s)
    }
}

#[cfg(test)]
mod tests;
