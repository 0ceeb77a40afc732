#include "host/metrics.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "protocol/prometheus/prometheus_text.h"

namespace earshot::host {

using protocol::PrometheusText;
using Type = PrometheusText::Type;

void LatencyHistogram::observe_ms(double ms) {
  if (ms < 0) ms = 0;
  for (size_t i = 0; i < kBucketsS.size(); ++i)
    if (ms <= kBucketsS[i] * 1000.0) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(uint64_t(ms * 1000.0), std::memory_order_relaxed);
}

void LatencyHistogram::render(const char* name, const char* help, PrometheusText* out) const {
  const std::string base(name);
  const std::string bucket = base + "_bucket", sum = base + "_sum", count = base + "_count";
  // Read the count first: buckets observed after it may only make them larger, never smaller
  // than what +Inf (the count) says, so the rendered buckets stay cumulative.
  const uint64_t n = count_.load();
  out->family(name, help, Type::kHistogram);
  char le[32];
  for (size_t i = 0; i < kBucketsS.size(); ++i) {
    snprintf(le, sizeof le, "%g", kBucketsS[i]);
    out->sample(bucket.c_str(), std::min(n, buckets_[i].load()), {{"le", le}});
  }
  out->sample(bucket.c_str(), n, {{"le", "+Inf"}});
  out->sample(sum.c_str(), double(sum_us_.load()) / 1e6);
  out->sample(count.c_str(), n);
}

const char* error_reason_label(ErrorReason reason) {
  switch (reason) {
    case ErrorReason::kSttFailed:
      return "stt_failed";
    case ErrorReason::kLlmFailed:
      return "llm_failed";
    case ErrorReason::kTtsFailed:
      return "tts_failed";
    case ErrorReason::kStoreFailed:
      return "store_failed";
    case ErrorReason::kProtocolError:
      return "protocol_error";
    case ErrorReason::kBadToken:
      return "bad_token";
    case ErrorReason::kClientTooFast:
      return "client_too_fast";
    case ErrorReason::kClientStalled:
      return "client_stalled";
    case ErrorReason::kCount:
      break;
  }
  return "unknown";
}

void Metrics::set_build_info(std::string version, std::string stt, std::string llm,
                             std::string tts) {
  version_ = std::move(version);
  stt_engine_ = std::move(stt);
  llm_engine_ = std::move(llm);
  tts_engine_ = std::move(tts);
}

std::shared_ptr<ClientMetrics> Metrics::client(const std::string& node_id,
                                               const std::string& room) {
  std::lock_guard<std::mutex> lock(clients_mutex_);
  std::weak_ptr<ClientMetrics>& slot = clients_[node_id];
  std::shared_ptr<ClientMetrics> held = slot.lock();
  if (!held || held->room != room) {  // a node that moved rooms starts a new series
    held = std::make_shared<ClientMetrics>(node_id, room);
    slot = held;
  }
  return held;
}

std::string Metrics::render() const {
  PrometheusText out;
  out.family("earshot_build_info", "The bridge's version and the engines it was started with.",
             Type::kGauge);
  out.sample(
      "earshot_build_info", uint64_t(1),
      {{"version", version_}, {"stt", stt_engine_}, {"llm", llm_engine_}, {"tts", tts_engine_}});
  out.counter("earshot_sessions_total", "Sessions accepted since start.", sessions_total.load());
  out.gauge("earshot_sessions_active", "Sessions connected now.",
            double(std::max<int64_t>(0, sessions_active.load())));
  out.counter("earshot_turns_total", "Conversation turns answered.", turns_total.load());
  out.counter("earshot_barge_ins_total", "Replies interrupted by the person.",
              barge_ins_total.load());
  out.counter("earshot_frames_received_total", "Microphone frames accepted.",
              frames_received_total.load());
  out.counter("earshot_frames_duplicate_total", "Redelivered frames dropped as already seen.",
              frames_duplicate_total.load());
  out.counter("earshot_frames_lost_total", "Microphone frames never received (sequence gaps).",
              frames_lost_total.load());
  out.counter("earshot_frames_late_total",
              "Microphone frames processed more than 20 ms after they arrived (CPU saturated).",
              frames_late_total.load());
  out.counter("earshot_reply_frames_sent_total", "Reply audio frames sent.",
              frames_sent_total.load());
  out.counter("earshot_reply_frames_dropped_total",
              "Reply frames never sent: cleared by a barge-in, or queued when the node went away.",
              reply_frames_dropped_total.load());
  out.counter("earshot_stt_early_finals_dropped_total",
              "Final passes started early, then dropped because the person spoke again.",
              stt_early_finals_dropped_total.load());
  out.counter("earshot_segments_stored_total", "Ambient segments stored.",
              segments_stored_total.load());
  out.counter("earshot_commits_fenced_total",
              "Stores refused because a newer session of the node holds it (replaced links).",
              commits_fenced_total.load());
  out.counter("earshot_frames_refused_total",
              "Microphone frames refused with a full inbound queue (the session closed; the node "
              "delivers them again).",
              frames_refused_total.load());

  out.family("earshot_errors_total", "Failures, by reason.", Type::kCounter);
  for (size_t i = 0; i < errors_.size(); ++i)
    out.sample("earshot_errors_total", errors_[i].load(),
               {{"reason", error_reason_label(ErrorReason(i))}});
  out.family("earshot_engine_up",
             "1 unless the engine's last call failed (stt, llm, tts); 1 before the first call.",
             Type::kGauge);
  static constexpr const char* kEngines[] = {"stt", "llm", "tts"};
  for (size_t i = 0; i < engine_up_.size(); ++i)
    out.sample("earshot_engine_up", uint64_t(engine_up_[i].load()), {{"engine", kEngines[i]}});

  inbound_lag.render("earshot_inbound_lag_seconds",
                     "Microphone frame arrival to its processing on the session thread.", &out);
  end_of_turn.render("earshot_end_of_turn_seconds",
                     "End of speech to turn confirmed (the configured silence).", &out);
  stt_final.render("earshot_stt_final_seconds", "End of speech to final transcript.", &out);
  llm_first_token.render("earshot_llm_first_token_seconds", "End of speech to first LLM token.",
                         &out);
  tts_first_audio.render("earshot_tts_first_audio_seconds", "End of speech to first TTS audio.",
                         &out);
  first_frame_sent.render("earshot_first_frame_sent_seconds",
                          "End of speech to first reply frame sent.", &out);
  own_latency.render("earshot_own_latency_seconds",
                     "What the bridge adds after the engines: first TTS audio to first reply "
                     "frame sent.",
                     &out);

  // The connected clients (bounded by them); those whose sessions all ended are dropped here.
  std::vector<std::shared_ptr<ClientMetrics>> nodes;
  {
    std::lock_guard<std::mutex> lock(clients_mutex_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (std::shared_ptr<ClientMetrics> n = it->second.lock()) {
        nodes.push_back(std::move(n));
        ++it;
      } else {
        it = clients_.erase(it);
      }
    }
  }
  out.family("earshot_client_connected",
             "1 for each client (node, box, satellite, browser) with a session now.", Type::kGauge);
  for (const auto& n : nodes)
    out.sample("earshot_client_connected", uint64_t(1), {{"node", n->node_id}, {"room", n->room}});
  out.family("earshot_client_frames_received_total",
             "Microphone frames accepted from the node while it is connected.", Type::kCounter);
  for (const auto& n : nodes)
    out.sample("earshot_client_frames_received_total", n->frames_received_total.load(),
               {{"node", n->node_id}, {"room", n->room}});
  out.family("earshot_client_frames_lost_total",
             "Microphone frames of the node never received (sequence gaps).", Type::kCounter);
  for (const auto& n : nodes)
    out.sample("earshot_client_frames_lost_total", n->frames_lost_total.load(),
               {{"node", n->node_id}, {"room", n->room}});
  out.family("earshot_client_turns_total", "Turns answered for the node while it is connected.",
             Type::kCounter);
  for (const auto& n : nodes)
    out.sample("earshot_client_turns_total", n->turns_total.load(),
               {{"node", n->node_id}, {"room", n->room}});

  protocol::append_process_metrics(&out);
  return out.take();
}

}  // namespace earshot::host
