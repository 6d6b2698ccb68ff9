use proptest::prelude::*;

use super::*;

proptest! {
    /// The same property as the `request_json` fuzz target.
    #[test]
    fn request_bodies_decode_and_validate_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<PatchRequest>(&bytes);
        if let Ok(c) = serde_json::from_slice::<CreateRequest>(&bytes) {
            let _ = c.address.as_deref().map(|a| address("address", a));
            let _ = name(&c.name);
            let _ = c.code.as_deref().map(code);
        }
        if let Ok(v) = serde_json::from_slice::<VerifyRequest>(&bytes) {
            let _ = code(&v.code);
        }
    }

    #[test]
    fn a_valid_address_has_a_stable_normal_form(text in "\\PC{0,40}") {
        if let Ok(a) = address("address", &text) {
            let again = Address::parse(a.asis()).expect("the normal form parses");
            prop_assert_eq!(again.key(), a.key());
            prop_assert_eq!(again.asis(), a.asis());
        }
    }

    #[test]
    fn phone_numbers_in_any_layout_normalize_alike(digits in "[2-9][0-9]{9}") {
        let plain = address("address", &digits).expect("10 digits");
        let dashed = format!("({}) {}-{}", &digits[..3], &digits[3..6], &digits[6..]);
        let e164 = format!("+1{digits}");
        prop_assert_eq!(address("address", &dashed).expect("dashed").key(), plain.key());
        prop_assert_eq!(address("address", &e164).expect("e164").key(), plain.key());
    }
}

#[test]
fn names_and_codes_are_checked() {
    assert!(name("Desk").is_ok());
    assert!(name(" ").is_err());
    assert!(name(&"x".repeat(65)).is_err());
    assert!(name("a\nb").is_err());
    assert!(code("123456").is_ok());
    assert!(code("").is_err());
    assert!(code("1\n2").is_err());
}
