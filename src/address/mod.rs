//! Two-factor addresses: which strings are phone numbers or email addresses, their
//! normal forms, and how Worldox writes them (`ADDR`, `ADDR.ASIS`, `ADDR.VIEW`) and
//! masks them. The simulator and the gateway share it, so both agree on what a valid
//! address is and which two spellings name the same device.

pub mod mask;

use serde::{Deserialize, Serialize};

/// A validated, normalized two-factor address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Address {
    /// A phone number in E.164 (`+15516555721`).
    Phone(String),
    /// An email address with its domain lowercased, its local part as given.
    Email(String),
}

impl Address {
    /// Parses a phone number or an email address; `None` if it is neither.
    ///
    /// A phone is, after removing spaces, `(`, `)`, `-` and `.`, a `+` and 8 to 15
    /// digits, or 10 digits (North American, `+1` is added), or 11 digits starting
    /// with `1`. An email has one `@`, a non-empty local part, a dotted domain without
    /// empty labels, and no spaces or control characters.
    pub fn parse(input: &str) -> Option<Self> {
        let input = input.trim();
        Self::parse_phone(input).or_else(|| Self::parse_email(input))
    }

    fn parse_phone(input: &str) -> Option<Self> {
        // Checked over the bytes, without a compacted copy first: the separators are
        // ASCII, and any other non-digit (a byte of a non-ASCII letter included) fails.
        let mut kept = input
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'(' | b')' | b'-' | b'.'))
            .peekable();
        let plus = kept.next_if_eq(&b'+').is_some();
        let mut digits = 0;
        let mut first = None;
        for b in kept.clone() {
            if !b.is_ascii_digit() {
                return None;
            }
            first.get_or_insert(b);
            digits += 1;
        }
        let prefix = match (plus, digits) {
            (true, 8..=15) => "+",
            (false, 10) => "+1",
            (false, 11) if first == Some(b'1') => "+",
            _ => return None,
        };
        let mut e164 = String::with_capacity(prefix.len() + digits);
        e164.push_str(prefix);
        e164.extend(kept.map(char::from));
        Some(Self::Phone(e164))
    }

    fn parse_email(input: &str) -> Option<Self> {
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return None;
        }
        let (local, domain) = input.split_once('@')?;
        let valid = !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if !valid {
            return None;
        }
        let mut email = String::with_capacity(input.len());
        email.push_str(local);
        email.push('@');
        if domain.is_ascii() {
            email.extend(domain.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            // Unicode's rules (a final sigma lowercases differently), as before.
            email.push_str(&domain.to_lowercase());
        }
        Some(Self::Email(email))
    }

    /// The address in its stored form: E.164 or the email (`ADDR.ASIS`).
    pub fn asis(&self) -> &str {
        match self {
            Self::Phone(s) | Self::Email(s) => s,
        }
    }

    /// The address as shown (`ADDR`, `ADDR.VIEW`): `(551) 655-5721` for a North
    /// American number, otherwise the stored form.
    pub fn view(&self) -> String {
        match self {
            Self::Phone(e164) => match e164.strip_prefix("+1") {
                Some(d) if d.len() == 10 => {
                    format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
                }
                _ => e164.clone(),
            },
            Self::Email(email) => email.clone(),
        }
    }

    /// The comparison key: two addresses are the same device when their keys match
    /// (E.164, or the whole email lowercased).
    pub fn key(&self) -> String {
        match self {
            Self::Phone(s) => s.clone(),
            Self::Email(s) => s.to_lowercase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(s: &str) -> Option<String> {
        match Address::parse(s) {
            Some(Address::Phone(p)) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn phones_normalize_to_e164() {
        assert_eq!(phone("+15516555721").as_deref(), Some("+15516555721"));
        assert_eq!(phone("(551) 655-5721").as_deref(), Some("+15516555721"));
        assert_eq!(phone("551.655.5721").as_deref(), Some("+15516555721"));
        assert_eq!(phone("1 551 655 5721").as_deref(), Some("+15516555721"));
        assert_eq!(phone("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(phone("+1234567"), None);
        assert_eq!(phone("25516555721"), None);
        assert_eq!(phone("555-1234"), None);
        assert_eq!(phone("+1555abc5721"), None);
    }

    #[test]
    fn north_american_numbers_are_shown_formatted() {
        let a = Address::parse("+15516555721").unwrap();
        assert_eq!(a.asis(), "+15516555721");
        assert_eq!(a.view(), "(551) 655-5721");
        let uk = Address::parse("+442079460958").unwrap();
        assert_eq!(uk.view(), "+442079460958");
    }

    #[test]
    fn emails_keep_the_local_part_and_lowercase_the_domain() {
        let a = Address::parse(" DSnyder@WorldOx.COM ").unwrap();
        assert_eq!(a, Address::Email("DSnyder@worldox.com".to_owned()));
        assert_eq!(a.view(), "DSnyder@worldox.com");
        assert_eq!(a.key(), "dsnyder@worldox.com");
    }

    /// The parse written out agrees with the one it replaced (a compacted copy, then
    /// `format!`), on every kind of input.
    #[test]
    fn the_parse_agrees_with_the_plain_one() {
        fn plain(input: &str) -> Option<Address> {
            let input = input.trim();
            let compact: String = input
                .chars()
                .filter(|c| !matches!(c, ' ' | '(' | ')' | '-' | '.'))
                .collect();
            let (plus, digits) = match compact.strip_prefix('+') {
                Some(rest) => (true, rest),
                None => (false, compact.as_str()),
            };
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                let e164 = match (plus, digits.len()) {
                    (true, 8..=15) => Some(format!("+{digits}")),
                    (false, 10) => Some(format!("+1{digits}")),
                    (false, 11) if digits.starts_with('1') => Some(format!("+{digits}")),
                    _ => None,
                };
                if let Some(e164) = e164 {
                    return Some(Address::Phone(e164));
                }
            }
            if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return None;
            }
            let (local, domain) = input.split_once('@')?;
            let valid = !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && domain.split('.').all(|label| !label.is_empty());
            valid.then(|| Address::Email(format!("{local}@{}", domain.to_lowercase())))
        }
        let inputs = [
            "+15516555721",
            "(551) 655-5721",
            "551.655.5721",
            "1 551 655 5721",
            "+44 20 7946 0958",
            "+1234567",
            "+123456789012345",
            "+1234567890123456",
            "25516555721",
            "15516555721",
            "5516555721",
            "555-1234",
            "+1555abc5721",
            "++15516555721",
            "+",
            "",
            " ",
            "()",
            "+(1) 551 655 5721",
            "551\u{663}655 5721",
            "\u{ff15}516555721",
            "5516555721@x.com",
            "DSnyder@WorldOx.COM",
            " a@B.c ",
            "a@\u{3a3}\u{3a3}.COM",
            "\u{e9}t\u{e9}@\u{c9}COLE.fr",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@c..com",
            "a\n@c.com",
            "1.2@3.4",
        ];
        for input in inputs {
            assert_eq!(Address::parse(input), plain(input), "{input:?}");
        }
    }

    #[test]
    fn bad_emails_are_rejected() {
        for bad in [
            "",
            "nobody",
            "@worldox.com",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@c..com",
            "a@.com",
            "a\n@c.com",
        ] {
            assert_eq!(Address::parse(bad), None, "{bad:?}");
        }
    }
}
