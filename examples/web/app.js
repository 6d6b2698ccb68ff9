// The wdgate self-service page: sign in, manage your two-factor devices, find and
// download documents, see where you are signed in and end those sessions, sign out.
//
// Plain JavaScript, no build step. It talks to the gateway in cookie mode: the session
// lives in an HttpOnly cookie the gateway sets at sign-in, so this script never keeps a
// token. The gateway is this page's own origin, or the one named by `?api=` when the
// page is served elsewhere (the gateway must then list this page's origin in
// browser.cors_origins). `?redact=false` starts with full addresses shown.
//
// Server text (device names, document descriptions) only ever reaches the page through
// textContent and attributes, never as markup. The Documents view follows the answers'
// `_links`: paging is the list's `next`/`prev`, a document's profile, versions and bytes
// are its `self`, `versions` and `content` links. Adding a device is three calls, each
// the link the answer before offered: send a code (`POST …/verifications`), verify it
// (its `verify` link), add the named device (the verified answer's `insert` link, no
// code). "Where you're signed in" ends a session by its `end` link and the others by
// the list's `end-others`.
"use strict";

const params = new URLSearchParams(window.location.search);
const API = apiBase(params.get("api"));
const $ = (id) => document.getElementById(id);

const state = {
  devices: [],
  cabinetsLoaded: false,
  page: null, // the last GET /documents answer
  // Bumped by each request of a kind and by sign-out (see `begin`): an answer that
  // arrives after a newer request, or after sign-out, is dropped instead of shown.
  generation: { cabinets: 0, results: 0, details: 0, sessions: 0 },
  showFull: params.get("redact") === "false",
  // Between "Send code" and "Add device": {verification_id, address, verify, insert},
  // `verify` and `insert` the hrefs the answers linked.
  pending: null,
  sessions: null, // the last GET /me/sessions answer
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
    this.title = problem && problem.detail ? problem.title : undefined;
    this.status = status;
    this.code = problem && problem.code;
    this.requestId = problem && problem.request_id;
    this.attemptsLeft = problem ? problem.attempts_left : undefined;
  }
}

/**
 * One request with the session cookie. `path` is a gateway path (`/me`, or an href
 * from `_links`); resolves to the Response, throwing an ApiError with the problem's
 * fields for anything but 2xx.
 */
async function send(method, path, { body, accept = "application/json" } = {}) {
  // Only the gateway's own paths: a link naming another origin is not followed.
  if (typeof path !== "string" || !path.startsWith("/") || path.startsWith("//")) {
    throw new ApiError(0, { title: "Refused link", detail: "The gateway named a link this page does not follow." });
  }
  const init = {
    method,
    credentials: "include",
    headers: { accept },
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
  if (!response.ok) {
    const type = response.headers.get("content-type") || "";
    const problem = type.includes("json") ? await response.json().catch(() => null) : null;
    throw new ApiError(response.status, problem);
  }
  return response;
}

/** One API call with the session cookie; resolves to the JSON body (null for 204). */
async function api(method, path, body) {
  const response = await send(method, path, { body });
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json().catch(() => null) : null;
}

/** The href of the link with relation `rel` in a resource's `_links`, if any. */
function linkOf(resource, rel) {
  const found = ((resource && resource._links) || []).find((l) => l.rel === rel);
  return found ? found.href : null;
}

// --- messages -------------------------------------------------------------------

function say(text) {
  $("error").hidden = true;
  $("status").textContent = text;
}

function fail(error) {
  $("status").textContent = "";
  $("error-title").textContent = error.title || "";
  $("error-title").hidden = !error.title;
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
  resetDocuments();
  resetSessions();
  selectTab("devices", false);
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

const ADD_STEPS = ["add-form", "verify-form", "name-form"];

/** Shows one step of the add flow (a form id of ADD_STEPS) and focuses its field. */
function addStep(form, field) {
  for (const step of ADD_STEPS) $(step).hidden = step !== form;
  if (field) $(field).focus();
}

/** Back to step 1, every field empty (the address kept when `address` is given). */
function resetAdd(address) {
  state.pending = null;
  for (const step of ADD_STEPS) $(step).reset();
  $("verify-sent").textContent = "";
  $("name-verified").textContent = "";
  if (address) $("add-address").value = address;
  addStep("add-form", null);
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
  if (!address) {
    return fail(new ApiError(0, { detail: "Enter a phone number or an email address." }));
  }
  run(event.submitter, async () => {
    const sent = await api("POST", "/me/2fa-devices/verifications", { address });
    const verify = linkOf(sent, "verify");
    if (!verify) throw new ApiError(0, { detail: "The gateway offered no way to enter the code." });
    state.pending = { verification_id: sent.verification_id, address, verify };
    $("verify-sent").textContent =
      `We sent a code to ${sent.sent_to}. Enter it within ${Math.round(sent.expires_in / 60)} minutes.`;
    addStep("verify-form", "verify-code");
    say(`Code sent to ${sent.sent_to}.`);
  });
});

$("verify-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const code = $("verify-code").value.trim();
  if (!code) return fail(new ApiError(0, { detail: "Enter the code you received." }));
  const pending = state.pending;
  run(event.submitter, async () => {
    let verified;
    try {
      verified = await api("POST", pending.verify, { code });
    } catch (error) {
      if (state.pending !== pending) return; // cancelled or signed out meanwhile
      // A wrong code with attempts left: try again. None left, spent, used, expired
      // (404): only a new code helps, so back to step 1 with the address kept.
      if (error.status === 404 || error.status === 409 || error.attemptsLeft === 0) {
        resetAdd(pending.address);
      } else {
        $("verify-code").select();
      }
      throw error;
    }
    if (state.pending !== pending) return;
    const insert = linkOf(verified, "insert");
    if (verified.state !== "verified" || !insert) {
      throw new ApiError(0, { detail: "The gateway did not confirm the code." });
    }
    pending.insert = insert;
    $("name-verified").textContent = verified.message;
    addStep("name-form", "add-name");
    say(verified.message);
  });
});

$("name-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("add-name").value.trim();
  if (!name) return fail(new ApiError(0, { detail: "Enter a name for the device." }));
  const pending = state.pending;
  run(event.submitter, async () => {
    try {
      // Step 3 alone: the verification is verified, so no code goes with it.
      await api("POST", pending.insert, { verification_id: pending.verification_id, name, enabled: true });
    } catch (error) {
      // The verification is gone (used, spent, expired): only a new code helps. Any
      // other refusal (a bad name, the address already a device) keeps step 3.
      const gone = ["verification_used", "verification_spent", "verification_invalid"];
      if (state.pending === pending && gone.includes(error.code)) resetAdd(pending.address);
      throw error;
    }
    resetAdd();
    await loadDevices();
    say(`Added ${name}.`);
  });
});

for (const cancel of document.querySelectorAll(".add-cancel")) {
  cancel.addEventListener("click", () => {
    resetAdd();
    $("add-address").focus();
    say("No device added.");
  });
}

// --- views: tabs ----------------------------------------------------------------

const TABS = ["devices", "documents", "sessions"];

/** Shows one view; `focus` moves the keyboard focus to its tab. */
function selectTab(name, focus) {
  for (const tab of TABS) {
    const selected = tab === name;
    const button = $(`tab-${tab}`);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $(`view-${tab}`).hidden = !selected;
    if (selected && focus) button.focus();
  }
  if (name === "documents" && !state.cabinetsLoaded) {
    run(null, loadCabinets);
  }
  if (name === "sessions" && !$("account").hidden) {
    run(null, loadSessions);
  }
}

for (const tab of TABS) {
  $(`tab-${tab}`).addEventListener("click", () => selectTab(tab, false));
  $(`tab-${tab}`).addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = TABS[(TABS.indexOf(tab) + step + TABS.length) % TABS.length];
    selectTab(next, true);
  });
}

// --- documents ------------------------------------------------------------------

const STATUS_TEXT = {
  available: "Available",
  checked_out_to_me: "Checked out to you",
  checked_out_to_other: "Checked out",
  read_only: "Read-only",
  unavailable: "Unavailable",
};

/** `2020-02-18T04:26:40Z` as `2020-02-18 04:26 UTC` (the same on every machine). */
function showTime(iso) {
  if (!iso) return "";
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]} UTC` : iso;
}

function statusText(doc) {
  return STATUS_TEXT[doc.status] || "Unknown";
}

function resetDocuments() {
  for (const kind of Object.keys(state.generation)) begin(kind); // sign-out: all stale
  state.cabinetsLoaded = false;
  state.page = null;
  $("search-form").reset();
  const picker = $("search-cabinet");
  picker.replaceChildren(picker.options[0]);
  $("results").hidden = true;
  $("results-body").replaceChildren();
  $("details").hidden = true;
  $("details-title").textContent = "";
  $("details-profile").replaceChildren();
  $("versions-body").replaceChildren();
}

/**
 * Starts a request of one kind (`cabinets`, `results`, `details`); the answer is
 * `stale()` once a newer request of that kind, or a sign-out, has started.
 */
function begin(kind) {
  const generation = ++state.generation[kind];
  return () => generation !== state.generation[kind];
}

/** Runs `work(stale)`; once stale, its answer was not shown and its failure is not news. */
async function latest(kind, work) {
  const stale = begin(kind);
  try {
    await work(stale);
  } catch (error) {
    if (!stale()) throw error;
  }
}

function loadCabinets() {
  return latest("cabinets", async (stale) => {
    const body = await api("GET", "/cabinets");
    if (stale()) return;
    const picker = $("search-cabinet");
    const chosen = picker.value;
    picker.replaceChildren(picker.options[0]);
    for (const cabinet of body.cabinets) {
      const option = document.createElement("option");
      option.value = String(cabinet.id);
      option.textContent = cabinet.name;
      picker.append(option);
    }
    picker.value = chosen;
    state.cabinetsLoaded = true;
  });
}

/** Fetches a page of results (a search, or a list's `next`/`prev` href) and shows it. */
function loadResults(href) {
  return latest("results", async (stale) => {
    $("results").setAttribute("aria-busy", "true");
    $("page-prev").disabled = true;
    $("page-next").disabled = true;
    try {
      const page = await api("GET", href);
      if (stale()) return;
      state.page = page;
      renderResults();
      const docs = page.documents.length;
      if (docs === 0) say("No documents match.");
      else {
        say(
          `Showing documents ${page.offset + 1}–${page.offset + docs} of ${page.total}.` +
            (page.restarted ? " The search was run again, so rows may have moved." : ""),
        );
      }
    } finally {
      if (!stale()) {
        $("results").removeAttribute("aria-busy");
        // After a failure the pager offers the last page's links again.
        $("page-prev").disabled = !linkOf(state.page, "prev");
        $("page-next").disabled = !linkOf(state.page, "next");
      }
    }
  });
}

function renderResults() {
  const page = state.page;
  const body = $("results-body");
  body.replaceChildren();
  for (const doc of page.documents) {
    const row = $("result-template").content.firstElementChild.cloneNode(true);
    row.dataset.documentId = doc.id;
    const open = row.querySelector(".doc-open");
    open.textContent = doc.description || doc.file_name || doc.doc_number;
    open.setAttribute("aria-label", `Open ${open.textContent} (${doc.doc_number})`);
    open.addEventListener("click", () => run(open, () => openDocument(linkOf(doc, "self"))));
    row.querySelector(".doc-number").textContent = doc.doc_number;
    row.querySelector(".doc-cabinet").textContent = (doc.cabinet && doc.cabinet.name) || "";
    const updated = row.querySelector(".doc-updated");
    updated.textContent = (doc.updated_at || "").slice(0, 10);
    if (doc.updated_at) {
      updated.dateTime = doc.updated_at;
      updated.title = showTime(doc.updated_at);
    }
    row.querySelector(".doc-size").textContent = doc.size_text || "";
    const badge = row.querySelector(".badge");
    badge.textContent = statusText(doc);
    const out = doc.status === "checked_out_to_me" || doc.status === "checked_out_to_other";
    badge.classList.toggle("out", out);
    if (out && doc.checked_out_by) badge.title = `Checked out by ${doc.checked_out_by}`;
    body.append(row);
  }
  const docs = page.documents.length;
  $("results-empty").hidden = docs > 0;
  $("results-table").hidden = docs === 0;
  $("results-range").textContent =
    docs === 0 ? "" : `${page.offset + 1}–${page.offset + docs} of ${page.total}`;
  $("page-prev").disabled = !linkOf(page, "prev");
  $("page-next").disabled = !linkOf(page, "next");
  $("results").hidden = false;
}

/** Opens a document's profile (its `self` href) and its versions in the details pane. */
function openDocument(href) {
  return latest("details", async (stale) => {
    const doc = await api("GET", href);
    if (stale()) return;
    const versionsHref = linkOf(doc, "versions");
    const versions = versionsHref ? (await api("GET", versionsHref)).versions : [];
    if (stale()) return;
    renderDetails(doc, versions);
    $("details").hidden = false;
    $("details-title").focus();
    say(`Opened ${doc.description || doc.doc_number}.`);
  });
}

function renderDetails(doc, versions) {
  const title = doc.description || doc.file_name || doc.doc_number;
  $("details-title").textContent = title;
  const current = versions.find((v) => v.current);
  const rows = [
    ["Number", doc.doc_number],
    ["File name", doc.file_name],
    ["Name", doc.name],
    ["Cabinet", doc.cabinet && doc.cabinet.name],
    ["Location", doc.location],
    ["Version", doc.version ?? (current ? current.n : null)],
    ["Status", statusText(doc)],
    ["Checked out by", doc.checked_out_by],
    ["Size", doc.size_text],
    ["Updated", showTime(doc.updated_at)],
    ["Created", doc.created_on],
    ["Last opened", doc.accessed_on],
    ["Last opened by", doc.last_accessed_by],
    ["Comments", doc.comments],
  ];
  for (const field of doc.fields || []) {
    const value = [field.code, field.description].filter(Boolean);
    rows.push([field.name || `Field ${field.number}`, [...new Set(value)].join(" · ")]);
  }
  const profile = $("details-profile");
  profile.replaceChildren();
  for (const [name, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dd.dataset.field = name;
    profile.append(dt, dd);
  }

  const download = $("details-download");
  const content = linkOf(doc, "content");
  download.textContent = "Download";
  download.setAttribute("aria-label", `Download ${title}`);
  download.hidden = !content;
  download.onclick = () => run(download, () => downloadFrom(content, doc.file_name));

  const list = $("versions-body");
  list.replaceChildren();
  for (const version of versions) {
    const row = $("version-template").content.firstElementChild.cloneNode(true);
    row.querySelector(".version-n").textContent = version.current
      ? `${version.n} (current)`
      : String(version.n);
    row.querySelector(".version-name").textContent = version.name || "";
    const updated = row.querySelector(".version-updated");
    updated.textContent = showTime(version.updated_at);
    if (version.updated_at) updated.dateTime = version.updated_at;
    row.querySelector(".version-size").textContent = version.size_text || "";
    const button = row.querySelector(".version-download");
    const href = linkOf(version, "content");
    button.setAttribute("aria-label", `Download version ${version.n}`);
    button.hidden = !href;
    button.addEventListener("click", () => run(button, () => downloadFrom(href, version.name)));
    list.append(row);
  }
  $("versions-empty").hidden = versions.length > 0;
}

/**
 * The file name a Content-Disposition header gives (RFC 6266): `filename*` (RFC 8187,
 * UTF-8 percent-encoded) when present and readable, else `filename`.
 */
function dispositionName(header) {
  if (!header) return null;
  const extended = /filename\*\s*=\s*([^;]+)/i.exec(header);
  if (extended) {
    const m = /^\s*([\w!#$%&+^`{}~-]+)'[^']*'(.*?)\s*$/.exec(extended[1]);
    if (m && m[1].toLowerCase() === "utf-8") {
      try {
        return decodeURIComponent(m[2]);
      } catch {
        // a malformed escape: fall back to the plain name
      }
    }
  }
  const plain = /filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]+)/i.exec(header);
  if (!plain) return null;
  const value = plain[1].trim();
  return value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, "$1") : value;
}

/** A name that is safe to offer as a download: no path, no control characters. */
function safeName(name, fallback) {
  const base = String(name || "").split(/[/\\]/).pop().replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return base && base !== "." && base !== ".." ? base : fallback;
}

/** Downloads a `content` href with the session and saves it under the server's name. */
async function downloadFrom(href, fallbackName) {
  say("Downloading…");
  const response = await send("GET", href, { accept: "*/*" });
  const name = safeName(
    dispositionName(response.headers.get("content-disposition")),
    safeName(fallbackName, "download"),
  );
  let blob;
  try {
    blob = await response.blob();
  } catch {
    // The connection broke mid-file (the gateway aborts rather than end a short body):
    // nothing is saved, so no truncated file can pass for the document.
    throw new ApiError(0, {
      title: "Download failed",
      detail: `The connection broke before all of ${name} arrived; nothing was saved.`,
    });
  }
  const url = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = name;
  anchor.hidden = true;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  // The browser has taken the bytes once the click's download started.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  say(`Downloaded ${name} (${blob.size.toLocaleString("en-US")} bytes).`);
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = new URLSearchParams();
  const q = $("search-q").value.trim();
  if (q) query.set("q", q);
  if ($("search-cabinet").value) query.set("cabinet", $("search-cabinet").value);
  query.set("limit", $("search-limit").value);
  begin("details"); // an open still under way is not shown
  $("details").hidden = true;
  run(event.submitter, () => loadResults(`/documents?${query}`));
});

// The pager's buttons follow the links of the page on show, so `run` leaves them be.
for (const rel of ["next", "prev"]) {
  $(`page-${rel}`).addEventListener("click", () => {
    const href = linkOf(state.page, rel);
    if (href) run(null, () => loadResults(href));
  });
}

// --- where you're signed in -------------------------------------------------------

/** Unix seconds as this browser's local date and time, e.g. `Dec 1, 2026, 11:40 AM`. */
function localTime(seconds) {
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function resetSessions() {
  state.sessions = null;
  $("sessions").replaceChildren();
  $("sessions").removeAttribute("aria-busy"); // a load under way is stale now
  $("sessions-alone").hidden = true;
  $("end-others").hidden = true;
}

/**
 * Fetches `GET /me/sessions` and shows it (this session first, then newest first).
 * Resolves to whether it was shown: false once overtaken by a newer load or sign-out,
 * so the caller announces nothing.
 */
async function loadSessions() {
  let shown = false;
  await latest("sessions", async (stale) => {
    $("sessions").setAttribute("aria-busy", "true");
    try {
      const body = await api("GET", "/me/sessions");
      if (stale()) return;
      state.sessions = body;
      renderSessions();
      shown = true;
    } finally {
      if (!stale()) $("sessions").removeAttribute("aria-busy");
    }
  });
  return shown;
}

// The first match names the browser (order matters: Edge and Opera also say Chrome,
// Chrome also says Safari) and the system; the full header is shown beneath.
const BROWSERS = [
  [/\bEdg(?:e|A|iOS)?\//, "Edge"],
  [/\bOPR\//, "Opera"],
  [/\b(?:Firefox|FxiOS)\//, "Firefox"],
  [/\b(?:HeadlessChrome|Chrome|Chromium|CriOS)\//, "Chrome"],
  [/\bSafari\//, "Safari"],
  [/^curl\//, "curl"],
];
const SYSTEMS = [
  [/\bAndroid\b/, "Android"],
  [/\b(?:iPhone|iPad|iPod)\b/, "iOS"],
  [/\bWindows\b/, "Windows"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b/, "Linux"],
];

/** A person's name for `user_agent`: "Firefox on Linux", or the header itself. */
function deviceText(session) {
  const ua = session.user_agent;
  if (!ua) return "Unknown browser or program";
  const browser = BROWSERS.find(([re]) => re.test(ua));
  const system = SYSTEMS.find(([re]) => re.test(ua));
  if (browser && system) return `${browser[1]} on ${system[1]}`;
  if (browser) return browser[1];
  return ua.length > 60 ? `${ua.slice(0, 59)}…` : ua;
}

function renderSessions() {
  const sessions = [...state.sessions.sessions].sort(
    (a, b) => Number(b.current) - Number(a.current) || b.created_at - a.created_at,
  );
  const list = $("sessions");
  list.replaceChildren();
  for (const session of sessions) {
    const item = $("session-template").content.firstElementChild.cloneNode(true);
    item.dataset.sessionId = session.id;
    const device = deviceText(session);
    const where = session.client_ip || "an unknown address";
    const since = localTime(session.created_at);
    // Two sessions may share a browser and an address: the sign-in time tells them apart.
    const label = `${device} from ${where}, signed in ${since}`;
    item.setAttribute("aria-label", session.current ? `This device: ${label}` : label);
    item.classList.toggle("current", session.current);
    item.querySelector(".session-device").textContent = device;
    const agent = item.querySelector(".session-agent");
    agent.textContent = session.user_agent || "";
    agent.hidden = !session.user_agent;
    item.querySelector(".session-ip").textContent = where;
    for (const [cls, seconds] of [
      [".session-created", session.created_at],
      [".session-seen", session.last_seen_at],
    ]) {
      const time = item.querySelector(cls);
      time.textContent = localTime(seconds);
      time.dateTime = new Date(seconds * 1000).toISOString();
    }
    item.querySelector(".badge.current").hidden = !session.current;
    const href = linkOf(session, "end");
    const end = item.querySelector(".session-end");
    if (!session.current && href) {
      end.hidden = false;
      end.setAttribute("aria-label", `End the session of ${label}`);
      end.addEventListener("click", () =>
        run(end, async () => {
          try {
            await api("DELETE", href);
          } catch (error) {
            // Already ended (elsewhere, or it expired): the list is out of date.
            if (error.status === 404 && (await loadSessions().catch(() => false))) {
              $("sessions-title").focus();
            }
            throw error;
          }
          if (!(await loadSessions())) return;
          $("sessions-title").focus(); // the button is gone with its row
          say(`Ended the session of ${device} from ${where}.`);
        }),
      );
    }
    list.append(item);
  }
  const others = sessions.filter((s) => !s.current).length;
  $("sessions-alone").hidden = others > 0;
  $("end-others").hidden = others === 0 || !linkOf(state.sessions, "end-others");
}

$("sessions-refresh").addEventListener("click", (event) =>
  run(event.currentTarget, async () => {
    if (await loadSessions()) say("Sessions refreshed.");
  }),
);

$("end-others").addEventListener("click", (event) => {
  const href = linkOf(state.sessions, "end-others");
  if (!href) return;
  run(event.currentTarget, async () => {
    await api("DELETE", href);
    if (!(await loadSessions())) return;
    $("sessions-title").focus(); // the button is hidden now
    say("Signed out everywhere else.");
  });
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
