//! Lists that can also be given as one comma-separated string, so an environment
//! variable (`WDGATE_BROWSER_CORS_ORIGINS=https://a.example,https://b.example`) can set
//! them.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, SeqAccess, Visitor};

/// Deserializes a TOML list of strings, or a comma-separated string of them (blank
/// items dropped).
pub(super) fn list_or_csv<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct ListOrCsv;

    impl<'de> Visitor<'de> for ListOrCsv {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of command names or a comma-separated string of them")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut names = Vec::new();
            while let Some(name) = seq.next_element::<String>()? {
                names.push(name);
            }
            Ok(names)
        }
    }

    deserializer.deserialize_any(ListOrCsv)
}
