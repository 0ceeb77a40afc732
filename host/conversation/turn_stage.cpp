#include "host/conversation/turn_stage.h"

#include "dsp/audio_format.h"
#include "host/clock.h"
#include "host/conversation/task_pool.h"
#include "host/log.h"
#include "protocol/audio_frame.h"

namespace earshot::host {
namespace {
constexpr size_t kFrame = dsp::kCodecFrameSamples;  // 320 samples, 20 ms
constexpr int kAckEveryFrames = 10;
// Early finals queued or running for one conversation: each holds a live STT stream (for
// pocketsphinx a whole decoder), so a client ending turns faster than they are transcribed keeps
// decoding the normal way instead.
constexpr size_t kMaxWaitingFinals = 4;
}  // namespace

TurnStage::TurnStage(Services& services, ConversationSink& sink,
                     const ConversationSettings& settings, std::optional<uint64_t> acked_seq,
                     Hooks hooks)
    : services_(services),
      sink_(sink),
      hooks_(std::move(hooks)),
      language_(settings.language),
      ambient_(settings.ambient),
      server_turns_(settings.server_turn_detection),
      respond_(settings.auto_respond),
      config_(settings.turn.value_or(services.turn)),
      prefix_samples_(size_t(std::max(0, settings.prefix_padding_ms)) * 16),
      detector_(std::make_unique<TurnDetector>(config_)),
      queued_upto_(acked_seq) {}

TurnStage::~TurnStage() = default;

void TurnStage::update(const ConversationSettings& settings) {
  server_turns_ = settings.server_turn_detection;
  respond_ = settings.auto_respond;
  prefix_samples_ = size_t(std::max(0, settings.prefix_padding_ms)) * 16;
  const TurnConfig config = settings.turn.value_or(services_.turn);
  if (!turn_open()) {  // an open turn keeps the detector it started with
    config_ = config;
    detector_ = std::make_unique<TurnDetector>(config_);
  }
}

void TurnStage::queue(ResponderJob job) {
  if (auto* a = std::get_if<AdvanceJob>(&job)) queued_upto_ = a->seq;
  if (auto* t = std::get_if<TurnJob>(&job)) queued_upto_ = t->seqs.last;
  if (auto* g = std::get_if<SegmentJob>(&job)) queued_upto_ = g->last_seq;
  hooks_.queue_job(std::move(job));  // false only when stopping: nothing was acknowledged
}

void TurnStage::on_frame(const PcmFrame& frame) {
  if (ambient_) return ambient_frame(frame);
  turn_frame(frame);
}

void TurnStage::ambient_frame(const PcmFrame& f) {
  // A new segment while one is open (its end frame never came: the client dropped it from a full
  // buffer, say): the open one is stored as it is, never dropped — a later ack would cover it.
  if ((f.flags & protocol::kFlagSegmentStart) && stt_ && last_frame_seq_ &&
      *last_frame_seq_ != f.seq)
    queue_segment(*last_frame_seq_);
  if (((f.flags & protocol::kFlagSegmentStart) && last_frame_seq_ != f.seq) || !stt_) {
    stt_ = services_.stt->start(language_);
    segment_first_seq_ = f.seq;
    segment_started_wall_ms_ = wall_ms();
  }
  last_frame_seq_ = f.seq;
  if (stt_) stt_->feed(f.pcm, kFrame);
}

void TurnStage::queue_segment(uint64_t last_seq) {
  queue(SegmentJob{std::move(stt_), segment_first_seq_, last_seq, segment_started_wall_ms_,
                   wall_ms()});
  stt_.reset();
}

void TurnStage::turn_started(uint64_t timestamp) {
  // Speech while a reply is being prepared or played is a barge-in, never part of the old turn.
  hooks_.barge_in();
  turn_id_ = "t" + std::to_string(++turn_counter_);
  turn_start_ts_ = timestamp;
  if (early_) drop_early_final();
  turn_audio_.clear();
  stt_ = services_.stt->start(language_);
  if (!prefix_.empty()) {
    const std::vector<float> prefix(prefix_.begin(), prefix_.end());
    turn_audio_.insert(turn_audio_.end(), prefix.begin(), prefix.end());
    stt_->feed(prefix.data(), prefix.size());
    prefix_.clear();
  }
  if (server_turns_) sink_.speech_started(turn_id_, timestamp / 16);
}

void TurnStage::turn_frame(const PcmFrame& f) {
  if (!server_turns_) {
    // The door ends turns: everything between two commits is one turn.
    if (!turn_open()) turn_started(f.timestamp);
    turn_audio_.insert(turn_audio_.end(), f.pcm, f.pcm + kFrame);
    stt_->feed(f.pcm, kFrame);
    return;
  }
  const TurnDetector::Event event =
      detector_->on_frame(f.pcm, f.timestamp, f.flags, f.end_arrived_ms);
  if (event == TurnDetector::Event::kTurnStarted) turn_started(f.timestamp);
  if (turn_open()) {
    turn_audio_.insert(turn_audio_.end(), f.pcm, f.pcm + kFrame);
  } else if (prefix_samples_ > 0) {
    prefix_.insert(prefix_.end(), f.pcm, f.pcm + kFrame);
    while (prefix_.size() > prefix_samples_)
      prefix_.pop_front();
  }
  if (early_ && detector_->in_turn() && detector_->last_speech_end() > early_speech_end_) {
    // They spoke again before the turn ended: the early final is void. A fresh stream hears the
    // whole turn so far (this frame included).
    drop_early_final();
    restart_stt_on_turn_audio();
  } else if (stt_) {
    stt_->feed(f.pcm, kFrame);
    if (std::optional<std::string> partial = stt_->partial())
      sink_.transcript(turn_id_, *partial, false, "");
  }
  const uint64_t early_after = uint64_t(config_.early_final_ms) * 16;
  if (stt_ && detector_->in_turn() && early_after > 0 &&
      (f.timestamp + kFrame - detector_->last_speech_end() >= early_after ||
       (f.flags & protocol::kFlagSegmentEnd)))
    start_early_final();
  if (event == TurnDetector::Event::kTurnEnded && turn_open())
    queue_open_turn(f.arrived_ms, std::nullopt);
}

void TurnStage::on_input_done(uint64_t seq, uint16_t flags, std::optional<uint64_t> high_water) {
  if (ambient_) {
    // A segment is cut at turn.max_turn_ms (a radio left on): one stream's memory stays bounded.
    const bool too_long =
        stt_ && seq - segment_first_seq_ + 1 >= uint64_t(config_.max_turn_ms / 20);
    if (stt_ && ((flags & protocol::kFlagSegmentEnd) || too_long)) queue_segment(seq);
    // Ambient frames are acknowledged only once their segment is stored.
    return;
  }
  (void)high_water;
  // Frames outside any turn are acknowledged as they come, in order behind whatever turn is still
  // being stored; a turn's frames only once its transcript is stored.
  if (!turn_open() && (++frames_since_ack_ >= kAckEveryFrames ||
                       (flags & protocol::kFlagSegmentEnd) || !queued_upto_)) {
    frames_since_ack_ = 0;
    if (!queued_upto_ || seq > *queued_upto_) queue(AdvanceJob{seq});
  }
}

void TurnStage::on_tick(int64_t now_ms) {
  if (ambient_ || !server_turns_) return;
  const TurnDetector::Event event = detector_->on_tick(now_ms);
  if (event == TurnDetector::Event::kTurnEnded && turn_open())
    queue_open_turn(now_ms, std::nullopt);
}

int64_t TurnStage::deadline_ms() const {
  return ambient_ || !server_turns_ ? -1 : detector_->deadline_ms();
}

// Hands the open turn (its stream, or its early final) to the responder, with every frame
// received since the last job: they are acknowledged when the turn is stored.
void TurnStage::queue_open_turn(int64_t turn_end_ms, std::optional<uint64_t> high_water) {
  TurnJob job;
  job.stt = std::move(stt_);
  job.early = std::move(early_);
  stt_.reset();
  early_.reset();
  job.seqs.first = queued_upto_ ? *queued_upto_ + 1 : 0;
  // The turn covers every input frame seen so far.
  job.seqs.last = high_water.value_or(seen_upto_.value_or(job.seqs.first));
  job.turn_id = turn_id_;
  job.speech_end_ms = server_turns_ ? detector_->last_speech_arrival_ms() : turn_end_ms;
  job.turn_end_ms = turn_end_ms;
  job.respond = respond_;
  if (server_turns_) sink_.speech_stopped(turn_id_, detector_->last_speech_end() / 16);
  turn_audio_.clear();
  queue(std::move(job));
}

void TurnStage::commit_input(int64_t now_ms, std::optional<uint64_t> high_water) {
  if (ambient_) return;
  if (!turn_open()) {
    sink_.error("input_audio_buffer_commit_empty", "there is no audio to commit");
    return;
  }
  detector_->reset();
  queue_open_turn(now_ms, high_water);
}

void TurnStage::clear_input() {
  if (ambient_ || !turn_open()) return;
  if (early_) drop_early_final();
  stt_.reset();
  turn_audio_.clear();
  prefix_.clear();
  detector_->reset();
  // The cleared audio's frames hold nothing to store: the next advance acknowledges them.
  frames_since_ack_ = kAckEveryFrames;
}

void TurnStage::set_ambient(bool ambient, std::optional<uint64_t> high_water) {
  // What is open is finished as it was (a segment, or a turn), never dropped: a later ack would
  // cover its frames.
  if (ambient_ && stt_ && high_water) {
    queue_segment(*high_water);
  } else if (!ambient_ && turn_open()) {
    queue_open_turn(monotonic_ms(), high_water);
  }
  ambient_ = ambient;
  detector_->reset();
  stt_.reset();
}

void TurnStage::finish_open(std::optional<uint64_t> high_water) {
  if (!high_water) return;
  if (ambient_) {
    // A segment of a conversation that has ended is not acknowledged: the client delivers it
    // again. (Its stream is simply dropped.)
    stt_.reset();
    return;
  }
  if (turn_open()) {
    queue_open_turn(monotonic_ms(), high_water);
    detector_->reset();
  }
}

// A fresh stream that has heard the whole turn so far.
void TurnStage::restart_stt_on_turn_audio() {
  stt_ = services_.stt->start(language_);
  stt_->feed(turn_audio_.data(), turn_audio_.size());
}

void TurnStage::start_early_final() {
  {
    std::lock_guard<std::mutex> lock(finals_->mutex);
    if (finals_->count >= int(kMaxWaitingFinals)) return;  // decode the normal way
    ++finals_->count;
  }
  auto cancel = std::make_shared<CancelToken>();
  auto result = std::make_shared<std::promise<SttResult>>();
  early_ = EarlyFinal{result->get_future(), cancel};
  early_speech_end_ = detector_->last_speech_end();
  // The task owns the stream; nothing of this stage (which may be gone when it runs) is touched.
  std::shared_ptr<SttStream> stream = std::move(stt_);
  TaskPool::finals().run([stream, cancel, result, finals = finals_]() mutable {
    result->set_value(stream->finish(*cancel));
    stream.reset();  // gives a pooled decoder back now
    std::lock_guard<std::mutex> lock(finals->mutex);
    --finals->count;
    finals->none.notify_all();
  });
}

void TurnStage::wait_for_finals() {
  std::unique_lock<std::mutex> lock(finals_->mutex);
  finals_->none.wait(lock, [&] { return finals_->count == 0; });
}

void TurnStage::drop_early_final() {
  services_.metrics.stt_early_finals_dropped_total.fetch_add(1);
  early_->cancel->cancel();  // the final thread finishes it and nobody reads the result
  early_.reset();
}

}  // namespace earshot::host
