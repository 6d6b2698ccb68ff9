// The wdgate self-service page: sign in, manage your two-factor devices, sign out.
//
// Plain JavaScript, no build step. It talks to the gateway in cookie mode: the session
// lives in an HttpOnly cookie the gateway sets at sign-in, so this script never keeps a
// token. The gateway is this page's own origin, or the one named by `?api=` when the
// page is served elsewhere (the gateway must then list this page's origin in
// browser.cors_origins). `?redact=false` starts with full addresses shown.
"use strict";

const params = new URLSearchParams(window.location.search);
const API = apiBase(params.get("api"));
const $ = (id) => document.getElementById(id);

const state = {
  devices: [],
  showFull: params.get("redact") === "false",
  pending: null, // {verification_id, address, name} between "Send code" and "Add device"
};

/** `?api=` as an origin (`http://127.0.0.1:8080`), or "" for this page's origin. */
function apiBase(raw) {
  if (!raw) return "";
  try {
    const url = new URL(raw);
    if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
  } catch {
    // fall through
  }
  return "";
}

/** A failed call: the problem+json body's fields, or a network failure. */
class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `The gateway answered ${status}.`);
    this.status = status;
    this.code = problem && problem.code;
    this.requestId = problem && problem.request_id;
  }
}

/** One API call with the session cookie; resolves to the JSON body (null for 204). */
async function api(method, path, body) {
  const init = {
    method,
    credentials: "include",
    headers: { accept: "application/json" },
    cache: "no-store",
  };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, {
      title: "Network error",
      detail: `Cannot reach the gateway at ${API || window.location.origin}.`,
    });
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- messages -------------------------------------------------------------------

function say(text) {
  $("error").hidden = true;
  $("status").textContent = text;
}

function fail(error) {
  $("status").textContent = "";
  $("error-text").textContent = error.message;
  const meta = [];
  if (error.code) meta.push(`code ${error.code}`);
  if (error.requestId) meta.push(`request ${error.requestId}`);
  $("error-meta").textContent = meta.join(" · ");
  $("error-meta").hidden = meta.length === 0;
  $("error").hidden = false;
}

/** Runs an action with its button disabled; a 401 means the session is gone. */
async function run(button, action) {
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    if (error.status === 401 && !$("account").hidden) {
      showLogin();
    }
    fail(error);
  } finally {
    if (button) button.disabled = false;
  }
}

// --- views ----------------------------------------------------------------------

function showLogin() {
  state.devices = [];
  state.pending = null;
  $("account").hidden = true;
  $("login").hidden = false;
  $("login-form").reset();
  $("username").focus();
}

function showAccount(me) {
  $("who-name").textContent = me.name || me.username;
  $("who-username").textContent = me.username;
  $("who-firm").textContent = [me.firm, me.email].filter(Boolean).join(" · ");
  $("login").hidden = true;
  $("account").hidden = false;
  resetAdd();
}

function renderDevices() {
  const list = $("devices");
  list.replaceChildren();
  $("devices-empty").hidden = state.devices.length > 0;
  for (const device of state.devices) {
    const item = $("device-template").content.firstElementChild.cloneNode(true);
    item.dataset.deviceId = device.id;
    item.setAttribute("aria-label", device.name);
    item.querySelector(".device-name").textContent = device.name;
    item.querySelector(".device-address").textContent =
      `${device.type === "email" ? "Email" : "Phone"} ${device.display}`;
    const badge = item.querySelector(".badge");
    badge.textContent = device.enabled ? "Enabled" : "Disabled";
    badge.classList.toggle("off", !device.enabled);
    item.classList.toggle("disabled", !device.enabled);

    const rename = item.querySelector('[data-action="rename"]');
    const toggle = item.querySelector('[data-action="toggle"]');
    const remove = item.querySelector('[data-action="delete"]');
    rename.setAttribute("aria-label", `Rename ${device.name}`);
    toggle.textContent = device.enabled ? "Disable" : "Enable";
    toggle.setAttribute("aria-label", `${device.enabled ? "Disable" : "Enable"} ${device.name}`);
    remove.setAttribute("aria-label", `Delete ${device.name}`);

    const renameForm = item.querySelector(".device-rename");
    const nameInput = renameForm.querySelector("input");
    renameForm.querySelector(".label").textContent = `New name for ${device.name}`;
    nameInput.value = device.name;
    const confirm = item.querySelector(".device-confirm");
    confirm.querySelector(".confirm-text").textContent =
      `Delete ${device.name}? Codes will no longer be sent there.`;

    rename.addEventListener("click", () => {
      confirm.hidden = true;
      renameForm.hidden = false;
      nameInput.select();
      nameInput.focus();
    });
    item.querySelector('[data-action="rename-cancel"]').addEventListener("click", () => {
      renameForm.hidden = true;
      rename.focus();
    });
    renameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const name = nameInput.value.trim();
      if (!name) return fail(new ApiError(0, { detail: "Enter a name." }));
      run(renameForm.querySelector('[type="submit"]'), async () => {
        await api("PATCH", `/me/2fa-devices/${encodeURIComponent(device.id)}`, { name });
        await loadDevices();
        say(`Renamed ${device.name} to ${name}.`);
      });
    });
    toggle.addEventListener("click", () =>
      run(toggle, async () => {
        const enabled = !device.enabled;
        await api("PATCH", `/me/2fa-devices/${encodeURIComponent(device.id)}`, { enabled });
        await loadDevices();
        say(`${device.name} is ${enabled ? "enabled" : "disabled"}.`);
      }),
    );
    remove.addEventListener("click", () => {
      renameForm.hidden = true;
      confirm.hidden = false;
      confirm.querySelector('[data-action="delete-confirm"]').focus();
    });
    item.querySelector('[data-action="delete-cancel"]').addEventListener("click", () => {
      confirm.hidden = true;
      remove.focus();
    });
    const yes = item.querySelector('[data-action="delete-confirm"]');
    yes.addEventListener("click", () =>
      run(yes, async () => {
        await api("DELETE", `/me/2fa-devices/${encodeURIComponent(device.id)}`);
        await loadDevices();
        say(`Deleted ${device.name}.`);
      }),
    );
    list.append(item);
  }
}

async function loadDevices() {
  const query = state.showFull ? "?redact=false" : "";
  const body = await api("GET", `/me/2fa-devices${query}`);
  state.devices = body.devices;
  renderDevices();
}

function resetAdd() {
  state.pending = null;
  $("add-form").reset();
  $("verify-form").reset();
  $("add-form").hidden = false;
  $("verify-form").hidden = true;
}

// --- actions --------------------------------------------------------------------

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    return fail(new ApiError(0, { detail: "Enter your user name and password." }));
  }
  run(event.submitter, async () => {
    // The session is the HttpOnly cookie this sets; a login from a page (it carries an
    // Origin) gets no bearer token in the answer, so no script can read one.
    await api("POST", "/sessions", { username, password });
    let me;
    try {
      me = await api("GET", "/me");
    } catch (error) {
      if (error.status === 401) {
        throw new ApiError(401, {
          detail:
            "Signed in, but the browser sent no session cookie back: the gateway needs " +
            "browser.cookie_enabled (and, over plain http, browser.cookie_secure = false " +
            "unless this is localhost).",
        });
      }
      throw error;
    }
    showAccount(me);
    await loadDevices();
    say(`Signed in as ${me.name || me.username}.`);
  });
});

$("logout").addEventListener("click", (event) =>
  run(event.currentTarget, async () => {
    await api("DELETE", "/sessions/current");
    showLogin();
    say("Signed out.");
  }),
);

$("show-full").addEventListener("change", (event) => {
  state.showFull = event.currentTarget.checked;
  const url = new URL(window.location.href);
  if (state.showFull) url.searchParams.set("redact", "false");
  else url.searchParams.delete("redact");
  window.history.replaceState(null, "", url);
  run(null, async () => {
    await loadDevices();
    say(state.showFull ? "Showing full addresses." : "Addresses are masked.");
  });
});

$("add-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const address = $("add-address").value.trim();
  const name = $("add-name").value.trim();
  if (!address || !name) {
    return fail(new ApiError(0, { detail: "Enter an address and a name for the device." }));
  }
  run(event.submitter, async () => {
    const sent = await api("POST", "/me/2fa-devices/verifications", { address });
    state.pending = { verification_id: sent.verification_id, address, name };
    $("verify-sent").textContent =
      `We sent a code to ${sent.sent_to}. Enter it within ${Math.round(sent.expires_in / 60)} minutes.`;
    $("add-form").hidden = true;
    $("verify-form").hidden = false;
    $("verify-code").focus();
    say(`Code sent to ${sent.sent_to}.`);
  });
});

$("verify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = $("verify-code").value.trim();
  if (!code) return fail(new ApiError(0, { detail: "Enter the code you received." }));
  const pending = state.pending;
  run(event.submitter, async () => {
    await api("POST", "/me/2fa-devices", { ...pending, enabled: true, code });
    resetAdd();
    await loadDevices();
    say(`Added ${pending.name}.`);
  });
});

$("verify-cancel").addEventListener("click", () => {
  resetAdd();
  say("No device added.");
});

// --- start ----------------------------------------------------------------------

async function start() {
  $("api-base").textContent = API || window.location.origin;
  $("show-full").checked = state.showFull;
  try {
    const me = await api("GET", "/me");
    showAccount(me);
    await loadDevices();
  } catch (error) {
    showLogin();
    if (error.status !== 401) fail(error);
  }
}

start();
