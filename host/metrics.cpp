#include "host/metrics.h"

#include <algorithm>
#include <cstdio>

namespace earshot::host {

void LatencyHistogram::observe(double ms) {
  if (ms < 0) ms = 0;
  for (size_t i = 0; i < kBucketsMs.size(); ++i)
    if (ms <= kBucketsMs[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(uint64_t(ms * 1000.0), std::memory_order_relaxed);
}

void LatencyHistogram::render(const std::string& name, const std::string& help,
                              std::string* out) const {
  char line[256];
  *out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (size_t i = 0; i < kBucketsMs.size(); ++i) {
    snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), kBucketsMs[i],
             (unsigned long long)buckets_[i].load());
    *out += line;
  }
  snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.3f\n%s_count %llu\n",
           name.c_str(), (unsigned long long)count_.load(), name.c_str(),
           double(sum_us_.load()) / 1000.0, name.c_str(), (unsigned long long)count_.load());
  *out += line;
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v, const char* type = "counter") {
    char line[512];
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
             name, (unsigned long long)v);
    out += line;
  };
  counter("earshot_sessions_total", "Sessions accepted since start.", sessions_total.load());
  counter("earshot_sessions_active", "Sessions connected now.",
          uint64_t(std::max<int64_t>(0, sessions_active.load())), "gauge");
  counter("earshot_turns_total", "Conversation turns answered.", turns_total.load());
  counter("earshot_barge_ins_total", "Replies interrupted by the person.", barge_ins_total.load());
  counter("earshot_frames_received_total", "Microphone frames accepted.",
          frames_received_total.load());
  counter("earshot_frames_duplicate_total", "Redelivered frames dropped as already seen.",
          frames_duplicate_total.load());
  counter("earshot_frames_lost_total", "Microphone frames never received (sequence gaps).",
          frames_lost_total.load());
  counter("earshot_frames_late_total",
          "Microphone frames processed more than 20 ms after they arrived (CPU saturated).",
          frames_late_total.load());
  counter("earshot_reply_frames_sent_total", "Reply audio frames sent.", frames_sent_total.load());
  counter("earshot_reply_frames_dropped_total",
          "Reply frames never sent: cleared by a barge-in, or queued when the node went away.",
          reply_frames_dropped_total.load());
  counter("earshot_protocol_errors_total", "Malformed frames or messages received.",
          protocol_errors_total.load());
  counter("earshot_auth_failures_total", "Connections refused for a bad token.",
          auth_failures_total.load());
  counter("earshot_stt_errors_total", "Speech-to-text failures.", stt_errors_total.load());
  counter("earshot_stt_early_finals_dropped_total",
          "Final passes started early, then dropped because the person spoke again.",
          stt_early_finals_dropped_total.load());
  counter("earshot_llm_errors_total", "Language model failures.", llm_errors_total.load());
  counter("earshot_tts_errors_total", "Text-to-speech failures.", tts_errors_total.load());
  counter("earshot_store_errors_total", "Store (SQLite) failures.", store_errors_total.load());
  counter("earshot_segments_stored_total", "Ambient segments stored.",
          segments_stored_total.load());
  counter("earshot_commits_fenced_total",
          "Stores refused because a newer session of the node holds it (replaced links).",
          commits_fenced_total.load());
  counter("earshot_frames_refused_total",
          "Microphone frames refused with a full inbound queue (the session closed; the node "
          "delivers them again).",
          frames_refused_total.load());
  counter("earshot_clients_too_fast_total",
          "Connections closed for sending audio faster than real time beyond the burst (4029).",
          clients_too_fast_total.load());
  counter("earshot_clients_stalled_total",
          "Connections closed for not reading what the bridge sends (4012).",
          clients_stalled_total.load());
  inbound_lag_ms.render("earshot_inbound_lag_ms",
                        "Microphone frame arrival to its processing on the session thread, ms.",
                        &out);
  end_of_turn_ms.render("earshot_end_of_turn_ms",
                        "End of speech to turn confirmed (the configured silence), ms.", &out);
  stt_final_ms.render("earshot_stt_final_ms", "End of speech to final transcript, ms.", &out);
  llm_first_token_ms.render("earshot_llm_first_token_ms", "End of speech to first LLM token, ms.",
                            &out);
  tts_first_audio_ms.render("earshot_tts_first_audio_ms", "End of speech to first TTS audio, ms.",
                            &out);
  first_frame_sent_ms.render("earshot_first_frame_sent_ms",
                             "End of speech to first reply frame sent, ms.", &out);
  own_latency_ms.render("earshot_own_latency_ms",
                        "What the bridge adds beyond the end-of-turn wait and the engines, ms.",
                        &out);
  return out;
}

}  // namespace earshot::host
