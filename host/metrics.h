// The bridge's metrics, rendered in the Prometheus text exposition format at /metrics.
// Counters and histograms are lock-free (atomics); render() takes a consistent-enough snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace earshot::host {

// Latency histogram in milliseconds with fixed buckets.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 12> kBucketsMs = {5,   10,   25,   50,   100,   250,
                                                        500, 1000, 2500, 5000, 10000, 30000};
  void observe(double ms);
  // Appends the histogram's lines for metric `name` (without _bucket/_sum/_count).
  void render(const std::string& name, const std::string& help, std::string* out) const;
  uint64_t count() const { return count_.load(); }

 private:
  std::array<std::atomic<uint64_t>, kBucketsMs.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
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
  std::atomic<uint64_t> protocol_errors_total{0};
  std::atomic<uint64_t> auth_failures_total{0};
  std::atomic<uint64_t> stt_errors_total{0};
  std::atomic<uint64_t> stt_early_finals_dropped_total{0};
  std::atomic<uint64_t> llm_errors_total{0};
  std::atomic<uint64_t> tts_errors_total{0};
  std::atomic<uint64_t> store_errors_total{0};
  std::atomic<uint64_t> segments_stored_total{0};
  std::atomic<uint64_t> commits_fenced_total{0};    // refused: a newer session holds the node
  std::atomic<uint64_t> frames_refused_total{0};    // inbound queue full: the session closed
  std::atomic<uint64_t> clients_too_fast_total{0};  // closed for audio faster than real time
  std::atomic<uint64_t> clients_stalled_total{0};   // closed for not reading

  // Per-stage latency, from the end of the person's speech (last speech frame arrived).
  LatencyHistogram inbound_lag_ms;       // microphone frame: event loop → session thread
  LatencyHistogram end_of_turn_ms;       // → turn confirmed (the configured silence)
  LatencyHistogram stt_final_ms;         // → final transcript
  LatencyHistogram llm_first_token_ms;   // → first LLM token
  LatencyHistogram tts_first_audio_ms;   // → first TTS audio
  LatencyHistogram first_frame_sent_ms;  // → first reply frame written to the socket
  LatencyHistogram own_latency_ms;  // first frame sent minus the configured end-of-turn silence
                                    // minus engine time: what the bridge itself adds

  std::string render() const;
};

}  // namespace earshot::host
