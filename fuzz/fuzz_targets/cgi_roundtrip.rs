//! Any command and parameters: what the server side decodes from the query string and
//! the form body is exactly what was encoded, and the encoding holds only safe bytes.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wdgate::upstream::cgi::{Params, parse_form, parse_query};

#[derive(Debug, Arbitrary)]
struct Input {
    command: String,
    pairs: Vec<(String, String)>,
}

fuzz_target!(|input: Input| {
    let mut params = Params::new();
    for (name, value) in &input.pairs {
        params.push(name, value.clone());
    }
    let query = params.to_query(&input.command);
    assert!(query.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%+=".contains(&b)));
    let decoded = parse_query(&query);
    assert_eq!(decoded.command, input.command);
    assert_eq!(decoded.params, params);
    assert_eq!(parse_form(&params.to_form()), params);
});
