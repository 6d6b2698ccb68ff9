//! Any request body: decoding and validating it never panics, and an address that
//! validates has a normal form that validates to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wdgate::address::{Address, mask};
use wdgate::api::devices::input::{
    self, CreateRequest, PatchRequest, VerificationRequest, VerifyRequest,
};
use wdgate::api::sessions::LoginRequest;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<LoginRequest>(data);
    let _ = serde_json::from_slice::<PatchRequest>(data);
    if let Ok(v) = serde_json::from_slice::<VerificationRequest>(data) {
        check_address(&v.address);
    }
    if let Ok(c) = serde_json::from_slice::<CreateRequest>(data) {
        if let Some(address) = &c.address {
            check_address(address);
        }
        let _ = input::name(&c.name);
        let _ = c.code.as_deref().map(input::code);
    }
    if let Ok(v) = serde_json::from_slice::<VerifyRequest>(data) {
        let _ = input::code(&v.code);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        check_address(text);
        let _ = input::name(text);
    }
});

fn check_address(text: &str) {
    if let Ok(address) = input::address("address", text) {
        let again = Address::parse(address.asis()).expect("a normal form parses");
        assert_eq!(again.key(), address.key());
        let _ = mask::masked_row(&address);
    }
}
