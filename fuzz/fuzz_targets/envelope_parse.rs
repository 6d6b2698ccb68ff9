//! Any bytes: the envelope parser never panics, and what it keeps never holds
//! `wd_Error_VAL`'s text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wdgate::upstream::envelope::{Envelope, clean_message};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        for error in &envelope.errors {
            // A cleaned message is already clean.
            assert_eq!(clean_message(&error.message), error.message);
            assert!(!error.message.chars().any(char::is_control));
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let cleaned = clean_message(text);
        assert!(!cleaned.chars().any(char::is_control));
    }
});
