#include "host/doors/wyoming_satellite_door.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "host/log.h"

namespace earshot::host {

namespace wy = protocol::wyoming;

namespace {

constexpr int kDefaultOutputRate = 16000;
constexpr int kCoreFrameMs = 20;  // the core's reply frames

const char* phase_name(int phase) {
  static const char* const kNames[] = {"idle", "listening", "thinking", "speaking", "refused"};
  return kNames[phase];
}

// A reply rate a satellite may ask for: what our resamplers and its players handle.
bool usable_rate(int rate) {
  return rate >= 8000 && rate <= 48000;
}

}  // namespace

WyomingSatelliteDoor::WyomingSatelliteDoor(Config config, PortFactory make_port,
                                           std::function<void()> wake)
    : config_(std::move(config)), make_port_(std::move(make_port)), wake_(std::move(wake)) {
  if (config_.snd_format && usable_rate(config_.snd_format->rate))
    output_rate_ = config_.snd_format->rate;
  else
    output_rate_ = kDefaultOutputRate;
  // Input frames are numbered above what earlier connections of this satellite delivered.
  next_seq_ = config_.lease.acked_seq ? *config_.lease.acked_seq + 1 : 0;
}

WyomingSatelliteDoor::~WyomingSatelliteDoor() {
  stop();
}

void WyomingSatelliteDoor::stop() {
  std::optional<PlayedReport> gone;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A spoken reply the satellite has not said it played (or not had yet): it heard at most the
    // frames written to its socket.
    if (!stopped_ && pipeline_.end_stage == wy::PipelineStage::kTts &&
        (phase_ == Phase::kThinking || phase_ == Phase::kSpeaking || awaiting_played_))
      gone = PlayedReport{reply_id_, std::nullopt, frames_written_};
    stopped_ = true;
  }
  room_.notify_all();  // frees a voice thread waiting for room
  if (!port_) return;
  if (gone) port_->client_gone(*gone);
  port_->stop();
}

std::string WyomingSatelliteDoor::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return phase_name(int(phase_));
}

bool WyomingSatelliteDoor::wants_close(std::string* reason) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!close_reason_) return false;
  *reason = *close_reason_;
  return true;
}

Conversation::InputPace WyomingSatelliteDoor::input_pace() const {
  return port_ ? port_->input_pace() : Conversation::InputPace::kResume;
}

bool WyomingSatelliteDoor::take_output(std::string* out, int64_t now_ms) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    release_locked(now_ms);
    if (out_.empty()) return false;
    taken_bytes_ += out_.size();
    if (out->empty()) {
      out->swap(out_);  // both keep their capacity
    } else {
      out->append(out_);
      out_.clear();
    }
  }
  room_.notify_all();
  return true;
}

std::optional<int64_t> WyomingSatelliteDoor::next_release_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (held_.empty()) return std::nullopt;
  return held_.front().release_ms;
}

void WyomingSatelliteDoor::release_locked(int64_t now_ms) {
  for (; !held_.empty() && held_.front().release_ms <= now_ms; held_.pop_front()) {
    HeldChunk& c = held_.front();
    if (c.first) first_chunk_ = FirstChunk{reply_id_, taken_bytes_ + out_.size(), c.speech_end_ms};
    out_.append(c.event);
    frame_ends_.push_back(taken_bytes_ + out_.size());
    held_bytes_ -= c.event.size();
  }
  if (held_.empty() && stop_after_held_) {
    stop_after_held_ = false;
    send_locked(wy::audio_stop_event());
  }
}

void WyomingSatelliteDoor::drop_held_locked() {
  held_.clear();
  held_bytes_ = 0;
  if (stop_after_held_) {
    stop_after_held_ = false;
    send_locked(wy::audio_stop_event());
  }
  room_.notify_all();
}

void WyomingSatelliteDoor::written(size_t bytes, int64_t now_ms) {
  std::optional<FirstChunk> sent;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    written_bytes_ += bytes;
    for (; !frame_ends_.empty() && frame_ends_.front() <= written_bytes_; frame_ends_.pop_front())
      ++frames_written_;
    if (first_chunk_ && written_bytes_ > first_chunk_->at) sent.swap(first_chunk_);
  }
  if (!sent) return;
  if (config_.metrics && sent->speech_end_ms > 0)
    config_.metrics->first_frame_sent.observe_ms(double(now_ms - sent->speech_end_ms));
  if (port_) port_->first_frame_sent(sent->reply_id, now_ms);
}

void WyomingSatelliteDoor::ping() {
  send(wy::ping_event());
}

void WyomingSatelliteDoor::send_locked(const wy::Event& event) {
  wy::serialize_to(event, &out_);
}

void WyomingSatelliteDoor::send(const wy::Event& event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    send_locked(event);
  }
  wake_();
}

void WyomingSatelliteDoor::pipeline_over_locked() {
  awaiting_played_ = false;
  fed_ = false;
  phase_ = pipeline_.restart_on_end ? Phase::kListening : Phase::kIdle;
}

ConversationSettings WyomingSatelliteDoor::settings_locked(int input_rate) const {
  ConversationSettings s = config_.conversation;
  s.input_codec = InputCodec::kPcm16;
  s.input_rate = input_rate;
  s.output_rate = output_rate_;
  s.server_turn_detection = true;
  // The pipeline's end stage: asr = transcript only; intent/handle = a text answer; tts = spoken.
  s.auto_respond = pipeline_.end_stage != wy::PipelineStage::kAsr;
  s.speak = pipeline_.end_stage == wy::PipelineStage::kTts;
  return s;
}

bool WyomingSatelliteDoor::ensure_conversation(int input_rate) {
  ConversationSettings settings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settings = settings_locked(input_rate);
  }
  if (port_ && port_input_rate_ == input_rate && port_output_rate_ == settings.output_rate)
    return true;
  if (port_) {  // the satellite changed its rates: a new conversation at the new ones
    LOG_INFO("wyoming", "satellite %s: audio now %d Hz in, %d Hz out: new conversation",
             config_.name.c_str(), input_rate, settings.output_rate);
    port_->stop();
    port_.reset();
  }
  std::string error;
  port_ = make_port_(*this, settings);
  if (!port_ || !port_->start(&error)) {
    port_.reset();
    LOG_ERROR("wyoming", "satellite %s: cannot start a conversation: %s", config_.name.c_str(),
              error.c_str());
    send(wy::error_event("the bridge cannot start a conversation: " + error, "internal"));
    return false;
  }
  port_input_rate_ = input_rate;
  port_output_rate_ = settings.output_rate;
  return true;
}

void WyomingSatelliteDoor::on_event(const wy::Event& event, int64_t now_ms) {
  const std::string& type = event.type;
  if (type == wy::kAudioChunk) return audio_chunk(event, now_ms);
  if (type == wy::kRunPipeline) return run_pipeline(event);
  if (type == wy::kPing) {
    wy::Read<std::string> text = wy::read_text(event);
    return send(wy::pong_event(text.ok() && !text.value->empty() ? text.value : std::nullopt));
  }
  if (type == wy::kAudioStop) {
    bool commit = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      commit = phase_ == Phase::kListening && fed_;
      if (commit) phase_ = Phase::kThinking;
    }
    // The satellite ended its audio (its own VAD, a timeout): the turn ends here.
    if (commit && port_) port_->commit_input();
    return;
  }
  if (type == wy::kPlayed) {
    std::string reply_id;
    uint64_t frames = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!awaiting_played_) return;
      reply_id = reply_id_;
      frames = frames_sent_;
      pipeline_over_locked();
    }
    if (port_) port_->played(PlayedReport{reply_id, std::nullopt, frames});
    return;
  }
  if (type == wy::kDetection) {
    wy::Read<wy::Detection> d = wy::read_detection(event);
    LOG_INFO("wyoming", "satellite %s: wake word %s", config_.name.c_str(),
             d.ok() && d.value->name ? d.value->name->c_str() : "(unnamed)");
    return;
  }
  if (type == wy::kError) {
    wy::Read<std::string> text = wy::read_text(event);
    LOG_WARN("wyoming", "satellite %s reports an error: %s", config_.name.c_str(),
             text.ok() ? text.value->c_str() : event.data.c_str());
    return;
  }
  // audio-start (the format also rides on every chunk), voice-started/-stopped from the
  // satellite's own VAD (our turn detection decides), pong, info: nothing to do.
  LOG_DEBUG("wyoming", "satellite %s: %s", config_.name.c_str(), type.c_str());
}

void WyomingSatelliteDoor::run_pipeline(const wy::Event& event) {
  wy::Read<wy::RunPipeline> p = wy::read_run_pipeline(event);
  if (!p.ok()) return send(wy::error_event(p.error, "bad_run_pipeline"));
  std::optional<PlayedReport> interrupt;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ == Phase::kSpeaking || awaiting_played_) {
      // A new request (the wake word said over the reply): the reply in flight stops. The
      // satellite says nothing of what it played: at most the frames written to its socket. A
      // reply already voiced to its end counts as cut only with such a point (the core waits for
      // it), so it goes as played_ms too.
      interrupt =
          PlayedReport{reply_id_, frames_written_ * uint64_t(kCoreFrameMs), frames_written_};
      drop_held_locked();
      awaiting_played_ = false;
    }
    const wy::RunPipeline& run = *p.value;
    const bool wake_first = run.start_stage == wy::PipelineStage::kWake;
    if ((wake_first && !config_.listen_without_wake_word) ||
        run.start_stage > wy::PipelineStage::kAsr) {
      phase_ = Phase::kRefused;
      send_locked(wy::error_event(
          wake_first ? "this bridge has no wake word detection: run the satellite with its own "
                       "wake word (wyoming-satellite --wake-uri), or set "
                       "listen_without_wake_word for it in the bridge's config"
                     : std::string("this bridge runs pipelines from asr only, not from ") +
                           wy::to_string(run.start_stage),
          wake_first ? "wake_unsupported" : "unsupported_stage"));
    } else {
      pipeline_ = run;
      if (run.snd_format && usable_rate(run.snd_format->rate)) output_rate_ = run.snd_format->rate;
      phase_ = Phase::kListening;
      fed_ = false;
      wy::Transcribe t;
      if (!config_.conversation.language.empty()) t.language = config_.conversation.language;
      send_locked(wy::transcribe_event(t));
    }
  }
  wake_();
  if (interrupt && port_) port_->interrupt(*interrupt);
  // The pipeline's stages (transcript only, text, or spoken) apply from its turn on; the rates
  // are checked at its first chunk.
  if (port_ && port_input_rate_ > 0) {
    ConversationSettings settings;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      settings = settings_locked(port_input_rate_);
    }
    if (settings.output_rate == port_output_rate_) port_->update(settings);
  }
}

void WyomingSatelliteDoor::audio_chunk(const wy::Event& event, int64_t now_ms) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ != Phase::kListening) return;  // between pipelines: not ours to hear
  }
  wy::Read<wy::AudioFormat> format = wy::read_audio_format(event);
  if (!format.ok() || format.value->width != 2 || format.value->rate < 8000 ||
      format.value->rate > 48000) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      phase_ = Phase::kRefused;  // one error per pipeline, not one per chunk
    }
    return send(wy::error_event(
        format.ok() ? "audio must be 16-bit (width 2) at 8000-48000 Hz" : format.error,
        "unsupported_audio"));
  }
  const wy::AudioFormat f = *format.value;
  if (!ensure_conversation(f.rate)) return;
  const std::string* pcm = &event.payload;
  if (f.channels > 1) {  // the first channel
    const size_t frames = event.payload.size() / size_t(2 * f.channels);
    mono_.resize(frames * 2);
    for (size_t i = 0; i < frames; ++i) {
      mono_[2 * i] = event.payload[2 * i * size_t(f.channels)];
      mono_[2 * i + 1] = event.payload[2 * i * size_t(f.channels) + 1];
    }
    pcm = &mono_;
  }
  if (pcm->size() < 2) return;
  AudioIn in;
  in.seq = next_seq_++;
  in.payload = reinterpret_cast<const uint8_t*>(pcm->data());
  in.size = pcm->size() & ~size_t(1);
  in.arrived_ms = now_ms;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fed_ = true;
  }
  port_->audio(in);
}

// ------------------------------------------------------------------------------------------------
// ConversationSink.

void WyomingSatelliteDoor::speech_started(const std::string&, uint64_t audio_ms) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ != Phase::kListening) return;
    send_locked(wy::voice_started_event(int64_t(audio_ms)));
  }
  wake_();
}

void WyomingSatelliteDoor::speech_stopped(const std::string&, uint64_t audio_ms) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (phase_ != Phase::kListening) return;
    phase_ = Phase::kThinking;  // the turn ended: later audio is not heard until the next pipeline
    send_locked(wy::voice_stopped_event(int64_t(audio_ms)));
  }
  wake_();
}

void WyomingSatelliteDoor::transcript(const std::string&, const std::string& text, bool final,
                                      const std::string& language) {
  if (!final) return;  // satellites take one transcript, which also stops their streaming
  {
    std::lock_guard<std::mutex> lock(mutex_);
    send_locked(wy::transcript_event(text, language));
    if (phase_ == Phase::kThinking || phase_ == Phase::kListening) {
      // Nothing recognised, or a transcript-only pipeline: no reply follows.
      if (text.empty() || pipeline_.end_stage == wy::PipelineStage::kAsr) pipeline_over_locked();
    }
  }
  wake_();
}

void WyomingSatelliteDoor::reply_started(const std::string& reply_id, const std::string&) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Whatever is still held of an earlier reply goes out first, in order, as that reply's.
  release_locked(std::numeric_limits<int64_t>::max());
  reply_id_ = reply_id;
  reply_text_.clear();
  reply_audio_ = false;
  frames_sent_ = 0;
  frames_written_ = 0;
  frame_ends_.clear();
}

void WyomingSatelliteDoor::reply_text(const std::string& reply_id, const std::string&,
                                      const std::string& delta) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (reply_id == reply_id_) reply_text_ += delta;
}

void WyomingSatelliteDoor::reply_text_done(const std::string& reply_id, const std::string&) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (reply_id != reply_id_ || reply_text_.empty()) return;
    // What Home Assistant sends at the start of text to speech; here the text is whole only now
    // (the reply is spoken sentence by sentence as the model writes it), so it may come after
    // audio-start. Pipelines that end before tts get the answer as `handled`.
    if (pipeline_.end_stage == wy::PipelineStage::kTts)
      send_locked(wy::synthesize_event({reply_text_, std::nullopt, std::nullopt, std::nullopt}));
    else
      send_locked(wy::handled_event(reply_text_));
  }
  wake_();
}

void WyomingSatelliteDoor::reply_audio_started(const std::string& reply_id, const std::string&) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reply_id_ = reply_id;
    reply_audio_ = true;
    frames_sent_ = 0;
    frames_written_ = 0;
    frame_ends_.clear();
    phase_ = Phase::kSpeaking;
    send_locked(wy::audio_start_event({output_rate_, 2, 1}, 0));
  }
  wake_();
}

bool WyomingSatelliteDoor::reply_audio(const std::string& reply_id, uint64_t, const float* pcm,
                                       size_t samples, int64_t due_ms, int64_t speech_end_ms) {
  pcm_.resize(samples);  // capacity kept: no allocation after the first frame
  for (size_t i = 0; i < samples; ++i)
    pcm_[i] = int16_t(std::lrint(std::clamp(pcm[i], -1.0f, 1.0f) * 32767.0f));
  HeldChunk chunk;
  wy::append_audio_chunk(output_rate_, pcm_.data(), samples, &chunk.event);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [&] { return stopped_ || out_.size() + held_bytes_ < kMaxQueuedBytes; });
    if (stopped_ || reply_id != reply_id_ || phase_ != Phase::kSpeaking) return false;
    // Due back to back from the first frame, never before the core made it (`due_ms` is its now).
    next_due_ms_ = frames_sent_ == 0 ? due_ms : std::max(next_due_ms_, due_ms);
    chunk.release_ms = next_due_ms_ - kReplyLeadMs;
    chunk.speech_end_ms = speech_end_ms;
    chunk.first = frames_sent_ == 0;
    next_due_ms_ += kCoreFrameMs;
    held_bytes_ += chunk.event.size();
    held_.push_back(std::move(chunk));
    ++frames_sent_;
  }
  wake_();
  return true;
}

void WyomingSatelliteDoor::reply_audio_ended(const std::string& reply_id, uint64_t,
                                             bool interrupted) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (reply_id != reply_id_ || !reply_audio_) return;
    if (interrupted) drop_held_locked();
    if (held_.empty()) {
      send_locked(wy::audio_stop_event());
    } else {
      stop_after_held_ = true;  // after the audio still held back
    }
    // The satellite says `played` when it has played it; an interrupted reply was replaced by a
    // new pipeline already.
    if (!interrupted && phase_ == Phase::kSpeaking) awaiting_played_ = true;
  }
  wake_();
}

uint64_t WyomingSatelliteDoor::reply_interrupted(const std::string& reply_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (reply_id != reply_id_) return 0;
  drop_held_locked();
  return frames_written_;  // what may have reached the satellite
}

void WyomingSatelliteDoor::turn_done(const TurnReport& report) {
  std::lock_guard<std::mutex> lock(mutex_);
  // A reply without audio (text pipelines, a silent failure) ends the pipeline here; a spoken one
  // ends at `played`.
  if (report.reply_id == reply_id_ && !reply_audio_ && phase_ == Phase::kThinking)
    pipeline_over_locked();
}

void WyomingSatelliteDoor::error(const std::string& code, const std::string& message) {
  send(wy::error_event(message, code));
}

void WyomingSatelliteDoor::close(uint16_t, const std::string& reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!close_reason_) close_reason_ = reason;
  }
  wake_();
}

}  // namespace earshot::host
