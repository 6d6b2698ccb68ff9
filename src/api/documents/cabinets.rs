//! `/cabinets`: the cabinets (profile groups) the caller sees, with their profile
//! fields, cached per session (`documents.cabinets_ttl_secs`) and loaded once for
//! concurrent callers.

use axum::extract::{Path, State};
use axum::response::Response;

use super::super::auth::CurrentSession;
use super::super::json::private_json;
use super::super::openapi::problems;
use super::super::problem::ApiError;
use super::super::state::AppState;
use super::view::{CABINETS, CabinetList, CabinetView, link};

/// `GET /cabinets`.
#[utoipa::path(
    get,
    path = "/cabinets",
    operation_id = "listCabinets",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    responses((status = 200, description = "The cabinets the caller sees.", body = CabinetList), problems::ListCabinets),
)]
pub async fn list(
    State(state): State<AppState>,
    current: CurrentSession,
) -> Result<Response, ApiError> {
    let cabinets = load(&state, &current).await?;
    let body = CabinetList {
        cabinets: cabinets.iter().map(CabinetView::new).collect(),
        links: vec![link("self", CABINETS, "GET", "All your cabinets")],
    };
    Ok(private_json(&body, 512 + 2048 * cabinets.len()))
}

/// `GET /cabinets/{id}`.
#[utoipa::path(
    get,
    path = "/cabinets/{id}",
    operation_id = "getCabinet",
    tag = "documents",
    security(("bearerAuth" = []), ("cookieAuth" = [])),
    params(("id" = String, Path, description = "A cabinet id from `/cabinets`")),
    responses((status = 200, description = "The cabinet.", body = CabinetView), problems::GetCabinet),
)]
pub async fn get(
    State(state): State<AppState>,
    current: CurrentSession,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // `0` asks Worldox for every cabinet: no cabinet has that id.
    let id = match id.parse::<u32>() {
        Ok(id) if id > 0 && id <= 999_999_999 => id,
        _ => return Err(no_such_cabinet()),
    };
    if let Some(all) = state.documents().cached_cabinets(current.key).await {
        if let Some(cabinet) = all.iter().find(|c| c.id == id) {
            return Ok(private_json(&CabinetView::new(cabinet), 2048));
        }
    }
    let found = match state
        .upstream()
        .list_cabinets(&current.session.sid, Some(id))
        .await
    {
        Ok(found) => found,
        Err(e) => return Err(Box::pin(state.upstream_failure(Some(current.key), e)).await),
    };
    let cabinet = found
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(no_such_cabinet)?;
    Ok(private_json(&CabinetView::new(cabinet), 2048))
}

/// The session's cabinets, cached.
async fn load(
    state: &AppState,
    current: &CurrentSession,
) -> Result<std::sync::Arc<Vec<crate::upstream::documents::Cabinet>>, ApiError> {
    let load = state.upstream().list_cabinets(&current.session.sid, None);
    match state.documents().cabinets(current.key, load).await {
        Ok(cabinets) => Ok(cabinets),
        Err(e) => Err(Box::pin(state.upstream_failure(Some(current.key), e)).await),
    }
}

fn no_such_cabinet() -> ApiError {
    ApiError::NotFound("no such cabinet".to_owned())
}
