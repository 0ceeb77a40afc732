// Drives Debian's chromium (headless, through playwright-core) for tests/browser/pair_test.cpp:
// opens the bridge's status page, presses "Pair a node", waits until the node `nodeId` is listed
// as asking, types `code` and presses Confirm, and waits for the page to say what happened.
//
// Usage: node pair_driver.mjs CONFIG.json, where CONFIG holds
//   {url, nodeId, code, outDir, userDataDir, timeoutMs}
// Writes OUT_DIR/result.json {ok, error, state, waiting, result} and console.log. It waits on
// conditions only (page.waitForFunction), never on fixed sleeps. Exit code 0 when the page said
// "paired", 1 otherwise.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = config.outDir;
fs.mkdirSync(out, { recursive: true });
const consoleLog = fs.createWriteStream(path.join(out, "console.log"));
const result = { ok: false };
const timeout = config.timeoutMs || 60000;

let context;
try {
  context = await chromium.launchPersistentContext(config.userDataDir, {
    executablePath: config.chromium || "/usr/bin/chromium",
    headless: true,
    chromiumSandbox: false,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (m) => consoleLog.write(`[${m.type()}] ${m.text()}\n`));
  page.on("pageerror", (e) => consoleLog.write(`[pageerror] ${e.message}\n`));
  const text = (id) => document.getElementById(id).textContent;
  try {
    await page.goto(config.url);
    await page.waitForFunction(() => !document.getElementById("pair-open").hidden, null, {
      timeout,
    });
    await page.click("#pair-open");
    await page.waitForFunction(
      (id) => document.getElementById("pair-waiting").textContent.includes(id),
      config.nodeId,
      { timeout, polling: 100 },
    );
    result.state = await page.evaluate(text, "pairing-state");
    result.waiting = await page.evaluate(text, "pair-waiting");
    await page.fill("#pair-code", config.code);
    await page.click("#pair-form button[type=submit]");
    await page.waitForFunction(
      () => document.getElementById("pair-result").textContent !== "",
      null,
      { timeout, polling: 100 },
    );
    result.result = await page.evaluate(text, "pair-result");
    result.ok = result.result.startsWith("paired");
  } catch (e) {
    result.error = String(e);
    result.state = await page.evaluate(text, "pairing-state").catch(() => "");
    result.result = await page.evaluate(text, "pair-result").catch(() => "");
  }
} catch (e) {
  result.error = String(e);
} finally {
  if (context) await context.close();
  fs.writeFileSync(path.join(out, "result.json"), JSON.stringify(result, null, 1));
  consoleLog.end();
}
process.exit(result.ok ? 0 : 1);
