// Earshot browser client: the two AudioWorklet processors (they run on the browser's audio thread).
//
//   earshot-capture   microphone (the context's rate, any channels) -> mono -> 16 kHz -> 20 ms
//                     frames of 320 samples, posted to the page with their frame index
//   earshot-playback  reply audio (any rate) -> the context's rate -> a jitter buffer that starts
//                     once ~80 ms are queued and plays the reply as one continuous stream; it
//                     fades out only when told to stop (barge-in), and says what it played
//
// Loaded with audioWorklet.addModule("/talk/worklet.js"). process() allocates no buffers: they are
// made when a processor starts or when audio arrives (on the message port). The capture side hands
// each full frame's buffer to the page (transferred) and starts a new one, 50 times a second.
"use strict";

// A streaming resampler for any pair of rates: windowed-sinc interpolation (Blackman window, 8
// zero crossings each side), its cutoff just below the lower rate's Nyquist frequency so that
// going down removes what would alias. The kernel is tabulated once; taps are read from the table
// with linear interpolation between its entries.
class Resampler {
  constructor(inRate, outRate) {
    this.inRate = inRate;
    this.outRate = outRate;
    this.step = inRate / outRate;                         // input samples per output sample
    const cutoff = 0.5 * Math.min(1, outRate / inRate) * 0.92;  // cycles per input sample
    this.cutoff = cutoff;
    this.half = Math.ceil(8 / (2 * cutoff));                // kernel half-width, input samples
    this.perSample = 64;                                    // table entries per input sample
    const n = this.half * this.perSample;
    this.table = new Float32Array(n + 2);
    for (let i = 0; i <= n + 1; i++) {
      const t = i / this.perSample;                         // distance from the centre
      const x = 2 * cutoff * t;
      const sinc = t === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = t >= this.half ? 0 :
          0.42 + 0.5 * Math.cos(Math.PI * t / this.half) + 0.08 * Math.cos(2 * Math.PI * t / this.half);
      this.table[i] = 2 * cutoff * sinc * w;
    }
    // Input history: `half` samples of zeros first, so the first output is centred on sample 0.
    this.buffer = new Float32Array(4096);
    this.length = this.half;
    this.position = this.half;                              // centre of the next output
  }

  kernel(distance) {
    const d = Math.abs(distance) * this.perSample;
    const i = Math.floor(d);
    if (i >= this.table.length - 1) return 0;
    const f = d - i;
    return this.table[i] + (this.table[i + 1] - this.table[i]) * f;
  }

  // Appends `input` and returns the output samples it completes (a new Float32Array).
  process(input) {
    if (this.length + input.length > this.buffer.length) {
      const grown = new Float32Array(Math.max(this.buffer.length * 2, this.length + input.length));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(input, this.length);
    this.length += input.length;
    const available = Math.max(0, Math.floor((this.length - this.half - this.position) / this.step) + 1);
    const out = new Float32Array(available);
    let produced = 0;
    while (produced < available && this.position + this.half < this.length) {
      const centre = this.position;
      const first = Math.max(0, Math.ceil(centre - this.half));
      const last = Math.min(this.length - 1, Math.floor(centre + this.half));
      let sum = 0;
      for (let k = first; k <= last; k++) sum += this.buffer[k] * this.kernel(centre - k);
      out[produced++] = sum;
      this.position += this.step;
    }
    // Forget what no future output reaches.
    const keepFrom = Math.max(0, Math.floor(this.position - this.half) - 1);
    if (keepFrom > 0) {
      this.buffer.copyWithin(0, keepFrom, this.length);
      this.length -= keepFrom;
      this.position -= keepFrom;
    }
    return produced === available ? out : out.subarray(0, produced);
  }
}

const kWireRate = 16000;
const kFrameSamples = 320;  // 20 ms at 16 kHz

// Microphone -> 16 kHz mono frames of 320 samples, posted as {frame: Float32Array, index}.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = sampleRate === kWireRate ? null : new Resampler(sampleRate, kWireRate);
    this.mono = new Float32Array(128);
    this.frame = new Float32Array(kFrameSamples);
    this.fill = 0;
    this.index = 0;  // frames since capture started: frame i starts at sample i * 320
  }

  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || input[0].length === 0) return true;
    const n = input[0].length;
    if (this.mono.length !== n) this.mono = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let c = 0; c < input.length; c++) sum += input[c][i];
      this.mono[i] = sum / input.length;
    }
    const samples = this.resampler ? this.resampler.process(this.mono) : this.mono;
    for (let i = 0; i < samples.length; i++) {
      this.frame[this.fill++] = samples[i];
      if (this.fill === kFrameSamples) {
        this.port.postMessage({frame: this.frame, index: this.index++}, [this.frame.buffer]);
        this.frame = new Float32Array(kFrameSamples);
        this.fill = 0;
      }
    }
    return true;
  }
}

// Reply audio -> the speaker. Messages in:
//   {type: "begin", reply}                         a new reply: what is queued of another is dropped
//   {type: "audio", reply, seq, rate, samples}     decoded reply audio, in order
//   {type: "end", reply}                           no more audio for it: play out, then say "done"
//   {type: "stop", reply, fadeMs}                  barge-in: fade out now, drop the rest
// Messages out:
//   {type: "started", reply}                       its first sample is being played
//   {type: "done", reply, playedMs, playedSeq, underruns}
//   {type: "stopped", reply, playedMs, playedSeq}  (playedSeq -1: nothing played)
// playedMs counts the reply's own samples handed to the speaker (not the silence of an underrun).
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const targetMs = (options.processorOptions && options.processorOptions.targetMs) || 80;
    this.target = Math.round(sampleRate * targetMs / 1000);
    this.chunks = [];       // {samples, seq, offset}
    this.queued = 0;        // samples queued, at sampleRate
    this.reply = null;
    this.resampler = null;
    this.state = "idle";    // idle | buffering | playing
    this.ended = false;
    this.played = 0;        // samples of this reply played
    this.playedSeq = -1;
    this.underruns = 0;
    this.fadeLeft = 0;
    this.fadeLength = 1;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === "begin") {
      this.reset(m.reply);
      this.state = "buffering";
    } else if (m.type === "audio") {
      if (m.reply !== this.reply || this.state === "idle") return;
      if (!this.resampler || this.resampler.inRate !== m.rate) {
        this.resampler = m.rate === sampleRate ? null : new Resampler(m.rate, sampleRate);
      }
      const samples = this.resampler ? this.resampler.process(m.samples) : m.samples;
      if (samples.length === 0) return;
      this.chunks.push({samples, seq: m.seq, offset: 0});
      this.queued += samples.length;
    } else if (m.type === "end") {
      if (m.reply !== this.reply) return;
      this.ended = true;
      if (this.state === "idle") return;
      if (this.queued === 0 && this.chunks.length === 0 && this.state === "buffering" && !this.resampler) {
        this.finish();  // a reply with no audio (or all of it already played)
        return;
      }
      if (this.resampler) {  // what the resampler still holds: its kernel's half-width
        const tail = this.resampler.process(new Float32Array(this.resampler.half * 2));
        if (tail.length) {
          this.chunks.push({samples: tail, seq: -1, offset: 0});
          this.queued += tail.length;
        }
      }
    } else if (m.type === "stop") {
      if (m.reply !== this.reply || this.state === "idle") {
        this.port.postMessage({type: "stopped", reply: m.reply, playedMs: 0, playedSeq: -1});
        return;
      }
      // What the fade will still play counts as played: it is heard.
      const fade = this.state === "playing" ?
          Math.min(this.queued, Math.round(sampleRate * (m.fadeMs || 8) / 1000)) : 0;
      this.port.postMessage({type: "stopped", reply: this.reply,
                             playedMs: Math.round((this.played + fade) * 1000 / sampleRate),
                             playedSeq: this.playedSeq});
      this.fadeLeft = fade;
      this.fadeLength = Math.max(1, fade);
      this.state = fade > 0 ? "fading" : "idle";
      if (fade === 0) this.reset(null);
    }
  }

  finish() {
    this.port.postMessage({type: "done", reply: this.reply,
                           playedMs: Math.round(this.played * 1000 / sampleRate),
                           playedSeq: this.playedSeq, underruns: this.underruns});
    this.reset(null);
  }

  reset(reply) {
    this.chunks = [];
    this.queued = 0;
    this.reply = reply;
    this.resampler = null;
    this.state = "idle";
    this.ended = false;
    this.played = 0;
    this.playedSeq = -1;
    this.underruns = 0;
    this.fadeLeft = 0;
  }

  // Copies up to out.length - from queued samples into out[from...]; returns how many.
  take(out, from, limit) {
    let n = 0;
    while (n < limit && this.chunks.length > 0) {
      const c = this.chunks[0];
      if (c.offset === 0 && c.seq >= 0) this.playedSeq = c.seq;
      const count = Math.min(limit - n, c.samples.length - c.offset);
      for (let i = 0; i < count; i++) out[from + n + i] = c.samples[c.offset + i];
      c.offset += count;
      n += count;
      if (c.offset === c.samples.length) this.chunks.shift();
    }
    this.queued -= n;
    return n;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    out.fill(0);
    if (this.state === "buffering" && (this.queued >= this.target || (this.ended && this.queued > 0))) {
      if (this.played === 0) this.port.postMessage({type: "started", reply: this.reply});
      this.state = "playing";
    }
    if (this.state === "playing") {
      const n = this.take(out, 0, out.length);
      this.played += n;
      if (n < out.length) {
        if (this.ended) {
          this.finish();
        } else {  // the reply is late: wait for the jitter buffer's target again
          this.underruns++;
          this.state = "buffering";
        }
      }
    } else if (this.state === "fading") {
      const n = this.take(out, 0, Math.min(out.length, this.fadeLeft));
      for (let i = 0; i < n; i++) {
        out[i] *= (this.fadeLeft - i) / this.fadeLength;
      }
      this.fadeLeft -= n;
      if (this.fadeLeft <= 0 || n === 0) this.reset(null);
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}

registerProcessor("earshot-capture", CaptureProcessor);
registerProcessor("earshot-playback", PlaybackProcessor);
