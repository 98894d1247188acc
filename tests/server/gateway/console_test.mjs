// The web console (GET /) in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core, which never downloads a browser here), against
// the real cqmux-server binary:
//   - a book inserted in one page appears in a second page without reload
//     (the second page's EventSource on /v1/books:watch);
//   - an error is shown in words (a duplicate id), not as raw JSON;
//   - users are created and looked up, results listed as the NDJSON arrives;
//   - the outliers page with the tutorial's data highlights 7, 113 and 835;
//   - a screenshot of each page is written to $CQMUX_ARTIFACTS.
// Every wait is for page state (selectors, text), never a fixed time.
//
// ctest sets CQMUX_SERVER, CQMUX_NODE_MODULES (where the build installed
// playwright-core from package-lock.json) and CQMUX_ARTIFACTS.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.CQMUX_NODE_MODULES, "package.json"));
const { chromium } = require("playwright-core");
const artifacts = process.env.CQMUX_ARTIFACTS;
mkdirSync(artifacts, { recursive: true });

// Starts the server on free ports; resolves with its HTTP base URL once it
// logs the gateway's port.
function startServer() {
  const proc = spawn(process.env.CQMUX_SERVER,
    ["--listen=127.0.0.1:0", "--store=memory", "--metrics-listen=", "--http-listen=127.0.0.1:0",
     "--password-hash=min", "--threads=2"],
    { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const ready = new Promise((resolve, reject) => {
    proc.stderr.on("data", (data) => {
      log += data;
      const match = /http gateway listening on \S+ \(port (\d+)\)/.exec(log);
      if (match) resolve(`http://127.0.0.1:${match[1]}`);
    });
    proc.on("exit", (code) => reject(new Error(`cqmux-server exited with ${code}:\n${log}`)));
  });
  return { proc, ready, log: () => log };
}

function stopServer(server) {
  return new Promise((resolve) => {
    if (server.proc.exitCode !== null) return resolve(server.proc.exitCode);
    server.proc.removeAllListeners("exit");
    server.proc.on("exit", (code) => resolve(code));
    server.proc.kill("SIGTERM");
  });
}

const server = startServer();
let browser;
let failed = false;
try {
  const base = await server.ready;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    // As root Chromium needs --no-sandbox; the rest keeps it off the network.
    // (playwright gives it a fresh temporary profile of its own.)
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const first = await context.newPage();
  const second = await context.newPage();
  const pageErrors = [];
  for (const page of [first, second]) page.on("pageerror", (e) => pageErrors.push(String(e)));

  // ---- Books: live across pages.
  for (const page of [first, second]) {
    await page.goto(base + "/");
    await page.waitForSelector("#watch-status.live");
    await page.waitForSelector('#book-rows tr[data-id="123"]');  // the seeded book, from List
  }
  await second.evaluate(() => { window.notReloaded = true; });
  await first.fill('#book-form input[name="id"]', "777");
  await first.fill('#book-form input[name="title"]', "The Left Hand of Darkness");
  await first.fill('#book-form input[name="author"]', "Ursula K. Le Guin");
  await first.click('#book-form button[type="submit"]');
  const row = await second.waitForSelector('#book-rows tr[data-id="777"]');
  assert.match(await row.textContent(), /The Left Hand of Darkness.*Ursula K\. Le Guin/);
  assert.equal(await second.evaluate(() => window.notReloaded), true, "the second page reloaded");
  await first.waitForSelector('#book-rows tr[data-id="777"]');  // its own insert, via the watch too

  // An error in words: the same id again.
  await first.fill('#book-form input[name="id"]', "777");
  await first.fill('#book-form input[name="title"]', "Duplicate");
  await first.fill('#book-form input[name="author"]', "Someone");
  await first.click('#book-form button[type="submit"]');
  await first.waitForFunction(() => document.getElementById("book-error").textContent.length > 0);
  const error = await first.textContent("#book-error");
  assert.match(error, /^Inserting book 777 failed: A book with id 777 already exists\. Pick another one\./);
  assert.doesNotMatch(error, /[{}]/);
  // Delete by id; deleting it again is explained in words.
  await first.fill('#delete-form input[name="id"]', "777");
  await first.click('#delete-form button[type="submit"]');
  await first.waitForSelector('#book-rows tr[data-id="777"]', { state: "detached" });
  await first.fill('#delete-form input[name="id"]', "777");
  await first.click('#delete-form button[type="submit"]');
  await first.waitForFunction(() => document.getElementById("book-error").textContent.startsWith("Deleting"));
  assert.match(await first.textContent("#book-error"),
    /^Deleting book 777 failed: No book with id 777 was found\. It does not exist \(any more\)\./);
  await second.screenshot({ path: path.join(artifacts, "console-books.png"), fullPage: true });

  // ---- Users: create two, look up three (one unknown) from the stream.
  await first.click('nav button[data-tab="users"]');
  for (const [name, email] of [["alice", "alice@example.org"], ["bob", "bob@example.org"]]) {
    await first.fill('#user-form input[name="username"]', name);
    await first.fill('#user-form input[name="email"]', email);
    await first.fill('#user-form input[name="password"]', "correct horse");
    await first.click('#user-form button[type="submit"]');
    await first.waitForFunction((n) => document.getElementById("user-note").textContent.includes(n), name);
  }
  await first.fill('#lookup-form input[name="who"]', "alice, bob, nobody");
  await first.click('#lookup-form button[type="submit"]');
  await first.waitForFunction(() => document.querySelectorAll("#lookup-results li").length === 3);
  const results = await first.$$eval("#lookup-results li", (items) => items.map((li) => li.textContent));
  assert.match(results[0], /^alice — id \d+$/);
  assert.match(results[1], /^bob — id \d+$/);
  assert.match(results[2], /No user with username "nobody" was found/);
  await first.screenshot({ path: path.join(artifacts, "console-users.png"), fullPage: true });

  // ---- Outliers: the tutorial's data.
  await first.click('nav button[data-tab="outliers"]');
  await first.click("#tutorial");
  assert.equal((await first.inputValue("#values")).split("\n").length, 1000);
  await first.click('#detect-form button[type="submit"]');
  await first.waitForSelector("#plot circle.outlier");
  const indices = await first.$$eval("#plot circle.outlier", (cs) => cs.map((c) => Number(c.dataset.index)));
  assert.deepEqual(indices, [7, 113, 835]);
  assert.match(await first.textContent("#outlier-summary"), /^Outliers at indices 7, 113, 835 /);
  assert.equal(await first.locator("#plot rect.band").count(), 1);
  assert.equal(await first.locator("#plot line.mean").count(), 1);
  await first.screenshot({ path: path.join(artifacts, "console-outliers.png"), fullPage: true });

  // Pasted values that are not numbers are explained before any request.
  await first.fill("#values", "1, 2, banana");
  await first.click('#detect-form button[type="submit"]');
  await first.waitForFunction(() => document.getElementById("detect-error").textContent.length > 0);
  assert.equal(await first.textContent("#detect-error"), '"banana" (value 2) is not a number.');

  assert.deepEqual(pageErrors, []);
  console.log("console test passed; screenshots in " + artifacts);
} catch (e) {
  failed = true;
  console.error(e);
  console.error("server log:\n" + server.log());
} finally {
  if (browser) await browser.close();
  const code = await stopServer(server);
  if (code !== 0) {
    console.error(`cqmux-server exited with ${code}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
