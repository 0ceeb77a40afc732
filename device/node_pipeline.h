// NodePipeline: the room node, wired together. It reads like the data flow:
//
//   capture thread:  AudioSource ──▶ SpscRing<int16>
//   pipeline thread: ring ─▶ downmix ─▶ high-pass ─▶ resample 16 kHz ─▶ [AEC/NS] ─▶ VAD (10 ms)
//                    ─▶ SpeechSegmenter (pre-roll, hangover) ─▶ Opus encode ─▶ SpeechBuffer
//   link thread:     SpeechBuffer ─▶ WebSocket; reply frames ─▶ Playback; control messages
//   playback thread: JitterBuffer ─▶ Opus decode ─▶ AudioSink; what it plays ─▶ AEC reference
//
// Barge-in: when a speech segment starts while a reply is playing (conversation mode), the pipeline
// thread stops playback at once and tells the host how much of the reply was heard.
//
// Ownership: the pipeline owns every stage. start() builds and opens everything (and allocates);
// run() is the pipeline thread's loop and allocates nothing per frame.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "device/node_config.h"

namespace earshot::device {

struct NodeStats {
  uint64_t frames_captured = 0;  // 16 kHz 20 ms frames processed
  uint64_t segments = 0;
  uint64_t frames_sent = 0;  // encoded and handed to the speech buffer
  uint64_t frames_dropped_buffer_full = 0;
  uint64_t capture_overruns = 0;
  uint64_t barge_ins = 0;
  uint64_t connects = 0;
  uint64_t frames_acked = 0;  // the bridge's acknowledgements are cumulative: its last seq + 1
  uint64_t capture_xruns = 0;
  uint64_t capture_reopens = 0;
  bool connected = false;
  uint16_t fatal_close_code = 0;  // the link's, when it stopped for good (4001: token refused)
};

class NodePipeline {
 public:
  explicit NodePipeline(NodeConfig config);
  ~NodePipeline();
  NodePipeline(const NodePipeline&) = delete;
  NodePipeline& operator=(const NodePipeline&) = delete;

  // Opens the source, the sink, the encoder and the link; starts the capture, playback and link
  // threads. On failure returns false with a message naming what failed.
  bool start(std::string* error);

  // The pipeline thread's loop, on the calling thread. Returns when stop() is requested, or when a
  // finite source ends and everything has been delivered (or drain_timeout_ms passed). Returns the
  // process exit code: 0 on a clean end, 1 on a fatal error (message logged).
  int run();

  // Async-signal-safe: asks run() to finish (SIGTERM).
  void request_stop();

  NodeStats stats() const;
  // The same counters read from atomics only (no fatal_close_code, which sits behind the link's
  // lock): for the metrics endpoint's thread, which must never wait on another thread's lock.
  NodeStats counters() const;

  // earshot-node --check: proves without streaming what can be proved of a valid config — the
  // files it names (config_paths_check.h), the capture device or file, the playback device, and
  // the libraries the WAV sink and --record load. One sentence per problem; empty when all is well.
  // Opens no connection (the bridge may well be down while a node is set up), creates no file.
  static std::vector<std::string> check(const NodeConfig& config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::device
