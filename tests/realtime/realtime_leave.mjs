// A Realtime client that goes away while its answer is being sent, for realtime_client_test.cpp:
// with the official `openai` npm client (OpenAIRealtimeWS over `ws`) it types a long request, asks
// for a spoken response, and at the response's first audio delta prints one line and waits to be
// killed (the test sends SIGKILL: no truncate, no cancel, no close frame).
//
//   node realtime_leave.mjs <base_url> <api_key> <ca.pem>
//
// stdout: "first audio delta <response id>" once it is there. A wait that times out exits 1 with
// the reason on stderr.
import fs from 'node:fs';
import OpenAI from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';

const [baseURL, apiKey, caPath] = process.argv.slice(2);

const rt = new OpenAIRealtimeWS(
  { model: 'gpt-realtime', options: { ca: fs.readFileSync(caPath) } },
  new OpenAI({ apiKey, baseURL }),
);
const events = [];
const waiters = [];
rt.on('event', (e) => {
  events.push(e);
  for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]()) waiters.splice(i, 1);
});
rt.on('error', () => {});

// The first event that matches (looking back too); rejects after `ms` — a bound for a bridge that
// never answers, not a synchronisation.
function wait(what, pred, ms = 120000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms);
    const check = () => {
      const e = events.find(pred);
      if (!e) return false;
      clearTimeout(timer);
      resolve(e);
      return true;
    };
    if (!check()) waiters.push(check);
  });
}

async function main() {
  await new Promise((resolve, reject) => {
    rt.socket.once('open', resolve);
    rt.socket.once('error', reject);
  });
  await wait('session.created', (e) => e.type === 'session.created');
  rt.send({
    type: 'session.update',
    session: { type: 'realtime', output_modalities: ['audio'],
               audio: { output: { format: { type: 'audio/pcm', rate: 24000 } } } },
  });
  await wait('session.updated', (e) => e.type === 'session.updated');
  rt.send({
    type: 'conversation.item.create',
    item: {
      type: 'message',
      role: 'user',
      content: [{
        type: 'input_text',
        text: 'please read this rather long sentence aloud so that it keeps the speaker busy for ' +
              'several seconds and there is plenty of time to leave before the end',
      }],
    },
  });
  await wait('the text item', (e) => e.type === 'conversation.item.done');
  rt.send({ type: 'response.create' });
  const created = await wait('response.created', (e) => e.type === 'response.created');
  await wait('the first audio delta', (e) =>
    e.type === 'response.output_audio.delta' && e.response_id === created.response.id);
  process.stdout.write(`first audio delta ${created.response.id}\n`);
  await new Promise(() => {}); // until killed
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
