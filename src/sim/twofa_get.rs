//! 2FGET: the user's two-factor devices, in clear or masked, under a new List_ID.

use super::dispatch::Call;
use super::envelope::{
    ErrorFields, ErrorList, ListBody, ListRow, ListStatus, WdError, error_count, to_body,
};
use super::state::{Device, State};
use crate::address::mask;
use crate::upstream::fields::{filter, flag, param, placeholder};

/// 2FGET: every call issues a new List_ID. Addresses are masked unless the filter is
/// exactly `Redact>0`.
pub(crate) fn list(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let user = match state.session_user(call.params.get(param::SID), call.now) {
        Ok(user) => user,
        Err(error) => return failure(&error),
    };
    let clear = call
        .params
        .get(param::LIST_FILTER)
        .is_some_and(|f| f.trim().eq_ignore_ascii_case(filter::SHOW));
    let rows: Vec<ListRow> = state.users[user]
        .devices
        .iter()
        .enumerate()
        .map(|(i, device)| row(i + 1, device, clear))
        .collect();
    let list_id = state.new_list(user);
    to_body(ListBody {
        errorStatus: ListStatus {
            List_ID: list_id,
            List_Count: rows.len().to_string(),
            ErrorCount: error_count(None),
            first: ErrorFields::default(),
            Error: ErrorList::of(None),
        },
        data: rows,
    })
}

/// 2FGET's failure answer: one row of unfilled template placeholders.
pub(crate) fn failure(error: &WdError) -> Vec<u8> {
    let placeholders = ListRow {
        Rec: placeholder::REC.to_owned(),
        L: placeholder::L.to_owned(),
        ADDR: placeholder::ADDR.to_owned(),
        ADDR_ASIS: placeholder::ADDR_ASIS.to_owned(),
        ADDR_VIEW: placeholder::ADDR_VIEW.to_owned(),
        NAME: placeholder::NAME.to_owned(),
        FLAG: placeholder::FLAG.to_owned(),
    };
    to_body(ListBody {
        errorStatus: ListStatus {
            List_ID: String::new(),
            List_Count: String::new(),
            ErrorCount: error_count(Some(error)),
            first: ErrorFields::of(Some(error)),
            Error: ErrorList::of(Some(error)),
        },
        data: vec![placeholders],
    })
}

fn row(rec: usize, device: &Device, clear: bool) -> ListRow {
    let (addr, asis, view) = if clear {
        let view = device.address.view();
        (view.clone(), device.address.asis().to_owned(), view)
    } else {
        mask::masked_row(&device.address)
    };
    ListRow {
        Rec: rec.to_string(),
        L: rec.to_string(),
        ADDR: addr,
        ADDR_ASIS: asis,
        ADDR_VIEW: view,
        NAME: device.name.clone(),
        FLAG: if device.enabled { flag::YES } else { flag::NO }.to_owned(),
    }
}
