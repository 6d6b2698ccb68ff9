//! The CGI endpoint: decode the request as the server does, count it, apply faults,
//! wait for a slot in the CGI pool, run the command, answer HTTP 200 JSON.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Extensions, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::Simulator;
use super::envelope::WdError;
use super::faults::{self, Fault};
use super::state::State as SimState;
use super::{
    cabinets, closelist, download, findfiles, logon, serve, store, twofa_get, twofa_set, verlist,
};
use crate::upstream::cgi::{Params, parse_form, parse_query};
use crate::upstream::fields::{command, msg, rc};

/// The largest form body read.
const MAX_BODY: usize = 1024 * 1024;

/// One decoded CGI call.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// Query parameters after the command, then the form body's.
    pub(crate) params: &'a Params,
    /// The caller's IP address (2FSET's `RMT`).
    pub(crate) rmt: &'a str,
    /// When the call is handled.
    pub(crate) now: Instant,
}

/// `GET|POST /cgi-bin/wdwebcgi.exe?COMMAND+…`.
pub(crate) async fn cgi(State(sim): State<Simulator>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = parse_query(parts.uri.query().unwrap_or_default());
    let command = query.command.trim().to_ascii_uppercase();
    let mut params = query.params;
    if parts.method == Method::POST && is_form(&parts.headers) {
        match to_bytes(body, MAX_BODY).await {
            Ok(bytes) => params.extend(parse_form(&String::from_utf8_lossy(&bytes))),
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        }
    }
    let rmt = remote_ip(&parts.extensions);

    let decoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let active = sim.with_state(|state| {
        *state.calls.entry(command.clone()).or_default() += 1;
        state.record_request(&command, &decoded);
        state.faults.clone()
    });
    let slot = sim.pool().enter().await;
    slot.serve().await;
    faults::delay(&active).await;
    let call = Call {
        params: &params,
        rmt: &rmt,
        now: Instant::now(),
    };
    let body = match faults::roll(&active) {
        Some(Fault::Hang) => {
            faults::hang().await;
            return faults::garbage();
        }
        Some(Fault::Drop) => return faults::dropped(),
        Some(Fault::Garbage) => return faults::garbage(),
        Some(Fault::Error) => {
            let error = faults::unknown_error();
            sim.with_state(|state| failure(state, &command, &call, &error))
        }
        None => sim.with_state(|state| run(state, &command, &call)),
    };
    let body = if active.cp1252_bytes {
        store::to_cp1252(body)
    } else {
        body
    };
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

/// Runs one command against the state.
fn run(state: &mut SimState, name: &str, call: &Call<'_>) -> Vec<u8> {
    state.doc_lists.always_stale = state.faults.stale_doc_lists;
    match name {
        command::LOGON => logon::logon(state, call),
        command::LOGOFF => logon::logoff(state, call),
        command::TWO_FA_GET => twofa_get::list(state, call),
        command::TWO_FA_SET => twofa_set::set(state, call),
        command::CABINETS => cabinets::list(state, call),
        command::FINDFILES => findfiles::find(state, call),
        command::SORTFILES => findfiles::sort_files(state, call),
        command::CLOSELIST => closelist::close(state, call),
        command::DOWNLOAD => download::download(state, call),
        command::VERLIST => verlist::versions(state, call),
        command::SERVE => serve::serve(state, call),
        _ => {
            let error = WdError::new(rc::COMMAND_INVALID, msg::COMMAND_INVALID);
            twofa_set::failure(call, &error)
        }
    }
}

/// The failure answer of a command, in that command's envelope. LOGOFF has no failure
/// answer, so it (like an unknown command) gets 2FSET's.
fn failure(state: &SimState, name: &str, call: &Call<'_>, error: &WdError) -> Vec<u8> {
    match name {
        command::LOGON => logon::failure(state, call, error),
        command::TWO_FA_GET => twofa_get::failure(error),
        command::CABINETS => cabinets::failure(error),
        command::FINDFILES | command::SORTFILES => findfiles::failure(error),
        command::CLOSELIST => closelist::answer(Some(error)),
        command::DOWNLOAD => download::failure(call, error),
        command::VERLIST => verlist::failure(call, error),
        command::SERVE => serve::failure(call, error),
        _ => twofa_set::failure(call, error),
    }
}

/// A body is read as a form when it says so or says nothing.
fn is_form(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_none_or(|ct| {
        ct.to_str().is_ok_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
    })
}

/// The caller's IP address, `127.0.0.1` when the router is driven without a socket.
fn remote_ip(extensions: &Extensions) -> String {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ConnectInfo(addr)| {
            addr.ip().to_canonical()
        })
        .to_string()
}
