// Bridge benchmark: the bridge's own latency and how many sessions one bridge carries.
//
// An in-process earshot-bridge (BridgeServer, real sessions, real Opus, real libwebsockets) with
// instant engines — STT that returns at once, an LLM that writes two sentences at once, TTS that
// returns 0.5 s of audio at once — so every millisecond measured is the bridge's own. Simulated
// nodes are real node links (device/link: NodeLink + SpeechBuffer, one libwebsockets client each)
// sending pre-encoded Opus speech paced at 20 ms: 2.5 s utterances, then 3 s of silence.
//
//   1. latency: one node, 20 turns: from the last speech frame's arrival to the first reply frame
//      written, minus the configured end-of-turn silence, per stage, p50/p95.
//   2. scale: N nodes talking at once for 15 s; a session is "late" if any microphone frame waited
//      more than 20 ms for its session thread or any reply frame reached its node more than 20 ms
//      behind its pace, "lost" if any frame went missing.
//
//   build/release/bench/bridge_bench [max_nodes]
// For experiments: EARSHOT_BENCH_ONLY=N runs only the scale row for N nodes;
// EARSHOT_BENCH_EARLY_FINAL_MS=ms sets turn.early_final_ms (0: the final pass at the turn's end).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "device/link/node_link.h"
#include "device/link/speech_buffer.h"
#include "dsp/opus_frame_encoder.h"
#include "host/log.h"
#include "host/server.h"
#include "host/services.h"
#include "host/clock.h"

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

struct Packet {
  std::vector<uint8_t> bytes;
  uint16_t flags;
};

// 2.5 s of speech-like audio (a vowel-ish harmonic tone) as Opus packets, segment flags set.
std::vector<Packet> utterance() {
  std::string error;
  auto enc = dsp::OpusFrameEncoder::create({}, &error);
  std::vector<Packet> out;
  float pcm[320];
  uint8_t packet[1500];
  for (int f = 0; f < 125; ++f) {
    for (int i = 0; i < 320; ++i) {
      const float t = float(f * 320 + i) / 16000.0f;
      pcm[i] =
          0.2f * (std::sin(2 * float(M_PI) * 140 * t) + 0.5f * std::sin(2 * float(M_PI) * 280 * t));
    }
    const int n = enc->encode(pcm, packet, sizeof packet);
    uint16_t flags = 0;
    if (f == 0) flags |= protocol::kFlagSegmentStart;
    if (f == 124) flags |= protocol::kFlagSegmentEnd;
    out.push_back({std::vector<uint8_t>(packet, packet + n), flags});
  }
  return out;
}

struct SimNode {
  std::unique_ptr<device::SpeechBuffer> buffer;
  std::unique_ptr<device::NodeLink> link;
  int phase = 0;  // frame index in the 275-frame cycle (125 speech + 150 silence)
  uint64_t ts = 0;
  // reply pacing, on the link thread
  int64_t first_arrival_us = 0;
  std::atomic<uint64_t> late_frames{0}, reply_frames{0};
  std::atomic<int64_t> worst_late_us{0};
};

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

struct RunResult {
  size_t nodes = 0;
  size_t turns = 0;
  std::vector<host::TurnReport> reports;
  uint64_t uplink_late = 0, uplink_lost = 0, reply_late = 0, reply_dropped = 0, reply_frames = 0;
  double worst_reply_late_ms = 0;
};

RunResult run(size_t count, double seconds, const std::vector<Packet>& speech) {
  host::Services services;
  InstantStt stt;
  InstantLlm llm;
  InstantTts tts;
  services.stt = &stt;
  services.llm = &llm;
  services.tts = &tts;
  services.turn.end_of_turn_ms = 500;
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
  host::ServerConfig sc;
  sc.listen = "127.0.0.1";
  sc.port = 0;
  sc.shared_token = "bench";
  host::BridgeServer server(sc, services);
  std::string error;
  if (!server.start(&error)) {
    fprintf(stderr, "bridge_bench: %s\n", error.c_str());
    exit(1);
  }
  std::vector<std::unique_ptr<SimNode>> nodes;
  for (size_t i = 0; i < count; ++i) {
    auto n = std::make_unique<SimNode>();
    n->buffer = std::make_unique<device::SpeechBuffer>(device::SpeechBuffer::Config{});
    device::LinkConfig lc;
    lc.url = "ws://127.0.0.1:" + std::to_string(server.port()) + "/";
    lc.token = "bench";
    lc.hello.node_id = "sim-" + std::to_string(i);
    lc.hello.capabilities = {"playback", "barge_in"};
    device::LinkCallbacks cb;
    SimNode* self = n.get();
    cb.on_reply_frame = [self](const protocol::AudioFrameView& f) {
      const int64_t now = now_us();
      if (f.header.seq == 0) self->first_arrival_us = now;
      const int64_t due = self->first_arrival_us + int64_t(f.header.seq) * 20000;
      const int64_t late = now - due;
      self->reply_frames.fetch_add(1);
      if (late > 20000) self->late_frames.fetch_add(1);
      if (late > self->worst_late_us.load()) self->worst_late_us.store(late);
    };
    n->link = std::make_unique<device::NodeLink>(lc, *n->buffer, cb);
    n->phase = int(i * 37 % 275);  // spread the turns
    if (!n->link->start(&error)) {
      fprintf(stderr, "bridge_bench: node %zu: %s\n", i, error.c_str());
      exit(1);
    }
    nodes.push_back(std::move(n));
  }
  // Wait for every node to be welcomed.
  const auto connect_deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < connect_deadline &&
         std::any_of(nodes.begin(), nodes.end(), [](auto& n) { return !n->link->connected(); }))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // harness pacing, not a test
  const uint64_t late0 = services.metrics.frames_late_total.load();
  const uint64_t lost0 = services.metrics.frames_lost_total.load();
  // Speak: every node, a frame every 20 ms on an absolute schedule.
  const auto start = Clock::now();
  const int ticks = int(seconds * 50);
  for (int t = 0; t < ticks; ++t) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(20 * t));
    for (auto& n : nodes) {
      if (n->phase < 125) {
        const Packet& p = speech[size_t(n->phase)];
        n->buffer->push(p.flags, n->ts, p.bytes.data(), p.bytes.size());
        n->link->wake();
      }
      n->ts += 320;
      n->phase = (n->phase + 1) % 275;
    }
  }
  // Let the last turns finish.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  result.uplink_late = services.metrics.frames_late_total.load() - late0;
  result.uplink_lost = services.metrics.frames_lost_total.load() - lost0;
  result.reply_dropped = services.metrics.reply_frames_dropped_total.load();
  for (auto& n : nodes) {
    result.reply_late += n->late_frames.load();
    result.reply_frames += n->reply_frames.load();
    result.worst_reply_late_ms =
        std::max(result.worst_reply_late_ms, double(n->worst_late_us.load()) / 1000.0);
    n->link->stop();
  }
  server.stop();
  std::lock_guard<std::mutex> lock(mutex);
  result.turns = result.reports.size();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  host::set_log_level(host::LogLevel::kWarning);
  const size_t max_nodes = argc > 1 ? size_t(atoi(argv[1])) : 300;
  const std::vector<Packet> speech = utterance();

  // 1. Latency: one node, about 20 turns.
  RunResult one = run(1, 110, speech);
  std::vector<double> own, turn, stt, llm, tts, send;
  constexpr double kConfiguredSilenceMs = 500;  // services.turn.end_of_turn_ms in run()
  for (const host::TurnReport& r : one.reports) {
    if (r.first_frame_sent_ms < 0) continue;
    own.push_back(r.first_frame_sent_ms - kConfiguredSilenceMs);
    turn.push_back(r.end_of_turn_ms - kConfiguredSilenceMs);
    stt.push_back(r.stt_final_ms - r.end_of_turn_ms);
    llm.push_back(r.llm_first_token_ms - r.stt_final_ms);
    tts.push_back(r.tts_first_audio_ms - r.llm_first_token_ms);
    send.push_back(r.first_frame_sent_ms - r.tts_first_audio_ms);
  }
  printf(
      "latency with instant engines, %zu turns (ms; the configured 500 ms end-of-turn silence "
      "subtracted; 1 ms resolution):\n\n",
      own.size());
  printf("| stage | p50 | p95 |\n|---|---|---|\n");
  auto row = [](const char* name, const std::vector<double>& v) {
    printf("| %s | %.1f | %.1f |\n", name, percentile(v, 0.5), percentile(v, 0.95));
  };
  row("end of speech + 500 ms -> turn confirmed", turn);
  row("turn confirmed -> final transcript", stt);
  row("transcript -> first LLM text", llm);
  row("first LLM text -> first TTS audio", tts);
  row("first TTS audio -> first frame written", send);
  row("**total (ours)**", own);

  // 2. Scale.
  printf("\nscale, 15 s of speech per run:\n\n");
  printf(
      "| nodes | turns | uplink frames late (>20 ms) | lost | reply frames | late (>20 ms) | "
      "worst lateness ms | reply dropped |\n|---|---|---|---|---|---|---|---|\n");
  for (size_t n : {25, 50, 100, 200, 300, 400}) {
    if (getenv("EARSHOT_BENCH_ONLY") && n != size_t(atoi(getenv("EARSHOT_BENCH_ONLY")))) continue;
    if (n > max_nodes) break;
    RunResult r = run(n, 15, speech);
    printf("| %zu | %zu | %llu | %llu | %llu | %llu | %.1f | %llu |\n", n, r.turns,
           (unsigned long long)r.uplink_late, (unsigned long long)r.uplink_lost,
           (unsigned long long)r.reply_frames, (unsigned long long)r.reply_late,
           r.worst_reply_late_ms, (unsigned long long)r.reply_dropped);
    fflush(stdout);
  }
  return 0;
}
