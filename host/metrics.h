// The bridge's metrics, rendered in the Prometheus text exposition format at /metrics
// (docs/deploy.md, "Monitoring", lists them). Names follow Prometheus' conventions: base units
// (`_seconds`), `_total` on counters, `earshot_build_info` with the version and engines.
//
// Counters and histograms are lock-free atomics, written from any thread; render() reads a
// consistent-enough snapshot. The per-client series (labels node and room) are bounded by the
// clients connected now: a session holds its client's ClientMetrics (client()), and a client whose
// sessions have all ended drops out of the page (its counters start again from 0 when it returns,
// which Prometheus' rate() reads as a counter reset).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace earshot::protocol {
class PrometheusText;
}

namespace earshot::host {

// A latency histogram in seconds with fixed buckets; observed in milliseconds (the bridge's
// clocks), rendered in seconds.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBucketsS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1,    2.5,   5,    10,  30};
  void observe_ms(double ms);
  // Appends the family `name` (its _bucket, _sum and _count series).
  void render(const char* name, const char* help, protocol::PrometheusText* out) const;
  uint64_t count() const { return count_.load(); }

 private:
  std::array<std::atomic<uint64_t>, kBucketsS.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

// Why something failed: the `reason` label of earshot_errors_total. A fixed set, so the series
// are bounded; the reasons are the error codes the bridge sends clients, where it sends one.
enum class ErrorReason {
  kSttFailed,      // speech recognition failed
  kLlmFailed,      // the language model failed
  kTtsFailed,      // speech synthesis failed
  kStoreFailed,    // SQLite failed
  kProtocolError,  // a malformed frame or message received
  kBadToken,       // a connection refused for a bad or missing token
  kClientTooFast,  // closed for audio faster than real time beyond the burst (4029)
  kClientStalled,  // closed for not reading what the bridge sends (4012)
  kCount
};
const char* error_reason_label(ErrorReason reason);

enum class Engine { kStt, kLlm, kTts, kCount };

// A connected client's own series (labels node: its node_id or client id, and room).
struct ClientMetrics {
  ClientMetrics(std::string id, std::string r) : node_id(std::move(id)), room(std::move(r)) {}
  const std::string node_id, room;
  std::atomic<uint64_t> frames_received_total{0};
  std::atomic<uint64_t> frames_lost_total{0};
  std::atomic<uint64_t> turns_total{0};
};

struct Metrics {
  std::atomic<uint64_t> sessions_total{0};
  std::atomic<int64_t> sessions_active{0};
  std::atomic<uint64_t> turns_total{0};
  std::atomic<uint64_t> barge_ins_total{0};
  std::atomic<uint64_t> frames_received_total{0};
  std::atomic<uint64_t> frames_duplicate_total{0};
  std::atomic<uint64_t> frames_lost_total{0};
  std::atomic<uint64_t> frames_late_total{0};  // processed more than 20 ms after arrival
  std::atomic<uint64_t> frames_sent_total{0};
  std::atomic<uint64_t> reply_frames_dropped_total{0};
  std::atomic<uint64_t> stt_early_finals_dropped_total{0};
  std::atomic<uint64_t> segments_stored_total{0};
  std::atomic<uint64_t> commits_fenced_total{0};  // refused: a newer session holds the node
  std::atomic<uint64_t> frames_refused_total{0};  // inbound queue full: the session closed

  void count_error(ErrorReason reason) {
    errors_[size_t(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t errors(ErrorReason reason) const { return errors_[size_t(reason)].load(); }
  // An engine call ended: earshot_engine_up is 1 until a call fails, and again after one succeeds.
  void engine_result(Engine engine, bool ok) {
    engine_up_[size_t(engine)].store(ok ? 1 : 0, std::memory_order_relaxed);
  }

  // Per-stage latency, from the end of the person's speech (last speech frame arrived).
  LatencyHistogram inbound_lag;       // microphone frame: event loop → session thread
  LatencyHistogram end_of_turn;       // → turn confirmed (the configured silence)
  LatencyHistogram stt_final;         // → final transcript
  LatencyHistogram llm_first_token;   // → first LLM token
  LatencyHistogram tts_first_audio;   // → first TTS audio
  LatencyHistogram first_frame_sent;  // → first reply frame written to the socket
  // What the bridge itself adds once the engines have done their part: from the first TTS audio
  // to the first reply frame written (resampling, encoding, the outbox, the socket).
  LatencyHistogram own_latency;

  // The build and the engines configured, for earshot_build_info. Set once by main() before the
  // server starts.
  void set_build_info(std::string version, std::string stt, std::string llm, std::string tts);

  // The series of client `node_id` in `room`, for as long as a session holds them.
  std::shared_ptr<ClientMetrics> client(const std::string& node_id, const std::string& room);

  std::string render() const;

 private:
  std::array<std::atomic<uint64_t>, size_t(ErrorReason::kCount)> errors_{};
  std::array<std::atomic<int>, size_t(Engine::kCount)> engine_up_{1, 1, 1};
  std::string version_, stt_engine_, llm_engine_, tts_engine_;
  mutable std::mutex clients_mutex_;  // client(), render(): never on a per-frame path
  mutable std::map<std::string, std::weak_ptr<ClientMetrics>> clients_;
};

}  // namespace earshot::host
