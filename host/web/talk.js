// Earshot browser client: the page at /talk speaks earshot.v1 (docs/protocol.md) as a
// conversation-mode client, like a room node.
//
//   microphone (getUserMedia: echo cancellation; noise suppression with ?ns=1)
//     -> AudioWorklet "earshot-capture": mono, 16 kHz, 20 ms frames (talk_worklet.js)
//     -> level meter; EnergyGate: speech segments with 300 ms pre-roll and 400 ms hangover
//     -> encoder (WebCodecs AudioEncoder, Opus 16 kHz mono 20 ms; or pcm16 where there is none)
//     -> Uplink: only the segments' frames, flagged like a node's, into the SpeechBuffer
//     -> Link: WebSocket (earshot.v1) to the bridge; frames stay buffered until acknowledged and
//        everything above welcome.acked_seq is sent again after a reconnect
//   reply frames -> Player: AudioDecoder (Opus) or pcm16 -> AudioWorklet "earshot-playback"
//     (jitter buffer, ~80 ms) -> speaker; playback_done / interrupt report what was played
//
// Barge-in: speech while a reply plays stops it (a short fade) and sends interrupt {reply_id,
// played_ms, played_seq} before the first frame of the new speech, as a node does; the bridge's
// own interrupt stops it the same way and is answered with what was played.
//
// The token comes from the URL fragment (#token=NAME.SECRET, printed by `earshot-bridge tokens
// add NAME`), is kept in localStorage, and travels in hello.token; node_id is "browser-NAME".
// Everything from the bridge is put in the page as text, never as HTML.
"use strict";

const WIRE_RATE = 16000;
const FRAME_SAMPLES = 320;            // 20 ms at 16 kHz
const FRAME_US = 20000;
const HEADER_BYTES = 20;              // protocol/audio_frame.h
const STREAM_MIC = 0, STREAM_REPLY = 1;
const FLAG_SEGMENT_START = 1, FLAG_SEGMENT_END = 2, FLAG_REDELIVERY = 4, FLAG_PRE_ROLL = 8;
const CLOSE_UNAUTHORIZED = 4001, CLOSE_BAD_VERSION = 4002, CLOSE_BAD_AUDIO = 4003;
// 48 kbit/s and complexity 10: the browser's encoder works at 48 kHz inside, and at the node's 32
// kbit/s it cost the bridge's speech recognition a few words in a hundred; 48 kbit/s is still a
// sixth of pcm16.
const OPUS_ENCODER_CONFIG = {
  codec: "opus", sampleRate: WIRE_RATE, numberOfChannels: 1, bitrate: 48000,
  opus: {frameDuration: FRAME_US, application: "voip", complexity: 10, signal: "voice",
         useinbandfec: true},
};
const OPUS_DECODER_CONFIG = {codec: "opus", sampleRate: WIRE_RATE, numberOfChannels: 1};

// A test drives the page with ?test=1: it keeps the reply audio it decoded and a log of events in
// window.earshotTest (tests/browser/). ?codec=pcm16 forces the fallback codec; ?ns=1 turns the
// browser's noise suppression on.
const query = new URLSearchParams(location.search);
const testing = query.get("test") === "1";

// --- binary audio frames (protocol/audio_frame.h: big-endian, 20-byte header) -------------------

function writeFrame(stream, flags, seq, timestamp, payload) {
  const bytes = new Uint8Array(HEADER_BYTES + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 1);  // version
  view.setUint8(1, stream);
  view.setUint16(2, flags);
  view.setBigUint64(4, BigInt(seq));
  view.setBigUint64(12, BigInt(timestamp));
  bytes.set(payload, HEADER_BYTES);
  return bytes;
}

function parseFrame(buffer) {
  if (buffer.byteLength <= HEADER_BYTES) return null;
  const view = new DataView(buffer);
  if (view.getUint8(0) !== 1) return null;
  return {
    stream: view.getUint8(1),
    flags: view.getUint16(2),
    seq: Number(view.getBigUint64(4)),
    timestamp: Number(view.getBigUint64(12)),
    payload: new Uint8Array(buffer, HEADER_BYTES),
  };
}

// --- the page -------------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

const ui = {
  state(text) { $("state").textContent = text; },
  problem(text) {
    $("problem").textContent = text;
    $("problem").classList.toggle("shown", !!text);
  },
  level(db, speaking) {
    const level = $("level");
    level.style.width = Math.max(0, Math.min(100, (db + 60) * 100 / 60)).toFixed(0) + "%";
    level.classList.toggle("speaking", speaking);
  },
  turns: new Map(),  // turn_id -> {heard, reply, replyState, timings}
  replies: new Map(),  // reply_id -> turn_id
  turn(turnId) {
    let t = this.turns.get(turnId);
    if (t) return t;
    const empty = $("empty");
    if (empty) empty.remove();
    const box = document.createElement("div");
    box.className = "turn";
    box.dataset.turn = turnId;
    const you = document.createElement("div");
    const youName = document.createElement("span");
    youName.className = "who";
    youName.textContent = "You:";
    const heard = document.createElement("span");
    heard.className = "heard partial";
    you.append(youName, heard);
    const them = document.createElement("div");
    const themName = document.createElement("span");
    themName.className = "who";
    themName.textContent = "Earshot:";
    const reply = document.createElement("span");
    reply.className = "reply";
    const replyState = document.createElement("span");
    replyState.className = "reply-state";
    them.append(themName, reply, replyState);
    them.hidden = true;
    const timings = document.createElement("div");
    timings.className = "timings";
    box.append(you, them, timings);
    $("turns").prepend(box);
    t = {box, heard, them, reply, replyState, timings};
    this.turns.set(turnId, t);
    return t;
  },
  transcript(m) {
    const t = this.turn(m.turn_id);
    t.heard.textContent = m.text;
    t.heard.classList.toggle("partial", !m.final);
  },
  replyText(m) {
    this.replies.set(m.reply_id, m.turn_id);
    const t = this.turn(m.turn_id);
    t.them.hidden = false;
    if (m.delta) t.reply.textContent += m.delta;
  },
  replyState(replyId, text) {
    const turnId = this.replies.get(replyId);
    if (turnId) this.turn(turnId).replyState.textContent = text;
  },
  timings(m) {
    earshotDrawTimings(this.turn(m.turn_id).timings, m);
  },
};

// What a test reads back.
const record = {
  events: [],
  mic: [],      // every 16 kHz microphone frame, as the page framed it (index = frame index)
  sent: [],     // the frame indexes kept for the bridge (the segments), in order
  replies: {},  // reply_id -> {rate, chunks: [Float32Array], playedMs, outcome}
  event(type, detail) {
    if (testing) this.events.push(Object.assign({type, at: performance.now()}, detail || {}));
  },
};
if (testing) {
  window.earshotTest = {
    events: record.events,
    replies: record.replies,
    // Microphone frames numbered so far (the next seq), and how many wait for an ack.
    get nextSeq() { return window.earshotClient ? window.earshotClient.buffer.nextSeq : 0; },
    get pending() { return window.earshotClient ? window.earshotClient.buffer.entries.length : 0; },
    // Every decoded sample of one reply (or of all of them, in order), as 16-bit PCM in base64.
    decodedPcm16(replyId) {
      const ids = replyId ? [replyId] : Object.keys(record.replies);
      let rate = 0;
      const parts = [];
      for (const id of ids) {
        const r = record.replies[id];
        if (!r) continue;
        rate = rate || r.rate;
        parts.push(...r.chunks);
      }
      return pcm16Base64(parts, rate);
    },
    // What the microphone gave the page, at 16 kHz (the frames before the gate and the encoder).
    micPcm16() { return pcm16Base64(record.mic, WIRE_RATE); },
    // The frames kept for the bridge (before encoding), in order: what its recogniser was fed.
    sentPcm16() { return pcm16Base64(record.sent.map((i) => record.mic[i]).filter((f) => f), WIRE_RATE); },
  };
}

// Float chunks as 16-bit little-endian PCM in base64, for the test to read back.
function pcm16Base64(parts, rate) {
  let total = 0;
  for (const c of parts) total += c.length;
  const pcm = new DataView(new ArrayBuffer(total * 2));
  let at = 0;
  for (const c of parts)
    for (let i = 0; i < c.length; i++, at += 2)
      pcm.setInt16(at, Math.max(-32768, Math.min(32767, Math.round(c[i] * 32767))), true);
  let binary = "";
  const bytes = new Uint8Array(pcm.buffer);
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return {rate, samples: total, base64: btoa(binary)};
}

// --- the token ------------------------------------------------------------------------------------

function readToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  let token = fragment.get("token");
  if (token) {
    try { localStorage.setItem("earshot.token", token); } catch (e) { /* private mode */ }
    history.replaceState(null, "", location.pathname + location.search);  // out of the address bar
  } else {
    try { token = localStorage.getItem("earshot.token"); } catch (e) { token = null; }
  }
  return token;
}

function forgetToken() {
  try { localStorage.removeItem("earshot.token"); } catch (e) { /* private mode */ }
}

// --- SpeechBuffer: microphone frames until the bridge acknowledges them ---------------------------
// Like device/link/speech_buffer.h: numbered 0, 1, 2, ...; sent once per connection; freed by a
// cumulative ack; on a new connection everything above welcome.acked_seq goes again, flagged as
// redelivery; a page that was reloaded (numbering from 0 again) renumbers above the bridge's mark.
// Bounded: 60 s of frames; when full the oldest is dropped.

class SpeechBuffer {
  constructor(maxFrames) {
    this.maxFrames = maxFrames;
    this.entries = [];  // {seq, flags, timestamp, payload, sent}
    this.nextSeq = 0;
    this.sendAt = 0;    // index in entries of the next to send on this connection
    this.dropped = 0;
  }
  push(flags, timestamp, payload) {
    if (this.entries.length >= this.maxFrames) {
      this.entries.shift();
      this.sendAt = Math.max(0, this.sendAt - 1);
      this.dropped++;
    }
    const seq = this.nextSeq++;
    this.entries.push({seq, flags, timestamp, payload, sent: false});
    return seq;
  }
  next() {
    if (this.sendAt >= this.entries.length) return null;
    const e = this.entries[this.sendAt++];
    const flags = e.flags | (e.sent ? FLAG_REDELIVERY : 0);
    e.sent = true;
    return writeFrame(STREAM_MIC, flags, e.seq, e.timestamp, e.payload);
  }
  ack(seq) {
    let n = 0;
    while (n < this.entries.length && this.entries[n].seq <= seq) n++;
    if (n === 0) return;
    this.entries.splice(0, n);
    this.sendAt = Math.max(0, this.sendAt - n);
  }
  onWelcome(ackedSeq) {
    if (ackedSeq !== undefined && ackedSeq >= this.nextSeq) {
      let seq = ackedSeq + 1;
      for (const e of this.entries) e.seq = seq++;
      this.nextSeq = seq;
    } else if (ackedSeq !== undefined) {
      this.ack(ackedSeq);
    }
    this.sendAt = 0;
  }
  // Frames sent on this connection and not yet acknowledged.
  get awaitingAck() { return this.sendAt > 0; }
}

// --- EnergyGate: where speech starts and ends ------------------------------------------------------
// A level gate over a tracked noise floor, on the echo-cancelled microphone: speech is a frame 12 dB
// above the floor (and above -52 dBFS); two speech frames in a row open a segment (four while a
// reply plays, so that echo the canceller left does not stop it), 400 ms without speech close it.

class EnergyGate {
  constructor() {
    this.floor = -70;
    this.preRollFrames = 15;   // 300 ms
    this.hangoverFrames = 20;  // 400 ms
    this.run = 0;
    this.open = false;
    this.hangover = 0;
    this.lastEnd = -1;
  }
  // Returns {start: {first, onset}} or {end: index} or null for frame `index`.
  push(index, db, playing) {
    if (db < this.floor) this.floor = 0.7 * this.floor + 0.3 * db;
    else this.floor = Math.min(db, this.floor + 0.02);
    const threshold = Math.max(this.floor + 12, -52) + (playing ? 3 : 0);
    const speech = db > threshold;
    if (!this.open) {
      this.run = speech ? this.run + 1 : 0;
      if (this.run >= (playing ? 4 : 2)) {
        this.open = true;
        this.hangover = this.hangoverFrames;
        const onset = index - this.run + 1;
        this.run = 0;
        return {start: {first: Math.max(0, this.lastEnd + 1, onset - this.preRollFrames), onset}};
      }
      return null;
    }
    this.hangover = speech ? this.hangoverFrames : this.hangover - 1;
    if (this.hangover > 0) return null;
    this.open = false;
    this.lastEnd = index;
    return {end: index};
  }
}

function levelDb(frame) {
  let sum = 0;
  for (let i = 0; i < frame.length; i++) sum += frame[i] * frame[i];
  return 10 * Math.log10(sum / frame.length + 1e-12);
}

// --- encoders: 20 ms frames in, payloads out (frame index -> payload) ------------------------------

class OpusEncoder {
  constructor(onPacket, onError) {
    this.encoder = new AudioEncoder({
      output: (chunk) => {
        const payload = new Uint8Array(chunk.byteLength);
        chunk.copyTo(payload);
        onPacket(Math.round(chunk.timestamp / FRAME_US), payload);
      },
      error: (e) => onError("Opus encoder: " + e.message),
    });
    this.encoder.configure(OPUS_ENCODER_CONFIG);
  }
  encode(frame, index) {
    const data = new AudioData({format: "f32", sampleRate: WIRE_RATE, numberOfFrames: FRAME_SAMPLES,
                                numberOfChannels: 1, timestamp: index * FRAME_US, data: frame});
    this.encoder.encode(data);
    data.close();
  }
  close() { if (this.encoder.state !== "closed") this.encoder.close(); }
}

class Pcm16Encoder {
  constructor(onPacket) { this.onPacket = onPacket; }
  encode(frame, index) {
    const payload = new Uint8Array(frame.length * 2);
    const view = new DataView(payload.buffer);
    for (let i = 0; i < frame.length; i++)
      view.setInt16(2 * i, Math.max(-32768, Math.min(32767, Math.round(frame[i] * 32767))), true);
    this.onPacket(index, payload);
  }
  close() {}
}

// --- Uplink: the gate's segments, picked out of the encoded stream --------------------------------
// Every frame is encoded (an encoder keeps its state that way); a frame is kept only when it lies
// in a segment. The last frames stay in a small ring, so that a segment's pre-roll, which lies
// before the gate could tell, is still there when it opens.

class Uplink {
  constructor(buffer, link) {
    this.buffer = buffer;
    this.link = link;
    this.segments = [];   // {first, onset, last (null while open), started}
    this.ring = new Map();  // frame index -> payload, the last ~40 frames
  }
  onGate(event) {
    if (event.start) {
      const s = {first: event.start.first, onset: event.start.onset, last: null, started: false};
      this.segments.push(s);
      const held = [...this.ring.keys()].filter((i) => i >= s.first).sort((a, b) => a - b);
      for (const i of held) {
        this.keep(s, i, this.ring.get(i));
        this.ring.delete(i);
      }
    } else if (event.end !== undefined) {
      const s = this.segments.find((x) => x.last === null);
      if (s) s.last = event.end;
    }
  }
  onPacket(index, payload) {
    const s = this.segments.find((x) => index >= x.first && (x.last === null || index <= x.last));
    if (s) {
      this.keep(s, index, payload);
    } else {
      this.ring.set(index, payload);
      for (const i of this.ring.keys()) if (i < index - 40) this.ring.delete(i);
    }
    while (this.segments.length && this.segments[0].last !== null && this.segments[0].last <= index)
      this.segments.shift();
  }
  keep(s, index, payload) {
    if (testing) record.sent.push(index);
    let flags = 0;
    if (!s.started) flags |= FLAG_SEGMENT_START;
    if (index < s.onset) flags |= FLAG_PRE_ROLL;
    if (index === s.last) flags |= FLAG_SEGMENT_END;
    const timestamp = index * FRAME_SAMPLES;
    const seq = this.buffer.push(flags, timestamp, payload);
    if (!s.started) this.link.sendControl({type: "speech_start", seq, timestamp});
    if (flags & FLAG_SEGMENT_END) this.link.sendControl({type: "speech_end", seq, timestamp});
    s.started = true;
    this.link.pump();
  }
}

// --- Link: the WebSocket, its handshake and reconnects ---------------------------------------------

class Link {
  constructor(options) {
    this.o = options;  // {url, hello(), buffer, onWelcome, onMessage, onReplyFrame, onFatal, onState}
    this.ws = null;
    this.welcomed = false;
    this.backoffMs = 200;
    this.held = false;  // barge-in: no microphone frame until the interrupt is out
    this.waiting = [];  // control messages held back meanwhile
    this.stopped = false;
    this.timer = null;
  }
  connect() {
    if (this.stopped) return;
    this.welcomed = false;
    this.o.onState("connecting…");
    const ws = new WebSocket(this.o.url, "earshot.v1");
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    const handshake = setTimeout(() => ws.close(), 10000);  // no welcome: redial
    ws.onopen = () => ws.send(JSON.stringify(this.o.hello()));
    // A link that died without a close (a phone changing networks) shows as silence while frames
    // wait for their ack: a browser cannot ping, so redial then (the bridge pings an idle link).
    this.lastHeard = performance.now();
    const liveness = setInterval(() => {
      if (this.ws !== ws) return clearInterval(liveness);
      if (this.welcomed && this.o.buffer.awaitingAck && performance.now() - this.lastHeard > 45000)
        ws.close(1000, "no answer");
    }, 5000);
    ws.onmessage = (e) => {
      this.lastHeard = performance.now();
      if (typeof e.data !== "string") {
        const f = parseFrame(e.data);
        if (f && f.stream === STREAM_REPLY) this.o.onReplyFrame(f);
        return;
      }
      let m;
      try { m = JSON.parse(e.data); } catch (err) { return; }
      if (m.type === "welcome") {
        clearTimeout(handshake);
        this.welcomed = true;
        this.backoffMs = 200;
        this.o.buffer.onWelcome(m.acked_seq);
        this.o.onWelcome(m);
        this.pump();
      } else if (m.type === "ack") {
        this.o.buffer.ack(m.seq);
      } else {
        this.o.onMessage(m);
      }
    };
    ws.onclose = (e) => {
      clearTimeout(handshake);
      clearInterval(liveness);
      if (this.ws !== ws) return;
      this.ws = null;
      this.welcomed = false;
      if (this.stopped) return;  // we closed it
      // Retrying cannot help these (docs/protocol.md, close codes): say why and stop.
      if (e.code === CLOSE_UNAUTHORIZED || e.code === CLOSE_BAD_VERSION || e.code === CLOSE_BAD_AUDIO) {
        this.stopped = true;
        this.o.onFatal(e.code, e.reason);
        return;
      }
      const delay = this.backoffMs * (0.7 + 0.6 * Math.random());
      this.backoffMs = Math.min(30000, this.backoffMs * 2);
      this.o.onState("disconnected (" + e.code + "); trying again in " + (delay / 1000).toFixed(1) + " s");
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }
  // While held (a barge-in being reported) other messages wait, so the interrupt (`urgent`) is
  // the first thing the bridge hears of the new speech.
  sendControl(message, urgent) {
    if (this.held && !urgent) {
      this.waiting.push(message);
      return;
    }
    if (this.ws && this.welcomed && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }
  hold() { this.held = true; }
  release() {
    this.held = false;
    for (const m of this.waiting.splice(0)) this.sendControl(m);
    this.pump();
  }
  // Sends what the speech buffer has not sent on this connection, unless held or backed up.
  pump() {
    if (!this.ws || !this.welcomed || this.held || this.ws.readyState !== WebSocket.OPEN) return;
    while (this.ws.bufferedAmount < 256 * 1024) {
      const frame = this.o.buffer.next();
      if (!frame) return;
      this.ws.send(frame);
    }
    clearTimeout(this.pumpTimer);
    this.pumpTimer = setTimeout(() => this.pump(), 50);
  }
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
  }
}

// --- Player: reply frames -> decoder -> the playback worklet ---------------------------------------

class Player {
  constructor(node, codec, callbacks) {
    this.node = node;
    this.codec = codec;
    this.cb = callbacks;  // {onDone(reply, playedMs, playedSeq), onStarted(reply)}
    this.reply = null;    // the reply being played (from speech_out_start until done or stopped)
    this.decoder = null;
    this.stopWaiters = [];
    node.port.onmessage = (e) => this.fromWorklet(e.data);
  }
  begin(replyId) {
    this.dropDecoder();
    this.reply = replyId;
    this.received = -1;    // highest reply frame seq received
    this.lastSeq = null;   // from speech_out_end: the reply's last frame
    this.endPosted = false;
    if (testing) record.replies[replyId] = {rate: 0, chunks: [], playedMs: null, outcome: "playing"};
    if (this.codec === "opus") {
      const id = replyId;
      const decoder = new AudioDecoder({
        output: (data) => this.decoded(id, data),
        error: (e) => this.cb.onError("Opus decoder: " + e.message),
      });
      decoder.configure(OPUS_DECODER_CONFIG);
      this.decoder = decoder;
    }
    this.node.port.postMessage({type: "begin", reply: replyId});
  }
  frame(f) {
    if (!this.reply) return;
    this.received = Math.max(this.received, f.seq);
    if (this.codec === "opus") {
      if (this.decoder && this.decoder.state === "configured")
        this.decoder.decode(new EncodedAudioChunk({type: "key", timestamp: f.seq * FRAME_US, data: f.payload}));
    } else {
      const view = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength);
      const samples = new Float32Array(f.payload.byteLength >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(2 * i, true) / 32768;
      this.toWorklet(this.reply, f.seq, WIRE_RATE, samples);
    }
    if (this.lastSeq !== null && !this.endPosted) this.armEndTimer();
    this.maybeEnd();
  }
  decoded(replyId, data) {
    const samples = new Float32Array(data.numberOfFrames);
    try {
      data.copyTo(samples, {planeIndex: 0, format: "f32-planar"});
    } catch (e) {  // no conversion: mono f32 is the same either way
      data.copyTo(samples, {planeIndex: 0});
    }
    const seq = Math.round(data.timestamp / FRAME_US);
    const rate = data.sampleRate;
    data.close();
    if (replyId === this.reply) this.toWorklet(replyId, seq, rate, samples);
  }
  toWorklet(replyId, seq, rate, samples) {
    if (testing && record.replies[replyId]) {
      record.replies[replyId].rate = rate;
      record.replies[replyId].chunks.push(samples.slice());
    }
    this.node.port.postMessage({type: "audio", reply: replyId, seq, rate, samples}, [samples.buffer]);
  }
  // speech_out_end: the reply's frames end at `lastSeq`. It overtakes the frames, which the
  // bridge paces in real time, so the worklet is told the reply ended only once the last one is
  // in (or when no frame came for a second: the bridge stopped sending short of it).
  end(replyId, lastSeq) {
    if (replyId !== this.reply) return;
    this.lastSeq = lastSeq;
    this.armEndTimer();
    this.maybeEnd();
  }
  armEndTimer() {
    clearTimeout(this.endTimer);
    this.endTimer = setTimeout(() => this.maybeEnd(true), 1000);
  }
  async maybeEnd(anyway) {
    if (this.endPosted || this.lastSeq === null || (this.received < this.lastSeq && !anyway)) return;
    this.endPosted = true;
    clearTimeout(this.endTimer);
    const replyId = this.reply;
    if (this.decoder && this.decoder.state === "configured") {
      try { await this.decoder.flush(); } catch (e) { return; }  // closed by a stop meanwhile
    }
    if (replyId === this.reply) this.node.port.postMessage({type: "end", reply: replyId});
  }
  get playing() { return this.reply !== null; }
  // Stops the reply now (a short fade) and resolves with what was played of it.
  stop(fadeMs) {
    const replyId = this.reply;
    this.reply = null;
    this.dropDecoder();
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({reply: replyId, playedMs: 0, playedSeq: -1}), 250);
      this.stopWaiters.push((r) => { clearTimeout(timer); resolve(r); });
      this.node.port.postMessage({type: "stop", reply: replyId, fadeMs: fadeMs || 8});
    });
  }
  dropDecoder() {
    clearTimeout(this.endTimer);
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    this.decoder = null;
  }
  fromWorklet(m) {
    if (m.type === "stopped") {
      const waiters = this.stopWaiters.splice(0);
      for (const w of waiters) w(m);
    } else if (m.type === "started") {
      this.cb.onStarted(m.reply);
    } else if (m.type === "done") {
      if (m.reply === this.reply) {
        this.reply = null;
        this.dropDecoder();
      }
      this.cb.onDone(m.reply, m.playedMs, m.playedSeq, m.underruns);
    }
  }
}

// --- the client: wires it together ---------------------------------------------------------------

class Client {
  constructor(token) {
    this.token = token;
    this.name = token.slice(0, token.lastIndexOf("."));
    this.nodeId = "browser-" + this.name;
    this.buffer = new SpeechBuffer(3000);
    this.bargingIn = false;
  }

  async start() {
    if (!window.isSecureContext || !navigator.mediaDevices) {
      throw new Error("The microphone needs a secure page: open this bridge over https:// (give it " +
                      "server.tls_cert and server.tls_key), or on this machine at http://localhost.");
    }
    this.codec = query.get("codec") === "pcm16" ? "pcm16" : await chooseCodec();
    this.stream = await navigator.mediaDevices.getUserMedia({audio: {
      // Echo cancellation keeps the reply out of the microphone (barge-in needs it). Noise
      // suppression is off unless ?ns=1: the browser's changed the words pocketsphinx recognised
      // in the test recordings (docs/bridge.md), and the bridge's own VAD deals with steady noise.
      echoCancellation: true, noiseSuppression: query.get("ns") === "1",
      // Off: the gate and the bridge's VAD want levels as they are, not lifted in every pause.
      autoGainControl: false, channelCount: 1}});
    // The context runs at the microphone's rate, so its audio is resampled once (by the capture
    // worklet, to 16 kHz), not first to the speaker's rate and then again.
    const micRate = this.stream.getAudioTracks()[0].getSettings().sampleRate;
    this.context = new AudioContext(micRate ? {latencyHint: "interactive", sampleRate: micRate}
                                            : {latencyHint: "interactive"});
    await this.context.audioWorklet.addModule("/talk/worklet.js");
    await this.context.resume();
    const playback = new AudioWorkletNode(this.context, "earshot-playback", {
      numberOfInputs: 0, numberOfOutputs: 1, outputChannelCount: [1],
      processorOptions: {targetMs: 80}});
    playback.connect(this.context.destination);
    this.player = new Player(playback, this.codec, {
      onStarted: (reply) => {
        ui.replyState(reply, "speaking…");
        record.event("playback_started", {reply});
      },
      onDone: (reply, playedMs, playedSeq, underruns) => {
        this.link.sendControl({type: "playback_done", reply_id: reply, played_ms: playedMs});
        ui.replyState(reply, "");
        record.event("playback_done", {reply, playedMs, playedSeq, underruns});
        if (testing && record.replies[reply]) {
          record.replies[reply].playedMs = playedMs;
          record.replies[reply].outcome = "done";
        }
      },
      onError: (text) => this.fail(text),
    });
    this.link = new Link({
      url: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/",
      buffer: this.buffer,
      hello: () => ({
        type: "hello", versions: [1], node_id: this.nodeId, token: this.token,
        room: "browser",
        audio: {codec: this.codec, sample_rate: WIRE_RATE, channels: 1, frame_ms: 20},
        capabilities: ["playback", "barge_in", "partial_transcripts", "turn_timings"],
        mode: "conversation",
      }),
      onWelcome: (m) => {
        ui.problem("");
        ui.state("listening (" + this.codec + ")");
        record.event("welcome", {session: m.session_id, ackedSeq: m.acked_seq, codec: m.audio && m.audio.codec});
      },
      onMessage: (m) => this.onMessage(m),
      onReplyFrame: (f) => this.player.frame(f),
      onFatal: (code, reason) => this.onFatal(code, reason),
      onState: (text) => ui.state(text),
    });
    const encoded = (index, payload) => this.uplink.onPacket(index, payload);
    this.encoder = this.codec === "opus" ? new OpusEncoder(encoded, (t) => this.fail(t))
                                         : new Pcm16Encoder(encoded);
    this.uplink = new Uplink(this.buffer, this.link);
    this.gate = new EnergyGate();
    const capture = new AudioWorkletNode(this.context, "earshot-capture",
                                         {numberOfInputs: 1, numberOfOutputs: 0});
    capture.port.onmessage = (e) => this.onFrame(e.data.frame, e.data.index);
    this.context.createMediaStreamSource(this.stream).connect(capture);
    $("client").textContent = this.nodeId + " · " + this.codec;
    record.event("started", {codec: this.codec, contextRate: this.context.sampleRate});
    this.link.connect();
  }

  onFrame(frame, index) {
    if (this.stopped) return;  // frames still on their way from the worklet
    if (testing) record.mic.push(frame.slice());
    const db = levelDb(frame);
    const event = this.gate.push(index, db, this.player.playing);
    ui.level(db, this.gate.open);
    if (event && event.start) {
      record.event("speech_start", {index, first: event.start.first});
      if (this.player.playing) this.bargeIn();
    } else if (event) {
      record.event("speech_end", {index});
    }
    if (event) this.uplink.onGate(event);
    this.encoder.encode(frame, index);
  }

  // The person spoke over the reply: stop it, and tell the bridge what was played before any
  // frame of the new speech goes out.
  async bargeIn() {
    this.link.hold();
    const r = await this.player.stop(8);
    const message = {type: "interrupt", reply_id: r.reply, played_ms: r.playedMs};
    if (r.playedSeq >= 0) message.played_seq = r.playedSeq;
    this.link.sendControl(message, true);
    this.link.release();
    ui.replyState(r.reply, "interrupted after " + (r.playedMs / 1000).toFixed(1) + " s");
    record.event("barge_in", {reply: r.reply, playedMs: r.playedMs, playedSeq: r.playedSeq});
    if (testing && record.replies[r.reply]) {
      record.replies[r.reply].playedMs = r.playedMs;
      record.replies[r.reply].outcome = "interrupted by the page";
    }
  }

  async onMessage(m) {
    switch (m.type) {
      case "transcript":
        ui.transcript(m);
        if (m.final) record.event("transcript", {turn: m.turn_id, text: m.text});
        break;
      case "reply_text":
        ui.replyText(m);
        break;
      case "speech_out_start":
        ui.replies.set(m.reply_id, m.turn_id);
        this.player.begin(m.reply_id);
        record.event("speech_out_start", {reply: m.reply_id, turn: m.turn_id});
        break;
      case "speech_out_end":
        record.event("speech_out_end", {reply: m.reply_id, lastSeq: m.last_seq, reason: m.reason});
        this.player.end(m.reply_id, m.last_seq);
        break;
      case "interrupt": {  // the bridge stopped the reply: stop, and say what was played
        if (this.player.reply !== m.reply_id) break;
        const r = await this.player.stop(8);
        const answer = {type: "interrupt", reply_id: r.reply, played_ms: r.playedMs};
        if (r.playedSeq >= 0) answer.played_seq = r.playedSeq;
        this.link.sendControl(answer, true);
        ui.replyState(r.reply, "stopped by the bridge after " + (r.playedMs / 1000).toFixed(1) + " s");
        record.event("host_interrupt", {reply: r.reply, playedMs: r.playedMs});
        if (testing && record.replies[r.reply]) {
          record.replies[r.reply].playedMs = r.playedMs;
          record.replies[r.reply].outcome = "interrupted by the bridge";
        }
        break;
      }
      case "turn_timings":
        ui.timings(m);
        record.event("turn_timings", {turn: m.turn_id, timings: m});
        break;
      case "error":
        record.event("error", {code: m.code, message: m.message, fatal: m.fatal});
        if (m.fatal) this.lastError = m;
        else ui.state("bridge: " + m.message);
        break;
    }
  }

  onFatal(code, reason) {
    const e = this.lastError || {};
    record.event("closed", {code, reason, error: e.code});
    let text = "The bridge closed the connection (" + code + "): " + (e.message || reason || "");
    if (code === CLOSE_UNAUTHORIZED) {
      forgetToken();
      text = "The bridge refused this page's token (" + (e.code || "bad_token") + "): it is wrong, " +
             "or it was revoked. Ask whoever runs the bridge for a new link " +
             "(earshot-bridge tokens add NAME prints one).";
    } else if (code === CLOSE_BAD_AUDIO) {
      text = "The bridge cannot take this browser's audio (" + this.codec + "): " + (e.message || reason);
    }
    this.fail(text);
    if (code === CLOSE_UNAUTHORIZED) $("start").disabled = true;  // a new link is needed
  }

  fail(text) {
    ui.problem(text);
    this.stop();
    ui.state("stopped");
  }

  stop() {
    this.stopped = true;
    if (this.link) this.link.close();
    if (this.encoder) this.encoder.close();
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    if (this.context && this.context.state !== "closed") this.context.close();
    $("start").disabled = false;
    $("start").textContent = "Start talking";
    window.earshotClient = null;
  }
}

async function chooseCodec() {
  try {
    if (typeof AudioEncoder === "undefined" || typeof AudioDecoder === "undefined") return "pcm16";
    const enc = await AudioEncoder.isConfigSupported(OPUS_ENCODER_CONFIG);
    const dec = await AudioDecoder.isConfigSupported(OPUS_DECODER_CONFIG);
    return enc.supported && dec.supported ? "opus" : "pcm16";
  } catch (e) {
    return "pcm16";
  }
}

function main() {
  const token = readToken();
  const button = $("start");
  if (!token || token.lastIndexOf(".") <= 0) {
    ui.problem("This page needs a token: open the link that `earshot-bridge tokens add NAME` " +
               "printed on the bridge's machine (it ends in #token=…).");
    button.disabled = true;
    record.event("no_token");
    return;
  }
  $("client").textContent = "browser-" + token.slice(0, token.lastIndexOf("."));
  button.onclick = async () => {
    if (window.earshotClient) {
      window.earshotClient.stop();
      ui.state("stopped");
      return;
    }
    button.disabled = true;
    ui.problem("");
    ui.state("starting…");
    const client = new Client(token);
    window.earshotClient = client;
    try {
      await client.start();
      button.textContent = "Stop";
      button.disabled = false;
    } catch (e) {
      client.fail(e.message || String(e));
      record.event("start_failed", {message: e.message || String(e)});
    }
  };
}

main();
