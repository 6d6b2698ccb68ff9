// The self-service page (examples/web) in a real browser, against a demo wdgate.
//
//   cargo build && (cd examples/web/test && npm ci && node --test)
//
// Each test starts `wdgate serve --listen 127.0.0.1:0` in demo mode (its built-in
// simulator) with cookie mode on, opens the page in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core), and walks the whole flow: a wrong
// password, sign in, the two seeded devices, add one with the code read from the
// simulator's outbox, show full addresses, rename, disable, delete, sign out. Twice:
//
// - cross-origin: the page comes from a small static server on another port and calls
//   the gateway with `?api=`; the gateway lists that origin in browser.cors_origins, so
//   this proves CORS with credentials, the cookie and the CSRF origin check;
// - same-origin: the page comes from the gateway itself (`wdgate serve --ui`).
//
// A third test checks that the gateway's own copy of the page, whatever `?api=` names,
// sends nothing to another origin (its Content-Security-Policy blocks it).
//
// The Documents view has a walk of its own, in the same two modes: a refused query
// shows the problem's title and detail; a search five at a time pages forward twice and
// back once by the answers' `next`/`prev` links (each request is checked to be the link
// of the page before), every page matching what the API gives a bearer client, the
// last one after every Worldox list went stale (the page says the search ran again); the
// seeds whose descriptions hold `<`, `&`, quotes, a backslash and non-ASCII render as
// text; a checked-out document shows who has it; the three-version document 00014410
// shows its versions, and the document and its version 1 download with the name from
// Content-Disposition and exactly the API's bytes, as does the non-ASCII-named résumé;
// a file copy that vanished upstream shows the gateway's problem, a connection reset
// mid-file saves nothing. A last test holds answers back (playwright's page.route): an
// open overtaken by another open, or by sign-out, shows nothing when it lands.
//
// Environment: WDGATE_BIN (default target/debug/wdgate), CHROMIUM_BIN (default
// /usr/bin/chromium), SCREENSHOT_DIR (default ./screenshots).
//
// The cookie keeps its `Secure` attribute (the gateway's default): Chromium treats
// http://127.0.0.1 as a secure context and accepts and sends `Secure` cookies there.
// The test asserts the attributes the browser stored.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const WEB = resolve(HERE, "..");
const REPO = resolve(WEB, "..", "..");
const WDGATE = resolve(REPO, process.env.WDGATE_BIN || "target/debug/wdgate");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const SHOTS = resolve(HERE, process.env.SCREENSHOT_DIR || "screenshots");

/** How long one wait (a page condition, the gateway's start) may take. */
const WAIT_MS = 20_000;

/** Gateways still running; killed if the runner exits early. */
const children = new Set();
process.on("exit", () => children.forEach((child) => child.kill("SIGKILL")));

// --- processes -------------------------------------------------------------------

/**
 * Starts `wdgate serve` in demo mode and resolves once stdout's first line names the
 * address and stderr's DEMO MODE line names the simulator.
 */
async function startGateway({ args = [], env = {} } = {}) {
  const cleanEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("WDGATE_") && k !== "RUST_LOG"),
  );
  const cwd = mkdtempSync(join(tmpdir(), "wdgate-web-")); // no config file picked up
  const child = spawn(WDGATE, ["serve", "--listen", "127.0.0.1:0", ...args], {
    cwd,
    env: { ...cleanEnv, WDGATE_LOG_FORMAT: "pretty", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const log = [];
  const exited = once(child, "exit").then(([code, signal]) => {
    throw new Error(`wdgate exited (${code ?? signal}) before it was ready:\n${log.join("\n")}`);
  });
  const address = new Promise((resolveAddress) => {
    createInterface({ input: child.stdout }).once("line", (line) => {
      resolveAddress(line.replace(/^listening on /, ""));
    });
  });
  const simulator = new Promise((resolveSim) => {
    createInterface({ input: child.stderr }).on("line", (line) => {
      log.push(line);
      const m = line.includes("DEMO MODE") && line.match(/simulator=(\S+)/);
      if (m) resolveSim(m[1]);
    });
  });
  const timeout = new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`wdgate not ready in ${WAIT_MS} ms:\n${log.join("\n")}`)), WAIT_MS).unref();
  });
  try {
    const [addr, sim] = await Promise.race([Promise.all([address, simulator]), exited, timeout]);
    assert.match(addr, /^127\.0\.0\.1:\d+$/, "stdout's first line names the address");
    exited.catch(() => {}); // the exit at the end of the test is expected
    return {
      url: `http://${addr}`,
      sim: `http://${sim}`,
      log,
      async stop() {
        if (child.exitCode === null) {
          child.kill("SIGTERM");
          await once(child, "exit");
        }
        rmSync(cwd, { recursive: true, force: true });
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(cwd, { recursive: true, force: true });
    throw error;
  }
}

/** The page's three files from another origin: a minimal static server. */
async function startStaticServer() {
  const types = { "index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css" };
  const server = createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const name = path === "/" ? "index.html" : path.slice(1);
    if (req.method !== "GET" || !Object.hasOwn(types, name)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": `${types[name]}; charset=utf-8`, "cache-control": "no-store" });
    res.end(readFileSync(join(WEB, name)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () => new Promise((done) => server.close(done)),
  };
}

// --- the flow --------------------------------------------------------------------

/** The access code the simulator "sent" to `address` last. */
async function codeFromOutbox(sim, address) {
  const res = await fetch(`${sim}/_sim/outbox?to=${encodeURIComponent(address)}`);
  assert.equal(res.status, 200);
  const sent = await res.json();
  assert.ok(sent.length > 0, `no code in the outbox for ${address}`);
  return sent.at(-1).code;
}

/** Waits until the status line says `text`. */
async function announced(page, text) {
  await page.getByRole("status").filter({ hasText: text }).waitFor();
}

/** The device rows, by accessible name. */
function device(page, name) {
  return page.getByRole("listitem", { name, exact: true });
}

/** A device row's visible text, whitespace collapsed. */
async function rowText(page, name) {
  return (await device(page, name).innerText()).replace(/\s+/g, " ").trim();
}

async function deviceNames(page) {
  return page.locator("#devices > li .device-name").allTextContents();
}

/**
 * Walks the page through the whole flow. `pageUrl` is where the page is served;
 * `gateway` and `sim` are the gateway's and simulator's base URLs.
 */
async function walk(browser, { pageUrl, gateway, sim, screenshot, t }) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  const requested = [];
  const refused = [];
  page.on("console", (msg) => {
    // A refused call is also logged as "Failed to load resource"; those are checked
    // one by one below.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("request", (req) => requested.push(req.url()));
  page.on("response", (res) => {
    if (res.status() >= 400) {
      refused.push(`${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`);
    }
  });
  try {
    await page.goto(pageUrl);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.locator("#api-base").textContent(), gateway);

    // A wrong password: the problem's detail is shown.
    await page.getByLabel("User name").fill("demo");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong username or password." }).waitFor();
    assert.match(await page.getByRole("alert").textContent(), /code invalid_credentials/);

    // Sign in: the session is an HttpOnly cookie the page's script cannot read.
    await page.getByLabel("Password").fill("demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await announced(page, "Signed in as Demo User.");
    assert.equal(await page.getByRole("alert").isVisible(), false, "the error is cleared");
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email"]);
    assert.match(await rowText(page, "Work cell"), /\(\*\*\*\) \*\*\*-\*\*21/);
    const [cookie] = (await context.cookies(gateway)).filter((c) => c.name === "wdgate_session");
    assert.ok(cookie, "the gateway's session cookie is stored");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.ok(!(await page.evaluate(() => document.cookie)).includes("wdgate_session"));

    // Add a device: a code to the address, read from the simulator's outbox.
    await page.getByLabel("Phone number or email address").fill("(212) 555-0147");
    await page.getByLabel("Name", { exact: true }).fill("Desk phone");
    await page.getByRole("button", { name: "Send code" }).click();
    await announced(page, "Code sent to (***) ***-**47.");
    const code = await codeFromOutbox(sim, "+12125550147");
    await page.getByLabel("Code").fill(code);
    await page.getByRole("button", { name: "Add device" }).click();
    await announced(page, "Added Desk phone.");
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email", "Desk phone"]);
    assert.match(await rowText(page, "Desk phone"), /Phone \(\*\*\*\) \*\*\*-\*\*47.*Enabled/);

    // Full addresses (?redact=false).
    await page.getByLabel("Show full addresses").check();
    await announced(page, "Showing full addresses.");
    assert.match(await rowText(page, "Desk phone"), /\(212\) 555-0147/);
    assert.match(page.url(), /[?&]redact=false/);

    // Rename.
    await page.getByRole("button", { name: "Rename Desk phone" }).click();
    await page.getByLabel("New name for Desk phone").fill("Old desk phone");
    await device(page, "Desk phone").getByRole("button", { name: "Save" }).click();
    await announced(page, "Renamed Desk phone to Old desk phone.");
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email", "Old desk phone"]);

    // Disable.
    await page.getByRole("button", { name: "Disable Old desk phone" }).click();
    await announced(page, "Old desk phone is disabled.");
    assert.match(await rowText(page, "Old desk phone"), /Disabled/);
    await page.getByRole("button", { name: "Enable Old desk phone" }).waitFor();
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    t.diagnostic(`screenshot: ${screenshot}`);

    // Delete, after the inline confirmation.
    await page.getByRole("button", { name: "Delete Old desk phone" }).click();
    await page.getByRole("button", { name: "Yes, delete" }).click();
    await announced(page, "Deleted Old desk phone.");
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email"]);

    // Sign out: the login form is back, and the session is over for the browser and
    // for anyone holding the old cookie.
    await page.getByRole("button", { name: "Sign out" }).click();
    await announced(page, "Signed out.");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.locator("#account").isVisible(), false);
    const meStatus = await page.evaluate(
      async (base) => (await fetch(`${base}/me`, { credentials: "include" })).status,
      gateway,
    );
    assert.equal(meStatus, 401, "GET /me from the browser after sign-out");
    const replay = await fetch(`${gateway}/me`, { headers: { cookie: `wdgate_session=${cookie.value}` } });
    assert.equal(replay.status, 401, "GET /me with the old cookie after sign-out");

    assert.deepEqual(problems, [], "no console errors, CSP violations or page errors");
    assert.deepEqual(
      refused,
      ["GET /me 401", "POST /sessions 401", "GET /me 401"],
      "the only refused calls: not signed in yet, the wrong password, after sign-out",
    );
    assert.ok(!requested.some((u) => u.includes("/_sim/")), "the page never calls the simulator");
  } finally {
    await context.close();
  }
}

// --- the documents walk --------------------------------------------------------

/** A bearer-token client of the same gateway: what the API itself answers. */
async function apiClient(gateway) {
  const login = await fetch(`${gateway}/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "demo", password: "demo" }),
  });
  assert.equal(login.status, 201);
  const { token } = await login.json();
  const get = (path) => fetch(`${gateway}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return {
    async json(path) {
      const res = await get(path);
      assert.equal(res.status, 200, `GET ${path}`);
      return res.json();
    },
    async problem(path) {
      const res = await get(path);
      assert.ok(res.status >= 400, `GET ${path} answered ${res.status}`);
      return { status: res.status, ...(await res.json()) };
    },
    async bytes(path) {
      const res = await get(path);
      assert.equal(res.status, 200, `GET ${path}`);
      return { disposition: res.headers.get("content-disposition"), body: Buffer.from(await res.arrayBuffer()) };
    },
    async logout() {
      await fetch(`${gateway}/sessions/current`, { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    },
  };
}

/** The href of `rel` in `_links`. */
function href(resource, rel) {
  const link = resource._links.find((l) => l.rel === rel);
  assert.ok(link, `no ${rel} link in ${JSON.stringify(resource._links)}`);
  return link.href;
}

/** The descriptions in the result table, in order. */
async function resultDescriptions(page) {
  return page.locator("#results-body .doc-open").allTextContents();
}

/** A result row, by the document number it shows. */
function resultRow(page, docNumber) {
  return page.locator("#results-body tr").filter({ has: page.locator(".doc-number", { hasText: docNumber }) });
}

/** The profile value shown for `name` in the details pane. */
async function profileValue(page, name) {
  return page.locator(`#details-profile dd[data-field="${name}"]`).textContent();
}

/**
 * Clicks `locator` and returns the JSON answer of the `GET /documents…` it caused,
 * with the request's path and query.
 */
async function searchBy(page, locator) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/documents" && r.request().method() === "GET"),
    locator.click(),
  ]);
  const url = new URL(response.url());
  return { path: url.pathname + url.search, status: response.status(), body: await response.json() };
}

/** Replaces some of the simulator's faults (the others keep their values). */
async function simFaults(sim, changes) {
  const current = await (await fetch(`${sim}/_sim/faults`)).json();
  const res = await fetch(`${sim}/_sim/faults`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...current, ...changes }),
  });
  assert.equal(res.status, 204, await res.text());
}

/** Clicks a download button; resolves to the name the browser saves under and the bytes. */
async function downloaded(page, button) {
  const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), body: readFileSync(path) };
}

/** The Documents view, end to end; the bearer client says what each answer should be. */
async function walkDocuments(browser, { pageUrl, gateway, sim, screenshot, t }) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  const requested = [];
  const refused = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("request", (req) => requested.push(req.url()));
  page.on("response", (res) => {
    if (res.status() >= 400) {
      refused.push(`${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`);
    }
  });
  const saved = [];
  page.on("download", (download) => saved.push(download.suggestedFilename()));
  const api = await apiClient(gateway);
  try {
    await page.goto(pageUrl);
    await page.getByLabel("User name").fill("demo");
    await page.getByLabel("Password").fill("demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await announced(page, "Signed in as Demo User.");

    // The Documents tab; its cabinet picker comes from GET /cabinets.
    const tab = page.getByRole("tab", { name: "Documents" });
    await tab.click();
    assert.equal(await tab.getAttribute("aria-selected"), "true");
    assert.equal(await page.getByRole("tabpanel", { name: "Two-factor devices" }).count(), 0, "devices hidden");
    const cabinets = (await api.json("/cabinets")).cabinets.map((c) => c.name);
    await page.locator("#search-cabinet option", { hasText: cabinets.at(-1) }).waitFor({ state: "attached" });
    assert.deepEqual(await page.locator("#search-cabinet option").allTextContents(), ["All cabinets", ...cabinets]);

    // A query the gateway refuses: the problem's title and detail are shown.
    await page.getByLabel("Search text").fill("?D Excel");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    const alert = page.getByRole("alert");
    await alert.filter({ hasText: "q: must not contain ?, | or control characters" }).waitFor();
    assert.equal(await page.locator("#error-title").textContent(), "Unprocessable Entity");
    assert.match(await alert.textContent(), /code validation_failed/);

    // Every document, five a page: forward twice, back once, each by the answer's links.
    await page.getByLabel("Search text").fill("");
    await page.getByLabel("Per page").selectOption("5");
    let shown = await searchBy(page, page.getByRole("button", { name: "Search", exact: true }));
    assert.equal(shown.path, "/documents?limit=5");
    const first = await api.json("/documents?limit=5");
    const total = first.total;
    assert.ok(total > 10, `the demo has ${total} documents: three pages of five`);
    await announced(page, `Showing documents 1–5 of ${total}.`);
    assert.equal(await alert.isVisible(), false, "the error is cleared");
    assert.deepEqual(await resultDescriptions(page), first.documents.map((d) => d.description));
    assert.equal(await page.getByRole("button", { name: "Previous page" }).isDisabled(), true);

    const pages = [first];
    for (const n of [2, 3]) {
      // Before the last page every Worldox list goes stale: the cursor runs the search
      // again at its offset, and the page says rows may have moved.
      const restarted = n === 3;
      if (restarted) {
        assert.equal((await fetch(`${sim}/_sim/invalidate-lists`, { method: "POST" })).status, 204);
      }
      const before = shown.body;
      shown = await searchBy(page, page.getByRole("button", { name: "Next page" }));
      assert.equal(shown.path, href(before, "next"), "Next follows the answer's next link");
      assert.equal(shown.body.restarted, restarted);
      pages.push(await api.json(href(pages.at(-1), "next")));
      const from = 5 * (n - 1) + 1;
      const range = `Showing documents ${from}–${Math.min(from + 4, total)} of ${total}.`;
      await announced(page, restarted ? `${range} The search was run again, so rows may have moved.` : range);
      assert.deepEqual(await resultDescriptions(page), pages.at(-1).documents.map((d) => d.description));
    }
    assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true, "the last page");

    // Odd characters on the last page render as text: no markup, no entity decoding.
    const resume = pages[2].documents.find((d) => d.doc_number === "00014711");
    assert.equal(resume.description, "Résumé – Müller", "the API's own description");
    assert.equal(await resultRow(page, "00014711").locator(".doc-open").textContent(), "Résumé – Müller");

    const before = shown.body;
    shown = await searchBy(page, page.getByRole("button", { name: "Previous page" }));
    assert.equal(shown.path, href(before, "prev"), "Previous follows the answer's prev link");
    await announced(page, `Showing documents 6–10 of ${total}.`);
    assert.deepEqual(await resultDescriptions(page), pages[1].documents.map((d) => d.description));

    const memo = 'Memo "Q4" C:\\temp & <draft> 100% + #7';
    const memoOpen = resultRow(page, "00014603").locator(".doc-open");
    assert.equal(await memoOpen.textContent(), memo);
    assert.equal(await page.locator("#results-body draft").count(), 0, "no <draft> element");
    assert.match(await memoOpen.innerHTML(), /&lt;draft&gt; 100% \+ #7$/);
    assert.match(await memoOpen.innerHTML(), /C:\\temp &amp; /);

    // A document checked out to someone else: the marker, and who, in the details.
    const outRow = resultRow(page, "00014502");
    assert.equal(await outRow.locator(".badge").textContent(), "Checked out");
    assert.equal(await outRow.locator(".badge").getAttribute("title"), "Checked out by QC User1 (QC1)");
    await outRow.getByRole("button", { name: /^Open Deposition outline/ }).click();
    await announced(page, "Opened Deposition outline.");
    assert.equal(await profileValue(page, "Checked out by"), "QC User1 (QC1)");
    assert.equal(await profileValue(page, "Status"), "Checked out");

    await memoOpen.click();
    await announced(page, `Opened ${memo}.`);
    assert.equal(await page.locator("#details-title").textContent(), memo);
    assert.equal(await page.locator("#details h2 draft").count(), 0);

    // The three-version document, on the same page: its details and versions.
    await page.getByRole("button", { name: "Open Settlement agreement (00014410)" }).click();
    await announced(page, "Opened Settlement agreement.");
    const id = "doc_5_00014410";
    const versions = (await api.json(`/documents/${id}/versions`)).versions;
    assert.deepEqual(versions.map((v) => v.n), [3, 2, 1]);
    assert.deepEqual(
      await page.locator("#versions-body .version-n").allTextContents(),
      ["3 (current)", "2", "1"],
    );
    assert.deepEqual(
      await page.locator("#versions-body .version-name").allTextContents(),
      versions.map((v) => v.name),
    );
    assert.equal(await profileValue(page, "Version"), "3");
    assert.equal(await profileValue(page, "Comments"), (await api.json(`/documents/${id}`)).comments);
    assert.equal(await profileValue(page, "Cabinet"), "Litigation");

    // Download the document and its version 1: the name is Content-Disposition's, the
    // bytes are the API's.
    const current = await downloaded(page, page.getByRole("button", { name: "Download Settlement agreement" }));
    const currentApi = await api.bytes(`/documents/${id}/content`);
    assert.equal(current.name, "Settlement agreement (00014410-3x51615).DOCX");
    assert.match(currentApi.disposition, /filename\*=UTF-8''Settlement%20agreement%20%2800014410-3x51615%29\.DOCX/);
    assert.equal(current.body.length, currentApi.body.length);
    assert.ok(current.body.equals(currentApi.body), "the document's bytes");
    await announced(page, `Downloaded ${current.name} (${current.body.length.toLocaleString("en-US")} bytes).`);

    const v1 = await downloaded(page, page.getByRole("button", { name: "Download version 1" }));
    const v1Api = await api.bytes(href(versions[2], "content"));
    assert.equal(v1.name, versions[2].name);
    assert.equal(v1.body.length, v1Api.body.length);
    assert.ok(v1.body.equals(v1Api.body), "version 1's bytes");
    assert.notEqual(v1.body.length, current.body.length, "version 1 is not the current file");
    await announced(page, `Downloaded ${v1.name} (`);
    mkdirSync(dirname(screenshot), { recursive: true });
    // The gateway's port changes every run; masked, the committed picture stays put.
    await page.screenshot({
      path: screenshot,
      fullPage: true,
      mask: [page.locator("#api-base")],
      maskColor: "#2a3a5c",
    });
    t.diagnostic(`screenshot: ${screenshot}`);

    // The file copy vanishes upstream: the page shows the gateway's problem, saves nothing.
    assert.equal(saved.length, 2);
    await simFaults(sim, { download_copy_missing_ratio: 1 });
    const gone = await api.problem(`/documents/${id}/content`);
    await page.getByRole("button", { name: "Download Settlement agreement" }).click();
    await alert.filter({ hasText: gone.detail }).waitFor();
    assert.equal(await page.locator("#error-title").textContent(), gone.title);
    assert.match(await alert.textContent(), new RegExp(`code ${gone.code}`));

    // The connection breaks mid-file: an error, and no truncated file saved.
    await simFaults(sim, { download_copy_missing_ratio: 0, reset_mid_body_ratio: 1 });
    await page.getByRole("button", { name: "Download version 2" }).click();
    await alert.filter({ hasText: "The connection broke before all of" }).waitFor();
    assert.equal(await page.locator("#error-title").textContent(), "Download failed");
    await simFaults(sim, { reset_mid_body_ratio: 0 });
    assert.deepEqual(saved, [current.name, v1.name], "nothing saved from the failed downloads");

    // A search in one cabinet: the picker's cabinet id and the text go in the query.
    await page.getByLabel("Search text").fill("agreement");
    await page.getByLabel("Cabinet").selectOption({ label: "Litigation" });
    shown = await searchBy(page, page.getByRole("button", { name: "Search", exact: true }));
    assert.equal(shown.path, "/documents?q=agreement&cabinet=5&limit=5");
    await announced(page, "Showing documents 1–1 of 1.");
    assert.equal(await page.locator("#details").isVisible(), false, "a new search closes the details");
    assert.deepEqual(await resultDescriptions(page), ["Settlement agreement"]);
    assert.equal(await page.getByRole("button", { name: "Next page" }).isDisabled(), true, "one page");

    // A non-ASCII file name comes through RFC 6266's filename*.
    await page.getByLabel("Search text").fill("Résumé");
    await page.getByLabel("Cabinet").selectOption({ label: "All cabinets" });
    shown = await searchBy(page, page.getByRole("button", { name: "Search", exact: true }));
    assert.equal(shown.path, `/documents?q=${encodeURIComponent("Résumé")}&limit=5`);
    await page.getByRole("button", { name: "Open Résumé – Müller (00014711)" }).click();
    await announced(page, "Opened Résumé – Müller.");
    const cv = await downloaded(page, page.getByRole("button", { name: "Download Résumé – Müller" }));
    const cvApi = await api.bytes("/documents/doc_6_00014711/content");
    assert.equal(cv.name, "Résumé – Müller (00014711x51615).PDF");
    assert.ok(cv.body.equals(cvApi.body), "the résumé's bytes");

    // Sign out: the documents are gone from the page with the session.
    await page.getByRole("button", { name: "Sign out" }).click();
    await announced(page, "Signed out.");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.locator("#results-body tr").count(), 0, "no results left in the page");
    assert.equal(await page.locator("#details-profile dd").count(), 0, "no profile left in the page");
    const after = await page.evaluate(
      async (base) => (await fetch(`${base}/documents?limit=1`, { credentials: "include" })).status,
      gateway,
    );
    assert.equal(after, 401, "GET /documents from the browser after sign-out");

    assert.deepEqual(problems, [], "no console errors, CSP violations or page errors");
    assert.deepEqual(
      refused,
      [
        "GET /me 401",
        "GET /documents 422",
        `GET /documents/doc_5_00014410/content ${gone.status}`,
        "GET /documents 401",
      ],
      "the only refused calls: not signed in yet, the refused query, the vanished copy, after sign-out",
    );
    assert.ok(!requested.some((u) => u.includes("/_sim/")), "the page never calls the simulator");
  } finally {
    await api.logout();
    await context.close();
  }
}

/**
 * Holds the page's requests to `pathname` until `release()`: `arrived` resolves when
 * one is held. The request then goes on to the gateway as it is.
 */
async function hold(page, pathname) {
  let arrive;
  let release;
  const arrived = new Promise((resolveArrived) => (arrive = resolveArrived));
  const released = new Promise((resolveReleased) => (release = resolveReleased));
  const match = (url) => url.pathname === pathname;
  await page.route(match, async (route) => {
    arrive();
    await released;
    await route.continue();
  });
  return { arrived, release, off: () => page.unroute(match) };
}

/**
 * Answers that arrive late: an open overtaken by another open, and one overtaken by
 * sign-out. Each late answer's own button says when the page has finished with it
 * (`run` enables it again), so no wait is a guess.
 */
async function lateAnswers(browser, { pageUrl }) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  try {
    await page.goto(pageUrl);
    await page.getByLabel("User name").fill("demo");
    await page.getByLabel("Password").fill("demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await announced(page, "Signed in as Demo User.");
    await page.getByRole("tab", { name: "Documents" }).click();
    await page.getByLabel("Per page").selectOption("5");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    await announced(page, "Showing documents 1–5 of");

    // Open A, whose answer is held; open B; then A's answer arrives: B stays.
    const first = await hold(page, "/documents/doc_3_00016801");
    const openFirst = page.getByRole("button", { name: "Open Articles of incorporation (00016801)" });
    const firstButton = await openFirst.elementHandle();
    await openFirst.click();
    await first.arrived;
    await page.getByRole("button", { name: "Open Quarterly budget (00016710)" }).click();
    await announced(page, "Opened Quarterly budget.");
    first.release();
    await page.waitForFunction((button) => !button.disabled, firstButton);
    assert.equal(await page.locator("#details-title").textContent(), "Quarterly budget");
    assert.equal(await page.getByRole("status").textContent(), "Opened Quarterly budget.");
    await first.off();

    // Open C, held; sign out; then C's answer (a 401 by now) arrives: nothing shows.
    const third = await hold(page, "/documents/doc_14_00016702");
    const openThird = page.getByRole("button", { name: "Open Smith & Jones: 50% + fees #2 (00016702)" });
    const thirdButton = await openThird.elementHandle();
    await openThird.click();
    await third.arrived;
    await page.getByRole("button", { name: "Sign out" }).click();
    await announced(page, "Signed out.");
    third.release();
    await page.waitForFunction((button) => !button.disabled, thirdButton);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.getByRole("alert").isVisible(), false, "no error from the late answer");
    assert.equal(await page.getByRole("status").textContent(), "Signed out.");
    assert.equal(await page.locator("#details-profile dd").count(), 0);
    assert.equal(await page.locator("#results-body tr").count(), 0);
    assert.equal(await page.locator("#account").isVisible(), false);
    await third.off();
    assert.deepEqual(problems, [], "no console errors or page errors");
  } finally {
    await context.close();
  }
}

// --- the tests -------------------------------------------------------------------

describe("the self-service page in Chromium", { timeout: 180_000 }, () => {
  let browser;

  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      chromiumSandbox: false,
      timeout: WAIT_MS,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  after(async () => {
    await browser?.close();
  });

  test("cross-origin: the page on another port, CORS and the cookie", async (t) => {
    const site = await startStaticServer();
    const gw = await startGateway({
      env: {
        WDGATE_BROWSER_COOKIE_ENABLED: "true",
        WDGATE_BROWSER_CORS_ORIGINS: site.url,
      },
    });
    try {
      await walk(browser, {
        pageUrl: `${site.url}/?api=${encodeURIComponent(gw.url)}`,
        gateway: gw.url,
        sim: gw.sim,
        screenshot: join(SHOTS, "flow.png"),
        t,
      });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
      await site.stop();
    }
  });

  test("the gateway's own page talks to no other origin, whatever ?api= says", async () => {
    const gw = await startGateway({
      args: ["--ui", WEB],
      env: { WDGATE_BROWSER_COOKIE_ENABLED: "true" },
    });
    const decoy = await startStaticServer(); // would answer if the page could reach it
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT_MS);
      const requested = [];
      const blocked = [];
      page.on("request", (req) => requested.push(new URL(req.url()).origin));
      page.on("console", (msg) => msg.text().includes("Content Security Policy") && blocked.push(msg.text()));
      await page.goto(`${gw.url}/ui/?api=${encodeURIComponent(decoy.url)}`);
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.getByLabel("User name").fill("demo");
      await page.getByLabel("Password").fill("demo");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: `Cannot reach the gateway at ${decoy.url}.` }).waitFor();
      assert.ok(blocked.some((m) => m.includes(`${decoy.url}/sessions`)), blocked.join("\n"));
      assert.deepEqual([...new Set(requested)], [gw.url], "every request the browser sent");
    } finally {
      await context.close();
      await decoy.stop();
      await gw.stop();
    }
  });

  test("same-origin: the page served by wdgate serve --ui", async (t) => {
    const gw = await startGateway({
      args: ["--ui", WEB],
      env: { WDGATE_BROWSER_COOKIE_ENABLED: "true" },
    });
    try {
      await walk(browser, {
        pageUrl: `${gw.url}/ui/`,
        gateway: gw.url,
        sim: gw.sim,
        screenshot: join(SHOTS, "flow-same-origin.png"),
        t,
      });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
    }
  });

  test("documents, cross-origin: search, paging, details, versions, downloads", async (t) => {
    const site = await startStaticServer();
    const gw = await startGateway({
      env: {
        WDGATE_BROWSER_COOKIE_ENABLED: "true",
        WDGATE_BROWSER_CORS_ORIGINS: site.url,
      },
    });
    try {
      await walkDocuments(browser, {
        pageUrl: `${site.url}/?api=${encodeURIComponent(gw.url)}`,
        gateway: gw.url,
        sim: gw.sim,
        screenshot: join(SHOTS, "documents.png"),
        t,
      });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
      await site.stop();
    }
  });

  test("documents, same-origin: the page served by wdgate serve --ui", async (t) => {
    const gw = await startGateway({
      args: ["--ui", WEB],
      env: { WDGATE_BROWSER_COOKIE_ENABLED: "true" },
    });
    try {
      await walkDocuments(browser, {
        pageUrl: `${gw.url}/ui/`,
        gateway: gw.url,
        sim: gw.sim,
        screenshot: join(SHOTS, "documents-same-origin.png"),
        t,
      });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
    }
  });

  test("documents: a late answer never replaces a newer one, nor outlives sign-out", async () => {
    const gw = await startGateway({
      args: ["--ui", WEB],
      env: { WDGATE_BROWSER_COOKIE_ENABLED: "true" },
    });
    try {
      await lateAnswers(browser, { pageUrl: `${gw.url}/ui/` });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
    }
  });
});
