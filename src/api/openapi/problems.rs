//! The problem responses of the OpenAPI document: which `code`s a route answers with
//! which status, each code described once, grouped into one set per route.
//!
//! A set is a list of [`Answer`] groups (the layers and checks a route goes through);
//! [`responses`] merges them into one `application/problem+json` response per status
//! whose schema pins `status` and the `code`s that status can carry there.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

/// The media type of every error answer (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem headers that every problem of their status carries (401, 429, 503).
pub const ALWAYS_SENT: &[&str] = &["www-authenticate", "retry-after"];

/// A status and a problem `code` a route can answer with.
pub type Answer = (u16, &'static str);

/// Every route: a missing, repeated or invalid `Host` is a 400, a panic a 500, a
/// request over `server.request_timeout_secs` a 504.
pub const ALWAYS: &[Answer] = &[
    (400, "bad_request"),
    (500, "internal_error"),
    (504, "request_timeout"),
];
/// Every API route (not the ops routes): the per-client cap, then load shedding.
pub const SHED: &[Answer] = &[(429, "too_many_in_flight"), (503, "overloaded")];
/// An authenticated route: the token, then the session store.
pub const AUTH: &[Answer] = &[
    (401, "missing_token"),
    (401, "invalid_token"),
    (503, "store_unavailable"),
];
/// An authenticated `POST`, `PATCH` or `DELETE`: in cookie mode, the origin check.
pub const CSRF: &[Answer] = &[(403, "csrf_rejected")];
/// A JSON request body.
pub const BODY: &[Answer] = &[
    (400, "bad_request"),
    (408, "body_timeout"),
    (413, "payload_too_large"),
    (415, "unsupported_media_type"),
];
/// A call to Worldox that did not give a usable answer.
pub const UPSTREAM: &[Answer] = &[
    (502, "upstream_error"),
    (502, "upstream_bad_answer"),
    (502, "upstream_unreachable"),
    (503, "upstream_unavailable"),
    (504, "upstream_timeout"),
];
/// A call to Worldox with the session's SID: Worldox may have ended the session.
pub const EXPIRED: &[Answer] = &[(401, "session_expired")];
/// A malformed query (`?redact=` neither true nor false) or path parameter.
pub const BAD_PARAMS: &[Answer] = &[(400, "bad_request")];
/// A device id that names none of the caller's devices.
pub const NO_DEVICE: &[Answer] = &[(404, "not_found")];
/// A verification named in the path: unknown, expired or another session's is 404;
/// used or spent is 409.
pub const VERIFICATION_PATH: &[Answer] = &[
    (404, "not_found"),
    (409, "verification_used"),
    (409, "verification_spent"),
];
/// A device write: the values, the verification, and Worldox's refusals.
pub const DEVICE_WRITE: &[Answer] = &[
    (409, "device_exists"),
    (409, "verification_used"),
    (409, "verification_spent"),
    (409, "upstream_error"),
    (422, "validation_failed"),
    (422, "verification_invalid"),
    (422, "code_invalid"),
    (422, "upstream_error"),
];

/// The responses of the given groups, one per status, in status order.
pub fn responses(groups: &[&[Answer]]) -> BTreeMap<String, RefOr<Response>> {
    let mut codes: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    for &(status, code) in groups.iter().flat_map(|group| group.iter()) {
        let entry = codes.entry(status).or_default();
        if !entry.contains(&code) {
            entry.push(code);
        }
    }
    codes
        .into_iter()
        .map(|(status, codes)| (status.to_string(), problem(status, &codes).into()))
        .collect()
}

/// Declares one `IntoResponses` type per route from its groups of answers.
macro_rules! problem_sets {
    ($($(#[$doc:meta])* $name:ident = [$($group:expr),* $(,)?];)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                responses(&[$($group),*])
            }
        }
    )*};
}

problem_sets! {
    /// `POST /sessions`.
    Login = [ALWAYS, SHED, BODY, UPSTREAM, &[
        (401, "invalid_credentials"),
        (403, "csrf_rejected"),
        (422, "validation_failed"),
        (429, "too_many_requests"),
        (503, "store_unavailable"),
    ]];
    /// `DELETE /sessions/current` (a failed LOGOFF is logged, not answered).
    Logout = [ALWAYS, SHED, AUTH, CSRF];
    /// `GET /me`: no upstream call.
    Me = [ALWAYS, SHED, AUTH];
    /// `GET /me/sessions`: the session index, no upstream call.
    ListSessions = [ALWAYS, SHED, AUTH];
    /// `DELETE /me/sessions/{id}`: an id that names none of the caller's live sessions
    /// is 404 (a failed LOGOFF is logged, not answered).
    EndSession = [ALWAYS, SHED, AUTH, CSRF, &[(404, "not_found")]];
    /// `DELETE /me/sessions?others=true`: without `others=true`, 400.
    EndOtherSessions = [ALWAYS, SHED, AUTH, CSRF, BAD_PARAMS];
    /// `DELETE /admin/users/{username}/sessions`: 404 unless an operator token is
    /// configured, 401 without it or with another.
    AdminEndSessions = [ALWAYS, SHED, BAD_PARAMS, &[
        (401, "missing_token"),
        (401, "invalid_token"),
        (404, "not_found"),
        (503, "store_unavailable"),
    ]];
    /// `GET /me/2fa-devices`.
    ListDevices = [ALWAYS, SHED, AUTH, BAD_PARAMS, UPSTREAM, EXPIRED];
    /// `GET /me/2fa-devices/{id}`.
    GetDevice = [ALWAYS, SHED, AUTH, BAD_PARAMS, NO_DEVICE, UPSTREAM, EXPIRED];
    /// `POST /me/2fa-devices/verifications`.
    StartVerification = [ALWAYS, SHED, AUTH, CSRF, BODY, UPSTREAM, EXPIRED, &[
        (422, "validation_failed"),
        (422, "upstream_error"),
        (429, "too_many_requests"),
    ]];
    /// `GET /me/2fa-devices/verifications/{id}`: no upstream call.
    GetVerification = [ALWAYS, SHED, AUTH, VERIFICATION_PATH];
    /// `POST /me/2fa-devices/verifications/{id}`: 2FSET step 2.
    VerifyCode = [ALWAYS, SHED, AUTH, CSRF, BODY, VERIFICATION_PATH, UPSTREAM, EXPIRED, &[
        (422, "validation_failed"),
        (422, "code_invalid"),
        (422, "upstream_error"),
    ]];
    /// `POST /me/2fa-devices`.
    CreateDevice = [ALWAYS, SHED, AUTH, CSRF, BODY, DEVICE_WRITE, UPSTREAM, EXPIRED];
    /// `PATCH /me/2fa-devices/{id}`.
    UpdateDevice = [ALWAYS, SHED, AUTH, CSRF, BODY, NO_DEVICE, DEVICE_WRITE, UPSTREAM, EXPIRED];
    /// `DELETE /me/2fa-devices/{id}`: a stale List_ID after one retry is 409.
    DeleteDevice = [ALWAYS, SHED, AUTH, CSRF, BAD_PARAMS, NO_DEVICE, UPSTREAM, EXPIRED, &[
        (409, "upstream_error"),
        (422, "upstream_error"),
    ]];
    /// `GET /cabinets`.
    ListCabinets = [ALWAYS, SHED, AUTH, UPSTREAM, EXPIRED];
    /// `GET /cabinets/{id}`: an id Worldox does not show the caller is 404.
    GetCabinet = [ALWAYS, SHED, AUTH, UPSTREAM, EXPIRED, &[
        (404, "not_found"),
        (404, "upstream_error"),
    ]];
    /// `GET /documents`: the query, the cursor, and a list stale after one re-run.
    SearchDocuments = [ALWAYS, SHED, AUTH, UPSTREAM, EXPIRED, &[
        (400, "bad_request"),
        (400, "cursor_invalid"),
        (409, "upstream_error"),
        (422, "validation_failed"),
    ]];
    /// `GET /documents/{id}`: a malformed id, or one the caller cannot see, is 404.
    GetDocument = [ALWAYS, SHED, AUTH, UPSTREAM, EXPIRED, &[
        (404, "not_found"),
        (404, "upstream_error"),
    ]];
    /// `GET|HEAD /documents/{id}/content` and a version's: 429 for the session's share
    /// of transfers, 503 when every transfer place is taken, 409 when the row's list
    /// stays stale, 416 for a range the file cannot satisfy, 502 when the copy is gone
    /// twice, 403 when the document is protected (Worldox refuses to open it).
    GetDocumentContent = [ALWAYS, AUTH, UPSTREAM, EXPIRED, &[
        // Not shed like the JSON routes: the transfer limits bound them instead.
        (503, "overloaded"),
        (403, "access_denied"),
        (404, "not_found"),
        (404, "upstream_error"),
        (409, "upstream_error"),
        (416, "range_not_satisfiable"),
        (429, "too_many_requests"),
    ]];
    /// `GET /documents/{id}/versions` and `…/versions/{n}`: 409 when the document's
    /// list stays stale.
    GetDocumentVersions = [ALWAYS, SHED, AUTH, UPSTREAM, EXPIRED, &[
        (404, "not_found"),
        (404, "upstream_error"),
        (409, "upstream_error"),
    ]];
    /// `GET /wd/{command}`.
    PassthroughGet = [ALWAYS, SHED, AUTH, UPSTREAM, EXPIRED, PASSTHROUGH];
    /// `POST /wd/{command}`.
    PassthroughPost = [ALWAYS, SHED, AUTH, CSRF, BODY, UPSTREAM, EXPIRED, PASSTHROUGH];
    /// `GET /readyz`.
    Readiness = [ALWAYS, &[(503, "not_ready"), (503, "shutting_down")]];
    /// `GET /healthz`, `GET /metrics`, `GET /openapi.json`.
    Ops = [ALWAYS];
}

/// A passthrough: the allow-list, the caller's parameters, and the table's 4xx.
const PASSTHROUGH: &[Answer] = &[
    (400, "bad_request"),
    (403, "command_not_allowed"),
    (404, "upstream_error"),
    (409, "upstream_error"),
    (422, "upstream_error"),
];

/// One status's problem response: the codes it can carry here, described.
fn problem(status: u16, codes: &[&'static str]) -> Response {
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("Problem"))
        .item(
            ObjectBuilder::new()
                .property(
                    "status",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .enum_values(Some([status])),
                )
                .property(
                    "code",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(codes.iter().copied())),
                ),
        );
    let described: Vec<String> = codes
        .iter()
        .map(|code| format!("`{code}`: {}", meaning(code)))
        .collect();
    let mut response = ResponseBuilder::new()
        .description(described.join("; "))
        .content(
            PROBLEM_JSON,
            ContentBuilder::new().schema(Some(schema)).build(),
        );
    if let Some((name, text)) = header(status) {
        let string = ObjectBuilder::new().schema_type(Type::String);
        let header = HeaderBuilder::new()
            .schema(string)
            .description(Some(text))
            .build();
        response = response.header(name, header);
    }
    response.build()
}

/// The header a problem of `status` always carries.
fn header(status: u16) -> Option<(&'static str, &'static str)> {
    match status {
        401 => Some((
            "www-authenticate",
            "`Bearer realm=\"wdgate\"`, with `error=\"invalid_token\"` for a token that is no good",
        )),
        429 | 503 => Some(("retry-after", "Seconds to wait before trying again")),
        _ => None,
    }
}

/// What a problem code means, once for every route.
fn meaning(code: &str) -> &'static str {
    match code {
        "bad_request" => {
            "the body, the query or the path is malformed, a field is missing or mistyped, or \
             the `Host` header is missing, repeated or invalid"
        }
        "missing_token" => "no bearer token (or, in cookie mode, session cookie) was sent",
        "invalid_token" => "the token is unknown, malformed, expired or logged out",
        "session_expired" => "Worldox ended the session, so the gateway session ended too",
        "invalid_credentials" => "wrong username or password",
        "command_not_allowed" => "the command is not in `passthrough.allow`",
        "csrf_rejected" => "a cookie-authenticated change from an origin that is not allowed",
        "not_found" => {
            "no such resource (device, cabinet, document or session) for the caller, or a \
             route that is not configured"
        }
        "access_denied" => "Worldox refuses to open the document for this user (it is protected)",
        "cursor_invalid" => {
            "the cursor is malformed, was tampered with, or was signed under another `documents.id_key`"
        }
        "body_timeout" => {
            "the body did not arrive within `server.body_read_timeout_secs`; the connection is closed"
        }
        "payload_too_large" => "the body is larger than `server.body_limit_bytes`",
        "unsupported_media_type" => {
            "the body's content type is not accepted here (JSON: `application/json`, \
             `text/json`, `+json`; XML: `application/xml`, `text/xml`, `+xml`)"
        }
        "not_acceptable" => {
            "`Accept` excludes every media type the route offers; `offered` lists them"
        }
        "validation_failed" => "a value fails validation; `detail` names the field",
        "verification_invalid" => {
            "the `verification_id` is unknown, expired, another session's, or for another address"
        }
        "verification_used" => "the `verification_id` was used already; request a new code",
        "verification_spent" => {
            "every attempt at the `verification_id` was a wrong code; request a new code"
        }
        "code_invalid" => {
            "Worldox refused the code; `attempts_left` says how many tries the verification has left"
        }
        "device_exists" => "the address is already one of your devices",
        "upstream_error" => {
            "Worldox refused the call; `upstream` has its code and message, the status table the status"
        }
        "upstream_bad_answer" => "Worldox's answer was not usable",
        "upstream_unreachable" => "Worldox could not be reached",
        "upstream_unavailable" => "the circuit to Worldox is open, or no upstream slot was free",
        "upstream_timeout" => "Worldox did not answer within `upstream.timeout_ms`",
        "too_many_requests" => {
            "a `limits.…` limit is met (login attempts, or access codes sent); the detail names it"
        }
        "too_many_in_flight" => {
            "this client has `server.max_concurrent_requests_per_ip` requests in flight"
        }
        "overloaded" => "the gateway is at `server.max_concurrent_requests`",
        "store_unavailable" => "the session store cannot answer",
        "not_ready" => "the session store or Worldox does not answer",
        "shutting_down" => {
            "the gateway is shutting down (SIGTERM); it still serves during `server.shutdown_delay_secs`"
        }
        "request_timeout" => "the request took longer than `server.request_timeout_secs`",
        "internal_error" => "a gateway failure; the request id names the log entry",
        _ => "see `detail`",
    }
}
