// Playback: the node's speaker side. A thread of its own takes reply packets from the jitter
// buffer in sequence order, decodes them (concealing a lost packet, or rebuilding it from the next
// packet's FEC), and writes 20 ms at a time to the sink, which blocks at the speaker's pace.
//
// Barge-in: interrupt() asks the playback thread to stop; the thread drops what the device still
// had queued (flush_now) before its next frame — at most one frame later — and interrupt() returns
// what the listener actually heard of the reply. Every sample handed to the sink is also written
// to the echo reference ring, which the pipeline feeds to the echo canceller.
//
// Threads: begin_reply/push_frame/end_reply come from the link thread, interrupt() from the
// pipeline thread; a mutex guards the jitter buffer and state and is never held while writing to
// the sink.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "device/audio/spsc_ring.h"
#include "device/playback/audio_sink.h"
#include "device/playback/jitter_buffer.h"

namespace earshot::dsp {
class OpusFrameDecoder;
}

namespace earshot::device {

struct PlaybackConfig {
  int start_threshold_ms = 60;  // buffered before a reply starts to sound
  int max_conceal_frames = 5;   // then an underrun waits for data instead of inventing it
  size_t capacity_frames = 1500;
};

struct PlaybackReport {
  std::string reply_id;
  uint64_t played_ms = 0;
  std::optional<uint64_t> played_seq;
};

struct PlaybackStats {
  uint64_t replies = 0, frames_played = 0, concealed = 0, fec_recovered = 0, late = 0,
           underruns = 0, dropped_no_reply = 0;
};

class Playback {
 public:
  Playback(std::unique_ptr<AudioSink> sink, PlaybackConfig config,
           std::function<void(const PlaybackReport&)> on_done);
  ~Playback();
  Playback(const Playback&) = delete;
  Playback& operator=(const Playback&) = delete;

  // Called on the playback thread once per reply, right after its first frame went to the sink
  // (latency accounting: when the person starts to hear the answer). Set before start().
  void on_first_sound(std::function<void(const std::string& reply_id)> callback) {
    on_first_sound_ = std::move(callback);
  }

  bool start(std::string* error);  // opens the sink, starts the thread
  void stop();

  void begin_reply(const std::string& reply_id);
  void push_frame(uint64_t seq, const uint8_t* opus, size_t size);
  void end_reply(const std::string& reply_id, uint64_t last_seq);
  std::optional<PlaybackReport> interrupt();

  bool playing() const;
  SpscRing<float>& echo_reference() { return echo_; }
  PlaybackStats stats() const;

 private:
  void run();

  std::unique_ptr<AudioSink> sink_;
  PlaybackConfig config_;
  std::function<void(const PlaybackReport&)> on_done_;
  std::function<void(const std::string&)> on_first_sound_;
  std::unique_ptr<dsp::OpusFrameDecoder> decoder_;
  SpscRing<float> echo_;
  JitterBuffer jitter_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool active_ = false;  // a reply is buffering or sounding
  bool ended_ = false;   // end_reply seen
  uint64_t last_seq_ = 0;
  uint64_t next_seq_ = 0;
  std::string reply_id_;
  uint64_t reply_base_frames_ = 0;  // sink frames_played() when this reply began sounding
  bool sounding_ = false;
  bool first_sound_reported_ = false;
  std::optional<uint64_t> last_played_seq_;
  // interrupt handshake
  bool interrupt_requested_ = false;
  bool interrupt_done_ = false;
  PlaybackReport interrupt_report_;
  PlaybackStats stats_;
  std::thread thread_;
};

}  // namespace earshot::device
