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
    resampler_ = dsp::Resampler::create(input_rate_, dsp::kSampleRate, kResampleChunk, error);
    if (!resampler_) return false;
  }
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
  // timestamps; a pcm16 client's may be any length, and time is counted here.
  const bool client_clock = f.timestamp != 0 || codec_ == InputCodec::kOpus;
  uint64_t timestamp = client_clock ? f.timestamp - std::min<uint64_t>(f.timestamp, pending_.size())
                                    : counted_timestamp_ - pending_.size();
  bool first = true;
  size_t used = 0;
  PcmFrame out;
  out.seq = f.seq;
  out.arrived_ms = f.arrived_ms;
  auto send = [&](const float* pcm) {
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
