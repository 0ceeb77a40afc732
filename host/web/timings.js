// Earshot: a turn's stage timings as horizontal bars, shared by the talk page (/talk, from the
// turn_timings message) and the status page (/, from /api/status). Each stage is one row; its bar
// starts where the stage before it ended and is as long as the stage took, so the rows read as a
// waterfall from the end of the person's speech to the first reply frame sent.
"use strict";

const EARSHOT_STAGES = [
  ["end_of_turn_ms", "turn end"],
  ["stt_final_ms", "transcript"],
  ["llm_first_token_ms", "first token"],
  ["first_sentence_ms", "first sentence"],
  ["tts_first_audio_ms", "first audio"],
  ["first_frame_sent_ms", "first frame sent"],
];

// Fills `container` with one row per known stage of `timings` ({stage: ms}; absent, null or
// negative: not known). `scaleMs`: the width of the whole bar area (default: the last stage,
// at least 1000 ms). Returns the number of rows drawn.
function earshotDrawTimings(container, timings, scaleMs) {
  container.replaceChildren();
  const known = EARSHOT_STAGES.filter(([key]) => typeof timings[key] === "number" && timings[key] >= 0);
  if (known.length === 0) return 0;
  const last = Math.max(...known.map(([key]) => timings[key]));
  const scale = scaleMs || Math.max(1000, last);
  let previous = 0;
  for (const [key, label] of known) {
    const ms = timings[key];
    const row = document.createElement("div");
    row.className = "stage";
    const name = document.createElement("span");
    name.className = "stage-name";
    name.textContent = label;
    const track = document.createElement("span");
    track.className = "stage-track";
    const bar = document.createElement("span");
    bar.className = "stage-bar stage-" + key.replace(/_ms$/, "");
    const start = Math.min(previous, ms);
    bar.style.left = (100 * start / scale).toFixed(2) + "%";
    bar.style.width = Math.max(0.5, 100 * (ms - start) / scale).toFixed(2) + "%";
    track.appendChild(bar);
    const value = document.createElement("span");
    value.className = "stage-value";
    value.textContent = Math.round(ms) + " ms" + (ms > previous ? " (+" + Math.round(ms - previous) + ")" : "");
    row.append(name, track, value);
    container.appendChild(row);
    previous = Math.max(previous, ms);
  }
  return known.length;
}

// The bars' look; both pages include it once.
const EARSHOT_TIMINGS_CSS = `
.stage { display: flex; align-items: center; gap: .5em; font-size: 12px; line-height: 16px; }
.stage-name { width: 8.5em; color: #555; flex: none; }
.stage-track { position: relative; flex: 1; height: 10px; background: #f0f0f0; min-width: 120px; }
.stage-bar { position: absolute; top: 0; height: 10px; border-radius: 2px; background: #4a7bd0; }
.stage-bar.stage-end_of_turn { background: #9aa5b1; }
.stage-bar.stage-stt_final { background: #3c9d6b; }
.stage-bar.stage-llm_first_token { background: #d08c2a; }
.stage-bar.stage-first_sentence { background: #b5652e; }
.stage-bar.stage-tts_first_audio { background: #8a55c7; }
.stage-bar.stage-first_frame_sent { background: #4a7bd0; }
.stage-value { width: 9.5em; color: #333; flex: none; white-space: nowrap;
               font-variant-numeric: tabular-nums; }
`;

(function addTimingsStyle() {
  const style = document.createElement("style");
  style.textContent = EARSHOT_TIMINGS_CSS;
  document.head.appendChild(style);
})();
