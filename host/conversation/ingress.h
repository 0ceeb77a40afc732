// Ingress: a client's input frames, in arrival order → 16 kHz mono float frames of 20 ms, each
// input frame once. Drops duplicates (a reconnecting client's redelivery overlaps what was seen),
// counts gaps, decodes the input codec (Opus, or pcm16 resampled from the client's rate), and cuts
// the result into 320-sample frames (pcm16 clients send any length).
//
// Thread: the conversation's ingress thread only. Owns the sequence tracker, the decoder and the
// resampler; nothing else touches them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host/conversation/conversation.h"
#include "host/metrics.h"
#include "protocol/sequence_tracker.h"

namespace earshot::dsp {
class OpusFrameDecoder;
class Resampler;
}  // namespace earshot::dsp

namespace earshot::host {

// An input frame as queued for the ingress thread (the door's bytes, copied).
struct InputFrame {
  uint64_t seq = 0;
  uint64_t timestamp = 0;
  uint16_t flags = 0;
  std::string payload;
  int64_t arrived_ms = 0;
};

// One 20 ms frame at 16 kHz, as the turn stage takes it.
struct PcmFrame {
  const float* pcm = nullptr;  // 320 samples
  uint64_t seq = 0;            // the input frame it came from
  uint64_t timestamp = 0;      // 16 kHz samples on the client's clock (or counted here)
  uint16_t flags = 0;          // segment start only on the first 20 ms of an input frame
  int64_t arrived_ms = 0;      // the input frame that completed it
  // When the audio up to this frame's end had come in, at the pace of real time: arrived_ms less
  // the audio that came in past it (the rest of its input frame, and what is still held here: a
  // partial frame, the resampler's delay). The turn detector's clock starts there: held audio is
  // time that has passed, as audio not yet sent is.
  int64_t end_arrived_ms = 0;
};

class Ingress {
 public:
  // `acked_seq`: what the client's earlier connections already delivered (duplicates below it).
  // `node`: the client's own series on /metrics (counted along with the bridge's totals).
  Ingress(Metrics& metrics, std::shared_ptr<ClientMetrics> node, InputCodec codec, int input_rate,
          std::optional<uint64_t> acked_seq);
  ~Ingress();
  bool start(std::string* error);

  enum class Verdict { kAccepted, kDuplicate, kBad };
  // Decodes `frame` and calls `emit` for each whole 20 ms frame it completes (none, one or
  // several). kBad: not decodable, `error` says why (the frame is counted as seen).
  Verdict accept(const InputFrame& frame, const std::function<void(const PcmFrame&)>& emit,
                 std::string* error);

  // The highest seq seen so far, or none.
  std::optional<uint64_t> high_water() const { return tracker_.high_water(); }

 private:
  Metrics& metrics_;
  const std::shared_ptr<ClientMetrics> node_;
  const InputCodec codec_;
  const int input_rate_;
  protocol::SequenceTracker tracker_;
  uint64_t lost_reported_ = 0;
  std::unique_ptr<dsp::OpusFrameDecoder> decoder_;
  std::unique_ptr<dsp::Resampler> resampler_;
  size_t delay_ = 0;                // the resampler's delay, 16 kHz samples (its output lags by it)
  std::vector<float> decoded_;      // one input frame, decoded (and resampled)
  std::vector<float> raw_;          // pcm16 at the input rate, as floats
  std::vector<float> pending_;      // 16 kHz samples not yet a whole 20 ms frame
  uint64_t counted_timestamp_ = 0;  // for clients that send no timestamps
};

}  // namespace earshot::host
