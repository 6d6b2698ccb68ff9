//! `GET|POST /wd/{COMMAND}`: an allow-listed Worldox command sent with the caller's
//! session, for the commands the gateway has no route of its own for.
//!
//! Phases: authenticate (extractor) → check the command against the allow-list (403)
//! → read the parameters (query string; for POST also a form, JSON or XML body) and refuse
//! a `wd_SID` of the caller's (400) → call Worldox, the SID injected there → answer the
//! upstream's JSON with its secrets stripped, or the status table's problem.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{Method, Uri};
use axum::response::Response;
use serde_json::{Map, Value};

use super::auth::CurrentSession;
use super::browser;
use super::json::{ApiJson, BodyType, body_bytes, no_store};
use super::openapi::problems;
use super::openapi::wd::{WdAnswer, WdJson, WdParams, WdStrings};
use super::problem::ApiError;
use super::state::AppState;
use crate::upstream::cgi::Params;
use crate::upstream::fields::command::NEVER_PASSED_THROUGH;
use crate::upstream::passthrough::{is_read, is_reserved};

/// Request parameters in the order given.
type Pairs = Vec<(String, String)>;

/// Longest command name echoed back in a 403's detail.
const MAX_ECHOED_COMMAND: usize = 40;

/// `GET /wd/{command}`: the parameters come from the query string.
#[utoipa::path(
    get,
    path = "/wd/{command}",
    operation_id = "passthroughGet",
    tag = "passthrough",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(WdParams),
    responses(WdAnswer, problems::PassthroughGet),
)]
pub async fn call_get(
    state: State<AppState>,
    current: CurrentSession,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    call(state, current, path, request).await
}

/// `POST /wd/{command}`: the query string's parameters, then the body's (a form, or a
/// JSON object of strings and numbers).
#[utoipa::path(
    post,
    path = "/wd/{command}",
    operation_id = "passthroughPost",
    tag = "passthrough",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(WdParams),
    request_body(content(
        (inline(WdJson) = "application/json"),
        (inline(WdStrings) = "application/x-www-form-urlencoded"),
    )),
    responses(WdAnswer, problems::PassthroughPost),
)]
pub async fn call_post(
    state: State<AppState>,
    current: CurrentSession,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    call(state, current, path, request).await
}

/// `GET|POST /wd/{command}`: 200 with the upstream's JSON (`{"root": …}`), secrets
/// stripped; upstream failures through the status table (an expired SID is 401 and
/// ends the gateway session).
async fn call(
    State(state): State<AppState>,
    current: CurrentSession,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    let command = allowed_command(&state, path)?;
    let method = if request.method() == Method::POST {
        Method::POST
    } else {
        Method::GET
    };
    let query = query_params(request.uri())?;
    let (headers, uri) = (request.headers().clone(), request.uri().clone());
    let form = if method == Method::POST {
        body_params(request, &state).await?
    } else {
        Pairs::new()
    };
    check_names(&query)?;
    check_names(&form)?;
    let (query, form) = (to_params(query), to_params(form));
    // A cookie rides along on a cross-site GET too, and Worldox carries its writes as
    // GET: a cookie-authenticated write passes the origin check whatever its method
    // (a POST already did, in the extractor).
    if current.via_cookie && !is_read(&command, &query, &form) {
        browser::check_origin(state.browser(), &headers, &uri)?;
    }

    // The command only: parameters can carry anything, secrets included.
    tracing::info!(command = %command, "passthrough");
    let sid = &current.session.sid;
    match state
        .upstream()
        .passthrough(sid, &command, method, query, form)
        .await
    {
        Ok(body) => Ok(no_store(Json(body))),
        Err(e) => Err(state.upstream_failure(Some(current.key), e).await),
    }
}

/// The command, uppercased, if the config allows it.
fn allowed_command(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let Path(raw) = path.map_err(|_| ApiError::BadRequest("unreadable command name".to_owned()))?;
    let command = raw.to_ascii_uppercase();
    if state.passthrough().allows(&command) {
        return Ok(command);
    }
    let printable = !command.is_empty()
        && command.len() <= MAX_ECHOED_COMMAND
        && command
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let detail = if NEVER_PASSED_THROUGH.contains(&command.as_str()) {
        format!("{command} is never passed through; use /sessions and /me/2fa-devices instead")
    } else if printable {
        format!("the command {command} is not allowed through /wd")
    } else {
        "this command is not allowed through /wd".to_owned()
    };
    Err(ApiError::Forbidden(detail))
}

/// The query string's parameters (`application/x-www-form-urlencoded` rules).
fn query_params(uri: &Uri) -> Result<Pairs, ApiError> {
    Query::<Pairs>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .map_err(|e| ApiError::BadRequest(format!("malformed query string: {}", e.body_text())))
}

/// A POST body's parameters: a form, a JSON object of strings and numbers, or an XML
/// element with one child element per parameter. An empty body needs no content type.
async fn body_params(request: Request, state: &AppState) -> Result<Pairs, ApiError> {
    match BodyType::of(request.headers()) {
        BodyType::Form => serde_urlencoded::from_bytes(&body_bytes(request, state).await?)
            .map_err(|e| ApiError::BadRequest(format!("malformed body: {e}"))),
        BodyType::Xml => {
            // One child element per parameter, its text the value.
            let ApiJson(params) =
                ApiJson::<BTreeMap<String, String>>::from_request(request, state).await?;
            json_pairs(
                params
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )
        }
        BodyType::Json => {
            let ApiJson(object) = ApiJson::<Map<String, Value>>::from_request(request, state)
                .await
                .map_err(|e| match e {
                    ApiError::BadRequest(_) => ApiError::BadRequest(
                        "the JSON body must be an object of parameter names to values".to_owned(),
                    ),
                    other => other,
                })?;
            json_pairs(object)
        }
        BodyType::Missing => {
            if body_bytes(request, state).await?.is_empty() {
                Ok(Pairs::new())
            } else {
                Err(ApiError::UnsupportedMediaType)
            }
        }
        BodyType::Other => Err(ApiError::UnsupportedMediaType),
    }
}

fn json_pairs(object: Map<String, Value>) -> Result<Pairs, ApiError> {
    object
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(s) => Ok((name, s)),
            Value::Number(n) => Ok((name, n.to_string())),
            _ => Err(ApiError::BadRequest(format!(
                "parameter {name:?}: values must be strings or numbers"
            ))),
        })
        .collect()
}

/// Refuses the parameter the gateway sends itself (`wd_SID`), and names that are not
/// Worldox names.
fn check_names(pairs: &Pairs) -> Result<(), ApiError> {
    for (name, _) in pairs {
        if is_reserved(name) {
            return Err(ApiError::BadRequest(
                "wd_SID is not accepted: the gateway sends your session's own, from your token"
                    .to_owned(),
            ));
        }
        if !is_parameter_name(name) {
            return Err(ApiError::BadRequest(
                "parameter names are ASCII letters, digits and underscores, as Worldox's are"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

/// A Worldox parameter name (`wd_FIND_QUERY`, `html`, `skip`): one or more ASCII
/// letters, digits and underscores, as every name of the reference is.
pub(crate) fn is_parameter_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn to_params(pairs: Pairs) -> Params {
    let mut params = Params::new();
    for (name, value) in pairs {
        params.push(&name, value);
    }
    params
}
