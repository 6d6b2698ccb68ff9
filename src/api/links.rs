//! The hypermedia links of the login, profile and session answers, in the shape of the
//! device answers' (`devices::view::Link`: `rel`, `href`, `method`, `title`), and the
//! one rel vocabulary every answer uses:
//!
//! | rel | target |
//! |---|---|
//! | `self` | the resource answered (GET) |
//! | `me` | `GET /me` |
//! | `devices` | `GET /me/2fa-devices` |
//! | `sessions` | `GET /me/sessions` |
//! | `logout` | `DELETE /sessions/current` |
//! | `end` | `DELETE /me/sessions/{id}`: end that (other) session |
//! | `end-others` | `DELETE /me/sessions?others=true` |
//! | `list`, `insert`, `update`, `delete` | the device collection and a device (devices answers) |

use std::borrow::Cow;
use std::sync::LazyLock;

use serde_json::value::RawValue;

use super::devices::view::{COLLECTION as DEVICES, Link};
use super::paths;

/// `DELETE /me/sessions?others=true`.
const END_OTHERS: &str = "/me/sessions?others=true";

/// A link.
pub fn link(rel: &'static str, href: &str, method: &'static str, title: &'static str) -> Link {
    Link {
        rel,
        href: Cow::Owned(href.to_owned()),
        method,
        title,
    }
}

/// A link to a fixed route: `href` is borrowed, not copied.
pub const fn fixed(
    rel: &'static str,
    href: &'static str,
    method: &'static str,
    title: &'static str,
) -> Link {
    Link {
        rel,
        href: Cow::Borrowed(href),
        method,
        title,
    }
}

/// `me`: the profile.
pub const ME_LINK: Link = fixed("me", paths::ME, "GET", "Your profile");
/// `devices`: the 2FA devices.
pub const DEVICES_LINK: Link = fixed("devices", DEVICES, "GET", "Your two-factor devices");
/// `sessions`: where the user is signed in.
pub const SESSIONS_LINK: Link = fixed(
    "sessions",
    paths::MY_SESSIONS,
    "GET",
    "Where you are signed in",
);
/// `logout`: end the session the request came with.
pub const LOGOUT_LINK: Link = fixed(
    "logout",
    paths::CURRENT_SESSION,
    "DELETE",
    "Sign out of this session",
);

/// `end`: end one of the user's other sessions.
pub fn end(id: &str) -> Link {
    link(
        "end",
        &format!("{}/{id}", paths::MY_SESSIONS),
        "DELETE",
        "Sign this session out",
    )
}

/// `end-others`: end all of the user's sessions but this one.
pub fn end_others() -> Link {
    fixed(
        "end-others",
        END_OTHERS,
        "DELETE",
        "Sign out everywhere else",
    )
}

/// The links of the login answer: `me`, `devices`, `sessions`, `logout` (built once).
pub static AFTER_LOGIN: [Link; 4] = [ME_LINK, DEVICES_LINK, SESSIONS_LINK, LOGOUT_LINK];

/// [`AFTER_LOGIN`] as JSON, rendered once (as [`OF_ME_JSON`]).
pub static AFTER_LOGIN_JSON: LazyLock<Box<RawValue>> = LazyLock::new(|| rendered(&AFTER_LOGIN));

/// The links of `GET /me`: `self`, `devices`, `sessions`, `logout` (built once: the
/// answer borrows them).
pub static OF_ME: [Link; 4] = [
    fixed("self", paths::ME, "GET", "Your profile"),
    DEVICES_LINK,
    SESSIONS_LINK,
    LOGOUT_LINK,
];

/// [`OF_ME`] as JSON, rendered once: the answer writes these bytes as they are instead
/// of escaping the same text again on every request (most of what serializing `GET /me`
/// cost). An XML answer is re-encoded from the JSON, so it reads them too.
pub static OF_ME_JSON: LazyLock<Box<RawValue>> = LazyLock::new(|| rendered(&OF_ME));

/// `links` as JSON, for an answer that writes the same links every time (`null` if they
/// cannot be encoded, which a list of links always can).
pub fn rendered(links: &[Link]) -> Box<RawValue> {
    serde_json::value::to_raw_value(links).unwrap_or_default()
}

/// The links of `GET /me/sessions`: `self`, `end-others`, `me`.
pub fn of_sessions() -> Vec<Link> {
    vec![
        fixed("self", paths::MY_SESSIONS, "GET", "Where you are signed in"),
        end_others(),
        ME_LINK,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rel_is_in_the_vocabulary_and_every_href_is_a_route_or_a_query_on_one() {
        let vocabulary = [
            "self",
            "me",
            "devices",
            "sessions",
            "logout",
            "end",
            "end-others",
        ];
        let all: Vec<Link> = [
            AFTER_LOGIN.to_vec(),
            OF_ME.to_vec(),
            of_sessions(),
            vec![end("ses_x")],
        ]
        .concat();
        for link in &all {
            assert!(vocabulary.contains(&link.rel), "{}", link.rel);
            assert!(link.href.starts_with('/'), "{}", link.href);
            assert!(["GET", "DELETE"].contains(&link.method), "{}", link.method);
            assert!(!link.title.is_empty());
        }
        assert_eq!(end("ses_abc").href, "/me/sessions/ses_abc");
        // The pre-rendered links are what serializing them gives.
        assert_eq!(
            OF_ME_JSON.get(),
            serde_json::to_string(&OF_ME).expect("JSON")
        );
        assert_eq!(
            AFTER_LOGIN_JSON.get(),
            serde_json::to_string(&AFTER_LOGIN).expect("JSON")
        );
    }
}
