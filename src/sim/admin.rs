//! The `/_sim/` admin routes that tests and the demo use: the outbox of access codes,
//! call counts, expiring sessions and listings, and faults at run time.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::Simulator;
use super::capacity::CapacityStats;
use super::config::Faults;
use super::documents::CABINETS;
use super::state::OutboxEntry;
use super::store::StoreSummary;
use crate::address::Address;

/// `GET /_sim/outbox` filter.
#[derive(Debug, Deserialize)]
pub(crate) struct OutboxQuery {
    /// Only codes sent to this address (compared normalized).
    to: Option<String>,
}

/// `GET /_sim/stats` answer.
#[derive(Debug, Serialize)]
pub(crate) struct Stats {
    /// CGI requests by uppercase command.
    calls: BTreeMap<String, u64>,
    /// File bodies (`/cgi-bin/WDSIDS/…` GETs) still being sent.
    file_bodies_open: usize,
    /// The CGI pool: `capacity`, `in_service`, `in_service_max`, `queued`, `queued_max`.
    #[serde(flatten)]
    pool: CapacityStats,
}

/// `GET /_sim/outbox[?to=ADDR]`: the codes sent, oldest first.
pub(crate) async fn outbox(
    State(sim): State<Simulator>,
    Query(query): Query<OutboxQuery>,
) -> Json<Vec<OutboxEntry>> {
    let wanted = query.to.map(|to| {
        Address::parse(&to).map_or_else(|| to.trim().to_owned(), |a| a.asis().to_owned())
    });
    let entries = sim.with_state(|state| {
        state
            .outbox
            .iter()
            .filter(|e| wanted.as_ref().is_none_or(|w| e.to.eq_ignore_ascii_case(w)))
            .cloned()
            .collect()
    });
    Json(entries)
}

/// `GET /_sim/stats`.
pub(crate) async fn stats(State(sim): State<Simulator>) -> Json<Stats> {
    let pool = sim.pool().stats();
    Json(sim.with_state(|state| Stats {
        calls: state.calls.clone(),
        file_bodies_open: state.file_bodies.load(Ordering::Relaxed),
        pool,
    }))
}

/// One live Worldox session, as `GET /_sim/sessions` lists it.
#[derive(Debug, Serialize)]
pub(crate) struct LiveSession {
    /// Whose it is.
    user: String,
    /// The raw SID: the secret the gateway must never show. Tests look for it.
    sid: String,
}

/// `GET /_sim/sessions`: the live SIDs, so tests can check they never leak.
pub(crate) async fn sessions(State(sim): State<Simulator>) -> Json<Vec<LiveSession>> {
    let live = sim.with_state(|state| state.live_sessions());
    Json(
        live.into_iter()
            .map(|(user, sid)| LiveSession { user, sid })
            .collect(),
    )
}

/// Document lists one live session holds open, as `GET /_sim/lists` shows them.
#[derive(Debug, Serialize)]
pub(crate) struct OpenLists {
    /// Whose session it is.
    user: String,
    /// Lists it holds open (FINDFILES made, CLOSELIST not yet freed).
    open: usize,
}

/// `GET /_sim/lists`: the document lists each live session holds open.
pub(crate) async fn lists(State(sim): State<Simulator>) -> Json<Vec<OpenLists>> {
    let open = sim.with_state(|state| state.open_lists());
    Json(
        open.into_iter()
            .map(|(user, open)| OpenLists { user, open })
            .collect(),
    )
}

/// `GET /_sim/documents`: the store's records (versions, sizes, access, owner,
/// checkout holder, favorite) and how many download copies exist; no bytes, no SIDs.
pub(crate) async fn documents(State(sim): State<Simulator>) -> Json<StoreSummary> {
    Json(sim.with_state(|state| state.store.summary()))
}

/// `POST /_sim/documents/{docnum}/move` parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct MoveQuery {
    /// The cabinet (`PGID`) the document goes to.
    cabinet: u32,
}

/// `POST /_sim/documents/{docnum}/move?cabinet=N`: the document moves to cabinet `N`
/// (its `CBID`, `CBNM`, `LOC` and fields follow; lists that hold it show it there), as
/// a RENAME move would. 404 for an unknown document, 422 for an unknown cabinet.
pub(crate) async fn move_document(
    State(sim): State<Simulator>,
    Path(docnum): Path<String>,
    Query(query): Query<MoveQuery>,
) -> (StatusCode, String) {
    if !CABINETS.iter().any(|c| c.id == query.cabinet) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no cabinet {}", query.cabinet),
        );
    }
    sim.with_state(|state| {
        let Some(record) = state.store.find(&docnum) else {
            return (StatusCode::NOT_FOUND, format!("no document {docnum}"));
        };
        record.cabinet = query.cabinet;
        state.document_written();
        (StatusCode::NO_CONTENT, String::new())
    })
}

/// `POST /_sim/documents/{docnum}/touch`: the document is saved again (its current
/// version's `UPD` moves on, and with it its `HASH`). 404 for an unknown document.
pub(crate) async fn touch_document(
    State(sim): State<Simulator>,
    Path(docnum): Path<String>,
) -> (StatusCode, String) {
    sim.with_state(|state| {
        let Some(record) = state.store.find(&docnum) else {
            return (StatusCode::NOT_FOUND, format!("no document {docnum}"));
        };
        record.touch(std::time::SystemTime::now());
        state.document_written();
        (StatusCode::NO_CONTENT, String::new())
    })
}

/// `GET /_sim/requests` filter.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestsQuery {
    /// The command (any case); absent: every command.
    command: Option<String>,
}

/// `GET /_sim/requests[?command=]`: the last decoded parameter sets per command,
/// oldest first, each as `[[name, value], …]` in the order sent, `wd_SID` redacted.
pub(crate) async fn requests(
    State(sim): State<Simulator>,
    Query(query): Query<RequestsQuery>,
) -> Json<BTreeMap<String, Vec<Vec<(String, String)>>>> {
    let wanted = query.command.map(|c| c.trim().to_ascii_uppercase());
    Json(sim.with_state(|state| {
        state
            .requests
            .iter()
            .filter(|(c, _)| wanted.as_ref().is_none_or(|w| *c == w))
            .map(|(c, log)| (c.clone(), log.iter().cloned().collect()))
            .collect()
    }))
}

/// `POST /_sim/expire-downloads`: every download copy is gone (its GET is a 404).
pub(crate) async fn expire_downloads(State(sim): State<Simulator>) -> StatusCode {
    sim.with_state(|state| state.store.expire_copies());
    StatusCode::NO_CONTENT
}

/// `POST /_sim/expire-sessions`: every SID becomes invalid.
pub(crate) async fn expire_sessions(State(sim): State<Simulator>) -> StatusCode {
    sim.with_state(|state| state.expire_all_sessions());
    StatusCode::NO_CONTENT
}

/// `POST /_sim/invalidate-lists`: every List_ID becomes invalid.
pub(crate) async fn invalidate_lists(State(sim): State<Simulator>) -> StatusCode {
    sim.with_state(|state| state.invalidate_lists());
    StatusCode::NO_CONTENT
}

/// `GET /_sim/faults`.
pub(crate) async fn get_faults(State(sim): State<Simulator>) -> Json<Faults> {
    Json(sim.with_state(|state| state.faults.clone()))
}

/// `PUT /_sim/faults`: replaces the active faults; 422 for a ratio outside `0..=1`.
pub(crate) async fn put_faults(
    State(sim): State<Simulator>,
    Json(faults): Json<Faults>,
) -> (StatusCode, String) {
    if let Some(name) = faults.invalid_ratio() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{name} must be between 0 and 1"),
        );
    }
    sim.with_state(|state| state.faults = faults);
    (StatusCode::NO_CONTENT, String::new())
}
