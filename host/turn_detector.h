// TurnDetector: decides when the person has finished speaking.
//
// The node's VAD proposes: it sends speech segments (pre-roll, speech, hangover) and flags their
// start and end. The host confirms from the decoded audio: it runs its own VAD over every frame to
// find when speech really stopped (the node's hangover frames are silence), and ends the turn once
// `end_of_turn_ms` of silence has passed since the last speech — counted partly in the audio that
// arrived (the hangover) and the rest on the wall clock after the segment ended, because after a
// segment ends the node sends nothing. A segment that starts before the turn ends continues the
// same turn (a pause mid-sentence); what happens after the turn ended is the session's business
// (a new turn, or a barge-in while the reply plays).
//
// Not thread-safe: one detector per session, driven by that session's strand.
#pragma once

#include <cstdint>
#include <memory>

namespace earshot::dsp {
class VoiceActivityDetector;
}

namespace earshot::host {

struct TurnConfig {
  int end_of_turn_ms = 700;    // silence after the last speech that ends a turn
  int early_final_ms = 300;    // silence after which the STT's final pass starts (0: at turn end)
  int max_turn_ms = 30000;     // a turn this long ends regardless (someone left the TV on)
  float vad_threshold = 0.7f;  // dsp::VadConfig::threshold (docs/vad.md)
  // The client runs its own VAD and flags segments (earshot.v1 nodes). Without it (an OpenAI
  // Realtime client streams everything) the host VAD alone opens turns, on speech only, and every
  // frame may be the last: a client that stops sending mid-silence still gets its turn ended on
  // the wall clock.
  bool client_segments = true;
  // Without client segments: a stream that stops within this much of its last speech (mid-word,
  // or in the pause between two words) is more likely held up on the network — a box on Wi-Fi, a
  // browser tab in the background — than finished, so its turn ends `stall_grace_ms` later than
  // one that stops in silence. Cutting the person off mid-sentence would answer half of it.
  int stall_speech_ms = 300;
  int stall_grace_ms = 1500;
};

class TurnDetector {
 public:
  enum class Event { kNone, kTurnStarted, kTurnEnded };

  explicit TurnDetector(const TurnConfig& config);
  ~TurnDetector();

  // One decoded 20 ms frame (320 samples at 16 kHz) with the node's timestamp and segment flags
  // (protocol::kFlagSegmentStart / kFlagSegmentEnd). `now_ms` is the wall clock (monotonic) when
  // the audio up to the frame's end had arrived: the end-of-turn clock runs from there.
  Event on_frame(const float* pcm, uint64_t timestamp, uint16_t flags, int64_t now_ms);

  // Time passed with no frame; ends the turn once the silence is long enough.
  Event on_tick(int64_t now_ms);

  // When on_tick() next needs to run (monotonic ms), or -1 if nothing is pending.
  int64_t deadline_ms() const;

  bool in_turn() const { return in_turn_; }
  // Timestamp (16 kHz samples) just after the last 10 ms the host VAD called speech in this turn
  // (the frame's end, or its middle when only its first half was speech).
  uint64_t last_speech_end() const { return last_speech_end_; }
  // Wall time the turn's last speech frame arrived (for latency accounting).
  int64_t last_speech_arrival_ms() const { return last_speech_arrival_ms_; }
  void reset();

 private:
  TurnConfig config_;
  std::unique_ptr<dsp::VoiceActivityDetector> vad_;
  bool in_turn_ = false;
  bool segment_open_ = false;
  uint64_t turn_start_ = 0;
  uint64_t last_speech_end_ = 0;
  int64_t last_speech_arrival_ms_ = 0;
  int64_t segment_end_wall_ms_ = -1;  // wall time the node's segment ended (no frames after it)
  uint64_t segment_end_ts_ = 0;       // timestamp just after the segment's last frame
};

}  // namespace earshot::host
