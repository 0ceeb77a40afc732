#include "host/conversation/voice.h"

#include <algorithm>

#include "dsp/resampler.h"
#include "host/clock.h"
#include "host/engines/speech_text.h"
#include "host/log.h"

namespace earshot::host {
namespace {
constexpr size_t kResampleChunk = 4096;
constexpr size_t kMaxQueuedSentences = 256;
}  // namespace

Voice::Voice(Services& services, ConversationSink& sink, int output_rate,
             std::function<void(VoiceFinished)> finished)
    : services_(services),
      sink_(sink),
      output_rate_(output_rate),
      frame_samples_(size_t(output_rate / 50)),
      finished_(std::move(finished)),
      jobs_(kMaxQueuedSentences),
      frame_(frame_samples_) {}

Voice::~Voice() {
  stop();
}

void Voice::start() {
  thread_ = std::thread([this] { loop(); });
}

void Voice::stop() {
  jobs_.close_and_drop();
  if (thread_.joinable()) thread_.join();
}

void Voice::queue(SentenceJob job) {
  // Until 2026-12-01 the closing job was refused like a sentence when the queue was full, and the
  // turn then waited for its VoiceFinished until the client left.
  if (job.last) {
    jobs_.push_past_limit(std::move(job));
    return;
  }
  const std::string reply_id = job.reply->reply_id;
  if (!jobs_.push(std::move(job)) && jobs_.size() >= kMaxQueuedSentences &&
      dropped_reply_id_ != reply_id) {
    dropped_reply_id_ = reply_id;
    LOG_WARN("session", "%s: %zu sentences wait to be voiced; later ones of this reply are dropped",
             reply_id.c_str(), kMaxQueuedSentences);
  }
}

void Voice::loop() {
  SentenceJob job;
  while (jobs_.pop(&job)) {
    if (job.reply->reply_id != reply_id_) {  // a new reply: fresh accounting
      reply_id_ = job.reply->reply_id;
      progress_ = VoiceFinished{};
      progress_.reply_id = reply_id_;
      frames_ = 0;
      refused_ = false;
      fill_ = 0;
    }
    if (job.last) {
      finish(job);
    } else {
      sentence(job);
    }
  }
  // Stopped with a reply begun (its closing job dropped): its account still goes to the
  // responder, which keeps what of it the door says was sent.
  if (!reply_id_.empty()) finished_(std::move(progress_));
}

// Samples at the output rate, cut into frames for the door. False once the reply is cut.
bool Voice::emit(const ReplyOrder& reply, const float* samples, size_t n, int64_t speech_end_ms) {
  while (n > 0) {
    if (reply.cancel->cancelled() || refused_) return false;
    const size_t take = std::min(n, frame_samples_ - fill_);
    std::copy(samples, samples + take, frame_.begin() + long(fill_));
    fill_ += take;
    samples += take;
    n -= take;
    if (fill_ < frame_samples_) break;
    fill_ = 0;
    const int64_t now = monotonic_ms();
    if (!progress_.audio_started) {
      progress_.audio_started = true;
      progress_.first_frame_queued_ms = double(now - speech_end_ms);
      sink_.reply_audio_started(reply.reply_id, reply.turn_id);
    }
    progress_.samples += 320;  // 20 ms at 16 kHz: spans are kept in 16 kHz samples
    if (!progress_.sentences.empty()) progress_.sentences.back().end_sample = progress_.samples;
    if (!sink_.reply_audio(reply.reply_id, frames_, frame_.data(), frame_samples_, now,
                           speech_end_ms)) {
      refused_ = true;
      return false;
    }
    ++frames_;
  }
  return true;
}

void Voice::sentence(SentenceJob& job) {
  const ReplyOrder& reply = *job.reply;
  if (reply.cancel->cancelled() || refused_) return;
  const std::string text = clean_for_speech(job.text);
  if (text.empty()) return;
  const auto index = uint32_t(progress_.sentences.size());
  const uint64_t at = progress_.samples + uint64_t(fill_) * 16000 / uint64_t(output_rate_);
  progress_.sentences.push_back({text, at, at, job.part, false});
  bool announced = false;
  TtsResult r = services_.tts->synthesize(
      text, reply.voice,
      [&](const float* samples, size_t n, int rate) {
        if (reply.cancel->cancelled() || refused_) return false;
        if (progress_.tts_first_audio_ms < 0) {
          progress_.tts_first_audio_ms = double(monotonic_ms() - job.speech_end_ms);
          services_.metrics.tts_first_audio.observe_ms(progress_.tts_first_audio_ms);
        }
        if (!announced) {
          sink_.reply_sentence(reply.reply_id, index, text, frames_);  // starts with the next frame
          announced = true;
        }
        if (rate == output_rate_) return emit(reply, samples, n, job.speech_end_ms);
        if (!resampler_ || resampler_rate_ != rate) {
          std::string error;
          resampler_ = dsp::Resampler::create(rate, output_rate_, kResampleChunk, &error);
          resampler_rate_ = rate;
          if (!resampler_) return false;
          resampled_.resize(resampler_->max_output_frames());
        }
        for (size_t off = 0; off < n; off += kResampleChunk) {
          const size_t chunk = std::min(kResampleChunk, n - off);
          const size_t got =
              resampler_->process(samples + off, chunk, resampled_.data(), resampled_.size());
          if (!emit(reply, resampled_.data(), got, job.speech_end_ms)) return false;
        }
        return true;
      },
      *reply.cancel);
  if (resampler_ && !reply.cancel->cancelled() && !refused_) {
    while (const size_t got = resampler_->flush(resampled_.data(), resampled_.size()))
      if (!emit(reply, resampled_.data(), got, job.speech_end_ms)) break;
  }
  resampler_.reset();  // the next sentence starts fresh
  progress_.sentences[index].made_whole =
      r.ok && !r.cancelled && !reply.cancel->cancelled() && !refused_;
  if (!r.cancelled && !reply.cancel->cancelled())
    services_.metrics.engine_result(Engine::kTts, r.ok);
  if (!r.ok && !r.cancelled && !reply.cancel->cancelled()) {
    services_.metrics.count_error(ErrorReason::kTtsFailed);
    const std::string error = "speech synthesis failed: " + r.error;
    LOG_WARN("session", "%s: %s", reply.reply_id.c_str(), error.c_str());
    sink_.error("tts_failed", error);
    progress_.tts_error = error;
  }
}

// Pads the last partial frame with silence so the reply's end is heard, then closes the reply.
void Voice::finish(SentenceJob& job) {
  const ReplyOrder& reply = *job.reply;
  const bool cut = reply.cancel->cancelled() || refused_;
  if (progress_.audio_started && !cut && fill_ > 0) {
    const std::vector<float> silence(frame_samples_ - fill_, 0.0f);
    emit(reply, silence.data(), silence.size(), job.speech_end_ms);
  }
  fill_ = 0;
  if (progress_.audio_started)
    sink_.reply_audio_ended(reply.reply_id, frames_, reply.cancel->cancelled() || refused_);
  finished_(std::move(progress_));
  progress_ = VoiceFinished{};
  reply_id_.clear();
}

}  // namespace earshot::host
