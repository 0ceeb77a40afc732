#include "host/turn_detector.h"

#include "dsp/vad/voice_activity_detector.h"
#include "protocol/audio_frame.h"

namespace earshot::host {
namespace {
constexpr uint64_t kFrame = 320;  // 20 ms at 16 kHz
constexpr uint64_t kSamplesPerMs = 16;
}  // namespace

TurnDetector::TurnDetector(const TurnConfig& config) : config_(config) {
  dsp::VadConfig vc;
  vc.threshold = config.vad_threshold;
  vad_ = std::make_unique<dsp::VoiceActivityDetector>(vc);
}

TurnDetector::~TurnDetector() = default;

void TurnDetector::reset() {
  in_turn_ = false;
  segment_open_ = false;
  segment_end_wall_ms_ = -1;
  vad_->reset();
}

TurnDetector::Event TurnDetector::on_frame(const float* pcm, uint64_t timestamp, uint16_t flags,
                                           int64_t now_ms) {
  const bool client = config_.client_segments;
  const bool starts_segment = client && ((flags & protocol::kFlagSegmentStart) || !segment_open_);
  segment_open_ = client;
  segment_end_wall_ms_ = -1;

  // The host's own VAD, on the two 10 ms halves of the frame.
  vad_->process(pcm);
  const bool first_half = vad_->is_speech();
  vad_->process(pcm + kFrame / 2);
  const bool second_half = vad_->is_speech();
  const bool speech = first_half || second_half;

  Event event = Event::kNone;
  // A node segment opens a turn (its first frame is pre-roll, maybe quiet); inside a segment whose
  // turn already ended on silence, only real speech opens the next one.
  if (!in_turn_ && (starts_segment || speech)) {
    in_turn_ = true;
    turn_start_ = timestamp;
    last_speech_end_ = timestamp;
    event = Event::kTurnStarted;
  }
  const uint64_t end = timestamp + kFrame;
  if (in_turn_ && (speech || starts_segment)) {
    // Speech ends with the last 10 ms the VAD called speech, not at the end of its 20 ms frame:
    // where the frames fall against the voice is chance (a resampler's delay shifts them).
    last_speech_end_ = first_half && !second_half && !starts_segment ? end - kFrame / 2 : end;
    last_speech_arrival_ms_ = now_ms - int64_t((end - last_speech_end_) / kSamplesPerMs);
  }
  if (!client || (flags & protocol::kFlagSegmentEnd)) {
    segment_open_ = false;
    segment_end_wall_ms_ = now_ms;
    segment_end_ts_ = end;
  }
  if (!in_turn_) return event;
  const uint64_t silence = end - last_speech_end_;
  if (silence >= uint64_t(config_.end_of_turn_ms) * kSamplesPerMs ||
      end - turn_start_ >= uint64_t(config_.max_turn_ms) * kSamplesPerMs) {
    in_turn_ = false;
    segment_end_wall_ms_ = -1;
    return Event::kTurnEnded;
  }
  return event;
}

int64_t TurnDetector::deadline_ms() const {
  if (!in_turn_ || segment_open_ || segment_end_wall_ms_ < 0) return -1;
  const int64_t heard_ms = int64_t((segment_end_ts_ - last_speech_end_) / kSamplesPerMs);
  int64_t remaining = config_.end_of_turn_ms - heard_ms;
  if (!config_.client_segments && heard_ms < config_.stall_speech_ms)
    remaining += config_.stall_grace_ms;
  return segment_end_wall_ms_ + (remaining > 0 ? remaining : 0);
}

TurnDetector::Event TurnDetector::on_tick(int64_t now_ms) {
  const int64_t deadline = deadline_ms();
  if (deadline < 0 || now_ms < deadline) return Event::kNone;
  in_turn_ = false;
  segment_end_wall_ms_ = -1;
  return Event::kTurnEnded;
}

}  // namespace earshot::host
