//! Masking addresses as 2FGET does with `Redact>1` and 2FSET does in `Send`:
//! `(***) ***-**21`, `+*********21`, `*****er@*****ox.***`.

use super::Address;

/// The masked `(ADDR, ADDR.ASIS, ADDR.VIEW)` of an address.
pub fn masked_row(address: &Address) -> (String, String, String) {
    match address {
        Address::Phone(e164) => {
            let view = phone(&address.view());
            (view.clone(), phone(e164), view)
        }
        Address::Email(e) => {
            let m = email(e);
            (m.clone(), m.clone(), m)
        }
    }
}

/// The masked form shown to whoever asked for a code (`ADDR` masked).
pub fn masked(address: &Address) -> String {
    masked_row(address).0
}

/// Every digit but the last two becomes `*`; everything else stays.
pub fn phone(s: &str) -> String {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    let mut seen = 0;
    s.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 2 <= digits { '*' } else { c }
            } else {
                c
            }
        })
        .collect()
}

/// The local part and each domain label but the last keep their last two characters;
/// the last label (the TLD) is starred entirely. Written into one string: this runs
/// for every email device of every listing answer.
pub fn email(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let Some((local, domain)) = s.rsplit_once('@') else {
        push_part(&mut out, s);
        return out;
    };
    push_part(&mut out, local);
    out.push('@');
    let mut labels = domain.split('.').peekable();
    while let Some(label) = labels.next() {
        if labels.peek().is_some() {
            push_part(&mut out, label);
            out.push('.');
        } else {
            push_stars(&mut out, label.chars().count());
        }
    }
    out
}

/// All but the last two characters starred; a part of two characters or fewer is
/// starred entirely.
fn push_part(out: &mut String, s: &str) {
    let n = s.chars().count();
    if n <= 2 {
        return push_stars(out, n);
    }
    push_stars(out, n - 2);
    out.extend(s.chars().skip(n - 2));
}

fn push_stars(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n('*', n));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_email_example() {
        assert_eq!(email("dsnyder@worldox.com"), "*****er@*****ox.***");
    }

    #[test]
    fn seed_phone_examples() {
        assert_eq!(phone("(555) 279-5579"), "(***) ***-**79");
        assert_eq!(phone("+15516555721"), "+*********21");
        assert_eq!(phone("(551) 655-5721"), "(***) ***-**21");
    }

    #[test]
    fn rows_mask_all_three_forms() {
        let a = Address::parse("+15516555721").unwrap();
        assert_eq!(
            masked_row(&a),
            (
                "(***) ***-**21".to_owned(),
                "+*********21".to_owned(),
                "(***) ***-**21".to_owned()
            )
        );
        let e = Address::parse("dsnyder@worldox.com").unwrap();
        assert_eq!(masked(&e), "*****er@*****ox.***");
    }

    #[test]
    fn short_parts_are_fully_starred() {
        assert_eq!(email("ab@cd.co.uk"), "**@**.**.**");
        assert_eq!(email("abc@mail.example.org"), "*bc@**il.*****le.***");
        assert_eq!(email("j\u{f6}rg@x.de"), "**rg@*.**");
    }

    #[test]
    fn international_phones_keep_the_last_two_digits() {
        assert_eq!(phone("+442079460958"), "+**********58");
    }
}
