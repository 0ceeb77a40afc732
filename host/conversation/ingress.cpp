#include "host/conversation/ingress.h"

#include <cstring>

#include "dsp/audio_format.h"
#include "dsp/opus_frame_decoder.h"
#include "dsp/resampler.h"
#include "host/clock.h"
#include "protocol/audio_frame.h"

namespace earshot::host {
namespace {
constexpr size_t kFrame = dsp::kCodecFrameSamples;  // 320 samples, 20 ms at 16 kHz
constexpr size_t kHalf = kFrame / 2;                // 10 ms: the VAD's step
constexpr size_t kResampleChunk = 4096;
constexpr size_t kMaxOpusSamples = kFrame * 6;  // an Opus packet holds at most 120 ms
}  // namespace

Ingress::Ingress(Metrics& metrics, std::shared_ptr<ClientMetrics> node, InputCodec codec,
                 int input_rate, std::optional<uint64_t> acked_seq)
    : metrics_(metrics),
      node_(std::move(node)),
      codec_(codec),
      input_rate_(input_rate),
      tracker_(acked_seq) {}

Ingress::~Ingress() = default;

bool Ingress::start(std::string* error) {
  if (codec_ == InputCodec::kOpus) {
    decoder_ = dsp::OpusFrameDecoder::create(dsp::kSampleRate, 1, error);
    if (!decoder_) return false;
    decoded_.resize(kMaxOpusSamples);
  } else if (input_rate_ != dsp::kSampleRate) {
    // Paced, not aligned: an aligned resampler's output stays delay_frames() (8 ms at 24 kHz)
    // short of what came in, so the 20 ms frame holding the end of every input frame would wait
    // for the next one — the turn detector would hear each 20 ms late, and end turns 20 ms late.
    // Paced, each whole 20 ms that comes in completes a frame at once; only the filter's own
    // delay (its lookahead) lags, and the timestamps below take it out.
    resampler_ = dsp::Resampler::create(input_rate_, dsp::kSampleRate, kResampleChunk, error,
                                        dsp::Resampler::Quality::kTransparent,
                                        dsp::Resampler::Start::kPaced);
    if (!resampler_) return false;
    delay_ = resampler_->delay_frames();
  }
  // The stream starts with silence that makes the delay a whole 10 ms (8 -> 10 ms at 24 kHz): the
  // VAD's 10 ms steps and the recogniser's 10 ms hops then fall on the audio where they fell
  // before; only the 20 ms frames are cut 10 ms earlier. (Recognition depends on where its hops
  // fall: pocketsphinx's word error rate on one clip is 0.36 at offsets of 0, 10 and 20 ms and
  // 0.45 at 8 ms.) The few samples it adds stay in pending_: frames still complete on time.
  pending_.assign((kHalf - delay_ % kHalf) % kHalf, 0.0f);
  pending_.reserve(kFrame * 2);
  return true;
}

Ingress::Verdict Ingress::accept(const InputFrame& f,
                                 const std::function<void(const PcmFrame&)>& emit,
                                 std::string* error) {
  const protocol::SeqVerdict verdict = tracker_.accept(f.seq);
  if (verdict == protocol::SeqVerdict::kDuplicate) {
    metrics_.frames_duplicate_total.fetch_add(1);
    return Verdict::kDuplicate;
  }
  if (verdict == protocol::SeqVerdict::kGap) {
    const uint64_t lost = tracker_.lost();
    metrics_.frames_lost_total.fetch_add(lost - lost_reported_);
    node_->frames_lost_total.fetch_add(lost - lost_reported_);
    lost_reported_ = lost;
  }
  metrics_.frames_received_total.fetch_add(1);
  node_->frames_received_total.fetch_add(1);
  // How long the frame waited between the door's thread and this one: CPU saturation shows here.
  const int64_t lag = monotonic_ms() - f.arrived_ms;
  metrics_.inbound_lag.observe_ms(double(lag));
  if (lag > 20) metrics_.frames_late_total.fetch_add(1);

  size_t n = 0;
  if (codec_ == InputCodec::kOpus) {
    const int got = decoder_->decode(reinterpret_cast<const uint8_t*>(f.payload.data()),
                                     f.payload.size(), decoded_.data(), decoded_.size());
    if (got <= 0) {
      metrics_.count_error(ErrorReason::kProtocolError);
      *error = "microphone frame " + std::to_string(f.seq) + " is not a valid Opus packet; dropped";
      return Verdict::kBad;
    }
    n = size_t(got);
  } else {
    if (f.payload.size() % 2 != 0) {
      metrics_.count_error(ErrorReason::kProtocolError);
      *error = "audio " + std::to_string(f.seq) + " is not whole 16-bit samples; dropped";
      return Verdict::kBad;
    }
    const size_t samples = f.payload.size() / 2;
    raw_.resize(samples);
    const auto* bytes = reinterpret_cast<const uint8_t*>(f.payload.data());
    for (size_t i = 0; i < samples; ++i) {
      const auto v = int16_t(uint16_t(bytes[2 * i]) | uint16_t(bytes[2 * i + 1]) << 8);
      raw_[i] = float(v) / 32768.0f;
    }
    if (!resampler_) {
      decoded_.swap(raw_);
      n = samples;
    } else {
      decoded_.resize(resampler_->max_output_frames() * (samples / kResampleChunk + 1));
      for (size_t off = 0; off < samples; off += kResampleChunk) {
        const size_t chunk = std::min(kResampleChunk, samples - off);
        n +=
            resampler_->process(raw_.data() + off, chunk, decoded_.data() + n, decoded_.size() - n);
      }
    }
  }

  // Whole 20 ms frames. An Opus client's frames are whole (20, 40 or 60 ms) and carry its own
  // timestamps; a pcm16 client's may be any length, and time is counted here. A frame's
  // timestamp is its input time: the resampler's output lags by its delay (the very first frame,
  // which starts with that delay's silence, is stamped 0).
  const bool client_clock = f.timestamp != 0 || codec_ == InputCodec::kOpus;
  const uint64_t behind = pending_.size() + delay_;
  uint64_t timestamp = client_clock ? f.timestamp - std::min<uint64_t>(f.timestamp, behind)
                                    : counted_timestamp_ - std::min(counted_timestamp_, behind);
  bool first = true;
  size_t used = 0;
  PcmFrame out;
  out.seq = f.seq;
  out.arrived_ms = f.arrived_ms;
  // The audio that came in past each frame's end: the rest of this input, what stays pending and
  // the resampler's delay.
  size_t after = pending_.size() + n + delay_;
  auto send = [&](const float* pcm) {
    after -= kFrame;
    out.end_arrived_ms = f.arrived_ms - int64_t(after) / (dsp::kSampleRate / 1000);
    out.pcm = pcm;
    out.timestamp = timestamp;
    out.flags = first ? f.flags : uint16_t(f.flags & ~protocol::kFlagSegmentStart);
    emit(out);
    first = false;
    timestamp += kFrame;
  };
  if (!pending_.empty()) {
    const size_t take = std::min(n, kFrame - pending_.size());
    pending_.insert(pending_.end(), decoded_.begin(), decoded_.begin() + long(take));
    used = take;
    if (pending_.size() == kFrame) {
      send(pending_.data());
      pending_.clear();
    }
  }
  for (; used + kFrame <= n; used += kFrame)
    send(decoded_.data() + used);
  pending_.insert(pending_.end(), decoded_.begin() + long(used), decoded_.begin() + long(n));
  counted_timestamp_ += n;
  return Verdict::kAccepted;
}

}  // namespace earshot::host
