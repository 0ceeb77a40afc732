#include "device/node_metrics.h"

#include "protocol/prometheus/prometheus_text.h"

namespace earshot::device {

std::string render_node_metrics(const NodeConfig& config, const NodeStats& stats) {
  using protocol::PrometheusText;
  PrometheusText out;
  out.family("earshot_node_build_info", "The node's version, id, room and mode.",
             PrometheusText::Type::kGauge);
  out.sample("earshot_node_build_info", uint64_t(1),
             {{"version", EARSHOT_VERSION},
              {"node", config.node_id},
              {"room", config.room},
              {"mode", config.mode}});
  out.counter("earshot_node_frames_captured_total", "20 ms frames of microphone audio processed.",
              stats.frames_captured);
  out.counter("earshot_node_frames_sent_total",
              "Speech frames encoded and handed to the speech buffer for the bridge.",
              stats.frames_sent);
  out.counter("earshot_node_frames_acked_total",
              "Speech frames the bridge acknowledged (its last acknowledged seq + 1).",
              stats.frames_acked);
  out.counter("earshot_node_frames_dropped_total",
              "Speech frames lost to a full speech buffer (the bridge unreachable too long).",
              stats.frames_dropped_buffer_full);
  out.counter("earshot_node_capture_overruns_total",
              "Captured frames lost because the pipeline fell behind (ring full).",
              stats.capture_overruns);
  out.counter("earshot_node_capture_xruns_total", "ALSA capture overruns (xruns) recovered.",
              stats.capture_xruns);
  out.counter("earshot_node_capture_reopens_total", "Capture device re-opened after an error.",
              stats.capture_reopens);
  out.counter("earshot_node_speech_segments_total", "Speech segments the VAD started.",
              stats.segments);
  out.counter("earshot_node_barge_ins_total", "Replies the person interrupted.", stats.barge_ins);
  out.counter("earshot_node_connections_total",
              "Sessions with the bridge (welcomed); more than one means reconnects.",
              stats.connects);
  out.gauge("earshot_node_connected", "1 while the node has a session with the bridge.",
            stats.connected ? 1 : 0);
  protocol::append_process_metrics(&out);
  return out.take();
}

}  // namespace earshot::device
