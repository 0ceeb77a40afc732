#include "device/playback/playback.h"

#include <chrono>

#include "dsp/audio_format.h"
#include "dsp/opus_frame_decoder.h"
#include "protocol/audio_frame.h"

namespace earshot::device {
namespace {
constexpr int kFrame = dsp::kCodecFrameSamples;
}

Playback::Playback(std::unique_ptr<AudioSink> sink, PlaybackConfig config,
                   std::function<void(const PlaybackReport&)> on_done)
    : sink_(std::move(sink)),
      config_(config),
      on_done_(std::move(on_done)),
      echo_(dsp::kSampleRate),
      jitter_(config.capacity_frames, protocol::kMaxOpusPacket) {}

Playback::~Playback() {
  stop();
}

bool Playback::start(std::string* error) {
  if (!sink_ || !sink_->open(error)) return false;
  decoder_ = dsp::OpusFrameDecoder::create(dsp::kSampleRate, 1, error);
  if (!decoder_) return false;
  thread_ = std::thread([this] { run(); });
  return true;
}

void Playback::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Playback::begin_reply(const std::string& reply_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  jitter_.clear();
  reply_id_ = reply_id;
  active_ = true;
  ended_ = false;
  sounding_ = false;
  first_sound_reported_ = false;
  next_seq_ = 0;
  last_played_seq_.reset();
  ++stats_.replies;
  cv_.notify_all();
}

void Playback::push_frame(uint64_t seq, const uint8_t* opus, size_t size) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!active_) {
    ++stats_.dropped_no_reply;
    return;
  }
  if (!jitter_.insert(seq, opus, size)) stats_.late = jitter_.late() + jitter_.duplicates();
  cv_.notify_all();
}

void Playback::end_reply(const std::string& reply_id, uint64_t last_seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!active_ || reply_id != reply_id_) return;
  ended_ = true;
  last_seq_ = last_seq;
  cv_.notify_all();
}

std::optional<PlaybackReport> Playback::interrupt() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!active_) return std::nullopt;
  interrupt_requested_ = true;
  interrupt_done_ = false;
  cv_.notify_all();
  // The playback thread flushes the device between frames: at most one frame from now.
  cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return interrupt_done_ || stop_; });
  if (!interrupt_done_) {  // the thread is gone or stuck: report what we know
    active_ = false;
    interrupt_requested_ = false;
    jitter_.clear();
    PlaybackReport r;
    r.reply_id = reply_id_;
    return r;
  }
  return interrupt_report_;
}

bool Playback::playing() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_;
}

PlaybackStats Playback::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Playback::run() {
  const size_t threshold = size_t(std::max(1, config_.start_threshold_ms / 20));
  uint8_t packet[protocol::kMaxOpusPacket];
  uint8_t next_packet[protocol::kMaxOpusPacket];
  float pcm[kFrame];
  int16_t out[kFrame];
  int conceal_run = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (interrupt_requested_) {
      // Barge-in: drop what the device still holds; what it played so far is what was heard.
      lock.unlock();
      sink_->flush_now();
      const uint64_t played = sink_->frames_played();
      lock.lock();
      interrupt_report_ = PlaybackReport{
          reply_id_, sounding_ ? (played - reply_base_frames_) / 16 : 0, last_played_seq_};
      active_ = false;
      sounding_ = false;
      jitter_.clear();
      interrupt_requested_ = false;
      interrupt_done_ = true;
      cv_.notify_all();
      continue;
    }
    if (!active_) {
      cv_.wait(lock, [&] { return stop_ || active_ || interrupt_requested_; });
      continue;
    }
    if (!sounding_ && jitter_.depth() < threshold && !ended_) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
      continue;
    }
    if (!sounding_) {
      sounding_ = true;
      reply_base_frames_ = sink_->frames_played();
    }
    if (ended_ && next_seq_ > last_seq_) {
      // The whole reply was played (or skipped): report and go idle once the device drained.
      PlaybackReport done{reply_id_, 0, last_played_seq_};
      active_ = false;
      sounding_ = false;
      const uint64_t base = reply_base_frames_;
      lock.unlock();
      done.played_ms = (sink_->frames_played() - base) / 16;
      if (on_done_) on_done_(done);
      lock.lock();
      continue;
    }
    size_t size = 0;
    const JitterBuffer::Next next = jitter_.pop(next_seq_, packet, &size);
    int n = 0;
    if (next == JitterBuffer::Next::kPacket) {
      n = decoder_->decode(packet, size, pcm, kFrame);
      conceal_run = 0;
      last_played_seq_ = next_seq_;
    } else if (next == JitterBuffer::Next::kMissing) {
      size_t next_size = 0;
      if (jitter_.peek(next_seq_ + 1, next_packet, &next_size)) {
        n = decoder_->decode_fec(next_packet, next_size, pcm, kFrame);
        ++stats_.fec_recovered;
      } else {
        n = decoder_->conceal(pcm, kFrame);
        ++stats_.concealed;
      }
    } else {  // empty: the reply is late
      if (ended_) {
        next_seq_ = last_seq_ + 1;  // nothing more will come
        continue;
      }
      if (conceal_run < config_.max_conceal_frames) {
        ++conceal_run;
        n = decoder_->conceal(pcm, kFrame);
        ++stats_.concealed;
      } else {
        ++stats_.underruns;
        cv_.wait_for(lock, std::chrono::milliseconds(20));
        continue;  // do not advance: wait for the frame we need
      }
    }
    ++next_seq_;
    if (n <= 0) continue;
    const bool first_sound = !first_sound_reported_ && on_first_sound_;
    first_sound_reported_ = true;
    const std::string first_id = first_sound ? reply_id_ : std::string();  // once per reply
    lock.unlock();
    dsp::float_to_s16(pcm, out, size_t(n));
    sink_->write(out, size_t(n));
    echo_.write(pcm, size_t(n));
    if (first_sound) on_first_sound_(first_id);
    lock.lock();
    ++stats_.frames_played;
  }
}

}  // namespace earshot::device
