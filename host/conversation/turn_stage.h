// TurnStage: where a turn begins and ends, and its speech-to-text stream while it is open.
//
// Conversation mode: every 20 ms frame goes through the TurnDetector (the client's VAD flags
// propose, the host's VAD confirms); a turn's frames feed a streaming STT (partial transcripts go
// to the sink); once the person has been quiet for turn.early_final_ms the STT's final pass
// starts early on this stage's final thread, so the transcript is nearly ready when the turn is
// confirmed over (if they speak again, it is dropped and a fresh stream catches up on the turn's
// audio). An ended turn goes to the responder as a TurnJob. Without server turn detection the
// door ends turns (commit_input). Ambient mode: the client's segments are transcribed and queued
// as SegmentJobs, cut at turn.max_turn_ms.
//
// Frames outside any turn are queued as AdvanceJobs, so that they are acknowledged in order
// behind whatever turn is still being stored.
//
// Thread: the conversation's ingress thread for every method (start/stop from the owner); the
// early finals run in the shared TaskPool::finals(). queue_job() may block while the responder is
// behind: that backs up into the ingress queue and from there into the client's socket.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "host/conversation/conversation.h"
#include "host/conversation/ingress.h"
#include "host/conversation/jobs.h"
#include "host/turn_detector.h"
#include "host/work_queue.h"

namespace earshot::host {

class TurnStage {
 public:
  struct Hooks {
    // Hands a job to the responder, waiting while it is behind; false once stopping.
    std::function<bool(ResponderJob)> queue_job;
    // A turn started: stop the reply in flight (barge-in).
    std::function<void()> barge_in;
  };
  TurnStage(Services& services, ConversationSink& sink, const ConversationSettings& settings,
            std::optional<uint64_t> acked_seq, Hooks hooks);
  ~TurnStage();

  // The highest input seq seen (decodable or not), before its frames are handled.
  void seen(std::optional<uint64_t> high_water) { seen_upto_ = high_water; }
  // One decoded 20 ms frame.
  void on_frame(const PcmFrame& frame);
  // After all of an input frame's 20 ms frames: segment ends, acknowledgements of frames
  // outside turns.
  void on_input_done(uint64_t seq, uint16_t flags, std::optional<uint64_t> high_water);
  // Time passed with no frame (the detector's deadline_ms() came).
  void on_tick(int64_t now_ms);
  // When on_tick() must next run (monotonic ms), or -1.
  int64_t deadline_ms() const;

  void commit_input(int64_t now_ms, std::optional<uint64_t> high_water);
  void clear_input();
  void set_ambient(bool ambient, std::optional<uint64_t> high_water);
  void update(const ConversationSettings& settings);
  // Waits until this stage's early finals have finished (they hold STT streams, which must not
  // outlive the engine). After the responder has stopped.
  void wait_for_finals();
  // The conversation ends: the open turn (or segment) is still what the person said; queue it.
  void finish_open(std::optional<uint64_t> high_water);

 private:
  void turn_frame(const PcmFrame& frame);
  void ambient_frame(const PcmFrame& frame);
  void turn_started(uint64_t timestamp);
  void queue_open_turn(int64_t turn_end_ms, std::optional<uint64_t> high_water);
  void queue_segment(uint64_t last_seq);
  void queue(ResponderJob job);
  void start_early_final();
  void drop_early_final();
  void restart_stt_on_turn_audio();
  bool turn_open() const { return stt_ || early_; }

  Services& services_;
  ConversationSink& sink_;
  Hooks hooks_;
  std::string language_;
  bool ambient_;
  bool server_turns_;
  bool respond_;
  TurnConfig config_;
  size_t prefix_samples_;
  std::unique_ptr<TurnDetector> detector_;

  std::optional<uint64_t> seen_upto_;
  std::optional<uint64_t> queued_upto_;  // the last seq handed to the responder in a job
  std::unique_ptr<SttStream> stt_;
  std::string turn_id_;
  uint64_t turn_counter_ = 0;
  uint64_t turn_start_ts_ = 0;
  std::optional<EarlyFinal> early_;
  uint64_t early_speech_end_ = 0;  // detector.last_speech_end() when it started
  std::vector<float> turn_audio_;  // the open turn's audio, for a restarted stream
  std::deque<float> prefix_;       // audio outside turns, for prefix padding
  int frames_since_ack_ = 0;
  // ambient
  std::optional<uint64_t> last_frame_seq_;
  uint64_t segment_first_seq_ = 0;
  int64_t segment_started_wall_ms_ = 0;

  // Early finals of this conversation queued or running in TaskPool::finals(); each holds a live
  // STT stream (for pocketsphinx a whole decoder), so past kMaxWaitingFinals a turn's final pass
  // runs the normal way instead.
  struct InFlight {
    std::mutex mutex;
    std::condition_variable none;
    int count = 0;
  };
  std::shared_ptr<InFlight> finals_ = std::make_shared<InFlight>();
};

}  // namespace earshot::host
