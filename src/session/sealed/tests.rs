use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use super::*;

const KEY_NAME: &str = "wdgate:session:00aa";

fn key(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

fn sealer(keys: &[String]) -> Sealer {
    Sealer::new(keys).expect("good keys")
}

#[test]
fn a_sealed_record_opens_to_what_was_sealed() {
    let s = sealer(&[key(1)]);
    let stored = s.seal(KEY_NAME, b"{\"sid\":\"secret-sid\"}").expect("seal");
    assert!(stored.starts_with("s1."));
    assert!(!stored.contains("secret-sid"));
    assert_eq!(
        s.open(KEY_NAME, &stored).expect("open"),
        b"{\"sid\":\"secret-sid\"}"
    );
    // Empty plaintexts round-trip too.
    let empty = s.seal(KEY_NAME, b"").expect("seal");
    assert_eq!(s.open(KEY_NAME, &empty).expect("open"), b"");
}

#[test]
fn each_seal_draws_a_fresh_nonce() {
    let s = sealer(&[key(1)]);
    let a = s.seal(KEY_NAME, b"same").expect("seal");
    let b = s.seal(KEY_NAME, b"same").expect("seal");
    assert_ne!(a, b);
}

#[test]
fn the_record_names_the_key_that_sealed_it() {
    let s = sealer(&[key(1), key(2)]);
    let ids: Vec<&str> = s.key_ids().collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.len() == 8));
    let stored = s.seal(KEY_NAME, b"x").expect("seal");
    assert_eq!(stored.split('.').nth(1), Some(ids[0]));
    assert_eq!(key_id(&key(1)).as_deref(), Some(ids[0]));
}

#[test]
fn a_wrong_key_does_not_open_it() {
    let stored = sealer(&[key(1)]).seal(KEY_NAME, b"x").expect("seal");
    let other = sealer(&[key(2)]);
    assert!(matches!(
        other.open(KEY_NAME, &stored),
        Err(Unsealable::UnknownKey(_))
    ));
    // A forged id naming the other key still does not authenticate.
    let other_id = other.key_ids().next().expect("an id").to_owned();
    let mut parts: Vec<&str> = stored.split('.').collect();
    parts[1] = &other_id;
    assert_eq!(
        other.open(KEY_NAME, &parts.join(".")),
        Err(Unsealable::Forged)
    );
}

#[test]
fn a_retired_key_opens_while_listed_and_not_after() {
    let old = sealer(&[key(1)]);
    let stored = old
        .seal(KEY_NAME, b"sealed under the old key")
        .expect("seal");
    let rotated = sealer(&[key(2), key(1)]);
    assert_eq!(
        rotated.open(KEY_NAME, &stored).expect("open"),
        b"sealed under the old key"
    );
    // New records are sealed with the new key, which the old list cannot open.
    let fresh = rotated.seal(KEY_NAME, b"new").expect("seal");
    assert!(old.open(KEY_NAME, &fresh).is_err());
    let retired = sealer(&[key(2)]);
    assert!(matches!(
        retired.open(KEY_NAME, &stored),
        Err(Unsealable::UnknownKey(_))
    ));
}

#[test]
fn a_record_copied_under_another_key_name_does_not_open() {
    let s = sealer(&[key(1)]);
    let stored = s.seal(KEY_NAME, b"x").expect("seal");
    assert_eq!(
        s.open("wdgate:session:00ab", &stored),
        Err(Unsealable::Forged)
    );
    assert_eq!(
        s.open("wdgate:listing:00aa", &stored),
        Err(Unsealable::Forged)
    );
}

#[test]
fn a_tampered_or_cut_record_does_not_open() {
    let s = sealer(&[key(1)]);
    let stored = s.seal(KEY_NAME, b"a session record").expect("seal");
    let (head, body) = stored.rsplit_once('.').expect("three parts");
    let mut bytes = URL_SAFE_NO_PAD.decode(body).expect("base64");
    for i in [0, NONCE_BYTES, bytes.len() - 1] {
        bytes[i] ^= 1;
        let flipped = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(
            s.open(KEY_NAME, &flipped),
            Err(Unsealable::Forged),
            "byte {i}"
        );
        bytes[i] ^= 1;
    }
    for len in [0, 1, stored.len() / 2, stored.len() - 1] {
        assert!(s.open(KEY_NAME, &stored[..len]).is_err(), "cut to {len}");
    }
    let short = format!(
        "{head}.{}",
        URL_SAFE_NO_PAD.encode([0u8; NONCE_BYTES + TAG_BYTES - 1])
    );
    assert_eq!(s.open(KEY_NAME, &short), Err(Unsealable::Malformed));
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let s = sealer(&[key(1)]);
    for garbage in [
        "",
        "{\"sid\":\"clear\"}",
        "s1",
        "s1.",
        "s1..",
        "s1.zzzzzzzz.",
        "s1.0123456.AAAA",
        "s1.01234567.!!!!",
        "s2.01234567.AAAA",
        "s1.é1234567.AAAA",
        "s1.\u{1F600}\u{1F600}.AAAA",
    ] {
        assert!(s.open(KEY_NAME, garbage).is_err(), "{garbage:?}");
    }
}

#[test]
fn json_records_round_trip_and_bad_ones_are_none() {
    let s = sealer(&[key(1)]);
    let stored = s.seal_json(KEY_NAME, &vec!["a", "b"]).expect("seal");
    assert_eq!(
        s.open_json::<Vec<String>>(KEY_NAME, &stored),
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(
        s.open_json::<Vec<String>>("wdgate:session:other", &stored),
        None
    );
    let not_json = s.seal(KEY_NAME, b"not json").expect("seal");
    assert_eq!(s.open_json::<Vec<String>>(KEY_NAME, &not_json), None);
}

#[test]
fn weak_or_malformed_keys_are_refused() {
    assert_eq!(Sealer::new::<String>(&[]).err(), Some(KeyError::Empty));
    assert_eq!(
        Sealer::new(&["not base64 at all!"]).err(),
        Some(KeyError::NotBase64(1))
    );
    assert_eq!(
        Sealer::new(&[key(1), STANDARD.encode([7u8; 31])]).err(),
        Some(KeyError::TooShort(2))
    );
    assert_eq!(
        Sealer::new(&[key(1), key(2), key(1)]).err(),
        Some(KeyError::Duplicate(1, 3))
    );
    // Any base64 alphabet, padded or not; longer keys are fine.
    let url_safe = URL_SAFE_NO_PAD.encode([0xfb; 32]);
    Sealer::new(&[url_safe, STANDARD.encode([3u8; 64])]).expect("good keys");
    assert_eq!(key_id("short"), None);
}

#[test]
fn blinded_names_are_stable_keyed_and_hide_the_value() {
    let s = sealer(&[key(1), key(2)]);
    let a = s.blind("alice");
    assert_eq!(a, s.blind("alice"));
    assert_eq!(a.len(), 32);
    assert!(!a.contains("alice"));
    assert_ne!(a, s.blind("bob"));
    // Keyed by the first key: another key blinds differently.
    assert_ne!(a, sealer(&[key(2), key(1)]).blind("alice"));
}

#[test]
fn debug_shows_key_ids_not_keys() {
    let s = sealer(&[key(1)]);
    let shown = format!("{s:?}");
    assert!(shown.contains(s.key_ids().next().expect("an id")));
    assert!(!shown.contains(&key(1)));
}
