#include "host/web_client.h"

namespace earshot::host {

// Transcripts and replies are put in the page with textContent, never as HTML: what a person said
// (or a model wrote) must not be able to run script in the page.
const std::string& web_client_html() {
  static const std::string page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Earshot</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { text-align: left; padding: .25em .8em; border-bottom: 1px solid #ddd; vertical-align: top; }
td.empty { color: #888; }
td.timings { min-width: 22em; }
#state { color: #666; }
</style></head>
<body>
<h1>Earshot bridge</h1>
<p id="state">loading…</p>
<p><a href="/talk">Talk from this browser</a> (needs a link with a token: <code>earshot-bridge tokens add NAME</code>)</p>
<h2>Live sessions</h2>
<table><thead><tr><th>node</th><th>room</th><th>mode</th><th>protocol</th><th>state</th><th>connected</th><th>session</th></tr></thead>
<tbody id="sessions"></tbody></table>
<h2>Recent turns</h2>
<table><thead><tr><th>time</th><th>node</th><th>heard</th><th>reply</th><th>after the end of speech</th></tr></thead>
<tbody id="turns"></tbody></table>
<h2>Pairing</h2>
<p id="pairing-state">—</p>
<p><button id="pair-open" type="button">Pair a node</button>
<button id="pair-close" type="button" hidden>Close the window</button></p>
<div id="pair-confirm" hidden>
<table><thead><tr><th>node asking</th><th>room</th><th>from</th><th>waiting</th></tr></thead>
<tbody id="pair-waiting"></tbody></table>
<form id="pair-form"><label>Code the node shows in its log:
<input id="pair-code" autocomplete="off" size="12" required></label>
<button type="submit">Confirm</button></form>
</div>
<p id="pair-result"></p>
<p><a href="/metrics">/metrics</a> · <a href="/healthz">/healthz</a></p>
<script src="/talk/timings.js"></script>
<script>
"use strict";
function row(cells) {
  const tr = document.createElement("tr");
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }
  return tr;
}
function fill(id, rows, columns, empty) {
  const body = document.getElementById(id);
  body.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = row([empty]);
    tr.firstChild.colSpan = columns;
    tr.firstChild.className = "empty";
    body.appendChild(tr);
  }
}
function duration(s) {
  return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min" : Math.floor(s / 3600) + " h";
}
async function refresh() {
  const state = document.getElementById("state");
  try {
    const r = await fetch("/api/status" + location.search, {cache: "no-store"});
    const status = await r.json();
    if (!r.ok) throw new Error(status.error || ("HTTP " + r.status));
    fill("sessions", status.sessions.map(s => row([s.node_id, s.room, s.mode, s.protocol || "",
        s.state || "", duration(s.connected_for_s), s.session_id])), 7, "no node connected");
    fill("turns", status.turns.map(t => {
      const tr = row([new Date(t.at_ms).toLocaleString(), t.node_id, t.transcript,
                      t.reply + (t.interrupted ? " [interrupted]" : ""), ""]);
      tr.lastChild.className = "timings";
      // Where the turn's time went (/talk/timings.js; absent if that script did not load).
      if (typeof earshotDrawTimings === "function") earshotDrawTimings(tr.lastChild, t.timings || {});
      return tr;
    }), 5, "no turns yet");
    state.textContent = (status.draining ? "draining; " : "") + "updated " +
        new Date().toLocaleTimeString();
  } catch (e) {
    state.textContent = "cannot read the bridge's status: " + e.message;
  }
}
// Pairing (docs/deploy.md, "Pairing a new node"): the same calls as `earshot-bridge pair`. They
// are served to this machine or with server.status_token, which this page was opened with
// (?token=...) and sends as a bearer token; JSON bodies keep other sites' pages from calling them.
const statusToken = new URLSearchParams(location.search).get("token");
async function pairingCall(path, body) {
  const headers = {"Content-Type": "application/json"};
  if (statusToken) headers["Authorization"] = "Bearer " + statusToken;
  const r = await fetch(path, {method: "POST", headers, body: JSON.stringify(body || {}),
                               cache: "no-store"});
  const answer = await r.json();
  if (!r.ok) throw new Error(answer.error || ("HTTP " + r.status));
  return answer;
}
function showPairing(p) {
  document.getElementById("pairing-state").textContent = p.open
      ? "window open, closes in " + p.closes_in_s + " s" +
        (p.fingerprint ? "; the node will pin certificate " + p.fingerprint : "")
      : "window closed";
  document.getElementById("pair-open").hidden = p.open;
  document.getElementById("pair-close").hidden = !p.open;
  document.getElementById("pair-confirm").hidden = !p.open;
  fill("pair-waiting", p.waiting.map(w => row([w.node_id, w.room, w.peer, duration(w.waiting_s)])),
       4, "no node asking yet");
}
async function refreshPairing() {
  try {
    const r = await fetch("/api/pairing" + location.search, {cache: "no-store"});
    const p = await r.json();
    if (!r.ok) throw new Error(p.error || ("HTTP " + r.status));
    showPairing(p);
  } catch (e) {
    document.getElementById("pairing-state").textContent = "cannot read pairing: " + e.message;
  }
}
function pairingResult(text) { document.getElementById("pair-result").textContent = text; }
document.getElementById("pair-open").addEventListener("click", async () => {
  try { showPairing(await pairingCall("/api/pairing/open", {window_s: 120})); pairingResult(""); }
  catch (e) { pairingResult("cannot open the pairing window: " + e.message); }
});
document.getElementById("pair-close").addEventListener("click", async () => {
  try { showPairing(await pairingCall("/api/pairing/close")); }
  catch (e) { pairingResult("cannot close the pairing window: " + e.message); }
});
document.getElementById("pair-form").addEventListener("submit", async event => {
  event.preventDefault();
  const code = document.getElementById("pair-code").value.trim();
  try {
    const done = await pairingCall("/api/pairing/confirm", {code});
    pairingResult("paired " + done.paired + ": " + done.message);
    document.getElementById("pair-code").value = "";
    // As `earshot-bridge pair` does: the window closes once a node is paired.
    await pairingCall("/api/pairing/close");
  } catch (e) {
    pairingResult("not paired: " + e.message);
  }
  refreshPairing();
});
refresh();
refreshPairing();
setInterval(() => { refresh(); refreshPairing(); }, 2000);
</script>
</body></html>
)html";
  return page;
}

}  // namespace earshot::host
