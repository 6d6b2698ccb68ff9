use proptest::prelude::*;

use super::*;

#[test]
fn query_has_command_then_plus_separated_pairs() {
    let q = Params::new()
        .with("wd_SID", "ab$2Fcd")
        .with("HTMLOnOk", "/v4/x.json")
        .to_query("2FGET");
    assert_eq!(q, "2FGET+wd_SID=ab%242Fcd+HTMLOnOk=%2Fv4%2Fx.json");
}

#[test]
fn separators_and_escapes_in_values_cannot_inject_parameters() {
    let nasty = "a+b&c=d%25e#f\ng\r h";
    let q = Params::new()
        .with("wd_User_Password_Value", nasty)
        .to_query("LOGON");
    assert_eq!(
        q,
        "LOGON+wd_User_Password_Value=a%2Bb%26c%3Dd%2525e%23f%0Ag%0D%20h"
    );
    let parsed = parse_query(&q);
    assert_eq!(parsed.command, "LOGON");
    assert_eq!(parsed.params.iter().count(), 1);
    assert_eq!(parsed.params.get("wd_user_password_value"), Some(nasty));
}

#[test]
fn non_ascii_is_utf8_percent_encoded() {
    let form = Params::new().with("n", "Jöhn’s Cell").to_form();
    assert_eq!(form, "n=J%C3%B6hn%E2%80%99s%20Cell");
    assert_eq!(parse_form(&form).get("N"), Some("Jöhn’s Cell"));
}

#[test]
fn an_already_escaped_sid_is_encoded_exactly_once() {
    // The raw SID carries `$2F` escapes; the wire form has `%24`, never `%2524`.
    let q = Params::new()
        .with("wd_SID", "Kr$2Ff2XB$3D")
        .to_query("LOGOFF");
    assert!(q.contains("Kr%242Ff2XB%243D"));
    assert!(!q.contains("%2524"));
    assert_eq!(parse_query(&q).params.get("wd_SID"), Some("Kr$2Ff2XB$3D"));
}

#[test]
fn server_accepts_ampersand_separators_and_bare_tokens() {
    let q = parse_query("LOGOFF&wd_SID=abc&HTMLOnOk=%2Fok.json");
    assert_eq!(q.command, "LOGOFF");
    assert_eq!(q.params.get("wd_sid"), Some("abc"));
    assert_eq!(q.params.get("htmlonok"), Some("/ok.json"));
}

#[test]
fn form_plus_is_a_space() {
    assert_eq!(parse_form("a=b+c&d=%2B").get("a"), Some("b c"));
    assert_eq!(parse_form("a=b+c&d=%2B").get("d"), Some("+"));
}

proptest! {
    #[test]
    fn query_round_trips_any_values(
        command in "[A-Z0-9]{1,8}",
        pairs in proptest::collection::vec(("[A-Za-z_][A-Za-z0-9_.]{0,12}", any::<String>()), 0..6),
    ) {
        let mut params = Params::new();
        for (n, v) in &pairs {
            params.push(n, v.clone());
        }
        let parsed = parse_query(&params.to_query(&command));
        prop_assert_eq!(parsed.command, command);
        prop_assert_eq!(parsed.params, params);
    }

    #[test]
    fn form_round_trips_any_values(
        pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
    ) {
        let mut params = Params::new();
        for (n, v) in &pairs {
            params.push(n, v.clone());
        }
        // An empty name with an empty value encodes to `=`, which decodes back to it.
        prop_assert_eq!(parse_form(&params.to_form()), params);
    }

    #[test]
    fn encoded_values_hold_only_safe_bytes(v in any::<String>()) {
        let e = encode(&v);
        prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
    }
}
