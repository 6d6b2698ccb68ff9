//! CLOSELIST: frees a document list, in closelist.md's envelope: `errorStatus` with the
//! error fields (all empty on success) and `data` `""`. No List_ID is 8380; one that is
//! unknown, already closed or another session's is 8375 (the reference does not say
//! which; the simulator's choice).
#![allow(non_snake_case)]

use serde::Serialize;

use super::dispatch::Call;
use super::envelope::{ErrorFields, WdError, error_count, to_body};
use super::state::State;
use crate::upstream::fields::param;

#[derive(Debug, Serialize)]
struct Body {
    errorStatus: Status,
    data: &'static str,
}

#[derive(Debug, Serialize)]
struct Status {
    ErrorCount: String,
    #[serde(flatten)]
    first: ErrorFields,
}

/// CLOSELIST.
pub(crate) fn close(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let sid = call.params.get(param::SID).unwrap_or_default();
    let outcome = state.session_user(Some(sid), call.now).and_then(|_| {
        let list_id = call.params.get(param::LIST_ID).unwrap_or_default();
        state.doc_lists.close(sid, list_id)
    });
    answer(outcome.err().as_ref())
}

/// CLOSELIST's answer, for a failure too.
pub(crate) fn answer(error: Option<&WdError>) -> Vec<u8> {
    to_body(Body {
        errorStatus: Status {
            ErrorCount: error_count(error),
            first: ErrorFields::of(error),
        },
        data: "",
    })
}
