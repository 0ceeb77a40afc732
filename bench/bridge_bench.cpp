// Bridge benchmark: the bridge's own latency, per front door, and how many sessions one bridge
// carries.
//
// An in-process earshot-bridge (BridgeServer, real conversations, real Opus, real libwebsockets)
// with instant engines — STT that returns at once, an LLM that writes two sentences at once, TTS
// that returns 0.5 s of audio at once — so every millisecond measured is the bridge's own. The
// clients speak the same 2.5 s utterance (300 ms of silence, then a gliding, formant-shaped vowel,
// which the bridge's VAD calls speech from 40 ms into the vowel to its last frame: printed at the
// start), then are silent for 3 s:
//
//   opus      earshot.v1 as a node: the node's own link code (device/link: NodeLink +
//             SpeechBuffer, one libwebsockets client thread each), pre-encoded Opus at 16 kHz,
//             segment flags set, nothing sent in the silence.
//   pcm16     earshot.v1 as the browser client sends it: a raw WebSocket client
//             (tests/support/ws_test_client, a thread each), hello with audio.codec "pcm16" and
//             the token in the hello, 20 ms frames of 16 kHz pcm16, segment flags and
//             speech_start/speech_end, nothing sent in the silence.
//   realtime  the OpenAI Realtime door: a raw WebSocket client on /v1/realtime (no subprotocol,
//             Authorization: Bearer), session.update (server_vad, silence_duration_ms 500, pcm16
//             24 kHz), then input_audio_buffer.append of base64 pcm16 at 24 kHz, 20 ms per append,
//             the silence streamed too (digital zeros), as a microphone would. The bridge's VAD
//             alone finds the turns.
//   xiaozhi   the xiaozhi-esp32 door as the firmware speaks it: a raw WebSocket client on
//             /xiaozhi/v1/ (Device-Id, Protocol-Version 1, Authorization: Bearer), hello, listen
//             start in auto mode, then 60 ms Opus packets at 16 kHz (binary protocol 1), the
//             silence streamed too; replies come back as 60 ms Opus at 24 kHz.
//   wyoming   a Wyoming satellite as wyoming-satellite runs one with its own wake word: a TCP
//             server in this process that the bridge dials (host::WyomingSatellites, as the bridge
//             runs it: describe, info, run-satellite); each cycle it says detection and
//             run-pipeline (asr -> tts, snd_format 22050 Hz) and streams its microphone as
//             audio-chunk events of raw pcm16 at 16 kHz until the bridge's transcript (the
//             silence streamed too); the reply comes back as audio-start, audio-chunk* (raw pcm16
//             at 22050 Hz), audio-stop, answered with played. Its events are written as the
//             reference implementation writes them (rhasspy/wyoming event.py) and read by a reader
//             of its own, not the bridge's. EARSHOT_BENCH_WYOMING_CHUNK=samples per microphone
//             chunk: 320 (20 ms, the other doors' frame, so that the doors are compared and not
//             the chunk sizes); wyoming-satellite's own is 1024 (64 ms).
//
//   1. latency: per door, one client at a time, ~20 turns: from the end of speech (the last speech
//      frame's arrival, as the bridge's turn report counts it) to the first reply byte handed to
//      the socket (for realtime: the first response.output_audio.delta; for wyoming: the reply's
//      audio-chunk events queued for the satellite's link thread), minus the configured
//      500 ms end-of-turn silence; p50/p95, and per stage. The doors take turns in rounds of ~7
//      turns each, so that a change in the machine's load falls on all of them alike. Also the
//      client's own view: last speech frame sent -> first reply audio read (wyoming: the first
//      audio-chunk event whole), minus 500 ms. And the bytes on the wire for audio, per second of
//      it: the client's audio messages that carry speech up (the silence the raw clients stream
//      between turns is left out) and the reply audio down, each with its WebSocket frame header
//      (2-8 bytes, and the client's 4-byte mask; wyoming: each audio-chunk event whole, header
//      line and data included, raw PCM with no codec, over plain TCP); control messages are not
//      counted.
//   2. scale: N opus nodes talking at once for 15 s; a session is "late" if any microphone frame
//      waited more than 20 ms for its session thread or any reply frame reached its node more
//      than 20 ms behind its pace, "lost" if any frame went missing. With the bridge's threads and
//      the CPU time of the bridge and of the simulated nodes (same process, same 2 cores) over the
//      15 s.
//
//   build/release/bench/bridge_bench [max_nodes]   (scale rows 25 ... 600 up to max_nodes, 300)
// Environment, for experiments: EARSHOT_BENCH_ONLY=N runs only the scale row for N nodes (no
// latency part); EARSHOT_BENCH_DOORS=opus,pcm16,realtime,xiaozhi,wyoming the doors of the latency
// part;
// EARSHOT_BENCH_ROUNDS=R (3) rounds of EARSHOT_BENCH_ROUND_S (40) seconds per door;
// EARSHOT_BENCH_LATENCY_ONLY=1 skips the scale part; EARSHOT_BENCH_APPEND_MS=ms the realtime
// client's append size (20; a multiple of 20 dividing 2500 and 5500);
// EARSHOT_BENCH_EARLY_FINAL_MS=ms sets turn.early_final_ms (0: the final pass at the turn's end).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "device/link/node_link.h"
#include "device/link/speech_buffer.h"
#include "dsp/opus_frame_encoder.h"
#include "dsp/resampler.h"
#include "dsp/vad/voice_activity_detector.h"
#include "host/clock.h"
#include "host/log.h"
#include "host/server.h"
#include "host/services.h"
#include "host/wyoming/satellite_link.h"
#include "host/wyoming/tcp.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"
#include "protocol/realtime/base64.h"
#include "tests/support/ws_test_client.h"

using namespace earshot;
using Clock = std::chrono::steady_clock;

namespace {

class InstantStream : public host::SttStream {
 public:
  void feed(const float*, size_t) override {}
  std::optional<std::string> partial() override { return std::nullopt; }
  host::SttResult finish(const host::CancelToken&) override {
    return {true, "what time is it", "en", ""};
  }
};
class InstantStt : public host::SttEngine {
 public:
  std::string name() const override { return "instant"; }
  std::unique_ptr<host::SttStream> start(const std::string&) override {
    return std::make_unique<InstantStream>();
  }
};
class InstantLlm : public host::LlmEngine {
 public:
  std::string name() const override { return "instant"; }
  host::LlmResult chat(const std::vector<host::ChatMessage>&,
                       const std::function<bool(std::string_view)>& on_text,
                       const host::CancelToken&) override {
    host::LlmResult r;
    for (const char* piece : {"It is noon. ", "Have a nice day."}) {
      on_text(piece);
      r.spoken += piece;
    }
    r.ok = true;
    return r;
  }
};
class InstantTts : public host::TtsEngine {
 public:
  std::string name() const override { return "instant"; }
  host::TtsResult synthesize(const std::string&, const std::string&,
                             const std::function<bool(const float*, size_t, int)>& on_audio,
                             const host::CancelToken&) override {
    float chunk[320];
    for (int k = 0; k < 25; ++k) {  // 0.5 s at 16 kHz
      for (int i = 0; i < 320; ++i)
        chunk[i] = 0.2f * std::sin(float(k * 320 + i) * 0.06f);
      if (!on_audio(chunk, 320, 16000)) break;
    }
    return {true, false, "", 8000};
  }
};

constexpr int kSpeechFrames = 125, kCycleFrames = 275;  // 2.5 s speech, 3 s silence
constexpr double kConfiguredSilenceMs = 500;            // services.turn.end_of_turn_ms

// The utterance, sample n at `rate`: 300 ms of silence, then a voiced vowel whose pitch glides
// around 140 Hz, with harmonics shaped by three formants (700, 1200, 2500 Hz) and a 4 Hz syllable
// rhythm that dips to 15 % between syllables. The VAD hears a voice in it; a steady two-partial
// tone, which this bench used before the VAD became a network fitted on real voices, it rightly
// calls a hum after a third of a second.
float utterance_sample(int n, int rate) {
  // It starts with 300 ms of digital silence, as a node's segment starts with its pre-roll: the
  // host VAD's noise floor needs something quieter than the voice, and the opus clients send
  // nothing between utterances.
  const double t = double(n) / rate - 0.3;
  if (t < 0) return 0;
  const double two_pi = 2 * M_PI;
  // Pitch f0(t) = 140 + 25 sin(2π 2.3 t) + 10 sin(2π 5.1 t); its phase is the integral.
  const double phase = two_pi * 140 * t + 25 / 2.3 * (1 - std::cos(two_pi * 2.3 * t)) +
                       10 / 5.1 * (1 - std::cos(two_pi * 5.1 * t));
  const double f0 = 140 + 25 * std::sin(two_pi * 2.3 * t) + 10 * std::sin(two_pi * 5.1 * t);
  // Syllables at 4 Hz, timed so the voice ends on one (it is 2.2 s long).
  const double syllable = std::cos(4 * M_PI * (t - 2.2));
  const double envelope = 0.15 + 0.85 * syllable * syllable;
  auto formant = [](double f, double centre, double width) {
    return std::exp(-((f - centre) / width) * ((f - centre) / width));
  };
  double v = 0;
  for (int h = 1; h * f0 <= 3800; ++h) {
    const double f = h * f0;
    v += (0.3 + 1.5 * formant(f, 700, 180) + formant(f, 1200, 250) + 0.5 * formant(f, 2500, 300)) /
         h * std::sin(h * phase);
  }
  return float(0.12 * envelope * v);
}

struct Packet {
  std::vector<uint8_t> bytes;
  uint16_t flags;
};

uint16_t segment_flags(int frame) {
  uint16_t flags = 0;
  if (frame == 0) flags |= protocol::kFlagSegmentStart;
  if (frame == kSpeechFrames - 1) flags |= protocol::kFlagSegmentEnd;
  return flags;
}

// The utterance as Opus packets (16 kHz), segment flags set.
std::vector<Packet> opus_utterance() {
  std::string error;
  auto enc = dsp::OpusFrameEncoder::create({}, &error);
  std::vector<Packet> out;
  float pcm[320];
  uint8_t packet[1500];
  for (int f = 0; f < kSpeechFrames; ++f) {
    for (int i = 0; i < 320; ++i)
      pcm[i] = utterance_sample(f * 320 + i, 16000);
    const int n = enc->encode(pcm, packet, sizeof packet);
    out.push_back({std::vector<uint8_t>(packet, packet + n), segment_flags(f)});
  }
  return out;
}

// The utterance as 20 ms pcm16 frames (little-endian) at `rate`.
std::vector<std::string> pcm16_utterance(int rate) {
  const int per_frame = rate / 50;
  std::vector<std::string> out;
  for (int f = 0; f < kSpeechFrames; ++f) {
    std::string bytes;
    for (int i = 0; i < per_frame; ++i) {
      const auto v =
          uint16_t(int16_t(std::lrint(utterance_sample(f * per_frame + i, rate) * 32767)));
      bytes += char(v & 0xff);
      bytes += char(v >> 8);
    }
    out.push_back(bytes);
  }
  return out;
}

// Which of the utterance's 10 ms frames the bridge's VAD (default settings) calls speech: at
// 16 kHz as the earshot.v1 doors decode it, and at 24 kHz resampled to 16 kHz as the Realtime
// door's ingress does (the utterance, then digital silence, in 20 ms appends).
void print_vad_check() {
  auto check = [](const std::vector<float>& pcm, const char* what) {
    dsp::VoiceActivityDetector vad;
    const int frames = kSpeechFrames * 2;
    int speech = 0, first = -1, last = -1;
    for (size_t f = 0; (f + 1) * 160 <= pcm.size(); ++f) {
      vad.process(&pcm[f * 160]);
      if (!vad.is_speech()) continue;
      if (int(f) < frames) ++speech;
      if (first < 0) first = int(f);
      last = int(f);
    }
    printf(
        "the utterance to the bridge's VAD (%s): %d of its %d 10 ms frames speech, the first at "
        "%d ms, the last ending %d ms after the utterance's end\n",
        what, speech, frames, first * 10, (last + 1 - frames) * 10);
  };
  std::vector<float> direct;
  for (int n = 0; n < kSpeechFrames * 320; ++n)
    direct.push_back(utterance_sample(n, 16000));
  direct.resize(direct.size() + 8000);  // 0.5 s of silence
  check(direct, "16 kHz");
  std::string error;
  auto resampler = dsp::Resampler::create(24000, 16000, 4096, &error);
  std::vector<float> resampled;
  float in[480], out[4096];
  int held = 0, held_min = 1 << 30, held_max = 0;
  for (int f = 0; f < kCycleFrames; ++f) {
    for (int i = 0; i < 480; ++i)
      in[i] = f < kSpeechFrames ? utterance_sample(f * 480 + i, 24000) : 0.0f;
    const size_t n = resampler->process(in, 480, out, 4096);
    resampled.insert(resampled.end(), out, out + n);
    const int short_of = (f + 1) * 320 - int(resampled.size());
    if (f == kSpeechFrames - 1) held = short_of;
    if (f >= 10) {
      held_min = std::min(held_min, short_of);
      held_max = std::max(held_max, short_of);
    }
  }
  check(resampled, "24 kHz resampled to 16 kHz in 20 ms appends");
  printf(
      "the 24 -> 16 kHz resampler's output after an append is %.1f-%.1f ms short of the audio "
      "appended (after the utterance's last append: %.1f ms): its delay, which the Realtime "
      "door's ingress keeps at the start of the stream (made a whole 10 ms), so that each append "
      "completes its 20 ms frame\n",
      held_min / 16.0, held_max / 16.0, held / 16.0);
  printf("\n");
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

// --- CPU and threads, from /proc
// -------------------------------------------------------------------
pid_t self_tid() {
  return pid_t(syscall(SYS_gettid));
}

// The simulated clients' threads (the node links, the raw clients, the pacing main thread): the
// rest of this process is the bridge.
std::mutex g_client_tids_mutex;
std::vector<pid_t> g_client_tids;
void register_client_thread() {
  const pid_t tid = self_tid();
  std::lock_guard<std::mutex> lock(g_client_tids_mutex);
  if (std::find(g_client_tids.begin(), g_client_tids.end(), tid) == g_client_tids.end())
    g_client_tids.push_back(tid);
}
std::vector<pid_t> client_tids() {
  std::lock_guard<std::mutex> lock(g_client_tids_mutex);
  return g_client_tids;
}

double thread_cpu_s(pid_t tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// Every thread's CPU time, the exited ones' included.
double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

size_t process_threads() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

struct CpuMark {
  double process_s = 0;
  std::map<pid_t, double> clients_s;
};
CpuMark cpu_mark() {
  CpuMark m;
  for (pid_t tid : client_tids())
    m.clients_s[tid] = thread_cpu_s(tid);
  m.process_s = process_cpu_s();
  return m;
}

// --- the clients ---------------------------------------------------------------------------------
enum class Door { kOpus, kPcm16, kRealtime, kXiaozhi, kWyoming };
const char* door_name(Door d) {
  return d == Door::kOpus       ? "earshot.v1 opus (node)"
         : d == Door::kPcm16    ? "earshot.v1 pcm16 (browser)"
         : d == Door::kRealtime ? "realtime (/v1/realtime)"
         : d == Door::kXiaozhi  ? "xiaozhi (/xiaozhi/v1/)"
                                : "wyoming satellite (tcp, raw pcm16)";
}

// A WebSocket message's frame header on the wire: 2 bytes, 4 more for a length of 126-65535 (2)
// or more (8), and the 4-byte mask on what a client sends.
uint64_t ws_bytes(size_t payload, bool from_client) {
  const uint64_t length = payload < 126 ? 0 : payload < 65536 ? 2 : 8;
  return payload + 2 + length + (from_client ? 4 : 0);
}

struct Audio {
  std::vector<Packet> opus;
  std::vector<std::string> pcm16k, pcm24k;
};

class Client {
 public:
  virtual ~Client() = default;
  virtual bool start(int port, size_t index, std::string* error) = 0;
  virtual bool ready() const = 0;
  // Every 20 ms from the main thread (the opus node; the raw clients pace themselves).
  virtual void tick() {}
  virtual void stop() = 0;

  std::atomic<uint64_t> late_frames{0}, reply_frames{0};
  std::atomic<int64_t> worst_late_us{0};
  // Audio on the wire: bytes (with WebSocket framing) and the ms of audio they carried.
  std::atomic<uint64_t> up_bytes{0}, up_audio_ms{0}, down_bytes{0}, down_audio_ms{0};
  std::vector<double> heard_ms() {
    std::lock_guard<std::mutex> lock(mutex_);
    return heard_ms_;
  }

 protected:
  // A reply's audio frame `index` (0, 1, ...) arrived.
  void reply_frame(uint64_t index) {
    const int64_t now = now_us();
    if (index == 0) {
      first_arrival_us_ = now;
      const int64_t spoken = last_speech_sent_us_.load();
      if (spoken > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        heard_ms_.push_back(double(now - spoken) / 1000.0 - kConfiguredSilenceMs);
      }
    }
    const int64_t due = first_arrival_us_ + int64_t(index) * 20000;
    const int64_t late = now - due;
    reply_frames.fetch_add(1);
    if (late > 20000) late_frames.fetch_add(1);
    if (late > worst_late_us.load()) worst_late_us.store(late);
  }
  int phase_ = 0;  // frame index in the 275-frame cycle (125 speech + 150 silence)
  std::atomic<int64_t> last_speech_sent_us_{0};

 private:
  int64_t first_arrival_us_ = 0;  // reply pacing, on the receiving thread
  std::mutex mutex_;
  std::vector<double> heard_ms_;  // last speech frame sent -> first reply frame read, - 500 ms
};

// A node: the node's own link code, Opus.
class OpusNode : public Client {
 public:
  explicit OpusNode(const std::vector<Packet>& speech) : speech_(speech) {}
  bool start(int port, size_t index, std::string* error) override {
    buffer_ = std::make_unique<device::SpeechBuffer>(device::SpeechBuffer::Config{});
    device::LinkConfig lc;
    lc.url = "ws://127.0.0.1:" + std::to_string(port) + "/";
    lc.token = "bench";
    lc.hello.node_id = "sim-" + std::to_string(index);
    lc.hello.capabilities = {"playback", "barge_in"};
    device::LinkCallbacks cb;
    cb.on_welcome = [](const protocol::Welcome&) { register_client_thread(); };
    cb.on_reply_frame = [this](const protocol::AudioFrameView& f) {
      down_bytes.fetch_add(ws_bytes(protocol::kAudioHeaderSize + f.payload_size, false));
      down_audio_ms.fetch_add(20);
      reply_frame(f.header.seq);
    };
    link_ = std::make_unique<device::NodeLink>(lc, *buffer_, cb);
    phase_ = int(index * 37 % kCycleFrames);  // spread the turns
    return link_->start(error);
  }
  bool ready() const override { return link_->connected(); }
  void tick() override {
    if (phase_ < kSpeechFrames) {
      const Packet& p = speech_[size_t(phase_)];
      buffer_->push(p.flags, ts_, p.bytes.data(), p.bytes.size());
      up_bytes.fetch_add(ws_bytes(protocol::kAudioHeaderSize + p.bytes.size(), true));
      up_audio_ms.fetch_add(20);
      link_->wake();
      if (phase_ == kSpeechFrames - 1) last_speech_sent_us_.store(now_us());
    }
    ts_ += 320;
    phase_ = (phase_ + 1) % kCycleFrames;
  }
  void stop() override { link_->stop(); }

 private:
  const std::vector<Packet>& speech_;
  std::unique_ptr<device::SpeechBuffer> buffer_;
  std::unique_ptr<device::NodeLink> link_;
  uint64_t ts_ = 0;
};

// A raw WebSocket client on a thread of its own: paced at 20 ms on an absolute schedule, reading
// what the bridge sends in between.
class RawClient : public Client {
 public:
  bool ready() const override { return ready_.load(); }
  void stop() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  ~RawClient() override { stop(); }

 protected:
  void run_paced(int64_t index) {
    phase_ = int(index * 37 % kCycleFrames);
    auto next = Clock::now();
    while (!stop_.load()) {
      if (Clock::now() >= next) {
        send_frame();
        phase_ = (phase_ + 1) % kCycleFrames;
        next += std::chrono::milliseconds(20);
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
      const auto r = ws_.read(std::max(1, int(left.count())));
      if (r.kind == test::WsTestClient::Received::kGone ||
          r.kind == test::WsTestClient::Received::kClose) {
        fprintf(stderr, "bridge_bench: the bridge closed a client (%d %s)\n", r.close_code,
                r.payload.c_str());
        return;
      }
      received(r);
    }
  }
  virtual void send_frame() = 0;
  virtual void received(const test::WsTestClient::Received& r) = 0;

  test::WsTestClient ws_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, ready_{false};
};

// The browser client's way: earshot.v1 with pcm16 at 16 kHz, the token in the hello.
class Pcm16Client : public RawClient {
 public:
  explicit Pcm16Client(const std::vector<std::string>& speech) : speech_(speech) {}
  bool start(int port, size_t index, std::string* error) override {
    if (!ws_.connect(port, {}, 0, error)) return false;
    protocol::Hello hello;
    hello.node_id = "browser-" + std::to_string(index);
    hello.token = "bench";
    hello.room = "browser";
    hello.audio = {"pcm16", 16000, 1, 20};
    hello.capabilities = {"playback", "barge_in", "partial_transcripts", "turn_timings"};
    ws_.send_text(protocol::to_json(hello));
    const auto welcome = ws_.read(10000);
    if (welcome.kind != test::WsTestClient::Received::kText ||
        welcome.payload.find("\"welcome\"") == std::string::npos) {
      *error = "no welcome: " + welcome.payload;
      return false;
    }
    thread_ = std::thread([this, index] {
      register_client_thread();
      ready_.store(true);
      run_paced(int64_t(index));
    });
    return true;
  }

 private:
  void send_frame() override {
    if (phase_ < kSpeechFrames) {
      protocol::AudioFrameHeader h;
      h.seq = seq_++;
      h.timestamp = ts_;
      h.flags = segment_flags(phase_);
      const std::string& pcm = speech_[size_t(phase_)];
      uint8_t wire[protocol::kMaxAudioFrameSize];
      const size_t n = protocol::write_audio_frame(h, reinterpret_cast<const uint8_t*>(pcm.data()),
                                                   pcm.size(), wire, sizeof wire);
      if (phase_ == 0) ws_.send_text(protocol::to_json(protocol::SpeechStart{h.seq, h.timestamp}));
      ws_.send_binary(std::string(reinterpret_cast<char*>(wire), n));
      up_bytes.fetch_add(ws_bytes(n, true));
      up_audio_ms.fetch_add(20);
      if (phase_ == kSpeechFrames - 1) {
        last_speech_sent_us_.store(now_us());
        ws_.send_text(protocol::to_json(protocol::SpeechEnd{h.seq, h.timestamp}));
      }
    }
    ts_ += 320;
  }
  void received(const test::WsTestClient::Received& r) override {
    if (r.kind != test::WsTestClient::Received::kBinary) return;
    protocol::AudioFrameView view;
    if (protocol::parse_audio_frame(reinterpret_cast<const uint8_t*>(r.payload.data()),
                                    r.payload.size(), &view) == protocol::FrameError::kOk) {
      down_bytes.fetch_add(ws_bytes(r.payload.size(), false));
      down_audio_ms.fetch_add(20);
      reply_frame(view.header.seq);
    }
  }
  const std::vector<std::string>& speech_;
  uint64_t seq_ = 0, ts_ = 0;
};

// An OpenAI Realtime client: session.update, then 20 ms appends of pcm16 at 24 kHz, silence too.
class RealtimeClient : public RawClient {
 public:
  explicit RealtimeClient(const std::vector<std::string>& speech) : speech_(speech) {
    if (const char* e = getenv("EARSHOT_BENCH_APPEND_MS"))
      append_frames_ = std::max(1, atoi(e) / 20);
  }
  bool start(int port, size_t index, std::string* error) override {
    if (!ws_.connect(port, {"Authorization: Bearer bench"}, 0, error, "/v1/realtime?model=bench",
                     ""))
      return false;
    if (!wait_for("\"session.created\"", error)) return false;
    ws_.send_text(
        R"({"type":"session.update","session":{"type":"realtime","output_modalities":["audio"],)"
        R"("audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"turn_detection":)"
        R"({"type":"server_vad","silence_duration_ms":500,"create_response":true}},)"
        R"("output":{"format":{"type":"audio/pcm","rate":24000}}}}})");
    if (!wait_for("\"session.updated\"", error)) return false;
    thread_ = std::thread([this, index] {
      register_client_thread();
      ready_.store(true);
      run_paced(int64_t(index));
    });
    return true;
  }

 private:
  bool wait_for(const char* type, std::string* error) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      const auto r = ws_.read(1000);
      if (r.kind == test::WsTestClient::Received::kText &&
          r.payload.find(type) != std::string::npos)
        return true;
      if (r.kind == test::WsTestClient::Received::kText &&
          r.payload.find("\"error\"") != std::string::npos) {
        *error = r.payload;
        return false;
      }
      if (r.kind == test::WsTestClient::Received::kGone ||
          r.kind == test::WsTestClient::Received::kClose)
        break;
    }
    *error = std::string("no ") + type;
    return false;
  }
  void send_frame() override {
    pending_ += phase_ < kSpeechFrames ? speech_[size_t(phase_)] : std::string(960, '\0');
    if ((phase_ + 1) % append_frames_ != 0) return;
    const std::string append = R"({"type":"input_audio_buffer.append","audio":")" +
                               protocol::realtime::base64_encode(pending_) + "\"}";
    ws_.send_text(append);
    if (phase_ - (append_frames_ - 1) < kSpeechFrames) {  // it carries speech
      up_bytes.fetch_add(ws_bytes(append.size(), true));
      up_audio_ms.fetch_add(uint64_t(append_frames_) * 20);
    }
    pending_.clear();
    if (phase_ / append_frames_ == (kSpeechFrames - 1) / append_frames_)
      last_speech_sent_us_.store(now_us());
  }
  void received(const test::WsTestClient::Received& r) override {
    if (r.kind != test::WsTestClient::Received::kText) return;
    if (r.payload.find("\"response.output_audio.delta\"") != std::string::npos) {
      const size_t at = r.payload.find("\"response_id\":\"");
      const std::string id =
          at == std::string::npos
              ? ""
              : r.payload.substr(at + 15, r.payload.find('"', at + 15) - at - 15);
      if (id != response_id_) {
        response_id_ = id;
        delta_index_ = 0;
      }
      down_bytes.fetch_add(ws_bytes(r.payload.size(), false));
      down_audio_ms.fetch_add(20);
      reply_frame(delta_index_++);
    } else if (r.payload.find("\"type\":\"error\"") != std::string::npos) {
      fprintf(stderr, "bridge_bench: realtime error: %s\n", r.payload.c_str());
    }
  }
  const std::vector<std::string>& speech_;
  int append_frames_ = 1;  // 20 ms frames per append
  std::string pending_, response_id_;
  uint64_t delta_index_ = 0;
};

// A xiaozhi-esp32 box: hello, listen start (auto), 60 ms Opus packets at 16 kHz (binary protocol
// 1), silence too; the reply is 60 ms Opus packets between tts start and tts stop.
class XiaozhiClient : public RawClient {
 public:
  explicit XiaozhiClient(const std::vector<std::string>& speech) : speech_(speech) {}
  bool start(int port, size_t index, std::string* error) override {
    char mac[32];
    snprintf(mac, sizeof mac, "02:00:00:00:%02zx:%02zx", (index >> 8) & 0xff, index & 0xff);
    if (!ws_.connect(port,
                     {"Authorization: Bearer bench", "Protocol-Version: 1",
                      std::string("Device-Id: ") + mac, "Client-Id: bench"},
                     0, error, "/xiaozhi/v1/", ""))
      return false;
    ws_.send_text(
        R"({"type":"hello","version":1,"features":{"mcp":false},"transport":"websocket",)"
        R"("audio_params":{"format":"opus","sample_rate":16000,"channels":1,"frame_duration":60}})");
    const auto hello = ws_.read(10000);
    if (hello.kind != test::WsTestClient::Received::kText ||
        hello.payload.find("\"hello\"") == std::string::npos) {
      *error = "no server hello: " + hello.payload;
      return false;
    }
    ws_.send_text(R"({"session_id":"","type":"listen","state":"start","mode":"auto"})");
    dsp::OpusEncoderSettings es;
    es.frame_ms = 60;
    encoder_ = dsp::OpusFrameEncoder::create(es, error);
    if (!encoder_) return false;
    thread_ = std::thread([this, index] {
      register_client_thread();
      ready_.store(true);
      run_paced(int64_t(index));
    });
    return true;
  }

 private:
  void send_frame() override {
    float* at = pcm_ + frames_ * 320;
    if (phase_ < kSpeechFrames) {
      const std::string& bytes = speech_[size_t(phase_)];
      for (int i = 0; i < 320; ++i)
        at[i] = float(int16_t(uint16_t(uint8_t(bytes[2 * i])) |
                              uint16_t(uint16_t(uint8_t(bytes[2 * i + 1])) << 8))) /
                32768.0f;
    } else {
      std::fill(at, at + 320, 0.0f);
    }
    if (phase_ == kSpeechFrames - 1) holds_last_speech_ = true;
    if (phase_ < kSpeechFrames) holds_speech_ = true;
    if (++frames_ < 3) return;
    frames_ = 0;
    uint8_t packet[1500];
    const int n = encoder_->encode(pcm_, packet, sizeof packet);
    if (n <= 0) return;
    ws_.send_binary(std::string(reinterpret_cast<char*>(packet), size_t(n)));
    if (holds_speech_) {
      up_bytes.fetch_add(ws_bytes(size_t(n), true));
      up_audio_ms.fetch_add(60);
    }
    if (holds_last_speech_) last_speech_sent_us_.store(now_us());
    holds_last_speech_ = holds_speech_ = false;
  }
  void received(const test::WsTestClient::Received& r) override {
    if (r.kind == test::WsTestClient::Received::kText) {
      if (r.payload.find("\"tts\"") != std::string::npos &&
          r.payload.find("\"state\":\"start\"") != std::string::npos)
        packet_index_ = 0;
      return;
    }
    if (r.kind != test::WsTestClient::Received::kBinary) return;
    down_bytes.fetch_add(ws_bytes(r.payload.size(), false));
    down_audio_ms.fetch_add(60);
    reply_frame(packet_index_ * 3);  // a packet holds three 20 ms frames
    ++packet_index_;
  }
  const std::vector<std::string>& speech_;
  std::unique_ptr<dsp::OpusFrameEncoder> encoder_;
  float pcm_[960] = {};
  int frames_ = 0;
  bool holds_last_speech_ = false, holds_speech_ = false;
  uint64_t packet_index_ = 0;
};

// A Wyoming satellite (see the top of this file). Its one thread accepts the bridge, then sends its
// microphone on an absolute 20 ms schedule and reads what the bridge says in between.
class WyomingSatelliteClient : public Client {
 public:
  explicit WyomingSatelliteClient(const std::vector<std::string>& speech) : speech_(speech) {
    if (const char* e = getenv("EARSHOT_BENCH_WYOMING_CHUNK"))
      chunk_samples_ = std::max(1, atoi(e));
  }
  ~WyomingSatelliteClient() override { stop(); }
  // Listens on a port of its own; the bridge is told it (port()) and dials in.
  bool start(int, size_t index, std::string* error) override {
    listen_fd_ = host::tcp::listen_on("127.0.0.1", 0, error);
    if (listen_fd_ < 0) return false;
    port_ = host::tcp::bound_port(listen_fd_);
    thread_ = std::thread([this, index] {
      register_client_thread();
      run(int64_t(index));
    });
    return true;
  }
  int port() const { return port_; }
  bool ready() const override { return running_.load(); }
  void stop() override {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    for (int* fd : {&fd_, &listen_fd_})
      if (*fd >= 0) ::close(*fd), *fd = -1;
  }

 private:
  static constexpr int kMicRate = 16000, kSndRate = 22050;
  using json = nlohmann::json;
  struct WireEvent {
    std::string type;
    json data;
    std::string payload;
    size_t wire_bytes = 0;  // header line, data and payload
  };

  // An event as rhasspy/wyoming's event.py writes it: the header line by Python's json.dumps
  // (", " and ": " between items), then the data as its own block, then the payload.
  static std::string event(const std::string& type, const std::string& data = "",
                           const std::string& payload = "") {
    std::string header = "{\"type\": \"" + type + "\", \"version\": \"1.5.4\"";
    if (!data.empty()) header += ", \"data_length\": " + std::to_string(data.size());
    if (!payload.empty()) header += ", \"payload_length\": " + std::to_string(payload.size());
    return header + "}\n" + data + payload;
  }
  // The next whole event at the front of `buffer_` (rhasspy/wyoming README, "Format").
  bool next_event(WireEvent* e) {
    const size_t nl = buffer_.find('\n');
    if (nl == std::string::npos) return false;
    const json header = json::parse(buffer_.begin(), buffer_.begin() + long(nl), nullptr, false);
    if (!header.is_object()) {
      fprintf(stderr, "bridge_bench: wyoming: a bad header from the bridge\n");
      exit(1);
    }
    auto length = [&](const char* key) {
      return header.contains(key) && header[key].is_number_unsigned() ? header[key].get<size_t>()
                                                                      : size_t(0);
    };
    const size_t data_length = length("data_length"), payload_length = length("payload_length");
    const size_t need = nl + 1 + data_length + payload_length;
    if (buffer_.size() < need) return false;
    e->type = header.value("type", "");
    e->data =
        header.contains("data") && header["data"].is_object() ? header["data"] : json::object();
    if (data_length > 0) {
      const json data = json::parse(buffer_.substr(nl + 1, data_length), nullptr, false);
      if (data.is_object()) e->data.update(data);
    }
    e->payload = buffer_.substr(nl + 1 + data_length, payload_length);
    e->wire_bytes = need;
    buffer_.erase(0, need);
    return true;
  }
  void write(const std::string& bytes) {
    size_t at = 0;
    while (at < bytes.size() && !stop_.load()) {
      const ssize_t n = send(fd_, bytes.data() + at, bytes.size() - at, MSG_NOSIGNAL);
      if (n > 0) {
        at += size_t(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return;
      } else {
        pollfd p{fd_, POLLOUT, 0};
        poll(&p, 1, 100);
      }
    }
  }

  void run(int64_t index) {
    while (!stop_.load() && fd_ < 0) {  // the bridge dials in
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) fd_ = accept(listen_fd_, nullptr, nullptr);
    }
    if (fd_ < 0) return;
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as asyncio's transports do
    phase_ = int(index * 37 % kCycleFrames);
    char buf[65536];
    while (!stop_.load()) {
      if (running_.load() && Clock::now() >= next_) {  // the schedule starts at run-satellite
        send_frame();
        phase_ = (phase_ + 1) % kCycleFrames;
        next_ += std::chrono::milliseconds(20);
        continue;
      }
      const auto left =
          running_.load()
              ? std::chrono::duration_cast<std::chrono::milliseconds>(next_ - Clock::now())
              : std::chrono::milliseconds(100);
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, std::max(1, int(left.count()))) <= 0) continue;
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (!stop_.load() && !paused_)
          fprintf(stderr, "bridge_bench: the bridge closed a satellite\n");
        return;
      }
      buffer_.append(buf, size_t(n));
      WireEvent e;
      while (next_event(&e))
        received(e);
    }
  }

  void send_frame() {
    if (phase_ == 0) {  // the wake word: a pipeline from asr to tts
      write(event("detection", R"({"name": "ok_nabu", "timestamp": 0})"));
      write(event("run-pipeline",
                  R"({"start_stage": "asr", "end_stage": "tts", "restart_on_end": false, )"
                  R"("snd_format": {"rate": 22050, "width": 2, "channels": 1}})"));
      listening_ = true;
      mic_.clear();
      mic_samples_ = 0;
    }
    if (!listening_) return;
    mic_ += phase_ < kSpeechFrames ? speech_[size_t(phase_)] : std::string(640, '\0');
    const size_t chunk_bytes = size_t(chunk_samples_) * 2;
    constexpr int64_t kSpeechEnd = int64_t(kSpeechFrames) * kMicRate / 50;  // in samples
    while (mic_.size() >= chunk_bytes) {
      const int64_t from = mic_samples_, to = from + chunk_samples_;
      char data[128];
      snprintf(data, sizeof data, R"({"rate": %d, "width": 2, "channels": 1, "timestamp": %lld})",
               kMicRate, (long long)(from * 1000 / kMicRate));
      const std::string bytes = event("audio-chunk", data, mic_.substr(0, chunk_bytes));
      write(bytes);
      mic_.erase(0, chunk_bytes);
      mic_samples_ = to;
      if (from < kSpeechEnd) {  // it carries speech
        up_bytes.fetch_add(bytes.size());
        up_audio_ms.fetch_add(uint64_t(chunk_samples_) * 1000 / kMicRate);
      }
      if (from < kSpeechEnd && kSpeechEnd <= to) last_speech_sent_us_.store(now_us());
    }
  }

  void received(const WireEvent& e) {
    if (e.type == "describe") {
      write(event("info",
                  json({{"asr", json::array()},
                        {"tts", json::array()},
                        {"handle", json::array()},
                        {"intent", json::array()},
                        {"wake", json::array()},
                        {"satellite",
                         {{"name", "bench satellite"},
                          {"area", "bench"},
                          {"installed", true},
                          {"attribution", {{"name", "bench"}, {"url", ""}}},
                          {"snd_format", {{"rate", kSndRate}, {"width", 2}, {"channels", 1}}}}}})
                      .dump()));
    } else if (e.type == "run-satellite") {
      next_ = Clock::now();
      running_.store(true);
    } else if (e.type == "pause-satellite") {
      paused_ = true;  // the bridge is stopping
    } else if (e.type == "ping") {
      write(event("pong"));
    } else if (e.type == "transcript") {
      listening_ = false;  // a satellite stops streaming at the transcript
    } else if (e.type == "audio-start") {
      reply_index_ = 0;
    } else if (e.type == "audio-chunk") {
      down_bytes.fetch_add(e.wire_bytes);
      down_audio_ms.fetch_add(uint64_t(e.payload.size() / 2) * 1000 / kSndRate);
      reply_frame(reply_index_++);
    } else if (e.type == "audio-stop") {
      write(event("played"));
    } else if (e.type == "error") {
      fprintf(stderr, "bridge_bench: wyoming error: %s\n", e.data.dump().c_str());
    }
  }

  const std::vector<std::string>& speech_;
  int chunk_samples_ = 320;
  int listen_fd_ = -1, fd_ = -1, port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false}, running_{false};
  // The client's thread only:
  std::string buffer_;       // read, not yet a whole event
  std::string mic_;          // microphone bytes not yet sent
  int64_t mic_samples_ = 0;  // sent in this pipeline
  bool listening_ = false, paused_ = false;
  uint64_t reply_index_ = 0;
  Clock::time_point next_;  // the next 20 ms tick
};

std::unique_ptr<Client> make_client(Door door, const Audio& audio) {
  if (door == Door::kOpus) return std::make_unique<OpusNode>(audio.opus);
  if (door == Door::kPcm16) return std::make_unique<Pcm16Client>(audio.pcm16k);
  if (door == Door::kXiaozhi) return std::make_unique<XiaozhiClient>(audio.pcm16k);
  if (door == Door::kWyoming) return std::make_unique<WyomingSatelliteClient>(audio.pcm16k);
  return std::make_unique<RealtimeClient>(audio.pcm24k);
}

// --- a run ---------------------------------------------------------------------------------------
struct RunResult {
  size_t nodes = 0;
  size_t turns = 0;
  std::vector<host::TurnReport> reports;
  std::vector<double> heard_ms;
  uint64_t up_bytes = 0, up_audio_ms = 0, down_bytes = 0, down_audio_ms = 0;
  uint64_t uplink_late = 0, uplink_lost = 0, reply_late = 0, reply_dropped = 0, reply_frames = 0;
  double worst_reply_late_ms = 0;
  size_t threads_idle = 0, threads_busy = 0;       // the bridge's: before the clients, with them
  double bridge_cpu_pct = 0, clients_cpu_pct = 0;  // over the speaking time; 100 = one core
};

RunResult run(Door door, size_t count, double seconds, const Audio& audio) {
  host::Services services;
  InstantStt stt;
  InstantLlm llm;
  InstantTts tts;
  services.stt = &stt;
  services.llm = &llm;
  services.tts = &tts;
  services.turn.end_of_turn_ms = int(kConfiguredSilenceMs);
  if (const char* e = getenv("EARSHOT_BENCH_EARLY_FINAL_MS"))
    services.turn.early_final_ms = atoi(e);
  services.delivery = std::make_unique<host::DeliveryLedger>(nullptr);
  std::mutex mutex;
  RunResult result;
  result.nodes = count;
  services.on_turn = [&](const host::TurnReport& r) {
    std::lock_guard<std::mutex> lock(mutex);
    result.reports.push_back(r);
  };
  {
    std::lock_guard<std::mutex> lock(g_client_tids_mutex);
    g_client_tids.clear();
  }
  register_client_thread();  // this thread paces the opus nodes
  host::ServerConfig sc;
  sc.listen = "127.0.0.1";
  sc.port = 0;
  sc.shared_token = "bench";
  sc.max_sessions = 1000;
  host::BridgeServer server(sc, services);
  std::string error;
  if (!server.start(&error)) {
    fprintf(stderr, "bridge_bench: %s\n", error.c_str());
    exit(1);
  }
  result.threads_idle = process_threads() - 1;  // less this thread
  std::vector<std::unique_ptr<Client>> clients;
  for (size_t i = 0; i < count; ++i) {
    clients.push_back(make_client(door, audio));
    if (!clients.back()->start(server.port(), i, &error)) {
      fprintf(stderr, "bridge_bench: client %zu: %s\n", i, error.c_str());
      exit(1);
    }
  }
  // Wyoming satellites are dialled by the bridge, as the bridge's main() does.
  std::unique_ptr<host::WyomingSatellites> satellites;
  if (door == Door::kWyoming) {
    host::WyomingConfig wc;
    for (size_t i = 0; i < count; ++i) {
      host::WyomingSatelliteConfig sat;
      sat.name = "bench-" + std::to_string(i);
      sat.host = "127.0.0.1";
      sat.port = static_cast<WyomingSatelliteClient&>(*clients[i]).port();
      wc.satellites.push_back(sat);
    }
    satellites = std::make_unique<host::WyomingSatellites>(wc, services);
    satellites->start();
  }
  // Wait for every client to be welcomed.
  const auto connect_deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < connect_deadline &&
         std::any_of(clients.begin(), clients.end(), [](auto& c) { return !c->ready(); }))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // harness pacing, not a test
  const uint64_t late0 = services.metrics.frames_late_total.load();
  const uint64_t lost0 = services.metrics.frames_lost_total.load();
  // Speak: a frame every 20 ms on an absolute schedule (the raw clients keep their own).
  const CpuMark cpu0 = cpu_mark();
  const auto start = Clock::now();
  const int ticks = int(seconds * 50);
  for (int t = 0; t < ticks; ++t) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(20 * t));
    for (auto& c : clients)
      c->tick();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  const CpuMark cpu1 = cpu_mark();
  result.threads_busy = process_threads() - client_tids().size();
  double clients_s = 0;
  for (auto& [tid, s] : cpu1.clients_s)
    clients_s += s - (cpu0.clients_s.count(tid) ? cpu0.clients_s.at(tid) : 0.0);
  result.clients_cpu_pct = 100 * clients_s / wall;
  result.bridge_cpu_pct = 100 * (cpu1.process_s - cpu0.process_s - clients_s) / wall;
  // Let the last turns finish (the raw clients keep streaming their silence meanwhile).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  result.uplink_late = services.metrics.frames_late_total.load() - late0;
  result.uplink_lost = services.metrics.frames_lost_total.load() - lost0;
  result.reply_dropped = services.metrics.reply_frames_dropped_total.load();
  if (satellites) satellites->stop();  // pause-satellite first, as the bridge does
  for (auto& c : clients) {
    result.reply_late += c->late_frames.load();
    result.reply_frames += c->reply_frames.load();
    result.worst_reply_late_ms =
        std::max(result.worst_reply_late_ms, double(c->worst_late_us.load()) / 1000.0);
    const std::vector<double> heard = c->heard_ms();
    result.heard_ms.insert(result.heard_ms.end(), heard.begin(), heard.end());
    result.up_bytes += c->up_bytes.load();
    result.up_audio_ms += c->up_audio_ms.load();
    result.down_bytes += c->down_bytes.load();
    result.down_audio_ms += c->down_audio_ms.load();
    c->stop();
  }
  server.stop();
  std::lock_guard<std::mutex> lock(mutex);
  result.turns = result.reports.size();
  return result;
}

std::vector<Door> doors_from_env() {
  const char* e = getenv("EARSHOT_BENCH_DOORS");
  if (!e) return {Door::kOpus, Door::kPcm16, Door::kRealtime, Door::kXiaozhi, Door::kWyoming};
  std::vector<Door> out;
  const std::string s = e;
  if (s.find("opus") != std::string::npos) out.push_back(Door::kOpus);
  if (s.find("pcm16") != std::string::npos) out.push_back(Door::kPcm16);
  if (s.find("realtime") != std::string::npos) out.push_back(Door::kRealtime);
  if (s.find("xiaozhi") != std::string::npos) out.push_back(Door::kXiaozhi);
  if (s.find("wyoming") != std::string::npos) out.push_back(Door::kWyoming);
  return out;
}

void latency(const Audio& audio) {
  const std::vector<Door> doors = doors_from_env();
  const int rounds = getenv("EARSHOT_BENCH_ROUNDS") ? atoi(getenv("EARSHOT_BENCH_ROUNDS")) : 3;
  const double round_s =
      getenv("EARSHOT_BENCH_ROUND_S") ? atof(getenv("EARSHOT_BENCH_ROUND_S")) : 40;
  struct Stages {
    std::vector<double> own, turn, after, stt, llm, tts, send, heard;
    uint64_t up_bytes = 0, up_audio_ms = 0, down_bytes = 0, down_audio_ms = 0;
  };
  std::map<Door, Stages> by_door;
  for (int round = 0; round < rounds; ++round) {
    for (Door door : doors) {
      const RunResult r = run(door, 1, round_s, audio);
      Stages& s = by_door[door];
      for (const host::TurnReport& t : r.reports) {
        if (t.first_frame_sent_ms < 0) continue;
        s.own.push_back(t.first_frame_sent_ms - kConfiguredSilenceMs);
        s.turn.push_back(t.end_of_turn_ms - kConfiguredSilenceMs);
        s.after.push_back(t.first_frame_sent_ms - t.end_of_turn_ms);
        s.stt.push_back(t.stt_final_ms - t.end_of_turn_ms);
        s.llm.push_back(t.llm_first_token_ms - t.stt_final_ms);
        s.tts.push_back(t.tts_first_audio_ms - t.llm_first_token_ms);
        s.send.push_back(t.first_frame_sent_ms - t.tts_first_audio_ms);
      }
      s.heard.insert(s.heard.end(), r.heard_ms.begin(), r.heard_ms.end());
      s.up_bytes += r.up_bytes;
      s.up_audio_ms += r.up_audio_ms;
      s.down_bytes += r.down_bytes;
      s.down_audio_ms += r.down_audio_ms;
    }
  }
  printf(
      "latency with instant engines, one client at a time, %d rounds of %.0f s per door (ms after "
      "the end of speech, the configured 500 ms end-of-turn silence subtracted; the bridge's "
      "times at 1 ms resolution):\n\n",
      rounds, round_s);
  printf("| stage |");
  for (Door d : doors)
    printf(" %s p50 | p95 |", door_name(d));
  printf("\n|---|");
  for (size_t i = 0; i < doors.size(); ++i)
    printf("---|---|");
  printf("\n");
  auto row = [&](const char* name, std::vector<double> Stages::*field) {
    printf("| %s |", name);
    for (Door d : doors) {
      const std::vector<double>& v = by_door[d].*field;
      printf(" %.1f | %.1f |", percentile(v, 0.5), percentile(v, 0.95));
    }
    printf("\n");
  };
  printf("| turns |");
  for (Door d : doors)
    printf(" %zu | |", by_door[d].own.size());
  printf("\n");
  row("end of speech + 500 ms -> turn confirmed", &Stages::turn);
  row("turn confirmed -> final transcript", &Stages::stt);
  row("transcript -> first LLM text", &Stages::llm);
  row("first LLM text -> first TTS audio", &Stages::tts);
  row("first TTS audio -> first reply byte sent", &Stages::send);
  row("turn confirmed -> first reply byte sent", &Stages::after);
  row("**total (ours)**", &Stages::own);
  row("client: last speech frame sent -> first reply audio read, - 500 ms", &Stages::heard);
  printf("\n");
  printf(
      "audio on the wire, bytes per second of audio (WebSocket framing included; wyoming: raw "
      "pcm16 in audio-chunk events over TCP, header line and data included, %s-sample "
      "microphone chunks):\n\n",
      getenv("EARSHOT_BENCH_WYOMING_CHUNK") ? getenv("EARSHOT_BENCH_WYOMING_CHUNK") : "320");
  printf("| door | up: microphone | down: reply |\n|---|---|---|\n");
  for (Door d : doors) {
    const Stages& s = by_door[d];
    printf("| %s | %.0f | %.0f |\n", door_name(d),
           s.up_audio_ms ? double(s.up_bytes) * 1000.0 / double(s.up_audio_ms) : 0.0,
           s.down_audio_ms ? double(s.down_bytes) * 1000.0 / double(s.down_audio_ms) : 0.0);
  }
  printf("\n");
  fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  host::set_log_level(host::LogLevel::kWarning);
  const size_t max_nodes = argc > 1 ? size_t(atoi(argv[1])) : 300;
  Audio audio;
  audio.opus = opus_utterance();
  audio.pcm16k = pcm16_utterance(16000);
  audio.pcm24k = pcm16_utterance(24000);
  const char* only = getenv("EARSHOT_BENCH_ONLY");

  // 1. Latency, per door.
  print_vad_check();
  if (!only) latency(audio);
  if (getenv("EARSHOT_BENCH_LATENCY_ONLY")) return 0;

  // 2. Scale.
  printf("scale, 15 s of speech per run, earshot.v1 opus nodes:\n\n");
  printf(
      "| nodes | turns | uplink frames late (>20 ms) | lost | reply frames | late (>20 ms) | "
      "worst lateness ms | reply dropped | bridge threads (idle -> with nodes) | CPU %% bridge | "
      "CPU %% simulated nodes |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t n : {25, 50, 100, 200, 300, 400, 500, 600}) {
    if (only && n != size_t(atoi(only))) continue;
    if (n > max_nodes) break;
    RunResult r = run(Door::kOpus, n, 15, audio);
    printf("| %zu | %zu | %llu | %llu | %llu | %llu | %.1f | %llu | %zu -> %zu | %.0f | %.0f |\n",
           n, r.turns, (unsigned long long)r.uplink_late, (unsigned long long)r.uplink_lost,
           (unsigned long long)r.reply_frames, (unsigned long long)r.reply_late,
           r.worst_reply_late_ms, (unsigned long long)r.reply_dropped, r.threads_idle,
           r.threads_busy, r.bridge_cpu_pct, r.clients_cpu_pct);
    fflush(stdout);
  }
  return 0;
}
