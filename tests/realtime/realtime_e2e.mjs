// Drives a running earshot-bridge through its OpenAI Realtime door with the official `openai` npm
// client (OpenAIRealtimeWS, over the `ws` package), the way an application would, and writes what
// it saw to <out>/result.json (and the reply audio to <out>/reply-*.pcm) for the C++ test
// (realtime_client_test.cpp) to check. Nothing is asserted here beyond "the expected event came":
// a wait that times out ends the run with {"failed": "..."} in the result.
//
//   node realtime_e2e.mjs <base_url> <api_key> <ca.pem> <speech.pcm> <out_dir>
//
// <speech.pcm>: signed 16-bit little-endian mono at 24 kHz — one utterance, with silence after it.
// It is streamed in 100 ms appends paced by its own audio time (real time), as a microphone would.
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [baseURL, apiKey, caPath, speechPath, outDir] = process.argv.slice(2);
const result = { phases: [] };
const writeResult = () =>
  fs.writeFileSync(path.join(outDir, 'result.json'), JSON.stringify(result, null, 1));

// Every event of one connection, with waits that look back (an event that came first counts).
class Events {
  constructor(rt) {
    this.all = [];
    this.waiters = [];
    rt.on('event', (e) => {
      e._at = performance.now();
      this.all.push(e);
      this.waiters = this.waiters.filter((w) => !w.check());
    });
    rt.on('error', () => {}); // error events are in `all` too; the run decides what they mean
  }
  // The first event at or after index `from` that matches; rejects after `ms` (a bound, not a
  // synchronisation: it only fires when the bridge failed to answer).
  wait(what, pred, { from = 0, ms = 120000 } = {}) {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const i = this.all.findIndex((e, k) => k >= from && pred(e));
          if (i < 0) return false;
          clearTimeout(waiter.timer);
          resolve(this.all[i]);
          return true;
        },
      };
      waiter.timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
      if (!waiter.check()) this.waiters.push(waiter);
    });
  }
  mark() {
    return this.all.length;
  }
}

const summary = (e) => {
  const { _at, ...rest } = e;
  if (rest.type === 'response.output_audio.delta') rest.delta = `<${rest.delta.length} chars>`;
  return rest;
};

async function connect() {
  const client = new OpenAI({ apiKey, baseURL });
  const rt = new OpenAIRealtimeWS(
    { model: 'gpt-realtime', options: { ca: fs.readFileSync(caPath) } },
    client,
  );
  const events = new Events(rt);
  await new Promise((resolve, reject) => {
    rt.socket.once('open', resolve);
    rt.socket.once('error', reject);
  });
  result.url = rt.url.toString();
  return { rt, events };
}

// Audio deltas of one response, decoded, and the events around them in order.
function responseAudio(events, responseId) {
  const chunks = [];
  let doneIndex = -1;
  let audioDoneIndex = -1;
  let deltasAfterDone = 0;
  events.all.forEach((e, i) => {
    if (e.response_id === responseId && e.type === 'response.output_audio.delta') {
      if (audioDoneIndex >= 0 || doneIndex >= 0) deltasAfterDone++;
      chunks.push(Buffer.from(e.delta, 'base64'));
    }
    if (e.response_id === responseId && e.type === 'response.output_audio.done') audioDoneIndex = i;
    if (e.type === 'response.done' && e.response.id === responseId) doneIndex = i;
  });
  return { pcm: Buffer.concat(chunks), deltas: chunks.length, deltasAfterDone };
}

// A connection the bridge refuses: the error event it sends first, and the close code.
async function refused(url, headers) {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(url, { ca: fs.readFileSync(caPath), headers });
  let error = null;
  ws.on('message', (m) => {
    const e = JSON.parse(m.toString());
    if (e.type === 'error') error = e.error;
  });
  const code = await new Promise((resolve, reject) => {
    ws.once('close', resolve);
    ws.once('error', reject);
  });
  return { error, code };
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  // A wrong API key, and a WebSocket without a subprotocol on a path that is not the door's.
  const wrongKey = new OpenAIRealtimeWS(
    { model: 'gpt-realtime', options: { ca: fs.readFileSync(caPath) } },
    new OpenAI({ apiKey: 'not-a-token', baseURL }),
  );
  const wrong = { error: null };
  wrongKey.on('error', (err) => { wrong.error = err.error ?? null; });
  wrong.code = await new Promise((resolve) => wrongKey.socket.once('close', resolve));
  result.wrong_key = wrong;
  result.wrong_path = await refused(baseURL.replace(/^http/, 'ws').replace(/\/v1$/, '/elsewhere'),
    { Authorization: `Bearer ${apiKey}` });
  result.phases.push('refused');

  const { rt, events } = await connect();
  const created = await events.wait('session.created', (e) => e.type === 'session.created');
  result.session_created = summary(created);

  // --- bad input: each is an error event, and the connection goes on -----------------------------
  const silence20ms = Buffer.alloc(960).toString('base64');
  rt.send({ type: 'input_audio_buffer.append', event_id: 'audio-before-session', audio: silence20ms });
  rt.send({ type: 'session.frobnicate', event_id: 'unknown-type' });
  rt.send({ type: 'input_audio_buffer.append', event_id: 'bad-base64', audio: 'not*base64!' });
  // 1.1 MB of base64 in one append: over the bridge's 1 MiB limit for one event.
  rt.send({ type: 'input_audio_buffer.append', event_id: 'oversized', audio: 'A'.repeat(1100000) });
  result.errors = {};
  for (const id of ['audio-before-session', 'unknown-type', 'bad-base64']) {
    const e = await events.wait(`the error for ${id}`, (x) => x.type === 'error' && x.error.event_id === id);
    result.errors[id] = e.error;
  }
  // An event too large to read names no event_id: the bridge never parsed it.
  const big = await events.wait('the error for the oversized append', (x) =>
    x.type === 'error' && x.error.code === 'message_too_large');
  result.errors.oversized = big.error;
  result.phases.push('errors');

  // --- a spoken turn: server VAD, input transcription, a spoken answer ------------------------------
  let from = events.mark();
  rt.send({
    type: 'session.update',
    event_id: 'configure',
    session: {
      type: 'realtime',
      output_modalities: ['audio'],
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: { model: 'whisper-1' },
          turn_detection: {
            type: 'server_vad',
            silence_duration_ms: 1500, // one utterance, one turn (its pauses are shorter)
            prefix_padding_ms: 300,
            create_response: true,
            interrupt_response: true,
          },
        },
        output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'alloy' },
      },
    },
  });
  result.session_updated = summary(
    await events.wait('session.updated', (e) => e.type === 'session.updated', { from }),
  );

  from = events.mark();
  const speech = fs.readFileSync(speechPath);
  const chunkBytes = 4800; // 100 ms at 24 kHz
  const t0 = performance.now();
  for (let i = 0, off = 0; off < speech.length; i++, off += chunkBytes) {
    const due = t0 + i * 100; // paced by the audio's own time, as a microphone delivers it
    const wait = due - performance.now();
    if (wait > 0) await delay(wait);
    rt.send({
      type: 'input_audio_buffer.append',
      audio: speech.subarray(off, Math.min(off + chunkBytes, speech.length)).toString('base64'),
    });
  }
  const started = await events.wait('speech_started', (e) => e.type === 'input_audio_buffer.speech_started', { from });
  const stopped = await events.wait('speech_stopped', (e) => e.type === 'input_audio_buffer.speech_stopped', { from });
  const committed = await events.wait('committed', (e) => e.type === 'input_audio_buffer.committed', { from });
  const transcribed = await events.wait('the input transcript', (e) =>
    e.type === 'conversation.item.input_audio_transcription.completed', { from });
  const r1 = await events.wait('response.created', (e) => e.type === 'response.created', { from });
  const r1Id = r1.response.id;
  const r1Item = await events.wait('the answer item', (e) =>
    e.type === 'response.output_item.added' && e.response_id === r1Id, { from });
  const r1Done = await events.wait('response.done', (e) =>
    e.type === 'response.done' && e.response.id === r1Id, { from, ms: 180000 });
  const r1TranscriptDone = events.all.find((e) =>
    e.type === 'response.output_audio_transcript.done' && e.response_id === r1Id);
  const a1 = responseAudio(events, r1Id);
  fs.writeFileSync(path.join(outDir, 'reply-1.pcm'), a1.pcm);
  result.turn = {
    speech_started: summary(started),
    speech_stopped: summary(stopped),
    committed: summary(committed),
    transcript: transcribed.transcript,
    transcript_item_id: transcribed.item_id,
    response_done: summary(r1Done),
    answer_transcript: r1TranscriptDone ? r1TranscriptDone.transcript : null,
    audio_deltas: a1.deltas,
    audio_bytes: a1.pcm.length,
    deltas_after_done: a1.deltasAfterDone,
    // The response's events in order (audio deltas counted, not listed).
    sequence: events.all
      .filter((e) => e.response_id === r1Id || e.response?.id === r1Id)
      .map((e) => e.type)
      .filter((t, i, a) => t !== 'response.output_audio.delta' || a[i - 1] !== t),
  };
  result.phases.push('turn');

  // --- conversation.item.truncate: the client played only the first second ------------------------
  from = events.mark();
  rt.send({ type: 'conversation.item.truncate', event_id: 'truncate-too-far', item_id: r1Item.item.id,
            content_index: 0, audio_end_ms: 3600000 });
  rt.send({ type: 'conversation.item.truncate', event_id: 'truncate', item_id: r1Item.item.id,
            content_index: 0, audio_end_ms: 1000 });
  result.truncate = {
    error: (await events.wait('the truncate error', (e) =>
      e.type === 'error' && e.error.event_id === 'truncate-too-far', { from })).error,
    truncated: summary(await events.wait('conversation.item.truncated', (e) =>
      e.type === 'conversation.item.truncated', { from })),
  };
  result.phases.push('truncate');

  // --- response.cancel mid-answer -------------------------------------------------------------
  from = events.mark();
  rt.send({
    type: 'conversation.item.create',
    item: {
      type: 'message',
      role: 'user',
      content: [{
        type: 'input_text',
        text: 'please read this rather long sentence aloud so that it keeps the speaker busy for ' +
              'several seconds and there is plenty of time to cancel it before the end',
      }],
    },
  });
  await events.wait('the text item', (e) => e.type === 'conversation.item.done', { from });
  rt.send({ type: 'response.create', event_id: 'answer-to-cancel' });
  const r2 = await events.wait('response.created', (e) => e.type === 'response.created', { from });
  const r2Id = r2.response.id;
  await events.wait('the first audio delta', (e) =>
    e.type === 'response.output_audio.delta' && e.response_id === r2Id, { from });
  rt.send({ type: 'response.cancel', event_id: 'cancel' });
  const r2Done = await events.wait('the cancelled response.done', (e) =>
    e.type === 'response.done' && e.response.id === r2Id, { from });
  result.cancel = { response_done: summary(r2Done), cancel_sent_at: performance.now() };
  result.phases.push('cancel');

  // --- a text-only turn -------------------------------------------------------------------------
  from = events.mark();
  rt.send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'] } });
  await events.wait('session.updated', (e) => e.type === 'session.updated', { from });
  rt.send({
    type: 'conversation.item.create',
    item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'what time is it' }] },
  });
  rt.send({ type: 'response.create' });
  const r3 = await events.wait('response.created', (e) => e.type === 'response.created', { from });
  const r3Id = r3.response.id;
  const r3TextDone = await events.wait('response.output_text.done', (e) =>
    e.type === 'response.output_text.done' && e.response_id === r3Id, { from });
  const r3Done = await events.wait('response.done', (e) =>
    e.type === 'response.done' && e.response.id === r3Id, { from });
  result.text_turn = {
    created: summary(r3),
    text_deltas: events.all.filter((e) => e.type === 'response.output_text.delta' && e.response_id === r3Id)
      .map((e) => e.delta),
    text: r3TextDone.text,
    response_done: summary(r3Done),
    audio_deltas: responseAudio(events, r3Id).deltas,
  };
  // The cancelled answer sent nothing after its response.done, to the end of the run.
  result.cancel.audio_deltas = responseAudio(events, r2Id).deltas;
  result.cancel.deltas_after_done = responseAudio(events, r2Id).deltasAfterDone;
  result.phases.push('text');

  // Every server event had a unique event_id.
  const ids = new Set(events.all.map((e) => e.event_id));
  result.events = events.all.length;
  result.unique_event_ids = ids.size;
  result.error_events = events.all.filter((e) => e.type === 'error').map((e) => e.error);
  rt.close();
  await new Promise((resolve) => rt.socket.once('close', resolve));
}

main()
  .then(() => {
    result.ok = true;
    writeResult();
  })
  .catch((err) => {
    result.failed = String(err && err.stack ? err.stack : err);
    writeResult();
    process.exitCode = 1;
  });
