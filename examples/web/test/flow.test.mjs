// The self-service page (examples/web) in a real browser, against a demo wdgate.
//
//   cargo build && (cd examples/web/test && npm ci && node --test)
//
// Each test starts `wdgate serve --listen 127.0.0.1:0` in demo mode (its built-in
// simulator) with cookie mode on, opens the page in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core), and walks the whole flow: a wrong
// password, sign in, the two seeded devices, add one with the code read from the
// simulator's outbox in three steps (send the code; verify it, a wrong one first; name
// the device, no code sent again), show full addresses, rename, disable, delete, sign
// out. Twice:
//
// - cross-origin: the page comes from a small static server on another port and calls
//   the gateway with `?api=`; the gateway lists that origin in browser.cors_origins, so
//   this proves CORS with credentials, the cookie and the CSRF origin check;
// - same-origin: the page comes from the gateway itself (`wdgate serve --ui`).
//
// A third test checks that the gateway's own copy of the page, whatever `?api=` names,
// sends nothing to another origin (its Content-Security-Policy blocks it).
//
// The add flow's way back has a test of its own: on a two-attempt gateway two wrong
// codes send the page back to step 1 with the address kept, and a new code verified
// then cancelled at step 3 records nothing (the simulator's 2FSET log says so).
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
// mid-file saves nothing. A test holds answers back (playwright's page.route): an
// open overtaken by another open, or by sign-out, shows nothing when it lands.
//
// "Where you're signed in" has a walk in both modes too: two more sessions of the
// user, made from node with their own User-Agent, show beside the page's own (marked
// "This device", times in the browser's zone, IP, user agent, each checked against
// GET /me/sessions); ending one makes its token a 401 and leaves the other working;
// "Sign out everywhere else" makes the other a 401 too; the page's session lives on.
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

/**
 * The 2FSET calls the simulator received, oldest first, each as its step: `send`
 * (a code to an address), `verify` (a code checked), `add` (a device recorded) or
 * `edit`, with the parameters by name.
 */
async function twofaSteps(sim) {
  const res = await fetch(`${sim}/_sim/requests?command=2FSET`);
  assert.equal(res.status, 200);
  const calls = (await res.json())["2FSET"] || [];
  return calls.map((pairs) => {
    const params = Object.fromEntries(pairs);
    const step = "wd_2FA_SendToAddr" in params
      ? "send"
      : "wd_2FA_ACCESSCODE" in params
        ? "verify"
        : "wd_List_ID" in params || "wd_List_RecNum" in params
          ? "edit"
          : "add";
    return { step, params };
  });
}

/** Waits for the page's answer to a request of `method` whose path matches `path`. */
function answerTo(page, method, path) {
  return page.waitForResponse(
    (r) => r.request().method() === method && path.test(new URL(r.url()).pathname),
  );
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

    // Add a device, step 1: a code to the address, read from the simulator's outbox.
    await page.getByLabel("Phone number or email address").fill("(212) 555-0147");
    await page.getByRole("button", { name: "Send code" }).click();
    await announced(page, "Code sent to (***) ***-**47.");
    await page.getByRole("form", { name: "Step 2 of 3: the code" }).waitFor();
    const code = await codeFromOutbox(sim, "+12125550147");

    // Step 2, a wrong code first: the problem with the attempts left, still step 2.
    const verifyPath = /^\/me\/2fa-devices\/verifications\/[^/]+$/;
    const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    const codeField = page.getByLabel("Code", { exact: true });
    await codeField.fill(wrong);
    let answer = answerTo(page, "POST", verifyPath);
    await page.getByRole("button", { name: "Verify" }).click();
    const refusedCode = await answer;
    assert.equal(refusedCode.status(), 422);
    const problem = await refusedCode.json();
    assert.equal(problem.code, "code_invalid");
    assert.ok(problem.attempts_left > 0, `attempts left: ${problem.attempts_left}`);
    assert.match(problem.detail, /^The code is wrong; \d+ attempts? (is|are) left\.$/);
    await page.getByRole("alert").filter({ hasText: problem.detail }).waitFor();
    assert.match(await page.getByRole("alert").textContent(), /code code_invalid/);
    assert.equal(await codeField.isVisible(), true, "a wrong code with attempts left stays in step 2");
    const verification = new URL(refusedCode.url()).pathname;

    // The right code: the answer's message, and step 3.
    await codeField.fill(code);
    answer = answerTo(page, "POST", verifyPath);
    await page.getByRole("button", { name: "Verify" }).click();
    const accepted = await answer;
    assert.equal(accepted.status(), 200);
    assert.equal(new URL(accepted.url()).pathname, verification, "the verify link of the same verification");
    const verified = await accepted.json();
    assert.equal(verified.state, "verified");
    assert.match(verified.message, /is verified/);
    await announced(page, verified.message);
    await page.getByRole("form", { name: "Step 3 of 3: the name" }).waitFor();
    assert.equal(await page.locator("#name-verified").textContent(), verified.message);
    assert.equal(await page.getByRole("alert").isVisible(), false, "the wrong code's error is cleared");
    mkdirSync(dirname(screenshot), { recursive: true });
    const stepShot = screenshot.replace(/flow(-[a-z-]+)?\.png$/, "add-device$1.png");
    await page.locator("section[aria-labelledby=add-title]").screenshot({ path: stepShot });
    t.diagnostic(`screenshot: ${stepShot}`);

    // The simulator ran step 2 (twice: the wrong code, then the right one) and not yet
    // step 3: the page is showing step 3 with nothing added.
    let steps = await twofaSteps(sim);
    assert.deepEqual(steps.map((s) => s.step), ["send", "verify", "verify"]);
    assert.deepEqual(steps.slice(1).map((s) => s.params.wd_2FA_ACCESSCODE), [wrong, code]);
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email"]);

    // Step 3: the name, and no code (nothing is verified twice).
    await page.getByLabel("Name", { exact: true }).fill("Desk phone");
    const added = page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/me/2fa-devices");
    await page.getByRole("button", { name: "Add device" }).click();
    const body = (await added).postDataJSON();
    assert.deepEqual(body, { verification_id: verified.verification_id, name: "Desk phone", enabled: true });
    await announced(page, "Added Desk phone.");
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email", "Desk phone"]);
    assert.match(await rowText(page, "Desk phone"), /Phone \(\*\*\*\) \*\*\*-\*\*47.*Enabled/);
    steps = await twofaSteps(sim);
    assert.deepEqual(steps.map((s) => s.step), ["send", "verify", "verify", "add"]);
    assert.equal(steps[3].params.wd_2FA_RecAddress, "+12125550147");
    assert.equal(steps[3].params.wd_2FA_RecContact, "Desk phone");
    assert.ok(!("wd_2FA_ACCESSCODE" in steps[3].params), "step 3 carries no code");
    await page.getByRole("form", { name: "Step 1 of 3: the address" }).waitFor();
    assert.equal(await page.getByLabel("Phone number or email address").inputValue(), "", "the form starts over");

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
    await page.screenshot({
      path: screenshot,
      fullPage: true,
      mask: [page.locator("#api-base")],
      maskColor: "#2a3a5c",
    });
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
      ["GET /me 401", "POST /sessions 401", `POST ${verification} 422`, "GET /me 401"],
      "the only refused calls: not signed in yet, the wrong password, the wrong code, after sign-out",
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
 * The add flow's way back: a gateway allowing two attempts; two wrong codes use the
 * verification up and the page returns to step 1 with the address kept; a new code,
 * verified, then Cancel at step 3 adds nothing.
 */
async function spentCode(browser, { pageUrl, sim }) {
  const context = await browser.newContext({ viewport: { width: 900, height: 1000 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  try {
    await page.goto(pageUrl);
    await page.getByLabel("User name").fill("demo");
    await page.getByLabel("Password").fill("demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await announced(page, "Signed in as Demo User.");
    const alert = page.getByRole("alert");
    const codeField = page.getByLabel("Code", { exact: true });

    await page.getByLabel("Phone number or email address").fill("(212) 555-0147");
    await page.getByRole("button", { name: "Send code" }).click();
    await announced(page, "Code sent to (***) ***-**47.");
    const first = await codeFromOutbox(sim, "+12125550147");
    const wrong = first.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

    // Nothing typed: the page asks, and sends nothing.
    await page.getByRole("button", { name: "Verify" }).click();
    await alert.filter({ hasText: "Enter the code you received." }).waitFor();

    await codeField.fill(wrong);
    await page.getByRole("button", { name: "Verify" }).click();
    await alert.filter({ hasText: "The code is wrong; 1 attempt is left." }).waitFor();
    assert.equal(await codeField.isVisible(), true, "one attempt left: still step 2");
    assert.equal(await codeField.inputValue(), wrong, "the wrong code is kept, selected, to retype");

    await page.getByRole("button", { name: "Verify" }).click();
    await alert.filter({ hasText: "The code is wrong, and no attempts are left; request a new code." }).waitFor();
    await page.getByRole("form", { name: "Step 1 of 3: the address" }).waitFor();
    assert.equal(await codeField.isVisible(), false, "spent: back to step 1");
    assert.equal(
      await page.getByLabel("Phone number or email address").inputValue(),
      "(212) 555-0147",
      "the address is kept for the new code",
    );

    // A new code, verified; then Cancel at step 3: nothing added, the form starts over.
    await page.getByRole("button", { name: "Send code" }).click();
    await announced(page, "Code sent to (***) ***-**47.");
    const second = await codeFromOutbox(sim, "+12125550147");
    await codeField.fill(second);
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("form", { name: "Step 3 of 3: the name" }).waitFor();
    await page.getByRole("button", { name: "Cancel" }).click();
    await announced(page, "No device added.");
    await page.getByRole("form", { name: "Step 1 of 3: the address" }).waitFor();
    assert.equal(await page.getByLabel("Phone number or email address").inputValue(), "");
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email"]);
    const steps = await twofaSteps(sim);
    assert.deepEqual(
      steps.map((s) => s.step),
      ["send", "verify", "verify", "send", "verify"],
      "two wrong codes, a new code, the right one, and no device recorded",
    );
    assert.deepEqual(problems, [], "no page errors");
  } finally {
    await context.close();
  }
}

// --- the sessions walk ---------------------------------------------------------

/** Signs demo in from node with `userAgent`: a bearer session, as another device's. */
async function signInElsewhere(gateway, userAgent) {
  const res = await fetch(`${gateway}/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": userAgent },
    body: JSON.stringify({ username: "demo", password: "demo" }),
  });
  assert.equal(res.status, 201);
  const login = await res.json();
  assert.ok(login.token && login.id, "a bearer login answers its token and session id");
  return { id: login.id, token: login.token, userAgent };
}

/** `GET /me` with a bearer token: its status. */
async function meStatus(gateway, token) {
  const res = await fetch(`${gateway}/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Resolves once `condition()` holds, polling; fails after WAIT_MS. */
async function waitUntil(condition, what) {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** A User-Agent a hostile client could send: markup that must stay text. */
const HOSTILE_AGENT = `<img src=x onerror="window.__pwned=1"><b>Evil & "co"</b>`;

/** The User-Agents of the walk: fixed, so the page's text and picture are too. */
const AGENTS = {
  browser: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  laptop: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
  phone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) " +
    "Version/17.4 Mobile/15E148 Safari/604.1",
};

/** The session rows once the list shows `n` and is not loading. */
async function sessionRows(page, n) {
  await page.waitForFunction(
    (want) =>
      document.querySelectorAll("#sessions > li").length === want &&
      !document.getElementById("sessions").hasAttribute("aria-busy"),
    n,
  );
  return page.locator("#sessions > li").evaluateAll((items) =>
    items.map((li) => ({
      id: li.dataset.sessionId,
      name: li.getAttribute("aria-label"),
      device: li.querySelector(".session-device").textContent,
      current: !li.querySelector(".badge.current").hidden,
      agent: li.querySelector(".session-agent").textContent,
      ip: li.querySelector(".session-ip").textContent,
      created: li.querySelector(".session-created").textContent,
      createdIso: li.querySelector(".session-created").dateTime,
      seen: li.querySelector(".session-seen").textContent,
      seenIso: li.querySelector(".session-seen").dateTime,
      end: !li.querySelector(".session-end").hidden,
    })),
  );
}

/** Unix seconds as the page shows them in the test's locale and zone (en-US, UTC). */
function shownTime(seconds) {
  return new Date(seconds * 1000).toLocaleString("en-US", {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: "UTC",
  });
}

/**
 * "Where you're signed in": the page's session and two made from node, ending one,
 * then every other, each checked from node with the ended tokens.
 */
async function walkSessions(browser, { pageUrl, gateway, screenshot, t }) {
  // The zone and locale are fixed so the times the page shows can be checked exactly.
  const context = await browser.newContext({
    viewport: { width: 900, height: 900 },
    locale: "en-US",
    timezoneId: "UTC",
    userAgent: AGENTS.browser,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const problems = [];
  const refused = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) {
      problems.push(`console: ${msg.text()}`);
    }
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("response", (res) => {
    if (res.status() >= 400) {
      refused.push(`${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`);
    }
  });
  const others = [];
  try {
    await page.goto(pageUrl);
    await page.getByLabel("User name").fill("demo");
    await page.getByLabel("Password").fill("demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await announced(page, "Signed in as Demo User.");
    const browserAgent = await page.evaluate(() => navigator.userAgent);
    assert.equal(browserAgent, AGENTS.browser);

    // Two more sessions of demo's, as a laptop and a phone would make them; the phone's
    // a second later (created_at is in seconds), so "newest first" is one order.
    const laptop = await signInElsewhere(gateway, AGENTS.laptop);
    others.push(laptop);
    const laptopDone = Math.floor(Date.now() / 1000);
    await waitUntil(() => Math.floor(Date.now() / 1000) > laptopDone, "the next second");
    const phone = await signInElsewhere(gateway, AGENTS.phone);
    others.push(phone);

    // The tabs by keyboard: Left from the first wraps to the new last one, which loads.
    await page.getByRole("tab", { name: "Two-factor devices" }).focus();
    await page.keyboard.press("ArrowLeft");
    const tab = page.getByRole("tab", { name: "Where you're signed in" });
    assert.equal(await tab.getAttribute("aria-selected"), "true");
    assert.equal(await page.evaluate(() => document.activeElement.id), "tab-sessions");
    let rows = await sessionRows(page, 3);
    const listed = await fetch(`${gateway}/me/sessions`, { headers: { authorization: `Bearer ${laptop.token}` } });
    assert.equal(listed.status, 200);
    const api = (await listed.json()).sessions;
    assert.equal(api.length, 3);
    const mine = api.find((s) => s.user_agent === browserAgent);
    assert.ok(mine, `the page's session is listed with the browser's User-Agent: ${JSON.stringify(api)}`);
    // This session first and marked, with no End button; the others newest first.
    assert.equal(rows[0].id, mine.id);
    assert.equal(rows[0].current, true);
    assert.equal(rows[0].end, false, "this session is ended by Sign out, not here");
    assert.deepEqual(
      rows.map((r) => [r.id, r.device]),
      [
        [mine.id, "Chrome on Linux"],
        [phone.id, "Safari on iOS"],
        [laptop.id, "Firefox on Windows"],
      ],
      "this session first, then newest first, each named by its browser and system",
    );
    assert.equal(rows[0].name, `This device: Chrome on Linux from 127.0.0.1, signed in ${shownTime(mine.created_at)}`);
    assert.equal(await page.locator("#sessions > li.current .badge").textContent(), "This device");
    assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(api.map((s) => s.id)));
    for (const row of rows) {
      const session = api.find((s) => s.id === row.id);
      assert.equal(row.agent, session.user_agent);
      assert.equal(row.ip, session.client_ip);
      assert.equal(row.ip, "127.0.0.1");
      assert.equal(row.created, shownTime(session.created_at), "created_at as a local time");
      assert.equal(row.createdIso, new Date(session.created_at * 1000).toISOString());
      // last_seen_at moves with use (the node list's own session is "now"), so the
      // page's value is checked for its range and its rendering, not against the API's.
      const seen = Date.parse(row.seenIso) / 1000;
      assert.ok(seen >= session.created_at && seen <= Date.now() / 1000, `last seen ${row.seenIso}`);
      assert.equal(row.seen, shownTime(seen), "last_seen_at as a local time");
      if (row.id !== mine.id) {
        assert.equal(row.current, false);
        assert.equal(row.end, true);
      }
    }
    assert.equal(await page.getByRole("button", { name: "Sign out everywhere else" }).isVisible(), true);

    mkdirSync(dirname(screenshot), { recursive: true });
    // The times and the gateway's port change from run to run (the agents are fixed,
    // the address is loopback's); masked, the committed picture stays put.
    await page.screenshot({
      path: screenshot,
      fullPage: true,
      mask: [page.locator("#api-base"), page.locator(".session-time")],
      maskColor: "#b8c2d1",
    });
    t.diagnostic(`screenshot: ${screenshot}`);

    // A User-Agent is whatever the client sent: markup in it is text on the page.
    const hostile = await signInElsewhere(gateway, HOSTILE_AGENT);
    others.push(hostile);
    await page.getByRole("button", { name: "Refresh" }).click();
    await announced(page, "Sessions refreshed.");
    rows = await sessionRows(page, 4);
    const shown = rows.find((r) => r.id === hostile.id);
    assert.equal(shown.agent, HOSTILE_AGENT, "the header, verbatim");
    assert.equal(shown.device, HOSTILE_AGENT, "no browser named: the header stands for itself");
    assert.equal(await page.locator("#sessions img, #sessions b").count(), 0, "no element from the header");
    assert.equal(await page.evaluate(() => window.__pwned), undefined, "no script ran");

    // End the laptop's session: gone from the list, its token refused; the others work.
    const laptopSince = shownTime(api.find((s) => s.id === laptop.id).created_at);
    await page
      .getByRole("button", { name: `End the session of Firefox on Windows from 127.0.0.1, signed in ${laptopSince}` })
      .click();
    await announced(page, "Ended the session of Firefox on Windows from 127.0.0.1.");
    rows = await sessionRows(page, 3);
    assert.deepEqual(new Set(rows.map((r) => r.id)), new Set([mine.id, phone.id, hostile.id]));
    assert.equal(await meStatus(gateway, laptop.token), 401, "the ended session's token");
    assert.equal(await meStatus(gateway, phone.token), 200, "a session not ended");

    // A session that ended elsewhere meanwhile (its own sign-out): End shows the
    // gateway's 404 and the list is read again without it.
    const out = await fetch(`${gateway}/sessions/current`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${hostile.token}` },
    });
    assert.equal(out.status, 204);
    await page.locator(`#sessions > li[data-session-id="${hostile.id}"] .session-end`).click();
    await page.getByRole("alert").filter({ hasText: "no such session of yours" }).waitFor();
    assert.match(await page.getByRole("alert").textContent(), /code not_found/);
    rows = await sessionRows(page, 2);
    assert.deepEqual(rows.map((r) => r.id), [mine.id, phone.id]);

    // Sign out everywhere else: only this one is left, the phone's token is refused.
    await page.getByRole("button", { name: "Sign out everywhere else" }).click();
    await announced(page, "Signed out everywhere else.");
    rows = await sessionRows(page, 1);
    assert.deepEqual(rows.map((r) => [r.id, r.current]), [[mine.id, true]]);
    assert.equal(await page.getByText("You are signed in only here.").isVisible(), true);
    assert.equal(await page.getByRole("button", { name: "Sign out everywhere else" }).isVisible(), false);
    assert.equal(await page.evaluate(() => document.activeElement.id), "sessions-title", "focus is not lost");
    assert.equal(await meStatus(gateway, phone.token), 401, "every other session's token");

    // The page's own session still works: a refresh, the devices, a reload.
    await page.getByRole("button", { name: "Refresh" }).click();
    await announced(page, "Sessions refreshed.");
    assert.deepEqual((await sessionRows(page, 1)).map((r) => r.id), [mine.id]);
    await page.getByRole("tab", { name: "Two-factor devices" }).click();
    await page.reload();
    await page.getByRole("heading", { name: "Your devices" }).waitFor();
    // The heading is there before the list is read: wait for its rows, not a timer.
    await page.locator("#devices > li .device-name").nth(1).waitFor();
    assert.deepEqual(await deviceNames(page), ["Work cell", "Work email"]);

    // Sign out: the panel is emptied with the session.
    await page.getByRole("button", { name: "Sign out" }).click();
    await announced(page, "Signed out.");
    assert.equal(await page.locator("#sessions > li").count(), 0, "no sessions left in the page");

    assert.deepEqual(problems, [], "no console errors, CSP violations or page errors");
    assert.deepEqual(
      refused,
      ["GET /me 401", `DELETE /me/sessions/${hostile.id} 404`],
      "the only refused calls: not signed in yet, the session that had ended",
    );
  } finally {
    for (const other of others) {
      await fetch(`${gateway}/sessions/current`, { method: "DELETE", headers: { authorization: `Bearer ${other.token}` } });
    }
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
 * Answers that arrive late: an open overtaken by another open, one overtaken by
 * sign-out, and a sessions list overtaken by sign-out. Each late answer's own button says when the page has finished with it
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

    // The sessions list, held while it refreshes; sign out; its answer lands on the
    // login form and shows nothing (Refresh is enabled again once the page is done).
    await page.getByLabel("User name").fill("demo");
    await page.getByLabel("Password").fill("demo");
    await page.getByRole("button", { name: "Sign in" }).click();
    await announced(page, "Signed in as Demo User.");
    await page.getByRole("tab", { name: "Where you're signed in" }).click();
    await sessionRows(page, 1);
    const list = await hold(page, "/me/sessions");
    const refresh = page.getByRole("button", { name: "Refresh" });
    const refreshButton = await refresh.elementHandle();
    await refresh.click();
    await list.arrived;
    await page.getByRole("button", { name: "Sign out" }).click();
    await announced(page, "Signed out.");
    list.release();
    await page.waitForFunction((button) => !button.disabled, refreshButton);
    assert.equal(await page.getByRole("alert").isVisible(), false, "no error from the late list");
    assert.equal(await page.getByRole("status").textContent(), "Signed out.");
    assert.equal(await page.locator("#sessions > li").count(), 0, "no sessions shown after sign-out");
    assert.equal(await page.locator("#sessions").getAttribute("aria-busy"), null, "not left busy");
    await list.off();
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

  test("add a device: a spent code starts over with the address kept; Cancel adds nothing", async () => {
    const gw = await startGateway({
      args: ["--ui", WEB],
      env: { WDGATE_BROWSER_COOKIE_ENABLED: "true", WDGATE_DEVICES_VERIFICATION_ATTEMPTS: "2" },
    });
    try {
      await spentCode(browser, { pageUrl: `${gw.url}/ui/`, sim: gw.sim });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
    }
  });

  test("sessions, cross-origin: where you're signed in, end one, sign out everywhere else", async (t) => {
    const site = await startStaticServer();
    const gw = await startGateway({
      env: {
        WDGATE_BROWSER_COOKIE_ENABLED: "true",
        WDGATE_BROWSER_CORS_ORIGINS: site.url,
      },
    });
    try {
      await walkSessions(browser, {
        pageUrl: `${site.url}/?api=${encodeURIComponent(gw.url)}`,
        gateway: gw.url,
        screenshot: join(SHOTS, "sessions.png"),
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

  test("sessions, same-origin: the page served by wdgate serve --ui", async (t) => {
    const gw = await startGateway({
      args: ["--ui", WEB],
      env: { WDGATE_BROWSER_COOKIE_ENABLED: "true" },
    });
    try {
      await walkSessions(browser, {
        pageUrl: `${gw.url}/ui/`,
        gateway: gw.url,
        screenshot: join(SHOTS, "sessions-same-origin.png"),
        t,
      });
    } catch (error) {
      error.message += `\n--- wdgate log ---\n${gw.log.slice(-40).join("\n")}`;
      throw error;
    } finally {
      await gw.stop();
    }
  });

  test("late answers: never replace a newer one, nor outlive sign-out (documents, sessions)", async () => {
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
