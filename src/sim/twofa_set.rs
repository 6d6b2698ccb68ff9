//! 2FSET: send an access code, check it, then add, edit or delete a device.
//!
//! The step is chosen by the fields present, in this order: `wd_2FA_SendToAddr` sends
//! a code; `wd_2FA_WORLDOXREF`/`wd_2FA_ACCESSCODE` check one; `wd_List_ID` or
//! `wd_List_RecNum` edit or delete a row; `wd_2FA_RecAddress` alone adds a device.

use super::dispatch::Call;
use super::envelope::{SetBody, SetData, WdError, to_body};
use super::state::{Device, State};
use crate::address::Address;
use crate::address::mask;
use crate::upstream::fields::{AC_SENT, REC_DELETE, REC_DISABLED, REC_ENABLED, msg, param, rc};

/// 2FSET. Every answer, success or failure, has the same envelope; `List_ID` echoes
/// the one sent and `RMT` is the caller's IP address.
pub(crate) fn set(state: &mut State, call: &Call<'_>) -> Vec<u8> {
    let result = state
        .session_user(call.params.get(param::SID), call.now)
        .and_then(|user| step(state, call, user));
    match result {
        Ok(data) => answer(call, None, data),
        Err(error) => answer(call, Some(&error), SetData::default()),
    }
}

/// 2FSET's failure answer; also the simulator's answer to an unknown command.
pub(crate) fn failure(call: &Call<'_>, error: &WdError) -> Vec<u8> {
    answer(call, Some(error), SetData::default())
}

fn answer(call: &Call<'_>, error: Option<&WdError>, data: SetData) -> Vec<u8> {
    let list_id = call.params.get(param::LIST_ID).unwrap_or_default();
    let data = SetData {
        RMT: call.rmt.to_owned(),
        ..data
    };
    to_body(SetBody::new(list_id, error, data))
}

fn step(state: &mut State, call: &Call<'_>, user: usize) -> Result<SetData, WdError> {
    let p = call.params;
    if let Some(to) = p.get(param::SEND_TO_ADDR) {
        send_code(state, call, user, to)
    } else if p.contains(param::WORLDOX_REF) || p.contains(param::ACCESS_CODE) {
        verify(state, call, user)
    } else if p.contains(param::LIST_ID) || p.contains(param::LIST_REC_NUM) {
        edit_or_delete(state, call, user)
    } else if let Some(address) = p.get(param::REC_ADDRESS) {
        add(state, call, user, address)
    } else {
        Err(address_undefined())
    }
}

/// Step 1: a `Ref` and a code "sent" to the address.
fn send_code(
    state: &mut State,
    call: &Call<'_>,
    user: usize,
    to: &str,
) -> Result<SetData, WdError> {
    let address = Address::parse(to).ok_or_else(address_undefined)?;
    let object = call.params.get(param::SEND_OBJECT).unwrap_or_default();
    let action = call.params.get(param::SEND_ACTION).unwrap_or_default();
    let reference = state.send_code(user, &address, object, action, call.now);
    Ok(SetData {
        Ref: reference,
        AC: AC_SENT.to_owned(),
        Send: mask::masked(&address),
        ..SetData::default()
    })
}

/// Step 2: the code for a `Ref`; right or wrong, the `Ref` is used up.
fn verify(state: &mut State, call: &Call<'_>, user: usize) -> Result<SetData, WdError> {
    let reference = call.params.get(param::WORLDOX_REF).unwrap_or_default();
    let code = call.params.get(param::ACCESS_CODE).unwrap_or_default();
    let address = state.check_code(user, reference, code, call.now)?;
    Ok(SetData {
        Ref: reference.to_owned(),
        Send: mask::masked(&address),
        ..SetData::default()
    })
}

/// Step 3: a new device, for an address verified by steps 1 and 2.
fn add(state: &mut State, call: &Call<'_>, user: usize, address: &str) -> Result<SetData, WdError> {
    let address = Address::parse(address).ok_or_else(address_undefined)?;
    if !state.is_verified(user, &address, call.now) {
        return Err(not_verified());
    }
    let devices = &state.users[user].devices;
    if devices.iter().any(|d| d.address.key() == address.key()) {
        return Err(duplicate());
    }
    state.consume_verified(user, &address);
    let device = Device {
        name: description(call).unwrap_or_default().to_owned(),
        enabled: enabled(call).unwrap_or(true),
        address,
    };
    state.users[user].devices.push(device);
    state.bump(user);
    Ok(SetData::default())
}

/// Edit or delete row `wd_List_RecNum` of listing `wd_List_ID`.
fn edit_or_delete(state: &mut State, call: &Call<'_>, user: usize) -> Result<SetData, WdError> {
    let p = call.params;
    let list_id = p.get(param::LIST_ID).unwrap_or_default().trim();
    let index = state.resolve_row(user, list_id, p.get(param::LIST_REC_NUM))?;
    let deleting = p
        .get(param::REC_ENABLED)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(REC_DELETE));
    if deleting {
        state.users[user].devices.remove(index);
        state.bump(user);
        return Ok(SetData::default());
    }
    let new_address = match p.get(param::REC_ADDRESS).map(str::trim) {
        None | Some("") => None,
        Some(given) => {
            let address = Address::parse(given).ok_or_else(address_undefined)?;
            let devices = &state.users[user].devices;
            if address.key() == devices[index].address.key() {
                None
            } else if !state.is_verified(user, &address, call.now) {
                return Err(not_verified());
            } else if devices.iter().any(|d| d.address.key() == address.key()) {
                return Err(duplicate());
            } else {
                Some(address)
            }
        }
    };
    if let Some(address) = &new_address {
        state.consume_verified(user, address);
    }
    let name = description(call);
    let enabled = enabled(call);
    let device = &mut state.users[user].devices[index];
    if let Some(address) = new_address {
        device.address = address;
    }
    if let Some(name) = name {
        device.name = name.to_owned();
    }
    if let Some(enabled) = enabled {
        device.enabled = enabled;
    }
    state.bump(user);
    Ok(SetData::default())
}

/// The description, under either spelling the reference uses.
fn description<'a>(call: &Call<'a>) -> Option<&'a str> {
    call.params
        .get(param::REC_CONTACT)
        .or_else(|| call.params.get(param::REC_CONTRACT))
}

/// `wd_2FA_RecEnabled`: `1` or `0`; anything else leaves the flag as it is.
fn enabled(call: &Call<'_>) -> Option<bool> {
    match call.params.get(param::REC_ENABLED).map(str::trim) {
        Some(REC_ENABLED) => Some(true),
        Some(REC_DISABLED) => Some(false),
        _ => None,
    }
}

fn address_undefined() -> WdError {
    WdError::new(rc::TWO_FA_ADDRESS_UNDEFINED, msg::TWO_FA_ADDRESS_UNDEFINED)
}

fn not_verified() -> WdError {
    WdError::new(rc::TWO_FA_NOT_VERIFIED, msg::TWO_FA_NOT_VERIFIED)
}

fn duplicate() -> WdError {
    WdError::new(rc::TWO_FA_ADDRESS_DUPLICATE, msg::TWO_FA_ADDRESS_DUPLICATE)
}
