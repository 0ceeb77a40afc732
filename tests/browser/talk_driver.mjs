// Drives Debian's chromium (headless, through playwright-core) for tests/browser/browser_test.cpp:
// opens the bridge's /talk page with a fake microphone fed from a WAV file, presses "Start
// talking", waits until a condition holds in the page, and writes what the test checks into
// OUT_DIR:
//
//   result.json     {ok, error, events, replies: {id: {rate, samples, playedMs, outcome}},
//                    nextSeq and pending (microphone frames numbered, and not yet acknowledged),
//                    layout: {selector: {width, height, count}}, state, problem, statusLayout}
//   reply-<id>.wav  every sample the page decoded of that reply (16-bit mono)
//   mic.wav         the microphone as the page framed it (16 kHz, before the gate and encoder)
//   sent.wav        the frames it kept for the bridge (its speech segments), before encoding
//   talk.png        a screenshot of /talk at the end; status.png of the status page (statusUrl);
//                   result.screenshot / statusScreenshot say how much is drawn on them
//   console.log     the page's console
//
// Usage: node talk_driver.mjs CONFIG.json, where CONFIG holds
//   {url, wav, outDir, userDataDir, waitFor (a JS expression over `t` = window.earshotTest and
//    `document`), timeoutMs, click (default true), statusUrl (optional), statusWaitFor,
//    ignoreCertificateErrors}
// It waits on conditions only (page.waitForFunction), never on fixed sleeps. Exit code 0 when the
// condition held, 1 otherwise (result.json says why).
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const config = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = config.outDir;
fs.mkdirSync(out, { recursive: true });
const consoleLog = fs.createWriteStream(path.join(out, "console.log"));
const result = { ok: false };

function wav16(samplesBase64, rate) {
  const pcm = Buffer.from(samplesBase64, "base64");
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);  // PCM
  header.writeUInt16LE(1, 22);  // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}

// Reads a screenshot (8-bit RGB or RGBA PNG, as chromium writes them) and says how much is drawn
// on it: the share of pixels that differ from the top-left one (the page's background) and the
// standard deviation of their brightness. A blank page has 0 and 0.
function pngStats(file) {
  const png = fs.readFileSync(file);
  let at = 8, width = 0, height = 0, channels = 0;
  const idat = [];
  while (at < png.length) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error("not an 8-bit non-interlaced PNG");
      channels = { 2: 3, 6: 4 }[data[9]];
      if (!channels) throw new Error("not an RGB(A) PNG");
    } else if (type === "IDAT") {
      idat.push(data);
    }
    at += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {  // PNG filters (RFC 2083, 6)
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x];
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      let p = 0;
      if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const q = a + b - c, pa = Math.abs(q - a), pb = Math.abs(q - b), pc = Math.abs(q - c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      pixels[y * stride + x] = (v + p) & 255;
    }
  }
  let differing = 0, sum = 0, sum2 = 0;
  const n = width * height;
  for (let i = 0; i < n; i++) {
    const o = i * channels;
    const luma = 0.299 * pixels[o] + 0.587 * pixels[o + 1] + 0.114 * pixels[o + 2];
    sum += luma;
    sum2 += luma * luma;
    if (pixels[o] !== pixels[0] || pixels[o + 1] !== pixels[1] || pixels[o + 2] !== pixels[2]) differing++;
  }
  const mean = sum / n;
  return { width, height, drawnFraction: differing / n, stddev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)) };
}

// Sizes of what the test expects on screen: a blank or broken page has none.
async function layout(page, selectors) {
  return page.evaluate((list) => {
    const sizes = {};
    for (const s of list) {
      const all = [...document.querySelectorAll(s)];
      const boxes = all.map((e) => e.getBoundingClientRect());
      sizes[s] = {
        count: all.length,
        width: Math.max(0, ...boxes.map((b) => b.width)),
        height: Math.max(0, ...boxes.map((b) => b.height)),
      };
    }
    return sizes;
  }, selectors);
}

const args = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
  // %noloop: the file plays once, then the microphone is silent (it would start over otherwise).
  `--use-file-for-fake-audio-capture=${config.wav}%noloop`,
  "--autoplay-policy=no-user-gesture-required",
];
if (config.ignoreCertificateErrors) args.push("--ignore-certificate-errors");

let context;
try {
  context = await chromium.launchPersistentContext(config.userDataDir, {
    executablePath: config.chromium || "/usr/bin/chromium",
    headless: true,
    chromiumSandbox: false,
    args,
    viewport: { width: 1000, height: 900 },
    ignoreHTTPSErrors: !!config.ignoreCertificateErrors,
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on("console", (m) => consoleLog.write(`[${m.type()}] ${m.text()}\n`));
  page.on("pageerror", (e) => consoleLog.write(`[pageerror] ${e.message}\n`));
  await page.goto(config.url);
  if (config.click !== false) await page.click("#start");
  try {
    await page.waitForFunction(
      (expr) => {
        const t = window.earshotTest;
        // eslint-disable-next-line no-new-func
        return t && new Function("t", "document", `return (${expr});`)(t, document);
      },
      config.waitFor,
      { timeout: config.timeoutMs || 120000, polling: 100 },
    );
    result.ok = true;
  } catch (e) {
    result.error = `waiting for ${config.waitFor}: ${e.message.split("\n")[0]}`;
  }
  const t = await page.evaluate(() => {
    const test = window.earshotTest || { events: [], replies: {} };
    const replies = {};
    for (const [id, r] of Object.entries(test.replies)) {
      const pcm = test.decodedPcm16(id);
      replies[id] = { rate: pcm.rate, samples: pcm.samples, base64: pcm.base64,
                      playedMs: r.playedMs, outcome: r.outcome };
    }
    const mic = test.micPcm16 ? test.micPcm16() : { samples: 0 };
    const sent = test.sentPcm16 ? test.sentPcm16() : { samples: 0 };
    return {
      events: test.events, replies, nextSeq: test.nextSeq, pending: test.pending, mic, sent,
      state: document.getElementById("state").textContent,
      problem: document.getElementById("problem").textContent,
    };
  });
  if (t.mic.samples > 0) fs.writeFileSync(path.join(out, "mic.wav"), wav16(t.mic.base64, t.mic.rate));
  if (t.sent.samples > 0) fs.writeFileSync(path.join(out, "sent.wav"), wav16(t.sent.base64, t.sent.rate));
  result.events = t.events;
  result.nextSeq = t.nextSeq;
  result.pending = t.pending;
  result.state = t.state;
  result.problem = t.problem;
  result.replies = {};
  for (const [id, r] of Object.entries(t.replies)) {
    if (r.samples > 0) fs.writeFileSync(path.join(out, `reply-${id}.wav`), wav16(r.base64, r.rate));
    result.replies[id] = { rate: r.rate, samples: r.samples, playedMs: r.playedMs, outcome: r.outcome };
  }
  result.layout = await layout(page, ["h1", "#start", "#meter", ".turn", ".heard", ".reply",
                                      ".stage-bar", "#problem"]);
  await page.screenshot({ path: path.join(out, "talk.png"), fullPage: true });
  result.screenshot = pngStats(path.join(out, "talk.png"));
  if (config.statusUrl) {
    const status = await context.newPage();
    await status.goto(config.statusUrl);
    try {
      await status.waitForFunction(config.statusWaitFor || "document.querySelectorAll('.stage-bar').length > 0",
                                   null, { timeout: 20000, polling: 100 });
    } catch (e) {
      result.ok = false;
      result.error = `status page: ${e.message.split("\n")[0]}`;
    }
    result.statusLayout = await layout(status, ["h1", "#turns tr", ".stage-bar", "a[href='/talk']"]);
    await status.screenshot({ path: path.join(out, "status.png"), fullPage: true });
    result.statusScreenshot = pngStats(path.join(out, "status.png"));
  }
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
} finally {
  if (context) await context.close().catch(() => {});
  fs.writeFileSync(path.join(out, "result.json"), JSON.stringify(result, null, 1));
  consoleLog.end();
}
process.exit(result.ok ? 0 : 1);
