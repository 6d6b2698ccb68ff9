//! Each field pattern says exactly what its validator accepts: every string the pattern
//! matches passes, and every string the validator passes matches.

use std::sync::LazyLock;

use proptest::prelude::*;
use regex::Regex;
use serde_json::json;
use utoipa::openapi::Object;

use super::*;
use crate::api::devices::input;
use crate::api::openapi::wd;
use crate::api::passthrough;
use crate::api::sessions::{self, LoginRequest};

/// A field's schema, its pattern compiled, and whether its validator accepts a value.
struct Field {
    name: &'static str,
    schema: Object,
    regex: Regex,
    accepts: fn(&str) -> bool,
}

impl Field {
    fn new(name: &'static str, schema: Object, accepts: fn(&str) -> bool) -> Self {
        let source = schema.pattern.as_deref().expect("a pattern");
        let regex = Regex::new(source).expect("the pattern compiles");
        Self {
            name,
            schema,
            regex,
            accepts,
        }
    }
}

/// Compiled once: the Unicode classes make the patterns slow to build.
static FIELDS: LazyLock<[Field; 5]> = LazyLock::new(|| {
    [
        Field::new("username", username(), |s| login(s, "pw")),
        Field::new("device name", device_name(), |s| input::name(s).is_ok()),
        Field::new("code", code(), |s| input::code(s).is_ok()),
        Field::new("address", address(), |s| {
            input::address("address", s).is_ok()
        }),
        Field::new("parameter name", wd::parameter_name().build(), |s| {
            passthrough::is_parameter_name(s)
        }),
    ]
});

fn login(username: &str, password: &str) -> bool {
    let request: LoginRequest =
        serde_json::from_value(json!({"username": username, "password": password}))
            .expect("a login body");
    sessions::validate(&request).is_ok()
}

/// Whether a value is valid by the schema: the pattern and the length bounds.
fn schema_accepts(field: &Field, value: &str) -> bool {
    let chars = value.chars().count();
    field.regex.is_match(value)
        && field.schema.max_length.is_none_or(|max| chars <= max)
        && field.schema.min_length.is_none_or(|min| chars >= min)
}

fn assert_agree(field: &Field, value: &str) {
    assert_eq!(
        schema_accepts(field, value),
        (field.accepts)(value),
        "{}: schema and validator disagree on {value:?}",
        field.name
    );
}

/// Characters at the edges of the rules: separators, blanks of every kind, controls.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('0', '9'),
        2 => prop::sample::select(vec![' ', '(', ')', '-', '.', '+', '@', 'a', 'Z', '_']),
        1 => prop::sample::select(vec![
            '\t', '\n', '\u{b}', '\r', '\u{0}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}',
            '\u{a0}', '\u{1680}', '\u{2003}', '\u{200b}', '\u{2028}', '\u{202f}', '\u{3000}',
            '\u{feff}', 'é', '\u{1f600}',
        ]),
        1 => any::<char>(),
    ]
}

/// Strings a field's pattern matches.
fn matching(schema: fn() -> Object) -> impl Strategy<Value = String> {
    let source = schema().pattern.expect("a pattern");
    // The generator makes whole strings and knows no anchors.
    let unanchored = source.trim_start_matches('^').trim_end_matches('$');
    proptest::string::string_regex(unanchored).expect("a generator for the pattern")
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..80).prop_map(|chars| chars.into_iter().collect())
}

#[test]
fn patterns_agree_with_the_validators_on_known_values() {
    let cases = [
        "demo",
        " ",
        "",
        "a\u{0}",
        "\u{85}",
        "+15516555721",
        "(551) 655-5721",
        "551.655.5721",
        "1 551 655 5721",
        "+44 20 7946 0958",
        "+1234567",
        "25516555721",
        "555-1234",
        " \tDSnyder@WorldOx.COM\u{3000}",
        "a@b",
        "a@c..com",
        "a b@c.com",
        "a@b.c",
        "Work cell",
        "  padded name  ",
        "123456",
        &"x".repeat(64),
        &format!("  {}  ", "x".repeat(64)),
        &"x".repeat(65),
        &"y".repeat(257),
        &format!("{}@example.com", "z".repeat(250)),
    ];
    for field in FIELDS.iter() {
        for value in cases {
            assert_agree(field, value);
        }
    }
}

#[test]
fn the_password_schema_is_its_length_rule() {
    let schema = password();
    assert_eq!(
        (schema.min_length, schema.max_length),
        (Some(1), Some(1024))
    );
    assert!(!login("demo", ""));
    assert!(login("demo", &"p".repeat(1024)));
    assert!(!login("demo", &"p".repeat(1025)));
}

proptest! {
    #[test]
    fn patterns_agree_with_the_validators_on_tricky_strings(value in tricky_string()) {
        for field in FIELDS.iter() {
            assert_agree(field, &value);
        }
    }

    #[test]
    fn usernames_the_pattern_generates_agree(value in matching(username)) {
        assert_agree(&FIELDS[0], &value);
    }

    #[test]
    fn names_the_pattern_generates_agree(value in matching(device_name)) {
        assert_agree(&FIELDS[1], &value);
    }

    #[test]
    fn codes_the_pattern_generates_agree(value in matching(code)) {
        assert_agree(&FIELDS[2], &value);
    }

    #[test]
    fn addresses_the_pattern_generates_agree(value in matching(address)) {
        assert_agree(&FIELDS[3], &value);
    }
}
